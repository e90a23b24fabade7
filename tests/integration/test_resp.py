"""The RESP front end with real clients against a real three-node cluster on loopback:
redis-py's RedisCluster (sync and asyncio), redis-cli -c, redis-benchmark --cluster, raw
sockets for the exact reply types, and a real redis-server as the reference for the
command table replies.

One cluster serves the whole module (starting one takes seconds); each test uses its own
keys. The cluster runs with small pub/sub output-buffer limits and a small query-buffer
limit so that the limits can be shown without moving hundreds of megabytes.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from redis.cluster import RedisCluster

from client.local_cluster import LocalCluster
from cluster.slots import key_slot
from node.protocols.resp import encode_command
from node.protocols.resp_types import ErrorReply, Push, SimpleString, Verbatim
from tests.integration.test_resp_support import Raw, key_in_slot, resp_port, start_cluster, wait_until

PUBSUB_HARD_LIMIT = 1 << 20
QUERY_BUFFER_LIMIT = 8 << 20

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-tools not installed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_cluster(
        tmp_path_factory.mktemp("resp"),
        extra_args=(
            "--set", f"resp.pubsub.output.buffer.hard.bytes={PUBSUB_HARD_LIMIT}",
            "--set", f"resp.client.query.buffer.limit={QUERY_BUFFER_LIMIT}",
        ),
    )  # fmt: skip
    yield c
    c.stop_all(timeout=15)


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=resp_port(cluster, 1), socket_timeout=20)
    yield client
    client.close()


def _owner(cluster: LocalCluster, key: bytes) -> int:
    """The node (1-based) whose RESP port leads ``key``'s slot, from CLUSTER SLOTS."""
    conn = Raw(resp_port(cluster, 1))
    try:
        slot = key_slot(key)
        for entry in conn.call("CLUSTER", "SLOTS"):
            if entry[0] <= slot <= entry[1]:
                port = entry[2][1]
                return next(n for n in cluster.nodes if resp_port(cluster, n) == port)
    finally:
        conn.close()
    raise AssertionError(f"slot of {key!r} not served")


# --- redis-py RedisCluster ----------------------------------------------------------------------


def test_redis_py_cluster_writes_reads_and_scans_10000_keys(rc: RedisCluster, cluster: LocalCluster) -> None:
    keys = [f"bulk:{i}".encode() for i in range(10_000)]
    pipe = rc.pipeline()
    for i, key in enumerate(keys):
        pipe.set(key, f"value-{i}")
    assert all(pipe.execute())
    # spread over the whole slot range and every node
    slots = {key_slot(k) for k in keys}
    assert len(slots) > 7000 and min(slots) < 100 and max(slots) > 16284
    assert {_owner(cluster, keys[i]) for i in range(0, 10_000, 97)} == {1, 2, 3}
    # single-key reads, then pipelined reads
    for i in random.Random(5).sample(range(10_000), 300):
        assert rc.get(keys[i]) == f"value-{i}".encode()
    pipe = rc.pipeline()
    for key in keys:
        pipe.get(key)
    assert pipe.execute() == [f"value-{i}".encode() for i in range(10_000)]
    # mixed pipeline across slots and types
    pipe = rc.pipeline()
    pipe.incr("bulk-counter:a").incrby("bulk-counter:a", 5).hset("bulk-hash", mapping={"f": "v"})
    pipe.rpush("bulk-list", 1, 2, 3).lrange("bulk-list", 0, -1).hgetall("bulk-hash").delete("bulk:0")
    assert pipe.execute() == [1, 6, 1, 3, [b"1", b"2", b"3"], {b"f": b"v"}, 1]
    # scan_iter visits every key exactly once
    seen = list(rc.scan_iter(match="bulk:*", count=1000))
    assert len(seen) == len(set(seen)) == 9_999
    assert set(seen) == set(keys[1:])


async def test_redis_py_asyncio_cluster_10000_keys(cluster: LocalCluster) -> None:
    client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=resp_port(cluster, 2))
    try:
        keys = [f"async:{i}".encode() for i in range(10_000)]
        async with client.pipeline() as pipe:
            for i, key in enumerate(keys):
                pipe.set(key, i)
            assert all(await pipe.execute())
        values = await asyncio.gather(*(client.get(k) for k in keys[:30]))
        assert values == [str(i).encode() for i in range(30)]
        async with client.pipeline() as pipe:
            for key in keys:
                pipe.get(key)
            assert await pipe.execute() == [str(i).encode() for i in range(10_000)]
        seen = [k async for k in client.scan_iter(match="async:*", count=500)]
        assert sorted(seen) == sorted(keys)
        async with client.pipeline(transaction=True) as tx:
            tx.set("{async-tx}:a", 1)
            tx.incr("{async-tx}:a")
            tx.get("{async-tx}:a")
            assert await tx.execute() == [True, 2, b"2"]
    finally:
        await client.aclose()


def test_transactions_on_hash_tagged_keys(rc: RedisCluster, cluster: LocalCluster) -> None:
    with rc.pipeline(transaction=True) as tx:
        tx.set("{acct:1}:balance", 100).decrby("{acct:1}:balance", 30).incrby("{acct:1}:spent", 30)
        tx.get("{acct:1}:balance").get("{acct:1}:spent")
        assert tx.execute() == [b"OK", 70, 30, b"70", b"30"]  # as against Redis
    assert rc.mget("{acct:1}:balance", "{acct:1}:spent") == [b"70", b"30"]
    # WATCH: a change by another client between WATCH and EXEC aborts the transaction
    owner = _owner(cluster, b"{acct:2}")
    a = Raw(resp_port(cluster, owner))
    b = Raw(resp_port(cluster, owner))
    try:
        assert a.call("SET", "{acct:2}:x", "1") == SimpleString("OK")
        assert a.call("WATCH", "{acct:2}:x") == SimpleString("OK")
        assert b.call("SET", "{acct:2}:x", "2") == SimpleString("OK")
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("SET", "{acct:2}:x", "3") == SimpleString("QUEUED")
        assert a.call("EXEC") is None
        assert a.call("GET", "{acct:2}:x") == b"2"
        # unwatched: EXEC applies; PING inside MULTI is answered in place
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("INCR", "{acct:2}:x") == SimpleString("QUEUED")
        assert a.call("PING") == SimpleString("QUEUED")
        assert a.call("GET", "{acct:2}:x") == SimpleString("QUEUED")
        assert a.call("EXEC") == [3, SimpleString("PONG"), b"3"]
        # queue-time errors abort, as in Redis
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("SET", "{acct:2}:x") == ErrorReply("ERR wrong number of arguments for 'set' command")
        assert a.call("EXEC") == ErrorReply("EXECABORT Transaction discarded because of previous errors.")
        # keys of two slots in one transaction
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("SET", "{acct:2}:x", "1") == SimpleString("QUEUED")
        other = next(k for k in (f"other{i}" for i in range(1000)) if _owner(cluster, k.encode()) == owner
                     and key_slot(k.encode()) != key_slot(b"{acct:2}"))  # fmt: skip
        assert a.call("SET", other, "1") == SimpleString("QUEUED")
        reply = a.call("EXEC")
        assert isinstance(reply, ErrorReply) and reply.code == "CROSSSLOT"
        # a key this node does not lead: MOVED at queue time, then EXECABORT
        elsewhere = next(k for k in (f"el{i}".encode() for i in range(1000)) if _owner(cluster, k) != owner)
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("GET", elsewhere).code == "MOVED"
        assert a.call("EXEC").code == "EXECABORT"
        assert a.call("EXEC") == ErrorReply("ERR EXEC without MULTI")
        assert a.call("DISCARD") == ErrorReply("ERR DISCARD without MULTI")
        assert a.call("MULTI") == SimpleString("OK")
        assert a.call("WATCH", "x") == ErrorReply("ERR WATCH inside MULTI is not allowed")
        assert a.call("DISCARD") == SimpleString("OK")
    finally:
        a.close()
        b.close()


def test_pipeline_order_is_kept_for_reads_after_writes(cluster: LocalCluster) -> None:
    """A read in a pipeline sees the writes before it and none after it, on one shard."""
    key = b"{order}:k"
    conn = Raw(resp_port(cluster, _owner(cluster, key)))
    try:
        commands = []
        for i in range(200):
            commands += [("SET", key, str(i)), ("GET", key), ("APPEND", key, "x"), ("GET", key)]
        conn.send_raw(b"".join(encode_command(*c) for c in commands))
        replies = [conn.read() for _ in commands]
        for i in range(200):
            assert replies[4 * i : 4 * i + 4] == [SimpleString("OK"), str(i).encode(), len(str(i)) + 1,
                                                  f"{i}x".encode()]  # fmt: skip
    finally:
        conn.close()


# --- pub/sub -------------------------------------------------------------------------------------------


def test_pubsub_across_nodes(cluster: LocalCluster) -> None:
    r2 = redis.Redis(port=resp_port(cluster, 2))
    sub1 = redis.Redis(port=resp_port(cluster, 1)).pubsub()
    sub3 = redis.Redis(port=resp_port(cluster, 3), protocol=3).pubsub()
    try:
        sub1.subscribe("news")
        sub1.psubscribe("ne*")
        sub3.subscribe("news")
        for sub, count in ((sub1, 2), (sub3, 1)):
            for _ in range(count):
                assert sub.get_message(timeout=5)["type"] in ("subscribe", "psubscribe")
        # PUBSUB answers for the whole cluster, from any node
        wait_until(lambda: r2.pubsub_numsub("news"), lambda v: v == [(b"news", 2)], what="numsub")
        assert r2.pubsub_numpat() == 1
        assert b"news" in r2.pubsub_channels()
        # published on node 2: delivered on nodes 1 and 3, counted cluster-wide
        assert r2.publish("news", "m0") == 3
        for i in range(1, 200):
            r2.publish("news", f"m{i}")
        got1 = [sub1.get_message(timeout=5) for _ in range(400)]
        messages = [m["data"] for m in got1 if m["type"] == "message"]
        pmessages = [m["data"] for m in got1 if m["type"] == "pmessage"]
        assert messages == pmessages == [f"m{i}".encode() for i in range(200)]
        assert got1[1]["pattern"] == b"ne*"
        got3 = [sub3.get_message(timeout=5) for _ in range(200)]
        assert [m["data"] for m in got3] == [f"m{i}".encode() for i in range(200)]
    finally:
        sub1.close()
        sub3.close()
        r2.close()


def test_pubsub_raw_frames_resp2_and_resp3(cluster: LocalCluster) -> None:
    sub = Raw(resp_port(cluster, 1))
    sub3 = Raw(resp_port(cluster, 3))
    pub = Raw(resp_port(cluster, 2))
    try:
        assert sub.call("SUBSCRIBE", "raw-a", "raw-b") == [b"subscribe", b"raw-a", 1]
        assert sub.read() == [b"subscribe", b"raw-b", 2]
        assert sub.call("GET", "x") == ErrorReply(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
            "are allowed in this context"
        )
        assert sub.call("PING") == [b"pong", b""]
        assert sub3.call("HELLO", "3")[b"proto"] == 3
        assert sub3.call("SUBSCRIBE", "raw-a") == Push([b"subscribe", b"raw-a", 1])
        assert sub3.call("PING") == SimpleString("PONG")  # RESP3: any command works while subscribed
        wait_until(lambda: pub.call("PUBSUB", "NUMSUB", "raw-a"), lambda v: v == [b"raw-a", 2], what="numsub")
        assert pub.call("PUBLISH", "raw-a", "hello") == 2
        assert sub.read() == [b"message", b"raw-a", b"hello"]
        assert sub3.read() == Push([b"message", b"raw-a", b"hello"])
        assert sub.call("UNSUBSCRIBE") == [b"unsubscribe", b"raw-a", 1]
        assert sub.read() == [b"unsubscribe", b"raw-b", 0]
        assert sub.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
        assert sub.call("CLUSTER", "KEYSLOT", "x") == key_slot(b"x")  # a normal client again
    finally:
        sub.close()
        sub3.close()
        pub.close()


def test_sharded_pubsub_routed_by_slot(rc: RedisCluster, cluster: LocalCluster) -> None:
    channel = b"orders:{eu}"
    owner = _owner(cluster, channel)
    other = next(n for n in (1, 2, 3) if n != owner)
    wrong = Raw(resp_port(cluster, other))
    sub = Raw(resp_port(cluster, owner))
    try:
        moved = wrong.call("SSUBSCRIBE", channel)
        assert moved == ErrorReply(f"MOVED {key_slot(channel)} 127.0.0.1:{resp_port(cluster, owner)}")
        assert wrong.call("SPUBLISH", channel, "x").code == "MOVED"
        assert wrong.call("SSUBSCRIBE", "a", "b").code == "CROSSSLOT"
        assert sub.call("SSUBSCRIBE", channel) == [b"ssubscribe", channel, 1]
        assert wrong.call("PUBSUB", "SHARDCHANNELS") == [channel]
        assert wrong.call("PUBSUB", "SHARDNUMSUB", channel) == [channel, 1]
        # redis-py's cluster client routes SPUBLISH by slot
        assert rc.spublish(channel, "o1") == 1
        assert sub.read() == [b"smessage", channel, b"o1"]
        assert sub.call("SUNSUBSCRIBE") == [b"sunsubscribe", channel, 0]
        # redis-py's sharded pubsub (it picks the node of the slot)
        ps = rc.pubsub()
        ps.ssubscribe("pings:{eu}")
        assert ps.get_sharded_message(timeout=5)["type"] == "ssubscribe"
        rc.spublish("pings:{eu}", "p1")
        message = wait_until(lambda: ps.get_sharded_message(timeout=1), lambda m: m is not None, what="smessage")
        assert message["data"] == b"p1"
        ps.close()
    finally:
        wrong.close()
        sub.close()


def test_slow_subscriber_is_disconnected_and_the_node_keeps_serving(cluster: LocalCluster) -> None:
    """A subscriber that does not read is cut off past the pub/sub output-buffer limit
    (set to 1 MiB for this cluster), as Redis's client-output-buffer-limit pubsub does."""
    port = resp_port(cluster, 1)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nslow\r\n")
    pub = Raw(port)
    try:
        wait_until(lambda: pub.call("PUBSUB", "NUMSUB", "slow"), lambda v: v == [b"slow", 1], what="subscribed")
        payload = b"x" * 65536
        sent = 0
        while pub.call("PUBSUB", "NUMSUB", "slow") == [b"slow", 1]:
            pub.call("PUBLISH", "slow", payload)
            sent += 1
            assert sent < 2000, "the slow subscriber was never disconnected"
        assert sent * len(payload) > PUBSUB_HARD_LIMIT
        assert b"client_output_buffer_limit_disconnections:" in pub.call("INFO", "stats")
        assert pub.call("PING") == SimpleString("PONG")
    finally:
        slow.close()
        pub.close()


# --- redis-cli and redis-benchmark ------------------------------------------------------------------------


def test_redis_cli_follows_moved(cluster: LocalCluster) -> None:
    port1 = resp_port(cluster, 1)
    keys = [k for k in (f"cli:{i}" for i in range(100)) if _owner(cluster, k.encode()) != 1][:5]
    assert keys
    for key in keys:
        out = subprocess.run(["redis-cli", "-c", "-p", str(port1), "SET", key, f"v-{key}"],
                             capture_output=True, timeout=30, text=True)  # fmt: skip
        assert out.returncode == 0 and out.stdout.strip() == "OK", out
    for node in (1, 2, 3):
        for key in keys:
            out = subprocess.run(["redis-cli", "-c", "-p", str(resp_port(cluster, node)), "GET", key],
                                 capture_output=True, timeout=30, text=True)  # fmt: skip
            assert out.stdout.strip() == f"v-{key}", out
    # without -c the redirection is shown, with the slot and the RESP address of the leader
    out = subprocess.run(["redis-cli", "-p", str(port1), "GET", keys[0]], capture_output=True, timeout=30, text=True)
    owner = _owner(cluster, keys[0].encode())
    assert out.stdout.strip() == f"MOVED {key_slot(keys[0].encode())} 127.0.0.1:{resp_port(cluster, owner)}"
    # a scripted session through stdin
    script = "".join(f"SET {k} s-{k}\nGET {k}\n" for k in keys)
    out = subprocess.run(["redis-cli", "-c", "-p", str(port1)], input=script, capture_output=True, timeout=30,
                         text=True)  # fmt: skip
    lines = out.stdout.splitlines()
    assert any(line.startswith("-> Redirected to slot") for line in lines), out.stdout
    assert [line for line in lines if not line.startswith("->")] == [w for k in keys for w in ("OK", f"s-{k}")]


def test_redis_benchmark_cluster_completes_without_errors(cluster: LocalCluster) -> None:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(resp_port(cluster, 1)), "--cluster", "-t", "set,get", "-n", "10000", "-q",
         "-c", "20"],
        capture_output=True, timeout=240, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout.replace("\r", "\n")
    assert "Error" not in text and "error" not in out.stderr.lower(), text[-2000:]
    results = [line for line in text.splitlines() if "requests per second" in line and ":" in line]
    assert any(line.strip().startswith("SET:") for line in results), text[-1000:]
    assert any(line.strip().startswith("GET:") for line in results), text[-1000:]


# --- connection, server and cluster commands ----------------------------------------------------------------


def test_connection_commands(cluster: LocalCluster) -> None:
    conn = Raw(resp_port(cluster, 1))
    other = Raw(resp_port(cluster, 1))
    try:
        assert conn.call("PING") == SimpleString("PONG")
        assert conn.call("PING", "hi") == b"hi"
        assert conn.call("ECHO", "e") == b"e"
        assert conn.call("SELECT", "0") == SimpleString("OK")
        assert conn.call("SELECT", "1") == ErrorReply("ERR SELECT is not allowed in cluster mode")
        assert conn.call("AUTH", "pw") == ErrorReply(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
        assert conn.call("AUTH", "default", "anything") == SimpleString("OK")
        my_id = conn.call("CLIENT", "ID")
        assert isinstance(my_id, int) and my_id > 0
        assert conn.call("CLIENT", "GETNAME") is None
        assert conn.call("CLIENT", "SETNAME", "bad name").code == "ERR"
        assert conn.call("CLIENT", "SETNAME", "tester") == SimpleString("OK")
        assert conn.call("CLIENT", "GETNAME") == b"tester"
        assert conn.call("CLIENT", "SETINFO", "LIB-NAME", "raw") == SimpleString("OK")
        info = conn.call("CLIENT", "INFO").decode()
        assert f"id={my_id} " in info and " name=tester " in info and " resp=2" in info and "lib-name=raw" in info
        listing = conn.call("CLIENT", "LIST").decode()
        assert listing.count("\n") >= 2 and f"id={my_id} " in listing
        assert conn.call("CLIENT", "NO-EVICT", "on") == SimpleString("OK")
        assert conn.call("CLIENT", "NOSUCH") == ErrorReply("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.")
        assert conn.call("CLIENT") == ErrorReply("ERR wrong number of arguments for 'client' command")
        assert conn.call("NOSUCHCOMMAND", "a").code == "ERR"
        # HELLO 3: a map, then RESP3 replies (doubles, maps, verbatim)
        hello = conn.call("HELLO", "3", "SETNAME", "three")
        assert hello[b"proto"] == 3 and hello[b"mode"] == b"cluster" and hello[b"id"] == my_id
        assert hello[b"server"] == b"redis" and hello[b"role"] == b"master"
        assert conn.call("HELLO", "4") == ErrorReply("NOPROTO unsupported protocol version")
        assert isinstance(conn.call("CLIENT", "INFO"), Verbatim)
        assert isinstance(conn.call("CONFIG", "GET", "save"), dict)
        hello2 = conn.call("HELLO", "2")  # a flat array in RESP2
        assert hello2[hello2.index(b"proto") + 1] == 2
        # TIME, INFO, CONFIG GET, DBSIZE, LASTSAVE
        seconds, micros = conn.call("TIME")
        assert abs(int(seconds) - time.time()) < 60 and 0 <= int(micros) < 1_000_000
        text = conn.call("INFO").decode()
        for field in ("# Server", "redis_version:", "redis_mode:cluster", "# Clients", "connected_clients:",
                      "# Memory", "used_memory:", "# Stats", "total_commands_processed:", "# Replication",
                      "role:master", "# Cluster", "cluster_enabled:1", "# Keyspace"):  # fmt: skip
            assert field in text, field
        assert conn.call("INFO", "cluster").decode() == "# Cluster\r\ncluster_enabled:1\r\n"
        assert conn.call("CONFIG", "GET", "save") == [b"save", b""]
        assert conn.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
        config = conn.call("CONFIG", "GET", "cluster-*")
        assert b"cluster-enabled" in config
        assert isinstance(conn.call("DBSIZE"), int)
        assert isinstance(conn.call("LASTSAVE"), int)
        # CLIENT KILL by id, CLIENT REPLY OFF/SKIP/ON
        other_id = other.call("CLIENT", "ID")
        assert conn.call("CLIENT", "KILL", "ID", str(other_id)) == 1
        with pytest.raises((ConnectionError, OSError)):
            other.call("PING")
        conn.send("CLIENT", "REPLY", "SKIP")
        conn.send("ECHO", "skipped")
        assert conn.call("ECHO", "answered") == b"answered"
        conn.send("CLIENT", "REPLY", "OFF")
        conn.send("PING")
        assert conn.call("CLIENT", "REPLY", "ON") == SimpleString("OK")
        # READONLY / READWRITE / ASKING, RESET, QUIT
        for command in ("READONLY", "READWRITE", "ASKING"):
            assert conn.call(command) == SimpleString("OK")
        assert conn.call("RESET") == SimpleString("RESET")
        assert conn.call("CLIENT", "GETNAME") is None
        assert conn.call("QUIT") == SimpleString("OK")
        assert conn.read_until_closed() == b""
    finally:
        conn.close()
        other.close()


def test_cluster_commands(cluster: LocalCluster) -> None:
    conn = Raw(resp_port(cluster, 2))
    try:
        slots = conn.call("CLUSTER", "SLOTS")
        covered = sorted((s[0], s[1]) for s in slots)
        assert covered[0][0] == 0 and covered[-1][1] == 16383
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(covered))
        ports = {s[2][1] for s in slots}
        assert ports == {resp_port(cluster, n) for n in (1, 2, 3)}
        ids = {s[2][2] for s in slots}
        assert all(len(i) == 40 and int(i, 16) >= 0 for i in ids)
        nodes = conn.call("CLUSTER", "NODES").decode()
        lines = nodes.splitlines()
        assert len(lines) == 3 and nodes.endswith("\n")
        myid = conn.call("CLUSTER", "MYID")
        mine = next(line for line in lines if line.startswith(myid.decode()))
        assert "myself,master" in mine and f":{resp_port(cluster, 2)}@" in mine
        assert {line.split()[0].encode() for line in lines} == ids
        info = conn.call("CLUSTER", "INFO").decode()
        assert "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info
        assert "cluster_known_nodes:3" in info and "cluster_size:3" in info
        assert conn.call("HELLO", "3")[b"proto"] == 3  # maps as maps from here on
        shards = conn.call("CLUSTER", "SHARDS")
        assert len(shards) == 9
        assert sum((s[b"slots"][1] - s[b"slots"][0] + 1) for s in shards if len(s[b"slots"]) == 2) <= 16384
        assert all(sum(1 for n in s[b"nodes"] if n[b"role"] == b"master") == 1 for s in shards)
        assert conn.call("CLUSTER", "KEYSLOT", "foo") == 12182
        assert conn.call("CLUSTER", "KEYSLOT", "{user1}:x") == key_slot(b"user1")
        # COUNTKEYSINSLOT / GETKEYSINSLOT on a slot this node leads
        slot = next(s[0] for s in slots if s[2][1] == resp_port(cluster, 2))
        key = key_in_slot(slot)
        assert conn.call("SET", key, "1") == SimpleString("OK")
        assert conn.call("CLUSTER", "COUNTKEYSINSLOT", slot) >= 1
        assert key in conn.call("CLUSTER", "GETKEYSINSLOT", slot, 10)
        assert conn.call("CLUSTER", "COUNTKEYSINSLOT", 99999) == ErrorReply("ERR Invalid slot")
        assert conn.call("CLUSTER", "GETKEYSINSLOT", 1, -1) == ErrorReply("ERR Invalid slot or number of keys")
        # WAIT: the two followers hold the last write (acks=all: they have it once acknowledged)
        assert conn.call("WAIT", 2, 5000) == 2
        assert conn.call("WAIT", 5, 100) == 2
        assert conn.call("WAIT", "x", 0).code == "ERR"
    finally:
        conn.close()


def test_errors_redis_cluster_clients_handle(cluster: LocalCluster) -> None:
    conn = Raw(resp_port(cluster, 1))
    try:
        crossslot = ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")
        assert conn.call("MSET", "a", "1", "b", "2") == crossslot
        key = next(k for k in (f"e{i}".encode() for i in range(100)) if _owner(cluster, k) != 1)
        owner = _owner(cluster, key)
        assert conn.call("GET", key) == ErrorReply(f"MOVED {key_slot(key)} 127.0.0.1:{resp_port(cluster, owner)}")
        assert conn.call("SET", "k") == ErrorReply("ERR wrong number of arguments for 'set' command")
    finally:
        conn.close()


def test_blocking_command_blocks_only_its_connection(cluster: LocalCluster) -> None:
    key = b"{blk}:list"
    port = resp_port(cluster, _owner(cluster, key))
    blocked = Raw(port, timeout=30)
    other = Raw(port)
    try:
        blocked.send("BLPOP", key, 20)
        for i in range(20):  # the node and this connection keep serving meanwhile
            assert other.call("SET", f"{{blk}}:n{i}", i) == SimpleString("OK")
            assert other.call("PING") == SimpleString("PONG")
        assert other.call("RPUSH", key, "item") == 1
        assert blocked.read() == [key, b"item"]
        assert blocked.call("BLPOP", key, "0.2") is None
    finally:
        blocked.close()
        other.close()


# --- the command table, compared with a real redis-server -------------------------------------------------


def test_command_replies_match_redis(cluster: LocalCluster) -> None:
    from tests.unit.keyspace.real_redis import redis_server

    probes = [
        ("COMMAND", "INFO", "get", "set", "zunionstore", "client|list", "xadd-not-here"),
        ("COMMAND", "DOCS", "get", "getset", "client|list", "zadd", "cluster|slots"),
        ("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"),
        ("COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"),
        ("COMMAND", "GETKEYS", "zunionstore", "d", "0"),
        ("COMMAND", "GETKEYS", "ping"),
        ("COMMAND", "GETKEYS", "nosuch"),
        ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"),
        ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "get"),
        ("COMMAND", "GETKEYSANDFLAGS", "rename", "a", "b"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "cluster|*"),
        ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "pubsub"),
        ("COMMAND", "INFO", "cluster"),
        ("CLUSTER", "KEYSLOT", "{a}b"),
        ("ECHO",),
        ("PING", "a", "b"),
    ]
    with redis_server(cluster=True) as port:
        ours = Raw(resp_port(cluster, 3))
        theirs = Raw(port)
        try:
            for protocol in ("2", "3"):
                ours.call("HELLO", protocol)
                theirs.call("HELLO", protocol)
                for probe in probes:
                    expected = theirs.call(*probe)
                    got = ours.call(*probe)
                    if probe[:2] == ("COMMAND", "LIST"):
                        # we implement a subset of Redis's commands
                        assert set(got) <= set(expected) and got, probe
                        continue
                    if probe[:2] == ("COMMAND", "INFO") and "cluster" in probe:
                        # our CLUSTER has the subcommands we implement, Redis's has more
                        expected = [e[:9] for e in expected]
                        got = [g[:9] for g in got]
                    assert got == expected, (protocol, probe)
            assert ours.call("COMMAND", "COUNT") == len(ours.call("COMMAND"))
        finally:
            ours.close()
            theirs.close()


# --- hostile input -----------------------------------------------------------------------------------------


def test_query_buffer_limit_closes_the_client(cluster: LocalCluster) -> None:
    conn = Raw(resp_port(cluster, 1))
    bystander = Raw(resp_port(cluster, 1))
    try:
        conn.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (QUERY_BUFFER_LIMIT * 2))
        chunk = b"x" * (1 << 20)
        with pytest.raises((ConnectionError, OSError)):
            for _ in range(QUERY_BUFFER_LIMIT // len(chunk) + 8):
                conn.send_raw(chunk)
            conn.read()
        assert bystander.call("PING") == SimpleString("PONG")
    finally:
        conn.close()
        bystander.close()


def test_protocol_errors_reply_and_close(cluster: LocalCluster) -> None:
    cases = [
        (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*-x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*2000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b'SET "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"PING\r\n*1\r\n$x\r\n", b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
    ]
    for data, expected in cases:
        conn = Raw(resp_port(cluster, 2))
        try:
            conn.send_raw(data)
            assert conn.read_until_closed() == expected, data
        finally:
            conn.close()
    conn = Raw(resp_port(cluster, 2))
    try:
        assert conn.call("PING") == SimpleString("PONG")
        conn.send_raw(b"PING\r\n")  # inline commands work
        assert conn.read() == SimpleString("PONG")
    finally:
        conn.close()


def test_many_clients_in_parallel(cluster: LocalCluster) -> None:
    """Threads with their own connections: every reply is the one for its own command."""
    errors: list[Any] = []

    def worker(n: int) -> None:
        client = RedisCluster(host="127.0.0.1", port=resp_port(cluster, 1 + n % 3))
        try:
            for i in range(200):
                key = f"par:{n}:{i}"
                client.set(key, f"{n}-{i}")
                if client.get(key) != f"{n}-{i}".encode():
                    errors.append((n, i))
        except Exception as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors


def test_a_huge_pipeline_read_slowly_is_answered_in_full(cluster: LocalCluster) -> None:
    """50,000 pipelined commands sent at once and read in small bites: every reply arrives,
    in order (the server stops reading while its replies wait for the socket)."""
    key = b"{huge}:k"
    port = resp_port(cluster, _owner(cluster, key))
    conn = Raw(port, timeout=60)
    try:
        assert conn.call("SET", key, "v" * 100) == SimpleString("OK")
        count = 50_000
        request = encode_command("GET", key) * count + encode_command("ECHO", "end")
        sender = threading.Thread(target=conn.send_raw, args=(request,))
        sender.start()
        for _ in range(count):
            assert conn.read() == b"v" * 100
        assert conn.read() == b"end"
        sender.join(timeout=60)
    finally:
        conn.close()

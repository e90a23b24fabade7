"""The foundation, with real node processes on loopback: election, failover, restarts,
metadata storms, authentication of the cluster bus, and hostile input."""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from client.connection import NativeConnection
from client.local_cluster import LocalCluster, free_port_base
from cluster.errors import ErrorCode, KeystreamError
from tests.conftest import call, eventually


async def _maps(cluster: LocalCluster, nodes: list[int]) -> list[dict[str, Any]]:
    return [await call(cluster.address(i, "native"), "metadata") for i in nodes]


async def test_controller_elected_and_every_node_serves_the_same_map(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    ready = await cluster.wait_ready(30)
    assert ready["controller"] in (1, 2, 3)
    maps = await eventually(lambda: _maps(cluster, [1, 2, 3]), lambda ms: len({m["map_epoch"] for m in ms}) == 1,
                            what="one map epoch on every node")  # fmt: skip
    assert maps[0]["map_epoch"] >= ready["map_epoch"]
    assert {m["controller"] for m in maps} == {ready["controller"]}
    assert all(set(m["nodes"]) == {"1", "2", "3"} for m in maps)
    async with aiohttp.ClientSession() as http:
        for i in (1, 2, 3):
            async with http.get(f"http://{cluster.address(i, 'http')}/v1/cluster") as resp:
                assert resp.status == 200
                body = await resp.json()
                assert body["map_epoch"] >= ready["map_epoch"]
                assert body["nodes"][str(i)]["native"] == cluster.address(i, "native")
            async with http.get(f"http://{cluster.address(i, 'http')}/v1/health") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "ok"
            async with http.get(f"http://{cluster.address(i, 'http')}/metrics") as resp:
                text = await resp.text()
                assert resp.status == 200 and "keystream_up 1.0" in text
                assert 'keystream_native_requests_total{op="metadata"}' in text


async def test_killed_controller_is_replaced_fenced_and_rejoins(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    old = (await cluster.wait_ready(30))["controller"]
    node_id_file = cluster.node_dir(old) / "node.id"
    cluster.kill(old)
    survivors = [i for i in (1, 2, 3) if i != old]

    def replaced_and_fenced(m: dict[str, Any]) -> bool:
        return m["controller"] not in (None, old) and m["nodes"][str(old)]["fenced"]

    await eventually(
        lambda: call(cluster.address(survivors[0], "native"), "metadata"),
        replaced_and_fenced,
        timeout=20,
        what="new controller and old one fenced",
    )
    # the new controller commits metadata writes
    reply = await call(cluster.address(survivors[1], "native"), "metadata_noop", {"tag": "after-failover"})
    assert reply["controller"] != old

    cluster.start_node(old)  # same data directory
    ready = await cluster.wait_ready(30)
    assert not ready["nodes"][str(old)]["fenced"]
    assert node_id_file.read_text().strip() == str(old)


async def test_all_nodes_killed_at_once_keep_their_metadata(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    before = await cluster.wait_ready(30)
    for i in range(20):
        await call(cluster.address(1 + i % 3, "native"), "set_cluster_config", {"key": f"survivor.{i}", "value": i})
    for i in (1, 2, 3):
        cluster.kill(i)
    cluster.start_all()
    after = await cluster.wait_ready(40)
    assert after["cluster_id"] == before["cluster_id"]
    assert after["map_epoch"] > before["map_epoch"]
    for node in (1, 2, 3):  # every acknowledged write is still there, on every node

        def describe(n: int = node) -> Awaitable[Any]:
            return call(cluster.address(n, "native"), "describe_cluster_config")

        config = await eventually(
            describe,
            lambda c: len([k for k in c if k.startswith("survivor.")]) == 20,
            timeout=10,
        )
        assert all(config[f"survivor.{i}"] == i for i in range(20))


async def _digests_converged(cluster: LocalCluster) -> tuple[set[str], set[int]]:
    replies = [await call(cluster.address(i, "native"), "metadata_digest") for i in (1, 2, 3)]
    return {r["digest"] for r in replies}, {r["raft"]["last_applied"] for r in replies}


async def test_metadata_storm_with_leader_kills_keeps_every_member_identical(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    acknowledged: dict[str, int] = {}
    writes_per_member = 1000

    async def writer(member: int) -> None:
        conn: NativeConnection | None = None
        i = 0
        while i < writes_per_member:
            try:
                if conn is None or conn.closed:
                    conn = await NativeConnection.open(cluster.address(member, "native"), connect_timeout=2)
                futures = [
                    conn.send("set_cluster_config", {"key": f"storm.{member}.{(i + k) % 50}", "value": i + k})
                    for k in range(10)
                ]
                results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 15)
                for k, res in enumerate(results):
                    if not isinstance(res, BaseException):
                        acknowledged[f"storm.{member}.{(i + k) % 50}"] = res["value"]
                i += 10
            except (ConnectionError, OSError, KeystreamError, TimeoutError):
                conn = None
                await asyncio.sleep(0.1)

    async def nemesis() -> None:
        for _ in range(3):
            controller = (await cluster.wait_ready(40))["controller"]
            await asyncio.sleep(0.5)
            cluster.kill(controller)
            await asyncio.sleep(0.8)
            cluster.start_node(controller)

    await asyncio.wait_for(asyncio.gather(writer(1), writer(2), writer(3), nemesis()), 240)
    await cluster.wait_ready(40)
    digests, _applied = await eventually(
        lambda: _digests_converged(cluster),
        lambda r: len(r[0]) == 1 and len(r[1]) == 1,
        timeout=30,
        what="identical metadata digests",
    )
    assert len(digests) == 1
    # every acknowledged write is in the converged state: per key, the final value is the
    # last acknowledged one or a later write whose reply was lost (values only grow)
    config = await call(cluster.address(1, "native"), "describe_cluster_config")
    lost = {k: (v, config.get(k)) for k, v in acknowledged.items() if config.get(k, -1) < v}
    assert not lost, f"acknowledged writes lost: {lost}"
    assert len(acknowledged) == 150


async def test_node_with_wrong_secret_cannot_join_or_change_anything(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    # node 4 is a broker (not a voter) holding the wrong secret
    cluster = cluster_factory(4, per_node_env={4: {"KEYSTREAM_CLUSTER_SECRET": "not-the-cluster-secret-at-all"}})
    for i in (1, 2, 3):
        cluster.start_node(i)
    before = await cluster.wait_ready(30, expect_live=[1, 2, 3])
    cluster.start_node(4)

    async def auth_failures() -> int:
        status = await call(cluster.address(1, "native"), "cluster_status")
        total = status["raft"]["transport"]["auth_failures"]
        for i in (2, 3):
            total += (await call(cluster.address(i, "native"), "cluster_status"))["raft"]["transport"]["auth_failures"]
        return int(total)

    await eventually(auth_failures, lambda n: n >= 1, timeout=20, what="voters rejecting the wrong secret")
    after = await call(cluster.address(2, "native"), "metadata")
    assert "4" not in after["nodes"] and set(after["nodes"]) == set(before["nodes"])
    health = await call(cluster.address(4, "native"), "health")
    assert not health["ok"] and "not registered" in health["health"]["problems"]


class _Evil:
    """Unpickling this creates a marker directory: proof that pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


async def test_raft_port_never_unpickles_what_arrives(
    cluster_factory: Callable[..., LocalCluster], tmp_path: Path
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    # the controller creates the keyspace's internal topic once every node is up: wait for it
    await eventually(lambda: call(cluster.address(1, "native"), "metadata"), lambda m: bool(m["shards"]),
                     timeout=20, what="the keyspace topic")  # fmt: skip
    before = await _what_an_attacker_would_change(cluster)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(marker))
    wrong_key = Fernet(Fernet.generate_key())
    attempts = [
        struct.pack("i", len(zlib.compress(payload))) + zlib.compress(payload),  # pysyncobj's own framing
        struct.pack(">I", len(payload)) + payload,  # our framing, raw pickle
        struct.pack(">I", 200) + wrong_key.encrypt(payload)[:200],
        struct.pack(">I", 2**31 - 1) + b"x" * 64,  # absurd length
        os.urandom(4096),
        payload,
    ]
    host, port = cluster.address(1, "raft").rsplit(":", 1)
    for data in attempts:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            try:
                sock.sendall(data)
                sock.settimeout(5)
                while sock.recv(4096):  # the node closes the connection on us
                    pass
            except (ConnectionResetError, BrokenPipeError, TimeoutError):
                pass
    await cluster.wait_ready(20)
    after = await call(cluster.address(1, "native"), "metadata_digest")
    assert not marker.exists(), "a payload from an unauthenticated peer was unpickled"
    assert await _what_an_attacker_would_change(cluster) == before
    assert after["raft"]["transport"]["auth_failures"] >= 4


async def _what_an_attacker_would_change(cluster: LocalCluster) -> Any:
    """Members, their addresses, topics and replica sets, users, cluster config: not the
    whole digest, which legitimately moves while the test runs (ISR changes, preferred
    leaders coming back, producer-id blocks)."""
    address = cluster.address(1, "native")
    cluster_map = await call(address, "metadata")
    topics = {name: [sorted(p["replicas"]) for p in parts] for name, parts in cluster_map["partitions"].items()}
    return (
        cluster_map["cluster_id"],
        {k: {f: v for f, v in n.items() if f != "fenced"} for k, n in cluster_map["nodes"].items()},
        topics,
        await call(address, "list_users"),
        await call(address, "describe_cluster_config"),
    )


async def test_native_port_answers_bad_input_with_typed_errors_and_stays_up(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(1)
    cluster.start_all()
    await cluster.wait_ready(30)
    host, port = cluster.address(1, "native").rsplit(":", 1)

    async def raw(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(data)
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(65536), 5)
        finally:
            writer.close()

    def error_code(reply: bytes) -> int:
        import msgpack

        (length,) = struct.unpack(">I", reply[:4])
        return int(msgpack.unpackb(reply[4 : 4 + length])[1])

    assert error_code(await raw(struct.pack(">I", 2**31))) == ErrorCode.FRAME_TOO_LARGE
    assert error_code(await raw(struct.pack(">I", 5) + b"\xc1\xc1\xc1\xc1\xc1")) == ErrorCode.INVALID_REQUEST
    truncated = struct.pack(">I", 100) + b"\x93\x01"
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(truncated)
    await writer.drain()
    writer.close()  # hang up mid-frame
    conn = await NativeConnection.open(cluster.address(1, "native"))
    with pytest.raises(KeystreamError) as info:
        await conn.request("no_such_operation", {})
    assert info.value.code == ErrorCode.UNSUPPORTED_OPERATION
    assert (await conn.request("ping"))["node_id"] == 1  # same connection still serves
    await conn.close()
    assert (await call(cluster.address(1, "native"), "ping"))["node_id"] == 1


def _run_node(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli.main", "node", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bad_configuration_exits_with_a_clear_message(tmp_path: Path) -> None:
    base = free_port_base(1)
    args = [
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "d"),
        "--voters",
        f"1=127.0.0.1:{base + 3}",
        "--listener",
        f"default.native=127.0.0.1:{base}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTREAM_")}
    missing = _run_node(args, env)
    assert missing.returncode == 2 and "cluster secret is required" in missing.stderr

    env["KEYSTREAM_CLUSTER_SECRET"] = "a-perfectly-long-secret-value"
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base))
        blocker.listen()
        busy = _run_node(args, env)
    assert busy.returncode == 3 and f"cannot listen on 127.0.0.1:{base}" in busy.stderr

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    bad_dir = _run_node(["--id", "1", "--data-dir", str(not_a_dir / "sub"), *args[4:]], env)
    assert bad_dir.returncode == 3 and "cannot create data directory" in bad_dir.stderr

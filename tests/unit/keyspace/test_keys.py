"""Generic key commands."""

from __future__ import annotations

from typing import cast

from node.keyspace import OK, RedisError, SimpleString

from .harness import Shard


def test_rename_and_copy_keep_ttls_and_copy_deeply() -> None:
    shard = Shard(now_ms=1_000)
    shard("RPUSH", "a{t}", "1", "2")
    shard("PEXPIRE", "a{t}", "500")
    assert shard("COPY", "a{t}", "b{t}") == 1
    assert shard("PTTL", "b{t}") == 500
    shard("RPUSH", "b{t}", "3")  # the copy is independent
    assert shard("LLEN", "a{t}") == 2
    assert shard("RENAME", "a{t}", "c{t}") == OK
    assert (shard("EXISTS", "a{t}"), shard("PTTL", "c{t}")) == (0, 500)
    assert shard("RENAMENX", "c{t}", "b{t}") == 0
    assert shard("COPY", "c{t}", "c{t}") == RedisError("ERR source and destination objects are the same")


def test_expire_flags() -> None:
    shard = Shard(now_ms=0)
    shard("SET", "k", "v")
    assert shard("EXPIRE", "k", "10", "XX") == 0
    assert shard("EXPIRE", "k", "10", "NX") == 1
    assert shard("EXPIRE", "k", "5", "GT") == 0
    assert shard("EXPIRE", "k", "20", "GT") == 1
    assert shard("EXPIRE", "k", "30", "LT") == 0
    assert shard("PTTL", "k") == 20_000
    assert shard("PERSIST", "k") == 1


def test_keyspace_wide_commands() -> None:
    shard = Shard()
    for i in range(100):
        shard("SET", f"user:{i}", "v")
        shard("SADD", f"set:{i}", "x")
    assert shard("DBSIZE") == 200
    assert len(shard("KEYS", "user:1*")) == 11  # type: ignore[arg-type]
    assert shard("TYPE", "set:3") == SimpleString("set")
    seen: set[bytes] = set()
    cursor = b"0"
    while True:
        reply = shard("SCAN", cursor.decode(), "MATCH", "set:*", "TYPE", "set")
        assert isinstance(reply, list) and isinstance(reply[0], bytes) and isinstance(reply[1], list)
        cursor, keys = reply[0], cast(list[bytes], reply[1])
        seen.update(keys)
        if cursor == b"0":
            break
    assert len(seen) == 100
    assert shard("RANDOMKEY") in {f"user:{i}".encode() for i in range(100)} | seen
    assert shard.keyspace.count_keys_in_slot(shard.keyspace.classify([b"GET", b"user:1"]).slot or 0) >= 1
    slot = shard.keyspace.classify([b"GET", b"user:1"]).slot
    assert slot is not None and b"user:1" in shard.keyspace.keys_in_slot(slot, 100)
    assert shard("FLUSHDB") == OK and shard("DBSIZE") == 0


def test_the_clusters_internal_keys_are_hidden_from_keyspace_wide_commands() -> None:
    """Consumer groups keep their offsets in ``{__group:G}:...`` keys: a user's FLUSHALL
    must not reset them, and KEYS/SCAN/DBSIZE/RANDOMKEY show only the user's keys."""
    shard = Shard(now_ms=1_000)
    shard("HSET", "{__group:billing}:offsets", "orders:0", "42")
    shard("SET", "{__group:billing}:meta", "m", "PX", "60000")
    shard("SET", "user:1", "v")
    assert shard("DBSIZE") == 1
    assert shard("KEYS", "*") == [b"user:1"]
    assert shard("RANDOMKEY") == b"user:1"
    assert shard("SCAN", "0", "COUNT", "100000") == [b"0", [b"user:1"]]
    # a pattern that names them lists them (the group coordinator's, admin only)
    group_slot = shard.keyspace.classify([b"GET", b"{__group:billing}:meta"]).slot
    assert group_slot is not None and shard.keyspace.count_keys_in_slot(group_slot) == 0
    assert shard.keyspace.keys_in_slot(group_slot, 10) == []
    assert sorted(cast(list[bytes], shard("KEYS", "{__group:*}:*"))) == [
        b"{__group:billing}:meta",
        b"{__group:billing}:offsets",
    ]
    before = shard.keyspace.db.key_count
    assert shard("FLUSHALL") == OK
    assert (shard("DBSIZE"), shard("RANDOMKEY"), shard("EXISTS", "user:1")) == (0, None, 0)
    assert shard.keyspace.db.key_count == before - 1
    assert shard("HGET", "{__group:billing}:offsets", "orders:0") == b"42"
    assert shard("PTTL", "{__group:billing}:meta") == 60_000  # the TTL survives too
    assert shard("DEL", "{__group:billing}:offsets", "{__group:billing}:meta") == 2
    assert shard.keyspace.db.internal_keys == set()


def test_flushall_keeps_internal_keys_identically_on_every_replica() -> None:
    replicas = [Shard(now_ms=5), Shard(now_ms=5)]
    for shard in replicas:
        for i in range(50):
            shard("SET", f"k{i}", "v")
            shard("HSET", f"{{__group:g{i}}}:offsets", "t:0", str(i))
        shard("FLUSHALL")
        shard("SET", "after", "x")
    assert replicas[0].keyspace.digest() == replicas[1].keyspace.digest()
    assert replicas[0]("DBSIZE") == 1 and replicas[0].keyspace.db.key_count == 51

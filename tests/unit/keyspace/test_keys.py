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

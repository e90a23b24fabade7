"""String commands (the differential test compares them with Redis; these pin the semantics
that need a controlled clock or none of Redis's)."""

from __future__ import annotations

import pytest

from node.keyspace import OK, RedisError

from .harness import Shard


@pytest.fixture()
def shard() -> Shard:
    return Shard(now_ms=1_000_000)


def test_set_options(shard: Shard) -> None:
    assert shard("SET", "k", "v1", "NX") == OK
    assert shard("SET", "k", "v2", "NX") is None
    assert shard("SET", "k", "v3", "XX", "GET") == b"v1"
    assert shard("SET", "k", "v4", "NX", "GET") == b"v3"  # Redis 7: NX + GET allowed
    assert shard("SET", "k", "v5", "PX", "500") == OK
    assert shard("PTTL", "k") == 500
    assert shard("SET", "k", "v6", "KEEPTTL") == OK
    assert shard("PTTL", "k") == 500
    assert shard("SET", "k", "v7") == OK
    assert shard("PTTL", "k") == -1
    assert shard("SET", "k", "v", "EX", "0") == RedisError("ERR invalid expire time in 'set' command")
    assert shard("SET", "k", "v", "EX", "1", "PX", "1") == RedisError("ERR syntax error")


def test_counters(shard: Shard) -> None:
    assert [shard("INCR", "n"), shard("INCRBY", "n", "41"), shard("DECRBY", "n", "2")] == [1, 42, 40]
    shard("SET", "n", "9223372036854775806")
    assert shard("INCR", "n") == 2**63 - 1
    assert shard("INCR", "n") == RedisError("ERR increment or decrement would overflow")
    assert shard("GET", "n") == b"9223372036854775807"
    shard("SET", "f", "1", "EX", "100")
    assert shard("INCRBYFLOAT", "f", "0.5") == b"1.5"
    assert shard("TTL", "f") == 100  # counters keep the TTL


def test_ranges(shard: Shard) -> None:
    assert shard("SETRANGE", "s", "3", "ab") == 5
    assert shard("GET", "s") == b"\x00\x00\x00ab"
    assert shard("GETRANGE", "s", "-2", "-1") == b"ab"
    assert shard("APPEND", "s", "c") == 6
    assert shard("STRLEN", "s") == 6


def test_getex(shard: Shard) -> None:
    shard("SET", "k", "v")
    assert shard("GETEX", "k", "PX", "250") == b"v"
    assert shard("PTTL", "k") == 250
    assert shard("GETEX", "k", "PERSIST") == b"v"
    assert shard("PTTL", "k") == -1
    assert shard("GETEX", "k", "PXAT", "1") == b"v"
    assert shard("EXISTS", "k") == 0


def test_multi_key(shard: Shard) -> None:
    assert shard("MSET", "a{x}", "1", "b{x}", "2") == OK
    assert shard("MSETNX", "b{x}", "3", "c{x}", "4") == 0
    assert shard("MGET", "a{x}", "b{x}", "c{x}") == [b"1", b"2", None]


def test_append_grows_in_place_in_amortised_constant_time(shard: Shard) -> None:
    shard("SET", "{log}", "x" * 1_000_000, "EX", "100")
    chunk = "y" * 1_000
    for _ in range(3_000):  # 3 GB of copying if every APPEND copied the string
        shard("APPEND", "{log}", chunk)
    assert shard("STRLEN", "{log}") == 4_000_000
    assert shard("TTL", "{log}") == 100
    assert shard("GETRANGE", "{log}", "999999", "1000001") == b"xyy"
    assert shard("SETRANGE", "{log}", "1", "ab") == 4_000_000
    value = shard("GET", "{log}")
    assert isinstance(value, bytes) and value[:4] == b"xabx"
    # A copy is independent of the original's buffer.
    shard("COPY", "{log}", "{log}2")
    shard("APPEND", "{log}", "z")
    assert (shard("STRLEN", "{log}"), shard("STRLEN", "{log}2")) == (4_000_001, 4_000_000)
    assert shard("INCR", "{log}") == RedisError("ERR value is not an integer or out of range")
    assert shard("MGET", "{log}")[0][-1:] == b"z"  # type: ignore[index]

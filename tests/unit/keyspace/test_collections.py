"""Hash, list, set and sorted-set commands: semantics, determinism of the random ones, and
the complexity Redis documents (large collections stay fast)."""

from __future__ import annotations

import time

from node.keyspace import NULL_ARRAY, OK, Map, PairArray, RedisError, SetReply

from .harness import Shard


def test_hashes() -> None:
    shard = Shard()
    assert shard("HSET", "h", "b", "1", "a", "2") == 2
    assert shard("HSET", "h", "b", "3", "c", "4") == 1
    assert shard("HGETALL", "h") == Map([(b"b", b"3"), (b"a", b"2"), (b"c", b"4")])
    assert shard("HINCRBY", "h", "a", "5") == 7
    assert shard("HINCRBYFLOAT", "h", "a", "0.25") == b"7.25"
    assert shard("HDEL", "h", "a", "b", "c") == 3
    assert shard("EXISTS", "h") == 0  # the last field took the key with it


def test_lists() -> None:
    shard = Shard()
    assert shard("RPUSH", "l", "a", "b", "c", "d") == 4
    assert shard("LPOP", "l", "2") == [b"a", b"b"]
    assert shard("RPOP", "l", "9") == [b"d", b"c"]
    assert shard("LPOP", "l", "1") is NULL_ARRAY  # a missing key with a count: null array
    assert shard("LPOP", "l") is None
    shard("RPUSH", "l", "x", "y", "x", "z", "x")
    assert shard("LPOS", "l", "x", "RANK", "-1", "COUNT", "0") == [4, 2, 0]
    assert shard("LREM", "l", "-2", "x") == 2
    assert shard("LRANGE", "l", "0", "-1") == [b"x", b"y", b"z"]
    assert shard("LMOVE", "l", "l", "LEFT", "RIGHT") == b"x"
    assert shard("LRANGE", "l", "0", "-1") == [b"y", b"z", b"x"]


def test_sets_and_their_seeded_randomness() -> None:
    first, second = Shard(), Shard()
    for shard in (first, second):
        shard("SADD", "s", *[f"m{i}" for i in range(50)])
    # The same record (same seed) pops the same members on every replica.
    assert first("SPOP", "s", "7") == second("SPOP", "s", "7")
    assert first("SPOP", "s") == second("SPOP", "s")
    assert first.keyspace.digest() == second.keyspace.digest()
    assert first("SCARD", "s") == 42
    picks = first("SRANDMEMBER", "s", "-100")
    assert isinstance(picks, list) and len(picks) == 100
    assert len(set(first("SRANDMEMBER", "s", "100"))) == 42  # type: ignore[arg-type]
    first("SADD", "{s}t", "m1", "zz")
    first("SADD", "{s}", "m1")
    assert first("SINTERSTORE", "{s}u", "{s}", "{s}t") == 1
    assert first("SMEMBERS", "nothing") == SetReply([])


def test_sorted_sets() -> None:
    shard = Shard()
    assert shard("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d") == 4
    assert shard("ZRANGE", "z", "(1", "3", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES") == PairArray(
        [(b"c", 2.0), (b"d", 3.0)]
    )
    assert shard("ZRANGE", "z", "+", "[b", "BYLEX", "REV") == [b"d", b"c", b"b"]
    assert shard("ZADD", "z", "GT", "CH", "0", "a", "5", "b") == 1
    assert shard("ZINCRBY", "z", "inf", "a") == float("inf")
    assert shard("ZINCRBY", "z", "-inf", "a") == RedisError("ERR resulting score is not a number (NaN)")
    assert shard("ZPOPMIN", "z") == [b"c", 2.0]
    assert shard("ZUNIONSTORE", "{z}u", "2", "{z}", "{z}", "WEIGHTS", "1", "2") == 0
    shard("ZADD", "{z}", "1", "x", "3", "y")
    assert shard("ZUNIONSTORE", "{z}u", "2", "{z}", "{z}", "WEIGHTS", "1", "2") == 2
    assert shard("ZSCORE", "{z}u", "y") == 9.0
    assert shard("ZRANK", "{z}u", "y") == 1


def test_large_collections_keep_redis_complexity() -> None:
    shard = Shard()
    n = 100_000
    for start in range(0, n, 10_000):
        shard("ZADD", "z", *[x for i in range(start, start + 10_000) for x in (str(i), f"m{i}")])
        shard("SADD", "s", *[f"m{i}" for i in range(start, start + 10_000)])
        shard("RPUSH", "l", *[f"m{i}" for i in range(start, start + 10_000)])
    started = time.perf_counter()
    for i in range(2_000):
        assert shard("ZSCORE", "z", f"m{i * 37}") == float(i * 37)
        assert shard("ZRANK", "z", f"m{i * 37}") == i * 37 + i  # the new{j} sort first
        shard("ZRANGE", "z", str(i * 40), str(i * 40 + 5))
        shard("ZRANGEBYSCORE", "z", str(i * 11), f"({i * 11 + 3}")
        shard("ZADD", "z", str(-i - 1), f"new{i}")
        shard("SPOP", "s")
        shard("LPUSH", "l", "x")
        shard("RPOP", "l")
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"16,000 O(log N)/O(1) operations on 100k-element values took {elapsed:.1f}s"
    assert shard("ZCARD", "z") == n + 2_000
    assert shard("SET", "done", "1") == OK

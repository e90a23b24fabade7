"""Expiry by record time: lazy on reads and writes, the active sweep's records, and a
clock that never goes backwards."""

from __future__ import annotations

from node.keyspace import ApplyContext, Keyspace, RedisError

from .harness import Shard, argv_of


def test_ttl_counts_down_with_the_clock() -> None:
    shard = Shard(now_ms=1_000_000)
    shard("SET", "k", "v", "EX", "10")
    assert shard("PTTL", "k") == 10_000
    shard.now_ms += 2_500
    assert (shard("TTL", "k"), shard("PTTL", "k")) == (8, 7_500)  # TTL rounds like Redis
    assert shard("PEXPIRETIME", "k") == 1_010_000
    assert shard("EXPIRETIME", "k") == 1_010
    shard.now_ms = 1_010_000
    assert shard("PTTL", "k") == 0  # at its time a key still exists (Redis: now > when)
    shard.now_ms += 1
    assert (shard("GET", "k"), shard("TTL", "k"), shard("EXISTS", "k")) == (None, -2, 0)


def test_reads_never_delete_writes_delete_at_record_time() -> None:
    shard = Shard(now_ms=1_000)
    shard("SET", "k", "v", "PX", "100")
    shard.now_ms = 1_200
    assert shard("GET", "k") is None
    assert shard.keyspace.key_count == 1  # still stored: reads do not mutate
    assert shard("SET", "other", "x") is not None
    assert shard.keyspace.key_count == 2
    shard("APPEND", "k", "new")  # a write that touches it: expired first, then created
    assert (shard("GET", "k"), shard("TTL", "k")) == (b"new", -1)


def test_writes_use_the_record_time_not_the_applier_clock() -> None:
    """Two replicas applying the same records at different wall times agree."""
    replicas = [Keyspace(), Keyspace()]
    records = [
        (argv_of("SET", "k", "v", "PXAT", "5000"), ApplyContext(1_000, 0, 1)),
        (argv_of("INCR", "n"), ApplyContext(4_000, 0, 2)),
        (argv_of("LPUSH", "k", "x"), ApplyContext(4_999, 0, 3)),  # k still a string
        (argv_of("LPUSH", "k", "x"), ApplyContext(5_001, 0, 4)),  # k expired: a new list
    ]
    replies = [[replica.apply(argv, ctx) for argv, ctx in records] for replica in replicas]
    assert replies[0] == replies[1]
    assert replies[0][2] == RedisError("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert replies[0][3] == 1
    assert replicas[0].digest() == replicas[1].digest()


def test_clock_never_goes_backwards_after_a_failover() -> None:
    shard = Shard(now_ms=10_000)
    shard("SET", "k", "v", "PXAT", "10500")
    shard("SET", "tick", "1")
    # A new leader whose clock is behind logs a record: the machine keeps the later time.
    shard.keyspace.apply(argv_of("SET", "tick", "2"), shard.context(now_ms=11_000))
    shard.keyspace.apply(argv_of("SET", "tick", "3"), shard.context(now_ms=9_000))
    assert shard.keyspace.clock_ms == 11_000
    assert shard.keyspace.read(argv_of("EXISTS", "k"), 9_000) == 0  # reads too


def test_expire_in_the_past_deletes_and_counts_as_a_change() -> None:
    shard = Shard(now_ms=50_000)
    shard("SET", "k", "v")
    assert shard("EXPIRE", "k", "0") == 1
    assert shard("EXISTS", "k") == 0
    shard("SET", "k", "v")
    assert shard("PEXPIREAT", "k", "49999") == 1
    assert shard.keyspace.key_count == 0
    assert shard("GETEX", "missing", "PXAT", "1") is None


def test_active_expiry_finds_expired_keys_in_bounded_rounds() -> None:
    shard = Shard(now_ms=1_000)
    for i in range(500):
        ttl = "10" if i % 2 else "100000"
        shard("SET", f"key{i}", "v", "PX", ttl)
    for i in range(100):
        shard("SET", f"forever{i}", "v")
    shard.now_ms = 2_000
    found: set[bytes] = set()
    rounds = 0
    while True:
        batch = shard.keyspace.active_expire_candidates(shard.now_ms, limit=20)
        rounds += 1
        assert len(batch) <= 20
        if not batch:
            break
        found.update(batch)
        assert shard.keyspace.apply_expiry(batch, shard.context()) == len(batch)
    assert found == {f"key{i}".encode() for i in range(1, 500, 2)}
    assert shard.keyspace.key_count == 350
    assert rounds < 40


def test_expiry_record_skips_keys_given_a_new_life() -> None:
    shard = Shard(now_ms=1_000)
    shard("SET", "a", "v", "PX", "10")
    shard("SET", "b", "v", "PX", "10")
    shard.now_ms = 2_000
    candidates = shard.keyspace.active_expire_candidates(shard.now_ms, limit=10)
    assert sorted(candidates) == [b"a", b"b"]
    shard("SET", "a", "fresh")  # logged between the sweep and its expiry record
    assert shard.keyspace.apply_expiry(candidates, shard.context()) == 1
    assert shard("GET", "a") == b"fresh"
    assert shard.keyspace.key_count == 1

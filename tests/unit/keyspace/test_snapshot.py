"""Snapshots: round trip to the same digest and the same future replies; bounded memory;
corruption detected."""

from __future__ import annotations

import io
import tracemalloc

import msgpack
import pytest

from node.keyspace import Keyspace, KeyspaceLimits, SnapshotError

from .harness import Shard, apply_record, argv_of, random_records


def _round_trip(keyspace: Keyspace) -> tuple[Keyspace, bytes]:
    buffer = io.BytesIO()
    keyspace.snapshot(buffer)
    data = buffer.getvalue()
    return Keyspace.load(io.BytesIO(data), keyspace.limits), data


def test_every_type_ttl_and_order_survive() -> None:
    shard = Shard()
    shard("SET", "s", "v", "PX", "100000")
    shard("HSET", "h", "z", "1", "a", "2", "m", "3")
    shard("RPUSH", "l", "3", "1", "2")
    shard("SADD", "set", "x", "y", "z", "w")
    shard("SREM", "set", "x")  # reorders (swap-remove): the order must survive too
    shard("ZADD", "z", "1", "a", "-0", "b", "inf", "c", "1", "0")
    shard("EXPIRE", "h", "1000")
    restored, _ = _round_trip(shard.keyspace)
    assert restored.digest() == shard.keyspace.digest()
    for argv in (["HGETALL", "h"], ["LRANGE", "l", "0", "-1"], ["SMEMBERS", "set"],
                 ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["PTTL", "s"], ["TTL", "h"],
                 ["SRANDMEMBER", "set", "-5"]):  # fmt: skip
        assert restored.read(argv_of(*argv), shard.now_ms, __import__("random").Random(1)) == (
            shard.keyspace.read(argv_of(*argv), shard.now_ms, __import__("random").Random(1))
        )
    assert (restored.applied_offset, restored.clock_ms) == (
        shard.keyspace.applied_offset,
        shard.keyspace.clock_ms,
    )


def test_random_states_round_trip_and_continue_identically() -> None:
    records = random_records(5, 1500)
    original = Keyspace()
    for record in records[:1000]:
        apply_record(original, record)
    restored, _ = _round_trip(original)
    assert restored.digest() == original.digest()
    for record in records[1000:]:
        assert repr(apply_record(restored, record)) == repr(apply_record(original, record))
    assert restored.digest() == original.digest()


def test_watch_window_is_in_the_snapshot() -> None:
    shard = Shard(limits=KeyspaceLimits(watch_window=5))
    for i in range(8):
        shard("SET", f"k{i}", "v")
    restored, _ = _round_trip(shard.keyspace)
    assert list(restored.window.items()) == list(shard.keyspace.window.items())
    assert restored.window.complete_since == shard.keyspace.window.complete_since


def test_large_collections_stream_in_chunks_with_bounded_memory() -> None:
    shard = Shard()
    members = [b"member-%07d" % i for i in range(200_000)]
    for start in range(0, len(members), 10_000):
        shard.keyspace.apply([b"RPUSH", b"big", *members[start : start + 10_000]], shard.context())
    buffer = io.BytesIO()
    shard.keyspace.snapshot(buffer)
    records = list(msgpack.Unpacker(io.BytesIO(buffer.getvalue()), raw=False))
    chunk_sizes = [len(r[1]) for r in records if isinstance(r, list) and r[0] == "c"]
    assert max(chunk_sizes) <= 1024 and sum(chunk_sizes) == 200_000
    # Loading holds one chunk at a time besides the rebuilt list itself.
    buffer.seek(0)
    tracemalloc.start()
    restored = Keyspace.load(buffer)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    current_list_bytes = 200_000 * (8 + 48)  # deque slots plus the bytes objects
    assert peak < 2 * current_list_bytes
    assert restored.digest() == shard.keyspace.digest()


@pytest.mark.parametrize("cut", [0, 5, -3, -40])
def test_truncated_or_corrupt_snapshots_are_refused(cut: int) -> None:
    shard = Shard()
    for i in range(50):
        shard("SADD", f"s{i}", "a", "b")
    _, data = _round_trip(shard.keyspace)
    with pytest.raises((SnapshotError, ValueError, msgpack.UnpackException)):
        Keyspace.load(io.BytesIO(data[:cut] if cut else b""))


def test_a_changed_value_fails_the_digest_check() -> None:
    shard = Shard()
    shard("SET", "key", "value-aaaa")
    _, data = _round_trip(shard.keyspace)
    tampered = data.replace(b"value-aaaa", b"value-bbbb")
    with pytest.raises(SnapshotError, match="digest"):
        Keyspace.load(io.BytesIO(tampered))

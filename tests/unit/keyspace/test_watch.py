"""WATCH decided from replicated state: the modification window, flushes and expiry."""

from __future__ import annotations

from node.keyspace import NULL_ARRAY, OK, KeyspaceLimits, RedisError, Watch
from node.keyspace.watch import ModificationWindow

from .harness import Shard


def test_exec_runs_when_nothing_changed() -> None:
    shard = Shard()
    shard("SET", "k{t}", "1")
    watch = shard.watch("k{t}")
    shard("SET", "other{t}", "x")
    assert shard.exec(["INCR", "k{t}"], ["GET", "k{t}"], watched=(watch,)) == [2, b"2"]


def test_exec_aborts_when_a_watched_key_changed_after_the_watch() -> None:
    shard = Shard()
    shard("SET", "k{t}", "1")
    watch = shard.watch("k{t}")
    shard("SET", "k{t}", "2")
    assert shard.exec(["SET", "k{t}", "mine"], watched=(watch,)) is NULL_ARRAY
    assert shard("GET", "k{t}") == b"2"


def test_failed_writes_and_reads_are_not_changes() -> None:
    shard = Shard()
    shard("SET", "k{t}", "1")
    watch = shard.watch("k{t}")
    shard("SETNX", "k{t}", "2")
    shard("LPUSH", "k{t}", "x")  # WRONGTYPE
    shard("GET", "k{t}")
    assert shard.exec(["GET", "k{t}"], watched=(watch,)) == [b"1"]


def test_expiry_after_the_watch_aborts_expiry_before_does_not() -> None:
    shard = Shard(now_ms=1_000)
    shard("SET", "a{t}", "v", "PX", "100")
    shard("SET", "b{t}", "v", "PX", "100")
    watch_a = shard.watch("a{t}")  # watched while alive
    shard.now_ms = 1_500
    watch_b = shard.watch("b{t}")  # watched when already expired (client saw nil)
    assert shard.exec(["GET", "b{t}"], watched=(watch_b,)) == [None]
    # a{t} expired after its WATCH and no record has touched it yet: still an abort.
    assert shard.keyspace.db.lookup(b"a{t}") is not None
    assert shard.exec(["GET", "a{t}"], watched=(watch_a,)) is NULL_ARRAY


def test_flush_after_the_watch_aborts() -> None:
    shard = Shard()
    watch = shard.watch("missing{t}")
    shard("FLUSHALL")
    assert shard.exec(["SET", "missing{t}", "1"], watched=(watch,)) is NULL_ARRAY
    watch = shard.watch("missing{t}")
    assert shard.exec(["SET", "missing{t}", "1"], watched=(watch,)) == [OK]


def test_watch_offsets_older_than_the_window_abort_conservatively() -> None:
    shard = Shard(limits=KeyspaceLimits(watch_window=10))
    shard("SET", "k{t}", "1")
    watch = shard.watch("k{t}")
    for i in range(9):
        shard("SET", f"churn{i}{{t}}", "x")  # k{t} still in the window of 10
    assert shard.exec(["GET", "k{t}"], watched=(watch,)) == [b"1"]
    for i in range(20):
        shard("SET", f"more{i}{{t}}", "x")  # evicts what happened after the watch
    assert shard.exec(["GET", "k{t}"], watched=(watch,)) is NULL_ARRAY
    fresh = shard.watch("k{t}")  # a retry with a fresh WATCH succeeds
    assert shard.exec(["GET", "k{t}"], watched=(fresh,)) == [b"1"]


def test_transactions_are_atomic_and_keep_per_command_errors() -> None:
    shard = Shard()
    replies = shard.exec(["SET", "a{t}", "x"], ["INCR", "a{t}"], ["SET", "b{t}", "y"])
    assert replies == [OK, RedisError("ERR value is not an integer or out of range"), OK]
    assert shard.exec(["SET", "a{t}", "1"], ["SET", "b{u}", "1"]) == RedisError(
        "CROSSSLOT Keys in request don't hash to the same slot"
    )
    assert shard("EXISTS", "b{u}") == 0


def test_window_unit() -> None:
    window = ModificationWindow(capacity=2)
    window.record([b"a"], 5)
    window.record([b"b"], 6)
    assert not window.modified_after(b"a", 5)
    assert window.modified_after(b"a", 4)
    assert not window.modified_after(b"zzz", 0)
    window.record([b"c"], 7)  # evicts a@5
    assert window.complete_since == 5
    assert window.modified_after(b"zzz", 4)  # cannot vouch
    assert not window.modified_after(b"zzz", 5)
    window.record_flush(9)
    assert window.modified_after(b"c", 8)
    assert Watch(b"k", 1, 2).key == b"k"

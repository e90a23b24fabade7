"""Compaction: latest record per key, offsets unchanged, tombstones, crash safety, concurrency."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable

import pytest

from node.storage import cleaner
from node.storage.batch import Compression, Record, build_batch, decode_batches, iter_batches
from node.storage.cleaner import MANIFEST_NAME
from node.storage.errors import LogStorageError
from node.storage.log import PartitionLog
from node.storage.segment import Segment

from .conftest import BASE_TS, crash, read_all

OpenLog = Callable[..., PartitionLog]
DAY = 24 * 3600 * 1000
COMPACT = {"cleanup_policy": "compact", "segment_bytes": 1500, "index_interval_bytes": 128}


def _produce(
    log: PartitionLog,
    count: int,
    *,
    keys: int = 10,
    seed: int = 1,
    timestamp: int = BASE_TS,
    tombstone_every: int = 0,
    compression: Compression = Compression.NONE,
) -> list[Record]:
    """Append `count` single-key records in small batches; returns what was written."""
    rng = random.Random(seed)
    written: list[Record] = []
    while len(written) < count:
        records: list[tuple[bytes, bytes | None, None, int]] = []
        for _ in range(rng.randint(1, 4)):
            n = len(written) + len(records)
            key = b"key-%d" % rng.randrange(keys)
            tombstone = tombstone_every and n % tombstone_every == tombstone_every - 1
            value = None if tombstone else b"value-%d" % n
            records.append((key, value, None, timestamp + n))
        info = log.append_as_leader(build_batch(records, compression=compression), 0, 0)
        written.extend(
            Record(info.first_offset + i, ts, k, v, ()) for i, (k, v, _, ts) in enumerate(records)
        )
    return written


def _latest(records: list[Record]) -> dict[bytes, Record]:
    latest: dict[bytes, Record] = {}
    for record in records:
        assert record.key is not None
        latest[record.key] = record
    return latest


def _check_compacted(log: PartitionLog, written: list[Record], cleaned_below: int) -> list[Record]:
    """What any compaction must guarantee, whatever it chose to clean."""
    after = read_all(log)
    by_offset = {r.offset: r for r in written}
    for record in after:  # every survivor is an original record at its original offset
        assert by_offset[record.offset] == record
    offsets = [r.offset for r in after]
    assert offsets == sorted(set(offsets))
    survivors = {r.offset for r in after}
    for record in _latest(written).values():  # the latest record of every key survives...
        if record.value is not None:
            assert record.offset in survivors
    for record in written:  # ...and everything not yet cleanable is untouched
        if record.offset >= cleaned_below:
            assert record.offset in survivors
    for record in after:  # below the cleaned point, only the latest per key is left
        if record.offset < cleaned_below:
            assert record.key is not None
            assert _latest([r for r in written if r.offset < cleaned_below])[record.key] == record
    return after


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.ZSTD])
def test_keeps_the_latest_record_per_key_at_its_offset(
    open_log: OpenLog, compression: Compression
) -> None:
    log = open_log(**COMPACT)
    written = _produce(log, 400, compression=compression)
    segments_before = log.segment_count
    stats = log.compact(now_ms=BASE_TS + 1000, high_watermark=log.log_end_offset)
    assert not stats.aborted and stats.segments_cleaned == segments_before - 1
    assert stats.end_offset == log.segment_base_offsets()[-1]
    after = _check_compacted(log, written, stats.end_offset)
    cleaned = [r for r in after if r.offset < stats.end_offset]
    assert len(cleaned) == len({r.key for r in cleaned}) <= 10
    assert stats.records_before - stats.records_after == len(written) - len(after)
    assert stats.bytes_after < stats.bytes_before
    # groups are formed from pre-clean sizes (as Kafka does): full segments are not
    # merged in the first pass, the now small cleaned ones are in the next
    assert log.segment_count == segments_before
    assert not log.compact(BASE_TS + 1000, log.log_end_offset).aborted
    assert log.segment_count == 2
    assert read_all(log) == after
    assert log.log_end_offset == written[-1].offset + 1
    # consumers resuming at an offset that was compacted away get the next record
    gone = next(r.offset for r in written if r.offset not in {a.offset for a in after})
    assert read_all(log, start=gone)[0].offset > gone


def test_reading_from_the_beginning_yields_the_latest_value_per_key(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    written = _produce(log, 300)
    log.append_as_leader(build_batch([(b"last", b"x", None, BASE_TS)]), 0, 0)  # roll nothing new
    log.compact(BASE_TS + 1000, log.log_end_offset)
    log.compact(BASE_TS + 1000, log.log_end_offset)  # idempotent
    final: dict[bytes, bytes | None] = {}
    for record in read_all(log):
        assert record.key is not None
        final[record.key] = record.value
    expected = {k: r.value for k, r in _latest(written).items()}
    expected[b"last"] = b"x"
    assert final == expected


def test_untouched_batches_are_copied_byte_for_byte(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    for i in range(60):  # every key once: nothing to remove
        log.append_as_leader(build_batch([(b"unique-%d" % i, b"v" * 20, None, BASE_TS)]), 0, 0)
    before = log.read(0, 1 << 20)
    stats = log.compact(BASE_TS, log.log_end_offset)
    assert stats.records_after == stats.records_before and stats.batches_rewritten == 0
    assert log.read(0, 1 << 20)[: len(before)] == before[: len(log.read(0, 1 << 20))]


def test_thinned_batch_keeps_base_and_last_offset(open_log: OpenLog) -> None:
    log = open_log(cleanup_policy="compact", segment_bytes=300)
    log.append_as_leader(build_batch([(b"a", b"1", None, 1), (b"b", b"2", None, 1),
                                      (b"a", b"3", None, 1)]), 0, 0)
    while log.segment_count < 2:
        log.append_as_leader(build_batch([(b"pad", b"p" * 50, None, 1)]), 0, 0)
    log.compact(BASE_TS, log.log_end_offset)
    first = next(iter(iter_batches(log.read(0, 1 << 20)))).header
    assert (first.base_offset, first.last_offset, first.record_count) == (0, 2, 2)
    assert [(r.offset, r.key, r.value) for r in read_all(log)][:2] == [(1, b"b", b"2"), (2, b"a", b"3")]


def test_tombstones_survive_delete_retention_then_go(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, delete_retention_ms=DAY)
    written = _produce(log, 300, keys=5, tombstone_every=7)
    deleted_keys = {k for k, r in _latest(written).items() if r.value is None}
    end = log.segment_base_offsets()[-1]
    assert deleted_keys, "the seed should leave some keys deleted"

    log.compact(BASE_TS + 1000, log.log_end_offset)  # tombstones still young
    kept = {r.key: r for r in read_all(log) if r.offset < end}
    assert all(kept[k].value is None for k in deleted_keys if _latest(written)[k].offset < end)

    stats = log.compact(BASE_TS + 2 * DAY, log.log_end_offset)  # now past delete.retention.ms
    assert stats.tombstones_removed >= 1
    after = {r.key for r in read_all(log) if r.offset < end}
    for key in deleted_keys:
        if _latest(written)[key].offset < end:
            assert key not in after
    _check_compacted(log, written, end)


def test_only_sealed_segments_below_the_high_watermark_are_cleaned(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    written = _produce(log, 300)
    bases = log.segment_base_offsets()
    high_watermark = bases[3] + 1  # inside the fourth segment
    stats = log.compact(BASE_TS, high_watermark)
    assert stats.segments_cleaned == 3 and stats.end_offset == bases[3]
    after = _check_compacted(log, written, bases[3])
    assert [r for r in after if r.offset >= bases[3]] == [r for r in written if r.offset >= bases[3]]


def test_min_compaction_lag(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, min_compaction_lag_ms=DAY)
    _produce(log, 200)
    assert log.compact(BASE_TS + 1000, log.log_end_offset).segments_cleaned == 0
    assert log.compact(BASE_TS + 2 * DAY, log.log_end_offset).segments_cleaned > 0


def test_delete_policy_does_not_compact(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=1500)
    written = _produce(log, 200)
    assert log.compact(BASE_TS, log.log_end_offset).segments_cleaned == 0
    assert read_all(log) == written


def test_compacted_log_survives_reopen_and_crash(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    _produce(log, 300)
    log.compact(BASE_TS, log.log_end_offset)
    after = read_all(log)
    log.close()
    log = open_log(**COMPACT)
    assert read_all(log) == after
    crash(log)
    log = open_log(**COMPACT)
    assert read_all(log) == after
    assert log.last_recovery is not None and log.last_recovery.bytes_truncated == 0


# 0: before the manifest is written; n: after n renames (a group is its sources'
# renames then the output's); ALL: after every rename, before the manifest is removed.
ALL = 10**6


@pytest.mark.parametrize("crash_at", [0, 1, 2, 4, 5, 6, 12, ALL])
def test_crash_at_any_step_of_the_swap_loses_nothing(
    open_log: OpenLog, log_dir: str, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """Kill the swap after `crash_at` renames, then recover."""
    log = open_log(cleanup_policy="compact", segment_bytes=3000, index_interval_bytes=128)
    _produce(log, 300)
    # make some groups of two sources, so a crash can fall between a group's renames
    log.compact(BASE_TS, log.log_end_offset)
    written = read_all(log)
    written += _produce(log, 200, seed=9)
    end = log.segment_base_offsets()[-1]
    before = read_all(log)

    renames = 0
    original_rename = Segment.rename
    original_write = cleaner.write_file_atomically

    def failing_rename(self: Segment, suffix: str) -> None:
        nonlocal renames
        if renames >= crash_at:
            raise OSError("injected crash during swap")
        renames += 1
        original_rename(self, suffix)

    def failing_manifest(path: str, data: bytes) -> None:
        if crash_at == 0:
            raise OSError("injected crash before the manifest")
        original_write(path, data)

    def failing_directory_sync(directory: str) -> None:
        raise OSError("injected crash after the renames")

    monkeypatch.setattr(Segment, "rename", failing_rename)
    monkeypatch.setattr(cleaner, "write_file_atomically", failing_manifest)
    if crash_at == ALL:
        monkeypatch.setattr(cleaner, "fsync_directory", failing_directory_sync)
    with pytest.raises(LogStorageError, match="injected crash"):
        log.compact(BASE_TS, log.log_end_offset)
    monkeypatch.undo()
    crash(log)
    manifest_written = crash_at > 0
    assert os.path.exists(os.path.join(log_dir, MANIFEST_NAME)) == manifest_written

    log = open_log(cleanup_policy="compact", segment_bytes=3000, index_interval_bytes=128)
    assert not os.path.exists(os.path.join(log_dir, MANIFEST_NAME))
    assert not [n for n in os.listdir(log_dir) if n.endswith((".cleaned", ".deleted"))]
    after = read_all(log)
    if manifest_written:
        _check_compacted(log, written, end)  # rolled forward
        assert len(after) < len(before)
    else:
        assert after == before  # rolled back: the old segments are intact
    assert log.log_end_offset == written[-1].offset + 1


def test_a_source_changed_during_the_pass_aborts_the_swap(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(cleanup_policy="compact,delete", segment_bytes=1500, retention_ms=DAY)
    _produce(log, 300)
    original_clean = cleaner.clean

    def clean_then_retention(*args: object, **kwargs: object) -> object:
        result = original_clean(*args, **kwargs)  # type: ignore[arg-type]
        # meanwhile, on the "loop thread", retention deletes the oldest segment
        assert log.enforce_retention(BASE_TS + 2 * DAY, log.log_end_offset) > 0
        return result

    monkeypatch.setattr(cleaner, "clean", clean_then_retention)
    stats = log.compact(BASE_TS, log.log_end_offset)
    assert stats.aborted
    monkeypatch.undo()
    assert not [n for n in os.listdir(log.directory) if n.endswith(".cleaned")]
    assert log.segment_count == 1  # retention removed all the sealed ones


def test_compaction_in_a_thread_while_appending_and_reading(open_log: OpenLog) -> None:
    log = open_log(**COMPACT)
    written = _produce(log, 400, seed=3)
    stop = threading.Event()
    results: list[object] = []

    def compact_repeatedly() -> None:
        try:
            for _ in range(5):
                results.append(log.compact(BASE_TS, log.log_end_offset))
        except BaseException as exc:  # surfaced below
            results.append(exc)
        finally:
            stop.set()

    worker = threading.Thread(target=compact_repeatedly)
    worker.start()
    rng = random.Random(5)
    appended = 0
    # bounded: appends go on while the cleaner works, but at most 2000 of them
    while (not stop.is_set() or appended < 50) and appended < 2000:
        more = _produce(log, 4, seed=rng.randrange(10**6), timestamp=BASE_TS)
        written.extend(more)
        appended += 1
        start = rng.randrange(log.log_start_offset, log.log_end_offset)
        # one read, as a consumer's fetch: reading to the end each time made the loop
        # quadratic and starved the cleaner's thread of the GIL
        assert all(r.offset >= start for r in decode_batches(log.read(start, 4096), min_offset=start)[:5])
    worker.join(timeout=120)
    assert not worker.is_alive(), "the compactions did not finish within 120 s"
    assert not [r for r in results if isinstance(r, BaseException)], results
    stats = [r for r in results if isinstance(r, cleaner.CompactionStats)]
    cleaned_below = max((s.end_offset for s in stats if not s.aborted), default=0)
    _check_compacted(log, written, cleaned_below)
    log.close()
    log = open_log(**COMPACT)
    _check_compacted(log, written, cleaned_below)


def test_records_without_keys_are_kept(open_log: OpenLog) -> None:
    """A compacted log can hold unkeyed records from before the policy changed."""
    from node.storage.config import LogConfig

    log = open_log(segment_bytes=300)
    for _ in range(8):
        log.append_as_leader(build_batch([(None, b"n" * 40, None, 1), (b"k", b"v", None, 1)]), 0, 0)
    log.update_config(LogConfig(cleanup_policy="compact", segment_bytes=300))
    stats = log.compact(BASE_TS, log.log_end_offset)
    assert stats.segments_cleaned > 0
    kept = read_all(log)
    assert sum(1 for r in kept if r.key is None) == 8


def test_needs_compaction_follows_the_dirty_ratio(open_log: OpenLog) -> None:
    log = open_log(**COMPACT, min_cleanable_dirty_ratio=0.5)
    _produce(log, 300)
    assert log.compaction_dirty_ratio(log.log_end_offset) == 1.0
    assert log.needs_compaction(log.log_end_offset)
    assert not log.needs_compaction(0)  # nothing below the high watermark
    log.compact(BASE_TS, log.log_end_offset)
    assert log.compaction_dirty_ratio(log.log_end_offset) == 0.0
    assert not log.needs_compaction(log.log_end_offset)
    _produce(log, 600, seed=2)
    assert log.needs_compaction(log.log_end_offset)


@pytest.mark.parametrize("stop_at", [50, 200])  # in the map pass, in the copy pass
def test_closing_the_log_cancels_a_running_pass(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch, stop_at: int
) -> None:
    log = open_log(**COMPACT)
    written = _produce(log, 300)
    real_decode = cleaner.decode_records
    calls = 0

    def decode_then_close_requested(*args: object, **kwargs: object) -> list[Record]:
        nonlocal calls
        calls += 1
        if calls == stop_at:  # as if close() had been called from another thread now
            log._closing = True
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cleaner, "decode_records", decode_then_close_requested)
    stats = log.compact(BASE_TS, log.log_end_offset)
    assert stats.aborted and calls == stop_at  # stopped at the next batch
    assert not [n for n in os.listdir(log.directory) if n.endswith(".cleaned")]
    log.close()
    log = open_log(**COMPACT)
    assert read_all(log) == written

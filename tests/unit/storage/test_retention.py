"""Retention: whole segments by time, by size, below the log start offset."""

from __future__ import annotations

import os
from collections.abc import Callable

from node.storage.log import PartitionLog

from .conftest import BASE_TS, crash, make_batch, read_all

OpenLog = Callable[..., PartitionLog]
DAY = 24 * 3600 * 1000


def _segments_of_two_batches(open_log: OpenLog, count: int, **config: object) -> PartitionLog:
    """`count` segments of two 5-record batches each, segment i stamped BASE_TS + i days."""
    batch_size = len(make_batch(5))
    log = open_log(segment_bytes=batch_size * 2, **config)
    for i in range(count * 2):
        log.append_as_leader(make_batch(5, timestamp=BASE_TS + (i // 2) * DAY), 0, 0)
    assert log.segment_count == count
    return log


def test_time_retention_deletes_expired_prefix(open_log: OpenLog, log_dir: str) -> None:
    log = _segments_of_two_batches(open_log, 5, retention_ms=2 * DAY)
    now = BASE_TS + 4 * DAY  # segment i's newest record is BASE_TS + i days + 4 ms
    assert log.enforce_retention(now, high_watermark=log.log_end_offset) == 2
    assert log.segment_base_offsets() == [20, 30, 40]
    assert log.log_start_offset == 20
    assert [r.offset for r in read_all(log)] == list(range(20, 50))
    assert not [n for n in os.listdir(log_dir) if n.startswith(f"{0:020d}") or ".deleted" in n]
    assert log.enforce_retention(now, log.log_end_offset) == 0


def test_retention_never_deletes_the_active_segment(open_log: OpenLog) -> None:
    log = _segments_of_two_batches(open_log, 3, retention_ms=1)
    assert log.enforce_retention(BASE_TS + 100 * DAY, log.log_end_offset) == 2
    assert log.segment_base_offsets() == [20]
    assert log.log_start_offset == 20 and log.log_end_offset == 30


def test_retention_never_deletes_at_or_above_the_high_watermark(open_log: OpenLog) -> None:
    log = _segments_of_two_batches(open_log, 4, retention_ms=1)
    assert log.enforce_retention(BASE_TS + 100 * DAY, high_watermark=19) == 1
    assert log.segment_base_offsets() == [10, 20, 30]
    assert log.enforce_retention(BASE_TS + 100 * DAY, high_watermark=20) == 1
    assert log.segment_base_offsets() == [20, 30]


def test_infinite_retention_keeps_everything(open_log: OpenLog) -> None:
    log = _segments_of_two_batches(open_log, 3, retention_ms=-1)
    assert log.enforce_retention(BASE_TS + 10_000 * DAY, log.log_end_offset) == 0


def test_size_retention(open_log: OpenLog) -> None:
    segment_size = 2 * len(make_batch(5))
    log = _segments_of_two_batches(
        open_log, 5, retention_ms=-1, retention_bytes=int(segment_size * 2.5)
    )
    # 5 segments; keep at most 2.5 segments' worth: deleting 2 leaves 3 > 2.5 but
    # deleting a third would go below, so Kafka deletes exactly 2.
    assert log.enforce_retention(BASE_TS, log.log_end_offset) == 2
    assert log.size_bytes == 3 * segment_size
    assert log.log_start_offset == 20


def test_compact_policy_ignores_time_and_size(open_log: OpenLog) -> None:
    log = _segments_of_two_batches(
        open_log, 3, retention_ms=1, retention_bytes=0, cleanup_policy="compact"
    )
    assert log.enforce_retention(BASE_TS + 100 * DAY, log.log_end_offset) == 0


def test_log_start_offset_advance_and_deletion_below_it(open_log: OpenLog) -> None:
    log = _segments_of_two_batches(open_log, 4, retention_ms=-1)
    assert log.advance_log_start_offset(25)
    assert not log.advance_log_start_offset(20)  # never backwards
    assert log.log_start_offset == 25
    assert read_all(log)[0].offset == 25
    assert log.enforce_retention(BASE_TS, log.log_end_offset) == 2  # [0,10) and [10,20)
    assert log.segment_base_offsets() == [20, 30]
    assert log.log_start_offset == 25  # inside the first remaining segment
    crash(log)
    log = open_log(segment_bytes=2 * len(make_batch(5)), retention_ms=-1)
    assert log.log_start_offset == 25  # persisted
    assert log.offset_for_timestamp(0) == 25


def test_retention_trims_the_epoch_cache(open_log: OpenLog) -> None:
    batch = make_batch(5)
    log = open_log(segment_bytes=len(batch) * 2, retention_ms=1)
    for epoch in (1, 1, 2, 2, 3, 3):
        log.append_as_leader(make_batch(5, timestamp=BASE_TS), epoch, 0)
    assert log.epoch_entries == [(1, 0), (2, 10), (3, 20)]
    assert log.enforce_retention(BASE_TS + DAY, log.log_end_offset) == 2
    assert log.epoch_entries == [(3, 20)]


def test_segments_deleted_while_closed_below_checkpointed_start_are_dropped(
    open_log: OpenLog,
) -> None:
    log = _segments_of_two_batches(open_log, 4, retention_ms=-1)
    log.advance_log_start_offset(30)
    crash(log)
    log = open_log(segment_bytes=2 * len(make_batch(5)), retention_ms=-1)
    assert log.segment_base_offsets() == [30]
    assert log.last_recovery is not None and log.last_recovery.segments_deleted == 3

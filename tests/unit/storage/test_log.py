"""PartitionLog appends, segment roll, reads and their edge cases."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from cluster.errors import ErrorCode
from node.storage.batch import Compression, decode_batches, iter_batches, parse_header, stamp
from node.storage.config import LogConfig
from node.storage.errors import (
    CorruptBatchError,
    InvalidLogConfigError,
    InvalidRecordError,
    LogStorageError,
    MessageTooLargeError,
    OffsetOutOfRangeError,
    StaleLeaderEpochError,
)
from node.storage.log import PartitionLog

from .conftest import BASE_TS, make_batch, read_all, segment_files

OpenLog = Callable[..., PartitionLog]


def test_empty_log(open_log: OpenLog, log_dir: str) -> None:
    log = open_log()
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (0, 0, 0)
    assert log.latest_epoch == -1
    assert log.read(0, 1000) == b""
    assert segment_files(log_dir) == [os.path.join(log_dir, "00000000000000000000.log")]


def test_leader_append_assigns_offsets_and_stamps_epoch(open_log: OpenLog) -> None:
    log = open_log()
    info = log.append_as_leader(make_batch(3), leader_epoch=5, now_ms=99)
    assert (info.first_offset, info.last_offset, info.next_offset, info.record_count) == (0, 2, 3, 3)
    assert info.leader_epoch == 5 and info.append_time_ms == 99
    info = log.append_as_leader(make_batch(2), leader_epoch=5, now_ms=99)
    assert (info.first_offset, info.last_offset) == (3, 4)
    assert log.log_end_offset == 5
    data = log.read(0, 1 << 20)
    headers = [view.header for view in iter_batches(data)]
    assert [(h.base_offset, h.leader_epoch) for h in headers] == [(0, 5), (3, 5)]
    assert [r.offset for r in decode_batches(data)] == [0, 1, 2, 3, 4]
    assert log.epoch_entries == [(5, 0)]


def test_stored_bytes_are_the_producer_bytes_except_the_stamp(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(1), 0, 0)
    batch = make_batch(4, compression=Compression.LZ4)
    log.append_as_leader(batch, 2, 0)
    assert log.read(1, 1 << 20) == stamp(batch, 1, 2)


def test_leader_append_rejects_bad_batches(open_log: OpenLog) -> None:
    log = open_log(max_message_bytes=500)
    with pytest.raises(MessageTooLargeError) as too_large:
        log.append_as_leader(make_batch(10, value_size=100), 0, 0)
    assert too_large.value.code is ErrorCode.MESSAGE_TOO_LARGE
    corrupt = bytearray(make_batch(2))
    corrupt[-2] ^= 0x10
    with pytest.raises(CorruptBatchError):
        log.append_as_leader(bytes(corrupt), 0, 0)
    log.append_as_leader(make_batch(1), 3, 0)
    with pytest.raises(StaleLeaderEpochError) as stale:
        log.append_as_leader(make_batch(1), 2, 0)
    assert stale.value.code is ErrorCode.FENCED_LEADER_EPOCH
    assert log.log_end_offset == 1


def test_compacted_topic_requires_keys(open_log: OpenLog) -> None:
    log = open_log(cleanup_policy="compact")
    with pytest.raises(InvalidRecordError, match="no key"):
        log.append_as_leader(make_batch(2, keys=[b"a", None]), 0, 0)
    log.append_as_leader(make_batch(2), 0, 0)


def test_roll_by_size_names_segments_by_base_offset(open_log: OpenLog, log_dir: str) -> None:
    batch = make_batch(5, value_size=50)
    log = open_log(segment_bytes=len(batch) * 3)
    for _ in range(10):
        log.append_as_leader(batch, 0, 0)
    assert log.segment_base_offsets() == [0, 15, 30, 45]
    names = [os.path.basename(p) for p in segment_files(log_dir)]
    assert names == [f"{b:020d}.log" for b in (0, 15, 30, 45)]
    assert len(segment_files(log_dir, ".index")) == 4
    assert [r.offset for r in read_all(log)] == list(range(50))


def test_a_batch_larger_than_segment_bytes_gets_its_own_segment(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=100)
    for _ in range(3):
        log.append_as_leader(make_batch(5, value_size=50), 0, 0)
    assert log.segment_base_offsets() == [0, 5, 10]


def test_roll_by_age_uses_record_timestamps(open_log: OpenLog) -> None:
    log = open_log(segment_ms=1000)
    log.append_as_leader(make_batch(1, timestamp=BASE_TS), 0, 0)
    log.append_as_leader(make_batch(1, timestamp=BASE_TS + 1000), 0, 0)
    assert log.segment_count == 1
    log.append_as_leader(make_batch(1, timestamp=BASE_TS + 1001), 0, 0)
    assert log.segment_base_offsets() == [0, 2]


def test_sparse_index_one_entry_per_interval(open_log: OpenLog) -> None:
    batch = make_batch(2, value_size=40)
    log = open_log(index_interval_bytes=len(batch) * 4)
    for _ in range(40):
        log.append_as_leader(batch, 0, 0)
    index = log._segments[-1].index
    assert 8 <= len(index) <= 10
    # entries point at real batch starts, keyed by their base offsets
    data = log.read(0, 1 << 20)
    starts = {}
    pos = 0
    for view in iter_batches(data):
        starts[view.header.base_offset] = pos
        pos += view.header.size
    for relative, position in zip(index.relative_offsets, index.positions, strict=True):
        assert starts[relative] == position


def test_read_from_the_middle_of_a_batch_returns_the_whole_batch(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(5), 0, 0)
    log.append_as_leader(make_batch(5), 0, 0)
    data = log.read(7, 1 << 20)
    assert [v.header.base_offset for v in iter_batches(data)] == [5]
    assert [r.offset for r in decode_batches(data, min_offset=7)] == [7, 8, 9]


def test_read_respects_max_offset_exclusively(open_log: OpenLog) -> None:
    log = open_log()
    for _ in range(4):
        log.append_as_leader(make_batch(5), 0, 0)
    assert log.read(0, 1 << 20, max_offset=0) == b""
    assert log.read(0, 1 << 20, max_offset=4) == b""  # the first batch ends at 4
    bases = [v.header.base_offset for v in iter_batches(log.read(0, 1 << 20, max_offset=5))]
    assert bases == [0]
    bases = [v.header.base_offset for v in iter_batches(log.read(0, 1 << 20, max_offset=13))]
    assert bases == [0, 5]
    assert log.read(15, 1 << 20, max_offset=15) == b""
    assert log.read(20, 1 << 20) == b""  # at the log end: nothing yet, not an error


def test_read_returns_at_least_one_batch_and_whole_batches_only(open_log: OpenLog) -> None:
    log = open_log(index_interval_bytes=64)
    sizes = []
    for i in range(30):
        batch = make_batch(1 + i % 4, value_size=10 + 7 * i)
        sizes.append(len(batch))
        log.append_as_leader(batch, 0, 0)
    assert len(log.read(0, 1)) == sizes[0]
    assert len(log.read(0, 0)) == sizes[0]
    rng = random.Random(7)
    for _ in range(200):
        max_bytes = rng.randint(1, sum(sizes))
        data = log.read(0, max_bytes)
        got = [v.header.size for v in iter_batches(data)]
        assert sum(got) == len(data)  # no partial batch
        assert got == sizes[: len(got)]
        assert len(data) <= max_bytes or len(got) == 1
        if len(got) < len(sizes):
            assert len(data) + sizes[len(got)] > max_bytes  # as much as fits


def test_reads_stay_in_one_segment_and_continue_in_the_next(open_log: OpenLog) -> None:
    batch = make_batch(5)
    log = open_log(segment_bytes=len(batch) * 2)
    for _ in range(6):
        log.append_as_leader(batch, 0, 0)
    assert [v.header.base_offset for v in iter_batches(log.read(0, 1 << 20))] == [0, 5]
    assert [v.header.base_offset for v in iter_batches(log.read(10, 1 << 20))] == [10, 15]


def test_out_of_range_reads_carry_the_valid_range(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(5), 0, 0)
    for bad in (-1, 6, 10**12):
        with pytest.raises(OffsetOutOfRangeError) as info:
            log.read(bad, 100)
        assert info.value.code is ErrorCode.OFFSET_OUT_OF_RANGE
        assert (info.value.log_start_offset, info.value.log_end_offset) == (0, 5)
        assert "[0, 5]" in str(info.value)
        assert info.value.detail == {"log_start_offset": 0, "log_end_offset": 5}


def test_follower_append_keeps_offsets_and_epochs(open_log: OpenLog, tmp_path: object) -> None:
    leader = PartitionLog.open(os.path.join(str(tmp_path), "leader"), LogConfig(segment_bytes=300))
    for epoch in (1, 1, 2, 2, 2, 5):
        leader.append_as_leader(make_batch(3, value_size=30), epoch, 0)
    follower = open_log(segment_bytes=300)
    offset = 0
    while offset < leader.log_end_offset:
        chunk = leader.read(offset, 250)
        offset = follower.append_as_follower(chunk)
    assert follower.log_end_offset == leader.log_end_offset == 18
    assert follower.read(0, 1 << 20) == leader.read(0, 1 << 20)
    assert follower.epoch_entries == leader.epoch_entries == [(1, 0), (2, 6), (5, 15)]
    assert follower.segment_base_offsets() == leader.segment_base_offsets()
    leader.close()


def test_follower_append_one_call_spanning_several_segments(open_log: OpenLog) -> None:
    batches = b"".join(stamp(make_batch(2, value_size=40), i * 2, 1) for i in range(10))
    size = parse_header(batches).size
    log = open_log(segment_bytes=size * 3)
    assert log.append_as_follower(batches) == 20
    assert log.segment_base_offsets() == [0, 6, 12, 18]
    assert [r.offset for r in read_all(log)] == list(range(20))


def test_follower_append_validation(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_follower(stamp(make_batch(2), 0, 0))
    with pytest.raises(InvalidRecordError, match="continues at 2"):
        log.append_as_follower(stamp(make_batch(2), 1, 0))
    good = stamp(make_batch(2), 2, 0)
    bad = bytearray(stamp(make_batch(2), 4, 0))
    bad[-1] ^= 1
    with pytest.raises(CorruptBatchError):
        log.append_as_follower(good + bytes(bad))
    assert log.log_end_offset == 2  # nothing of a bad fetch is written
    # a gap is fine (a compacted leader log), a trailing partial batch is ignored
    assert log.append_as_follower(stamp(make_batch(2), 10, 0) + good[:20]) == 12
    assert log.append_as_follower(b"") == 12


def test_offset_for_timestamp(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=400, index_interval_bytes=100)
    for i in range(20):
        log.append_as_leader(make_batch(5, timestamp=BASE_TS + i * 10), 0, 0)
    assert log.segment_count > 2
    # batch i holds offsets 5i..5i+4 with timestamps BASE_TS+10i .. +4
    assert log.offset_for_timestamp(0) == 0
    assert log.offset_for_timestamp(BASE_TS + 52) == 27
    assert log.offset_for_timestamp(BASE_TS + 55) == 30
    assert log.offset_for_timestamp(BASE_TS + 194) == 99
    assert log.offset_for_timestamp(BASE_TS + 195) is None
    for target in range(BASE_TS - 5, BASE_TS + 200, 3):
        expected = next(
            (5 * i + j for i in range(20) for j in range(5) if BASE_TS + 10 * i + j >= target), None
        )
        assert log.offset_for_timestamp(target) == expected


def test_offset_for_timestamp_with_out_of_order_timestamps(open_log: OpenLog) -> None:
    log = open_log(index_interval_bytes=1)
    stamps = [50, 10, 70, 20, 60, 90, 30]
    for ts in stamps:
        log.append_as_leader(make_batch(1, timestamp=ts), 0, 0)
    for target in range(0, 100, 5):
        expected = next((i for i, ts in enumerate(stamps) if ts >= target), None)
        assert log.offset_for_timestamp(target) == expected


def test_directory_lock_prevents_a_second_open(open_log: OpenLog, log_dir: str) -> None:
    log = open_log()
    with pytest.raises(LogStorageError, match="already open"):
        PartitionLog.open(log_dir)
    log.close()
    PartitionLog.open(log_dir).close()


def test_closed_log_refuses_use(open_log: OpenLog) -> None:
    log = open_log()
    log.close()
    with pytest.raises(LogStorageError, match="closed"):
        log.read(0, 10)
    log.close()  # idempotent


def test_config_validation_and_properties() -> None:
    config = LogConfig.from_properties({"retention.ms": "1000", "cleanup.policy": "delete,compact"})
    assert config.retention_ms == 1000 and config.cleanup_policy == "compact,delete"
    assert config.compact and config.delete
    assert LogConfig.from_properties(config.to_properties()) == config
    for bad in (
        {"segment.bytes": "1"},
        {"cleanup.policy": "forever"},
        {"retention.ms": "-2"},
        {"no.such.thing": "1"},
        {"retention.ms": "soon"},
    ):
        with pytest.raises(InvalidLogConfigError):
            LogConfig.from_properties(bad)


def test_size_and_flush_advance_the_recovery_point(open_log: OpenLog) -> None:
    log = open_log()
    for _ in range(3):
        log.append_as_leader(make_batch(2), 0, 0)
    assert log.size_bytes == 3 * len(make_batch(2))
    assert log.recovery_point == 0
    log.flush()
    assert log.recovery_point == 6

"""Recovery on open: torn tails, damaged indexes, leftovers, clean vs unclean shutdown."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from node.storage.batch import iter_batches
from node.storage.log import CLEAN_SHUTDOWN_MARKER, LEADER_EPOCH_CHECKPOINT, PartitionLog

from .conftest import crash, make_batch, read_all, segment_files

OpenLog = Callable[..., PartitionLog]


def _fill(log: PartitionLog, batches: int, *, epoch: int = 0, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(batches):
        log.append_as_leader(
            make_batch(rng.randint(1, 5), start=i * 10, value_size=rng.randint(1, 60)), epoch, 0
        )


def test_clean_shutdown_reopens_without_scanning(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=1000, index_interval_bytes=100)
    _fill(log, 50)
    before = read_all(log)
    end = log.log_end_offset
    log.close()
    log = open_log(segment_bytes=1000, index_interval_bytes=100)
    assert log.last_recovery is not None
    assert log.last_recovery.clean_shutdown and log.last_recovery.segments_recovered == 0
    assert log.log_end_offset == end and read_all(log) == before
    log.append_as_leader(make_batch(1), 0, 0)
    assert log.log_end_offset == end + 1


def test_crash_after_flush_scans_only_segments_past_the_recovery_point(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=1000)
    _fill(log, 60)
    log.flush()
    _fill(log, 3, seed=1)
    before = read_all(log)
    crash(log)
    log = open_log(segment_bytes=1000)
    assert log.last_recovery is not None and not log.last_recovery.clean_shutdown
    assert log.last_recovery.segments_recovered == 1  # only the active segment
    assert read_all(log) == before


def test_torn_tail_cut_at_every_byte_of_the_last_batch(open_log: OpenLog, log_dir: str) -> None:
    config = {"segment_bytes": 10_000, "index_interval_bytes": 50}
    log = open_log(**config)
    _fill(log, 8)
    end_before_last = log.log_end_offset
    log.append_as_leader(make_batch(4, value_size=30), 0, 0)
    good = read_all(log)
    kept = [r for r in good if r.offset < end_before_last]
    crash(log)
    path = segment_files(log_dir)[-1]
    with open(path, "rb") as f:
        full = f.read()
    last_size = len(make_batch(4, value_size=30))
    for cut in range(len(full) - last_size, len(full)):
        with open(path, "wb") as f:
            f.write(full[:cut])
        log = open_log(**config)
        assert log.log_end_offset == end_before_last, cut
        assert log.last_recovery is not None
        assert log.last_recovery.bytes_truncated == cut - (len(full) - last_size)
        assert read_all(log) == kept
        assert os.path.getsize(path) == len(full) - last_size  # the torn bytes are gone
        crash(log)
    with open(path, "wb") as f:
        f.write(full)
    log = open_log(**config)
    assert read_all(log) == good


def test_corrupt_byte_in_the_tail_truncates_from_that_batch(open_log: OpenLog, log_dir: str) -> None:
    log = open_log()
    _fill(log, 10)
    data = log.read(0, 1 << 20)
    positions = []
    pos = 0
    for view in iter_batches(data):
        positions.append((pos, view.header))
        pos += view.header.size
    crash(log)
    victim_pos, victim = positions[6]
    with open(segment_files(log_dir)[0], "r+b") as f:
        f.seek(victim_pos + 70)  # inside the CRC'd body
        byte = f.read(1)
        f.seek(victim_pos + 70)
        f.write(bytes([byte[0] ^ 0xFF]))
    log = open_log()
    assert log.log_end_offset == victim.base_offset
    assert [r.offset for r in read_all(log)][-1] == victim.base_offset - 1


def test_corruption_in_an_old_segment_drops_the_later_ones(open_log: OpenLog, log_dir: str) -> None:
    log = open_log(segment_bytes=600)
    _fill(log, 30)
    bases = log.segment_base_offsets()
    assert len(bases) >= 4
    crash(log)  # never flushed: every segment is scanned
    second = segment_files(log_dir)[1]
    with open(second, "r+b") as f:
        f.seek(9)
        f.write(b"\xff\xff")  # the first batch's length field
    log = open_log(segment_bytes=600)
    assert log.segment_base_offsets() == bases[:2]
    assert log.log_end_offset == bases[1]
    assert log.last_recovery is not None and log.last_recovery.segments_deleted == len(bases) - 2


def test_a_corrupt_base_offset_outside_the_crc_is_caught_by_the_offset_checks(
    open_log: OpenLog, log_dir: str
) -> None:
    log = open_log(segment_bytes=600)
    _fill(log, 30)
    bases = log.segment_base_offsets()
    crash(log)
    with open(segment_files(log_dir)[1], "r+b") as f:
        f.seek(5)
        f.write(b"\xff\xff")  # baseOffset of the first batch: not covered by the CRC
    log = open_log(segment_bytes=600)
    assert log.segment_base_offsets() == bases[:2]
    assert log.log_end_offset == bases[1]


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "delete-timeindex"])
def test_missing_or_damaged_index_is_rebuilt(open_log: OpenLog, log_dir: str, damage: str) -> None:
    config = {"segment_bytes": 2000, "index_interval_bytes": 64}
    log = open_log(**config)
    _fill(log, 60)
    before = read_all(log)
    index_before = list(log._segments[0].index.positions)
    time_before = list(log._segments[0].time_index.timestamps)
    log.close()
    index_path = segment_files(log_dir, ".index")[0]
    if damage == "delete":
        os.remove(index_path)
    elif damage == "truncate":
        with open(index_path, "r+b") as f:
            f.truncate(os.path.getsize(index_path) - 3)
    elif damage == "garbage":
        with open(index_path, "r+b") as f:
            f.write(b"\xff" * 16)
    else:
        os.remove(segment_files(log_dir, ".timeindex")[0])
    log = open_log(**config)
    assert log.last_recovery is not None and log.last_recovery.segments_recovered == 1
    assert list(log._segments[0].index.positions) == index_before
    assert list(log._segments[0].time_index.timestamps) == time_before
    assert read_all(log) == before
    for record in before[::7]:
        assert read_all(log, start=record.offset)[0] == record


def test_index_pointing_past_the_log_is_detected_after_a_crash(
    open_log: OpenLog, log_dir: str
) -> None:
    log = open_log(index_interval_bytes=32)
    _fill(log, 20)
    log.flush()
    crash(log)
    with open(segment_files(log_dir)[0], "r+b") as f:
        f.truncate(100)  # the disk lost the tail, the index still points there
    log = open_log(index_interval_bytes=32)
    assert read_all(log) == read_all(log, start=0)
    assert log.size_bytes <= 100


def test_leftover_temp_and_deleted_files_are_removed(open_log: OpenLog, log_dir: str) -> None:
    log = open_log()
    _fill(log, 3)
    log.close()
    junk = [
        "00000000000000000099.log.deleted",
        "leader-epoch-checkpoint.1-1.tmp",
        "00000000000000000500.index",  # orphan index without a .log
        "00000000000000000000.log.cleaned",
    ]
    for name in junk:
        with open(os.path.join(log_dir, name), "wb") as f:
            f.write(b"junk")
    log = open_log()
    remaining = set(os.listdir(log_dir))
    assert not remaining & set(junk)
    assert log.log_end_offset > 0


def test_clean_marker_is_removed_on_open_so_a_later_crash_is_detected(
    open_log: OpenLog, log_dir: str
) -> None:
    log = open_log()
    _fill(log, 3)
    log.close()
    assert os.path.exists(os.path.join(log_dir, CLEAN_SHUTDOWN_MARKER))
    log = open_log()
    assert not os.path.exists(os.path.join(log_dir, CLEAN_SHUTDOWN_MARKER))
    crash(log)
    log = open_log()
    assert log.last_recovery is not None and not log.last_recovery.clean_shutdown


def test_lost_epoch_checkpoint_is_rebuilt_from_batch_epochs(open_log: OpenLog, log_dir: str) -> None:
    log = open_log(segment_bytes=500)
    for epoch in (0, 0, 1, 3, 3, 3, 7):
        log.append_as_leader(make_batch(3, value_size=40), epoch, 0)
    entries = log.epoch_entries
    log.close()
    os.remove(os.path.join(log_dir, LEADER_EPOCH_CHECKPOINT))
    log = open_log(segment_bytes=500)
    assert log.last_recovery is not None and log.last_recovery.epoch_cache_rebuilt
    assert log.epoch_entries == entries == [(0, 0), (1, 6), (3, 9), (7, 18)]


def test_epoch_cache_entries_past_the_recovered_end_are_dropped(
    open_log: OpenLog, log_dir: str
) -> None:
    log = open_log()
    log.append_as_leader(make_batch(3), 1, 0)
    log.append_as_leader(make_batch(3), 2, 0)  # epoch 2 starts at 3
    crash(log)
    with open(segment_files(log_dir)[0], "r+b") as f:
        f.truncate(len(make_batch(3)) + 10)  # the second batch was torn
    log = open_log()
    assert log.log_end_offset == 3
    assert log.epoch_entries == [(1, 0)]

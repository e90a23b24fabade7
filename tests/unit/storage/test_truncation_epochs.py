"""Truncation and the leader-epoch cache (KIP-101 semantics)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from node.storage.batch import stamp
from node.storage.leader_epoch import LeaderEpochCache
from node.storage.log import PartitionLog

from .conftest import crash, make_batch, read_all

OpenLog = Callable[..., PartitionLog]


# ----------------------------------------------------------------------- the cache alone


@pytest.fixture
def cache(tmp_path: object) -> LeaderEpochCache:
    return LeaderEpochCache(os.path.join(str(tmp_path), "leader-epoch-checkpoint"))


def test_assign_keeps_epochs_and_offsets_increasing(cache: LeaderEpochCache) -> None:
    assert cache.assign(1, 0)
    assert not cache.assign(1, 5)  # same epoch, later offset: no change
    assert cache.assign(2, 10)
    assert cache.assign(4, 20)
    assert cache.entries == [(1, 0), (2, 10), (4, 20)]
    # a lower start for an existing epoch replaces it and everything after
    assert cache.assign(2, 8)
    assert cache.entries == [(1, 0), (2, 8)]
    # an epoch whose start is not after the last start displaces that entry (Kafka)
    assert cache.assign(3, 8)
    assert cache.entries == [(1, 0), (3, 8)]
    with pytest.raises(ValueError):
        cache.assign(-1, 0)


def test_end_offset_for_epoch_matches_kafka(cache: LeaderEpochCache) -> None:
    assert cache.end_offset_for(0, 100) == (-1, -1)  # empty cache
    cache.assign(1, 10)
    cache.assign(3, 20)
    cache.assign(6, 50)
    log_end = 70
    assert cache.end_offset_for(-1, log_end) == (-1, -1)
    assert cache.end_offset_for(0, log_end) == (0, 10)  # older than everything
    assert cache.end_offset_for(1, log_end) == (1, 20)
    assert cache.end_offset_for(2, log_end) == (1, 20)  # unknown: the largest epoch below
    assert cache.end_offset_for(3, log_end) == (3, 50)
    assert cache.end_offset_for(5, log_end) == (3, 50)
    assert cache.end_offset_for(6, log_end) == (6, 70)  # the latest ends at the log end
    assert cache.end_offset_for(7, log_end) == (-1, -1)  # newer than anything known
    assert cache.epoch_for_offset(25) == 3 and cache.epoch_for_offset(5) == -1


def test_truncations_and_persistence(cache: LeaderEpochCache) -> None:
    for epoch, start in [(1, 0), (2, 10), (3, 20), (4, 30)]:
        cache.assign(epoch, start)
    assert cache.truncate_from_end(20)
    assert cache.entries == [(1, 0), (2, 10)]
    assert not cache.truncate_from_end(25)
    assert cache.truncate_from_start(15)
    assert cache.entries == [(2, 15)]
    assert not cache.truncate_from_start(15)
    loaded = LeaderEpochCache.load(cache.path)
    assert loaded is not None and loaded.entries == [(2, 15)]
    with open(cache.path) as f:
        assert f.read() == "0\n1\n2 15\n"


@pytest.mark.parametrize("content", ["", "1\n0\n", "0\n2\n1 0\n", "0\n2\n1 5\n0 9\n", "0\nx\n"])
def test_malformed_checkpoint_loads_as_none(cache: LeaderEpochCache, content: str) -> None:
    with open(cache.path, "w") as f:
        f.write(content)
    assert LeaderEpochCache.load(cache.path) is None


# ----------------------------------------------------------------------- truncation


def test_truncate_to_batch_boundary_and_mid_batch(open_log: OpenLog) -> None:
    log = open_log()
    for _ in range(4):
        log.append_as_leader(make_batch(5), 0, 0)
    assert log.truncate_to(25) == 20  # beyond the end: nothing to do
    assert log.truncate_to(15) == 15
    assert [r.offset for r in read_all(log)] == list(range(15))
    assert log.truncate_to(12) == 10  # mid-batch: the whole batch goes
    assert log.log_end_offset == 10
    info = log.append_as_leader(make_batch(2), 0, 0)
    assert info.first_offset == 10
    assert [r.offset for r in read_all(log)] == list(range(12))


def test_truncate_across_segments_deletes_later_files(open_log: OpenLog, log_dir: str) -> None:
    batch = make_batch(5)
    log = open_log(segment_bytes=len(batch) * 2)
    for _ in range(8):
        log.append_as_leader(batch, 0, 0)
    assert log.segment_base_offsets() == [0, 10, 20, 30]
    assert log.truncate_to(10) == 10
    assert log.segment_base_offsets() == [0, 10]
    assert not os.path.exists(os.path.join(log_dir, f"{20:020d}.log"))
    assert log._segments[-1].size == 0
    assert log.truncate_to(7) == 5
    assert log.segment_base_offsets() == [0]
    for _ in range(3):
        log.append_as_leader(batch, 0, 0)
    assert log.segment_base_offsets() == [0, 10]
    assert [r.offset for r in read_all(log)] == list(range(20))


def test_truncation_updates_the_epoch_cache_and_survives_a_crash(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(5), 1, 0)
    log.append_as_leader(make_batch(5), 2, 0)
    log.append_as_leader(make_batch(5), 3, 0)
    log.flush()
    assert log.recovery_point == 15
    assert log.truncate_to(5) == 5
    assert log.epoch_entries == [(1, 0)]
    assert log.recovery_point == 5
    assert log.end_offset_for_epoch(1) == (1, 5)
    assert log.end_offset_for_epoch(2) == (-1, -1)  # newer than the latest epoch
    crash(log)
    log = open_log()
    assert log.log_end_offset == 5
    assert log.epoch_entries == [(1, 0)]


def test_follower_divergence_repair_with_epochs(open_log: OpenLog, tmp_path: object) -> None:
    """KIP-101: the follower asks the leader where its latest epoch ends, truncates, refetches."""
    leader = PartitionLog.open(os.path.join(str(tmp_path), "leader"))
    follower = open_log()
    for epoch in (1, 1, 2):
        batch = make_batch(3)
        info = leader.append_as_leader(batch, epoch, 0)
        follower.append_as_follower(leader.read(info.first_offset, 1 << 20))
    # the follower got epoch-2 data the leader loses; a new leader (epoch 3) diverges
    follower.append_as_follower(stamp(make_batch(4), 9, 2))
    leader.truncate_to(9)
    leader.append_as_leader(make_batch(2), 3, 0)
    epoch, end = leader.end_offset_for_epoch(follower.latest_epoch)
    assert (epoch, end) == (2, 9)
    follower.truncate_to(end)
    follower.append_as_follower(leader.read(follower.log_end_offset, 1 << 20))
    assert follower.read(0, 1 << 20) == leader.read(0, 1 << 20)
    assert follower.epoch_entries == leader.epoch_entries == [(1, 0), (2, 6), (3, 9)]
    leader.close()


def test_truncate_fully_and_start_at(open_log: OpenLog, log_dir: str) -> None:
    log = open_log(segment_bytes=200)
    for _ in range(6):
        log.append_as_leader(make_batch(3, value_size=30), 4, 0)
    log.truncate_fully_and_start_at(1000)
    assert (log.log_start_offset, log.log_end_offset, log.segment_base_offsets()) == (1000, 1000, [1000])
    assert log.epoch_entries == [] and log.latest_epoch == -1
    assert log.read(1000, 100) == b""
    info = log.append_as_leader(make_batch(2), 5, 0)
    assert info.first_offset == 1000
    crash(log)
    log = open_log(segment_bytes=200)
    assert (log.log_start_offset, log.log_end_offset) == (1000, 1002)
    assert log.epoch_entries == [(5, 1000)]
    assert sorted(n for n in os.listdir(log_dir) if n.endswith(".log")) == [f"{1000:020d}.log"]


def test_truncate_below_log_start_restarts_the_log(open_log: OpenLog) -> None:
    log = open_log()
    log.append_as_leader(make_batch(10), 0, 0)
    log.advance_log_start_offset(5)
    assert log.truncate_to(3) == 3
    assert (log.log_start_offset, log.log_end_offset) == (3, 3)

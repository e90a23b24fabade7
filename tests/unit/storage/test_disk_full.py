"""A full disk (ENOSPC) or a failing one (EIO), simulated by patching the os calls the
storage engine makes: derived and atomically replaced files leave the log online and
are retried by the next flush; only a data file left in an unknown state takes it
offline, and reopening recovers it."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

import pytest

from cluster.errors import ErrorCode
from node.storage import checkpoint
from node.storage.checkpoint import read_offset_checkpoint, write_file_atomically
from node.storage.errors import LogStorageError
from node.storage.leader_epoch import LeaderEpochCache
from node.storage.log import LEADER_EPOCH_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, PartitionLog

from .conftest import crash, make_batch, read_all

OpenLog = Callable[..., PartitionLog]


def _enospc(*args: object) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


class Disk:
    """Switches the storage engine's writes between working and failing with ENOSPC.

    ``full``: every write (segments, indexes, checkpoints) fails, like a real full disk;
    ``checkpoints_only``: only the atomically replaced checkpoint files fail.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._real_write = os.write
        self._real_writev = os.writev
        self._real_write_all = checkpoint.write_all
        self.mode = "ok"
        monkeypatch.setattr(os, "write", self._write)
        monkeypatch.setattr(os, "writev", self._writev)
        monkeypatch.setattr(checkpoint, "write_all", self._write_checkpoint)

    def _write(self, fd: int, data: bytes) -> int:
        if self.mode == "full":
            _enospc()
        return self._real_write(fd, data)

    def _writev(self, fd: int, buffers: list[bytes]) -> int:
        if self.mode == "full":
            _enospc()
        return self._real_writev(fd, buffers)

    def _write_checkpoint(self, fd: int, data: bytes) -> None:
        if self.mode != "ok":
            _enospc()
        self._real_write_all(fd, data)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    yield Disk(monkeypatch)


@pytest.fixture
def reported() -> list[str]:
    return []


def _open(open_log: OpenLog, reported: list[str], **config: object) -> PartitionLog:
    log = open_log(**config)
    log.on_io_error = reported.append
    return log


def _fail_fsync_of(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """fsync fails with EIO for descriptors of files whose name ends with `suffix`."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _leftovers(log_dir: str) -> list[str]:
    return [n for n in os.listdir(log_dir) if n.endswith(".tmp")]


# --- derived files: index entries ------------------------------------------------------------------------


def test_index_entries_the_full_disk_refuses_are_written_by_a_later_flush(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    log = _open(open_log, reported, index_interval_bytes=1)  # an index entry for every batch
    for i in range(5):
        log.append_as_leader(make_batch(2, start=2 * i), 0, 0)
    disk.mode = "full"
    with pytest.raises(LogStorageError, match=r"incomplete.*indexes of segment 0") as info:
        log.flush()
    assert info.value.code is ErrorCode.KAFKA_STORAGE_ERROR
    assert log.offline_reason is None and log.recovery_point == 0  # nothing claimed durable
    assert any("indexes of segment 0" in r for r in reported)
    assert [r.offset for r in read_all(log)] == list(range(10))  # still serves reads

    disk.mode = "ok"
    log.append_as_leader(make_batch(2, start=10), 0, 0)
    log.flush()
    assert log.recovery_point == log.log_end_offset == 12
    assert os.path.getsize(os.path.join(log_dir, f"{0:020d}.index")) == 8 * 5  # entries after the first batch
    assert read_offset_checkpoint(os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)) == 12
    crash(log)
    again = open_log(index_interval_bytes=1)
    assert [r.offset for r in read_all(again)] == list(range(12))


def test_a_failed_fsync_of_an_index_keeps_the_log_online_and_rewrites_the_index(
    open_log: OpenLog, log_dir: str, monkeypatch: pytest.MonkeyPatch, reported: list[str]
) -> None:
    log = _open(open_log, reported, index_interval_bytes=1)
    for i in range(4):
        log.append_as_leader(make_batch(2, start=2 * i), 0, 0)
    with monkeypatch.context() as patch:
        _fail_fsync_of(patch, ".index")
        with pytest.raises(LogStorageError, match="fsync of the indexes of segment 0"):
            log.flush()
    assert log.offline_reason is None and log.recovery_point == 0
    log.flush()  # rewrites the whole index (the kernel may have dropped its pages), then syncs it
    assert log.recovery_point == 8
    crash(log)
    assert [r.offset for r in read_all(open_log(index_interval_bytes=1))] == list(range(8))


# --- atomically replaced files: checkpoints ----------------------------------------------------------------


def test_a_recovery_point_the_disk_refuses_stays_old_on_disk_and_is_written_later(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    path = os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    log.flush()
    assert read_offset_checkpoint(path) == 3
    log.append_as_leader(make_batch(3, start=3), 0, 0)
    disk.mode = "checkpoints_only"
    with pytest.raises(LogStorageError, match=rf"incomplete.*cannot write {RECOVERY_POINT_CHECKPOINT}"):
        log.flush()
    assert log.offline_reason is None
    assert read_offset_checkpoint(path) == 3  # the old content, whole: a lower value only means more checking
    assert _leftovers(log_dir) == []  # the half-written temp file does not keep holding space
    log.append_as_leader(make_batch(3, start=6), 0, 0)  # appends go on
    disk.mode = "ok"
    log.flush()
    assert read_offset_checkpoint(path) == 9
    log.flush()  # nothing new: nothing to do
    assert read_offset_checkpoint(path) == 9


def test_a_recovery_point_still_stale_is_written_by_a_flush_with_nothing_new(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    path = os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    disk.mode = "checkpoints_only"
    with pytest.raises(LogStorageError):
        log.flush()
    disk.mode = "ok"
    log.flush()  # no append since, but the checkpoint is behind
    assert read_offset_checkpoint(path) == 3


def test_a_lowered_recovery_point_the_disk_refuses_removes_the_checkpoint(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    """After a truncation the old recovery point would vouch for data written later and
    never synced: without the file, recovery validates every segment instead."""
    path = os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)
    log = _open(open_log, reported)
    for i in range(3):
        log.append_as_leader(make_batch(3, start=3 * i), 0, 0)
    log.flush()
    assert read_offset_checkpoint(path) == 9
    disk.mode = "checkpoints_only"
    assert log.truncate_to(3) == 3
    assert log.offline_reason is None and not os.path.exists(path)
    log.append_as_leader(make_batch(3, start=3), 0, 0)
    disk.mode = "ok"
    log.flush()
    assert read_offset_checkpoint(path) == 6
    crash(log)
    assert [r.offset for r in read_all(open_log())] == list(range(6))


def test_a_new_epoch_the_disk_refuses_to_checkpoint_is_rebuilt_by_recovery(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    """A stale epoch checkpoint would miss epoch 1; removed, recovery rebuilds it from the
    batch headers (which carry every epoch)."""
    path = os.path.join(log_dir, LEADER_EPOCH_CHECKPOINT)
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    log.flush()
    disk.mode = "checkpoints_only"
    info = log.append_as_leader(make_batch(3, start=3), 1, 0)  # the data goes in; only the checkpoint failed
    assert info.first_offset == 3 and log.offline_reason is None
    assert not os.path.exists(path)
    assert log.epoch_entries == [(0, 0), (1, 3)]
    assert any(LEADER_EPOCH_CHECKPOINT in r for r in reported)
    crash(log)
    disk.mode = "ok"
    again = open_log()
    assert again.last_recovery is not None and again.last_recovery.epoch_cache_rebuilt
    assert again.epoch_entries == [(0, 0), (1, 3)]
    stored = LeaderEpochCache.load(path)
    assert stored is not None and stored.entries == [(0, 0), (1, 3)]


def test_a_stale_epoch_checkpoint_is_rewritten_by_the_next_flush(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    path = os.path.join(log_dir, LEADER_EPOCH_CHECKPOINT)
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    disk.mode = "checkpoints_only"
    log.append_as_follower(_stamped(log, 3, epoch=4))
    assert log.epoch_entries == [(0, 0), (4, 3)] and not os.path.exists(path)
    with pytest.raises(LogStorageError, match=LEADER_EPOCH_CHECKPOINT):
        log.flush()
    disk.mode = "ok"
    log.flush()
    stored = LeaderEpochCache.load(path)
    assert stored is not None and stored.entries == [(0, 0), (4, 3)]


def _stamped(log: PartitionLog, base_offset: int, epoch: int) -> bytes:
    """A batch as a leader in `epoch` would have written it at `base_offset`."""
    from node.storage.batch import stamp

    return stamp(make_batch(2, start=base_offset), base_offset, epoch)


def test_a_log_start_the_disk_refuses_to_checkpoint_stays_in_memory(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    log = _open(open_log, reported)
    for i in range(3):
        log.append_as_leader(make_batch(3, start=3 * i), 0, 0)
    disk.mode = "checkpoints_only"
    assert log.advance_log_start_offset(4)
    assert log.log_start_offset == 4 and log.offline_reason is None
    disk.mode = "ok"
    log.flush()
    log.close()
    assert open_log().log_start_offset == 4


def test_write_file_atomically_leaves_no_temp_file_when_the_disk_is_full(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = os.path.join(str(tmp_path), "checkpoint")
    write_file_atomically(target, b"old")
    monkeypatch.setattr(checkpoint, "write_all", _enospc)
    with pytest.raises(OSError, match="No space"):
        write_file_atomically(target, b"new")
    assert sorted(os.listdir(str(tmp_path))) == ["checkpoint"]
    with open(target, "rb") as f:
        assert f.read() == b"old"


# --- appends ---------------------------------------------------------------------------------------------


def test_an_append_the_full_disk_refuses_fails_alone_and_the_log_stays_usable(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    disk.mode = "full"
    with pytest.raises(LogStorageError, match=r"append to .* failed: .*No space left") as info:
        log.append_as_leader(make_batch(3, start=3), 0, 0)
    assert info.value.code is ErrorCode.KAFKA_STORAGE_ERROR
    with pytest.raises(LogStorageError, match="No space left"):
        log.append_as_follower(_stamped(log, 3, epoch=0))
    assert log.offline_reason is None and log.log_end_offset == 3
    assert any("append to" in r for r in reported)
    assert [r.offset for r in read_all(log)] == [0, 1, 2]
    disk.mode = "ok"
    assert log.append_as_leader(make_batch(3, start=3), 0, 0).first_offset == 3
    log.flush()
    crash(log)
    assert [r.offset for r in read_all(open_log())] == list(range(6))


def test_a_roll_on_a_full_disk_fails_the_append_and_a_later_flush_writes_the_sealed_indexes(
    open_log: OpenLog, log_dir: str, disk: Disk, reported: list[str]
) -> None:
    log = _open(open_log, reported, segment_bytes=200, index_interval_bytes=1)
    while log.segment_count == 1:
        log.append_as_leader(make_batch(2, start=log.log_end_offset), 0, 0)
    end = log.log_end_offset
    first_sealed_size = os.path.getsize(os.path.join(log_dir, f"{0:020d}.timeindex"))
    assert first_sealed_size > 0
    # Fill the second segment; the next append rolls it while the disk is full.
    while log.segment_count == 2:
        end = log.log_end_offset
        disk.mode = "full"
        try:
            log.append_as_leader(make_batch(2, start=end), 0, 0)
        except LogStorageError:
            assert log.offline_reason is None and log.log_end_offset == end
            disk.mode = "ok"
            log.append_as_leader(make_batch(2, start=end), 0, 0)
    disk.mode = "ok"
    log.flush()
    assert log.recovery_point == log.log_end_offset
    crash(log)
    again = open_log(segment_bytes=200, index_interval_bytes=1)
    assert [r.offset for r in read_all(again)] == list(range(again.log_end_offset))
    assert again.log_end_offset == log.log_end_offset


def test_a_segment_the_disk_cannot_create_leaves_no_files_and_the_next_append_creates_it(
    open_log: OpenLog, log_dir: str, monkeypatch: pytest.MonkeyPatch, reported: list[str]
) -> None:
    log = _open(open_log, reported, segment_bytes=100)
    log.append_as_leader(make_batch(3), 0, 0)
    before = sorted(os.listdir(log_dir))
    with monkeypatch.context() as patch:
        patch.setattr(os, "ftruncate", _enospc)  # creating the new segment's index files fails
        with pytest.raises(LogStorageError, match="cannot create the indexes of segment"):
            log.append_as_leader(make_batch(3, start=3), 0, 0)
    assert sorted(os.listdir(log_dir)) == before
    assert log.offline_reason is None and log.segment_count == 1
    assert log.append_as_leader(make_batch(3, start=3), 0, 0).first_offset == 3
    assert log.segment_count == 2


# --- what does take a log offline ------------------------------------------------------------------------


def test_a_failed_fsync_of_a_segment_takes_the_log_offline_and_reopening_recovers(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch, reported: list[str]
) -> None:
    """After a failed fsync the kernel may have dropped the pages: the file's content is
    unknown, so the log refuses everything until it is reopened (and recovered)."""
    log = _open(open_log, reported)
    log.append_as_leader(make_batch(3), 0, 0)
    with monkeypatch.context() as patch:
        _fail_fsync_of(patch, ".log")
        with pytest.raises(LogStorageError, match=r"taken offline: fsync of .* failed"):
            log.flush()
    assert log.offline_reason is not None and "fsync" in log.offline_reason
    assert any("taken offline" in r for r in reported)
    with pytest.raises(LogStorageError, match="is offline"):
        log.read(0, 1000)
    with pytest.raises(LogStorageError, match="is offline"):
        log.append_as_leader(make_batch(1), 0, 0)
    log.close()  # releases the files without flushing
    again = open_log()
    assert again.offline_reason is None
    assert [r.offset for r in read_all(again)] == [0, 1, 2]

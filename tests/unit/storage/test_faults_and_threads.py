"""I/O failures (disk full), the offline state, and flush from a worker thread."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable

import pytest

from cluster.errors import ErrorCode
from node.storage.errors import LogStorageError
from node.storage.leader_epoch import LeaderEpochCache
from node.storage.log import LEADER_EPOCH_CHECKPOINT, PartitionLog

from .conftest import crash, make_batch, read_all, segment_files

OpenLog = Callable[..., PartitionLog]


def test_disk_full_on_append_leaves_the_log_consistent_and_usable(
    open_log: OpenLog, log_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log()
    log.append_as_leader(make_batch(3), 0, 0)
    size = os.path.getsize(segment_files(log_dir)[0])
    real_writev = os.writev

    def half_then_enospc(fd: int, buffers: list[bytes]) -> int:
        data = b"".join(bytes(b) for b in buffers)
        os.write(fd, data[: len(data) // 2])  # a short write...
        monkeypatch.setattr(os, "write", _raise_enospc)  # ...then the disk is full
        return len(data) // 2

    monkeypatch.setattr(os, "writev", half_then_enospc)
    with pytest.raises(LogStorageError) as info:
        log.append_as_leader(make_batch(3), 1, 0)  # a new epoch, for data never written
    assert info.value.code is ErrorCode.KAFKA_STORAGE_ERROR
    assert log.epoch_entries == [(0, 0)]
    monkeypatch.setattr(os, "writev", real_writev)
    monkeypatch.undo()
    assert os.path.getsize(segment_files(log_dir)[0]) == size  # the partial write was cut
    assert log.log_end_offset == 3
    log.flush()  # rewrites the epoch checkpoint that the full disk refused
    stored = LeaderEpochCache.load(os.path.join(log_dir, LEADER_EPOCH_CHECKPOINT))
    assert stored is not None and stored.entries == [(0, 0)]
    info2 = log.append_as_leader(make_batch(2), 0, 0)
    assert info2.first_offset == 3
    assert [r.offset for r in read_all(log)] == [0, 1, 2, 3, 4]


def _raise_enospc(*args: object) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_unrecoverable_io_error_takes_the_log_offline_until_reopened(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log()
    log.append_as_leader(make_batch(3), 0, 0)
    monkeypatch.setattr(os, "writev", _raise_enospc)
    monkeypatch.setattr(os, "ftruncate", _raise_enospc)  # cannot even undo the write
    with pytest.raises(LogStorageError, match="offline"):
        log.append_as_leader(make_batch(3), 0, 0)
    monkeypatch.undo()
    with pytest.raises(LogStorageError, match="offline"):
        log.read(0, 100)
    crash(log)
    log = open_log()
    assert [r.offset for r in read_all(log)] == [0, 1, 2]


def test_flush_in_a_worker_thread_while_appending(open_log: OpenLog) -> None:
    log = open_log(segment_bytes=2000)
    done = threading.Event()
    errors: list[BaseException] = []

    def flusher() -> None:
        try:
            while not done.is_set():
                log.flush()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=flusher)
    worker.start()
    try:
        for i in range(400):
            log.append_as_leader(make_batch(2, start=i), 0, 0)
            if i % 97 == 0:
                log.truncate_to(log.log_end_offset - 1)  # truncations race with flushes too
    finally:
        done.set()
        worker.join()
    assert not errors
    assert log.recovery_point <= log.log_end_offset
    log.flush()
    assert log.recovery_point == log.log_end_offset
    expected = read_all(log)
    crash(log)
    log = open_log(segment_bytes=2000)
    assert read_all(log) == expected
    assert log.last_recovery is not None and log.last_recovery.segments_recovered == 1


def test_read_caps_max_bytes_at_the_fetch_limit(open_log: OpenLog) -> None:
    log = open_log()
    for _ in range(3):
        log.append_as_leader(make_batch(2), 0, 0)
    assert len(log.read(0, 10**15)) == log.size_bytes

"""Shared helpers for the storage tests: batch factories and log lifecycle."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from node.storage.batch import Compression, Record, build_batch, decode_batches, iter_batches
from node.storage.config import LogConfig
from node.storage.log import PartitionLog

BASE_TS = 1_700_000_000_000


def make_batch(
    count: int = 3,
    *,
    start: int = 0,
    timestamp: int = BASE_TS,
    key_prefix: bytes = b"key",
    value_size: int = 10,
    compression: Compression = Compression.NONE,
    keys: list[bytes | None] | None = None,
    values: list[bytes | None] | None = None,
) -> bytes:
    """A producer batch of `count` records; record i has key `key<start+i>`."""
    records = []
    for i in range(count):
        key = keys[i] if keys is not None else key_prefix + str(start + i).encode()
        value = values[i] if values is not None else bytes([65 + (start + i) % 26]) * value_size
        records.append((key, value, None, timestamp + i))
    return build_batch(records, compression=compression, now_ms=timestamp)


def read_all(log: PartitionLog, start: int | None = None, max_bytes: int = 1 << 20) -> list[Record]:
    """Every record from `start` (default: log start) to the log end, by repeated reads.

    Like a consumer, the position moves to the end of the last batch read (a
    compacted batch may end after its last surviving record).
    """
    offset = log.log_start_offset if start is None else start
    out: list[Record] = []
    while offset < log.log_end_offset:
        data = log.read(offset, max_bytes)
        if not data:
            break
        views = list(iter_batches(data))
        assert views, f"read at {offset} returned no whole batch"
        out.extend(decode_batches(data, min_offset=offset))
        assert views[-1].header.next_offset > offset, "reads must make progress"
        offset = views[-1].header.next_offset
    return out


def crash(log: PartitionLog) -> None:
    """Simulate a process crash: drop descriptors, no flush, no clean-shutdown marker.

    (The page cache survives a process crash, so what was written stays.)
    """
    log._release_files()


def segment_files(directory: str, suffix: str = ".log") -> list[str]:
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(suffix))


@pytest.fixture
def log_dir(tmp_path: pytest.TempPathFactory) -> str:
    return str(tmp_path / "topic-0")  # type: ignore[operator]


@pytest.fixture
def open_log(log_dir: str) -> Iterator[Callable[..., PartitionLog]]:
    """Factory: open_log(**config) opens the log in log_dir; all are closed at the end."""
    opened: list[PartitionLog] = []

    def factory(config: LogConfig | None = None, **overrides: object) -> PartitionLog:
        if config is None:
            config = LogConfig(**overrides)  # type: ignore[arg-type]
        log = PartitionLog.open(log_dir, config)
        opened.append(log)
        return log

    yield factory
    for log in opened:
        if not log._closed:
            log._release_files()

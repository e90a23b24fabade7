"""Sparse per-segment indexes, kept in memory and mirrored to disk.

`.index`     : entries (relative offset u32, file position u32), big-endian, 8 bytes.
               One entry per `index_interval_bytes` of log, pointing at the start
               of a batch and keyed by that batch's base offset.
`.timeindex` : entries (timestamp i64, relative offset u32), 12 bytes. An entry
               (T, O) promises that every record at an offset <= O has a
               timestamp <= T; entries are only added when T grows.

Both are bisected in memory (`array` + `bisect`), so a lookup is O(log n) with
no I/O. New entries are appended to the files lazily (`write_pending`, called
on flush, roll and close): an index is a cache of the log, and recovery
rebuilds any index that is missing, short or inconsistent.
"""

from __future__ import annotations

import bisect
import os
import struct
import sys
from array import array

from node.storage.checkpoint import write_all

OFFSET_ENTRY = struct.Struct(">II")
TIME_ENTRY = struct.Struct(">qI")
MAX_RELATIVE_OFFSET = 0xFFFFFFFF
_LITTLE_ENDIAN = sys.byteorder == "little"


class _IndexFile:
    """The on-disk mirror of an in-memory index: appends lazily, truncates eagerly."""

    def __init__(self, path: str, entry_size: int) -> None:
        self.path = path
        self.entry_size = entry_size
        self.persisted = 0  # entries already in the file
        self._fd: int | None = None

    def fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def read_all(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, data: bytes, first_entry: int) -> None:
        fd = self.fd()
        os.lseek(fd, first_entry * self.entry_size, os.SEEK_SET)
        write_all(fd, data)

    def truncate(self, entries: int) -> None:
        os.ftruncate(self.fd(), entries * self.entry_size)
        self.persisted = min(self.persisted, entries)

    def fsync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def dup_fd(self) -> int | None:
        return os.dup(self._fd) if self._fd is not None else None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OffsetIndex:
    def __init__(self, path: str, base_offset: int) -> None:
        self.base_offset = base_offset
        self.file = _IndexFile(path, OFFSET_ENTRY.size)
        self.relative_offsets = array("I")
        self.positions = array("I")

    def __len__(self) -> int:
        return len(self.positions)

    def append(self, offset: int, position: int) -> None:
        relative = offset - self.base_offset
        assert 0 <= relative <= MAX_RELATIVE_OFFSET, (offset, self.base_offset)
        assert not self.positions or (
            relative > self.relative_offsets[-1] and position > self.positions[-1]
        ), "offset index entries must increase"
        self.relative_offsets.append(relative)
        self.positions.append(position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or before `offset`, else (base, 0)."""
        i = bisect.bisect_right(self.relative_offsets, offset - self.base_offset) - 1
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + self.relative_offsets[i], self.positions[i]

    def floor_position(self, position: int) -> int:
        """The largest indexed batch position <= `position` (0 when none)."""
        i = bisect.bisect_right(self.positions, position) - 1
        return self.positions[i] if i >= 0 else 0

    @property
    def last_position(self) -> int:
        return self.positions[-1] if self.positions else 0

    def truncate_to_position(self, position: int) -> None:
        """Drop entries pointing at or after `position` (the log was cut there)."""
        keep = bisect.bisect_left(self.positions, position)
        if keep < len(self.positions):
            del self.relative_offsets[keep:]
            del self.positions[keep:]
            self.file.truncate(keep)

    def clear(self) -> None:
        del self.relative_offsets[:]
        del self.positions[:]
        self.file.truncate(0)

    def write_pending(self) -> None:
        done = self.file.persisted
        if done >= len(self.positions):
            return
        pairs = array("I")
        for relative, position in zip(
            self.relative_offsets[done:], self.positions[done:], strict=True
        ):
            pairs.append(relative)
            pairs.append(position)
        if _LITTLE_ENDIAN:
            pairs.byteswap()
        self.file.write(pairs.tobytes(), done)
        self.file.persisted = len(self.positions)

    def load(self, log_size: int) -> bool:
        """Load the file; False (and empty) if it is missing or inconsistent with the log."""
        data = self.file.read_all()
        if data is None or len(data) % OFFSET_ENTRY.size:
            return False
        pairs = array("I", data)
        if _LITTLE_ENDIAN:
            pairs.byteswap()
        relative_offsets = pairs[0::2]
        positions = pairs[1::2]
        for i in range(1, len(positions)):
            if (
                relative_offsets[i] <= relative_offsets[i - 1]
                or positions[i] <= positions[i - 1]
            ):
                return False
        if positions and positions[-1] >= log_size:
            return False
        self.relative_offsets = relative_offsets
        self.positions = positions
        self.file.persisted = len(positions)
        return True


class TimeIndex:
    def __init__(self, path: str, base_offset: int) -> None:
        self.base_offset = base_offset
        self.file = _IndexFile(path, TIME_ENTRY.size)
        self.timestamps = array("q")
        self.relative_offsets = array("I")

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def last_timestamp(self) -> int:
        return self.timestamps[-1] if self.timestamps else -1

    def maybe_append(self, max_timestamp_so_far: int, offset: int) -> None:
        """Add (T, O) if T is larger than the last entry's (timestamps strictly increase)."""
        if self.timestamps and max_timestamp_so_far <= self.timestamps[-1]:
            return
        relative = offset - self.base_offset
        assert 0 <= relative <= MAX_RELATIVE_OFFSET
        if self.relative_offsets and relative <= self.relative_offsets[-1]:
            return  # same batch indexed twice (e.g. at roll); keep offsets strictly increasing
        self.timestamps.append(max_timestamp_so_far)
        self.relative_offsets.append(relative)

    def last_entry_before(self, timestamp: int) -> tuple[int, int] | None:
        """(T, O) of the last entry with T < `timestamp`: no record <= O can match."""
        i = bisect.bisect_left(self.timestamps, timestamp) - 1
        if i < 0:
            return None
        return self.timestamps[i], self.base_offset + self.relative_offsets[i]

    def truncate_to_offset(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        keep = bisect.bisect_left(self.relative_offsets, offset - self.base_offset)
        if keep < len(self.timestamps):
            del self.timestamps[keep:]
            del self.relative_offsets[keep:]
            self.file.truncate(keep)

    def clear(self) -> None:
        del self.timestamps[:]
        del self.relative_offsets[:]
        self.file.truncate(0)

    def write_pending(self) -> None:
        done = self.file.persisted
        if done >= len(self.timestamps):
            return
        data = b"".join(
            TIME_ENTRY.pack(timestamp, relative)
            for timestamp, relative in zip(
                self.timestamps[done:], self.relative_offsets[done:], strict=True
            )
        )
        self.file.write(data, done)
        self.file.persisted = len(self.timestamps)

    def load(self, next_relative_offset: int) -> bool:
        """Load the file; False (and empty) if missing or inconsistent.

        `next_relative_offset` bounds the offsets an entry may name.
        """
        data = self.file.read_all()
        if data is None or len(data) % TIME_ENTRY.size:
            return False
        timestamps = array("q")
        relative_offsets = array("I")
        for timestamp, relative in TIME_ENTRY.iter_unpack(data):
            if timestamps and (
                timestamp <= timestamps[-1] or relative <= relative_offsets[-1]
            ):
                return False
            if relative >= next_relative_offset:
                return False
            timestamps.append(timestamp)
            relative_offsets.append(relative)
        self.timestamps = timestamps
        self.relative_offsets = relative_offsets
        self.file.persisted = len(timestamps)
        return True

"""One log segment: `<20-digit base offset>.log` plus its `.index` and `.timeindex`.

The log file is a plain concatenation of record batches exactly as produced
(stamped with offsets), written with one `writev` per append through an
O_APPEND descriptor: the page cache buffers it, `fsync` happens only in
`PartitionLog.flush`. Reads use `os.pread`, so they never move a file
position and always see everything appended before them.

In memory a segment tracks what appends and reads need without I/O: its size,
the offset after its last batch (`next_offset`), the largest timestamp, and
the two sparse indexes (see index.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from cluster.limits import MAX_BATCH_BYTES, MAX_FETCH_BYTES
from node.storage.batch import (
    HEADER_SIZE,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    BatchHeader,
    parse_header,
    validate_batch,
)
from node.storage.checkpoint import write_all
from node.storage.errors import CorruptBatchError, LogStorageError
from node.storage.index import MAX_RELATIVE_OFFSET, OffsetIndex, TimeIndex

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIMEINDEX_SUFFIX = ".timeindex"
CLEANED_SUFFIX = ".cleaned"  # compaction output not yet swapped in
DELETED_SUFFIX = ".deleted"  # renamed away under the lock, unlinked after it
FILE_SUFFIXES = (INDEX_SUFFIX, TIMEINDEX_SUFFIX, LOG_SUFFIX)  # rename order: log last

_HEADER_READ_CHUNK = 8 * 1024  # header walks read this much at once
_SCAN_CHUNK = 1024 * 1024  # recovery and compaction read sequentially in big chunks


def segment_file_name(base_offset: int, suffix: str) -> str:
    return f"{base_offset:020d}{suffix}"


def parse_segment_file_name(name: str, suffix: str = LOG_SUFFIX) -> int | None:
    """The base offset of a file named `<20 digits><suffix>`, else None."""
    if not name.endswith(suffix):
        return None
    stem = name[: -len(suffix)]
    if len(stem) != 20 or not stem.isdigit():
        return None
    return int(stem)


class ChunkReader:
    """Positional reads through a buffer, for walking a file mostly forward."""

    def __init__(self, fd: int, chunk: int) -> None:
        self.fd = fd
        self.chunk = chunk
        self._buf = b""
        self._start = 0

    def view(self, pos: int, size: int) -> memoryview | None:
        """`size` bytes at `pos`, or None if the file ends first."""
        rel = pos - self._start
        if rel < 0 or rel + size > len(self._buf):
            self._buf = os.pread(self.fd, max(size, self.chunk), pos)
            self._start = pos
            rel = 0
            if len(self._buf) < size:
                return None
        return memoryview(self._buf)[rel : rel + size]


def scan_batches(
    fd: int, start: int, end: int, *, verify: bool
) -> Iterator[tuple[int, BatchHeader, memoryview]]:
    """Yield (position, header, bytes) of the batches in [start, end) of a segment file.

    Stops quietly at a partial batch; with `verify`, each batch's CRC and
    fields are checked and a bad one raises `CorruptBatchError`.
    """
    reader = ChunkReader(fd, _SCAN_CHUNK)
    pos = start
    while end - pos >= LOG_OVERHEAD:
        head = reader.view(pos, HEADER_SIZE if end - pos >= HEADER_SIZE else LOG_OVERHEAD)
        if head is None:
            return
        length = int.from_bytes(head[8:12], "big", signed=True)
        if length < MIN_BATCH_LENGTH or length + LOG_OVERHEAD > MAX_BATCH_BYTES:
            raise CorruptBatchError(f"batchLength {length} at position {pos} is out of range")
        size = length + LOG_OVERHEAD
        if pos + size > end:
            return
        data = reader.view(pos, size)
        if data is None:
            return
        header = validate_batch(data) if verify else parse_header(data)
        yield pos, header, data
        pos += size


class Segment:
    def __init__(self, directory: str, base_offset: int, index_interval: int, suffix: str) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.index_interval = index_interval
        self.suffix = suffix  # "" for a live segment, CLEANED_SUFFIX for compaction output
        self.log_path = self._path(LOG_SUFFIX)
        self.index = OffsetIndex(self._path(INDEX_SUFFIX), base_offset)
        self.time_index = TimeIndex(self._path(TIMEINDEX_SUFFIX), base_offset)
        self.fd = -1
        self.size = 0
        self.next_offset = base_offset  # offset after the last batch in this file
        self.max_timestamp = -1
        self.rolling_timestamp: int | None = None  # max timestamp of the first batch (segment.ms)
        self.bytes_since_index = 0
        self.dirty = False  # holds writes not yet fsynced
        self.mutations = 0  # bumped on truncation: lets compaction detect a changed source
        self.retired = False  # no longer part of the log

    def _path(self, kind: str) -> str:
        return os.path.join(self.directory, segment_file_name(self.base_offset, kind) + self.suffix)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def create(
        cls, directory: str, base_offset: int, index_interval: int, suffix: str = ""
    ) -> Segment:
        segment = cls(directory, base_offset, index_interval, suffix)
        try:
            segment.fd = os.open(
                segment.log_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644
            )
        except OSError as exc:
            raise LogStorageError(f"cannot create segment {segment.log_path}: {exc}") from exc
        try:
            segment.index.clear()  # also creates (or empties a stale) index file
            segment.time_index.clear()
        except OSError as exc:
            # Leave nothing behind (e.g. on a full disk), so a later roll can create it again.
            segment.close()
            segment.delete_files()
            raise LogStorageError(f"cannot create the indexes of segment {segment.log_path}: {exc}") from exc
        segment.dirty = True
        return segment

    @classmethod
    def open_existing(cls, directory: str, base_offset: int, index_interval: int) -> Segment:
        segment = cls(directory, base_offset, index_interval, "")
        try:
            segment.fd = os.open(segment.log_path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            raise LogStorageError(f"cannot open segment {segment.log_path}: {exc}") from exc
        return segment

    def close(self) -> None:
        self.index.file.close()
        self.time_index.file.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def rename(self, suffix: str) -> None:
        """Rename the three files to carry `suffix` (indexes first, the log last)."""
        for kind in FILE_SUFFIXES:
            old = self._path(kind)
            new = os.path.join(self.directory, segment_file_name(self.base_offset, kind) + suffix)
            try:
                os.replace(old, new)
            except FileNotFoundError:
                if kind == LOG_SUFFIX:
                    raise
        self.suffix = suffix
        self.log_path = self._path(LOG_SUFFIX)
        self.index.file.path = self._path(INDEX_SUFFIX)
        self.time_index.file.path = self._path(TIMEINDEX_SUFFIX)

    def delete_files(self) -> None:
        for kind in FILE_SUFFIXES:
            try:
                os.remove(self._path(kind))
            except FileNotFoundError:
                pass

    def sync_handles(self) -> list[int]:
        """Duplicated descriptors of every file to fsync, the log file's first (caller
        closes them). Call `write_pending_indexes` first.

        Duplicates let a flush in a worker thread fsync without the log's lock,
        even if the segment is closed meanwhile.
        """
        handles = [os.dup(self.fd)]
        try:
            for index_file in (self.index.file, self.time_index.file):
                fd = index_file.dup_fd()
                if fd is None:
                    try:
                        fd = os.open(index_file.path, os.O_RDONLY)
                    except FileNotFoundError:
                        continue
                handles.append(fd)
        except OSError:
            for fd in handles:
                os.close(fd)
            raise
        return handles

    def write_pending_indexes(self) -> None:
        """Write index entries not yet in the files. On an OSError (disk full) the entries
        stay in memory and the next call writes them again from where the file is whole."""
        self.index.write_pending()
        self.time_index.write_pending()

    def rewrite_indexes_later(self) -> None:
        """An fsync of an index file failed: the kernel may have dropped its pages, so
        the next `write_pending_indexes` rewrites the files from the start."""
        self.index.file.persisted = 0
        self.time_index.file.persisted = 0
        self.dirty = True

    def seal(self) -> None:
        """This segment stops being the active one: make its time index complete."""
        if self.size:
            self.time_index.maybe_append(self.max_timestamp, self.next_offset - 1)
        self.write_pending_indexes()
        self.index.file.close()  # reopened lazily if the segment is ever truncated
        self.time_index.file.close()

    # ------------------------------------------------------------------ appends

    def fits(self, header: BatchHeader, base_offset: int, segment_bytes: int, segment_ms: int) -> bool:
        """Whether a batch at `base_offset` may go into this segment (else roll first)."""
        if base_offset + header.last_offset_delta - self.base_offset > MAX_RELATIVE_OFFSET:
            return False  # offsets in the index are relative u32
        if self.size == 0:
            return True  # a batch larger than segment.bytes still needs a home
        if self.size + header.size > segment_bytes:
            return False
        # Age is measured on record timestamps, as Kafka does, so leader and
        # followers roll at the same points whatever their clocks.
        return (
            self.rolling_timestamp is None
            or header.max_timestamp - self.rolling_timestamp <= segment_ms
        )

    def append(self, chunks: Sequence[bytes | memoryview], total: int) -> int:
        """Write `chunks` (`total` bytes of whole batches); returns their position.

        The caller then calls `index_batch` for each batch written. If the write
        fails (disk full, EIO) the file is cut back to where it was and
        LogStorageError is raised: the segment is unchanged and usable. If even
        that cut fails, the OSError propagates: the state on disk is unknown.
        """
        position = self.size
        try:
            written = os.writev(self.fd, chunks)
            if written != total:  # short write (e.g. disk nearly full): finish it
                write_all(self.fd, memoryview(b"".join(chunks))[written:])
        except OSError as exc:
            os.ftruncate(self.fd, position)
            raise LogStorageError(f"append to {self.log_path} failed: {exc}") from exc
        self.size = position + total
        self.dirty = True
        return position

    def index_batch(
        self, position: int, base_offset: int, last_offset: int, max_timestamp: int, size: int
    ) -> None:
        """Account for one batch written at `position` (updates both indexes)."""
        if position == 0:
            self.rolling_timestamp = max_timestamp
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
        if self.bytes_since_index >= self.index_interval:
            self.index.append(base_offset, position)
            self.time_index.maybe_append(self.max_timestamp, last_offset)
            self.bytes_since_index = 0
        self.bytes_since_index += size
        self.next_offset = last_offset + 1

    # ------------------------------------------------------------------ reads

    def iter_headers(self, start: int, end: int | None = None) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of each batch from `start` (a batch boundary) to `end`."""
        end = self.size if end is None else end
        reader = ChunkReader(self.fd, _HEADER_READ_CHUNK)
        pos = start
        while pos < end:
            head = reader.view(pos, HEADER_SIZE)
            if head is None:
                raise LogStorageError(f"{self.log_path} ends inside a batch at position {pos}")
            header = parse_header(head)
            if header.batch_length < MIN_BATCH_LENGTH or pos + header.size > end:
                raise LogStorageError(
                    f"{self.log_path}: corrupt batch header at position {pos} "
                    f"(batchLength {header.batch_length})"
                )
            yield pos, header
            pos += header.size

    def find_batch(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= `offset`."""
        if offset >= self.next_offset:
            return None
        _, position = self.index.lookup(offset)
        for pos, header in self.iter_headers(position):
            if header.base_offset + header.last_offset_delta >= offset:
                return pos, header
        return None

    def _last_boundary_at_or_before(self, limit: int, start: int) -> int:
        """The last batch boundary in [start, limit] (`start` is a boundary)."""
        walk_from = max(start, self.index.floor_position(limit))
        for position, header in self.iter_headers(walk_from):
            if position + header.size > limit:
                return position
        return self.size

    def read(self, offset: int, max_bytes: int, max_offset: int) -> bytes | None:
        """Whole batches from the one holding `offset`, none reaching `max_offset`.

        At least one batch is returned even if it is larger than `max_bytes`.
        None means this segment holds nothing at or after `offset` (try the
        next one); b"" means the next batch is not readable yet (max_offset).
        """
        found = self.find_batch(offset)
        if found is None:
            return None
        start, first = found
        if first.base_offset + first.last_offset_delta >= max_offset:
            return b""
        end = self.size
        if max_offset < self.next_offset:
            stop = self.find_batch(max_offset)
            if stop is not None:
                end = stop[0]
        limit = start + min(max(max_bytes, 0), MAX_FETCH_BYTES)
        if limit < end:
            end = max(self._last_boundary_at_or_before(limit, start), start + first.size)
        return os.pread(self.fd, end - start, start)

    def read_bytes(self, position: int, size: int) -> bytes:
        data = os.pread(self.fd, size, position)
        if len(data) != size:
            raise LogStorageError(f"{self.log_path}: short read at position {position}")
        return data

    def batches(
        self, start: int = 0, *, verify: bool = False
    ) -> Iterator[tuple[int, BatchHeader, memoryview]]:
        return scan_batches(self.fd, start, self.size, verify=verify)

    # ------------------------------------------------------------------ recovery

    def recover(self, upper_offset: int | None = None) -> int:
        """Validate every batch (CRC included), rebuild both indexes, cut a bad tail.

        Returns how many bytes were cut: a torn write at the end of the file
        or anything from the first corrupt batch on. The base offset is not
        covered by the CRC, so offsets are checked too: increasing, within
        the segment's relative range and below `upper_offset` (the next
        segment's base offset) when there is one.
        """
        file_size = os.fstat(self.fd).st_size
        self._reset_state()
        self.index.clear()
        self.time_index.clear()
        try:
            for pos, header, _ in scan_batches(self.fd, 0, file_size, verify=True):
                last_offset = header.base_offset + header.last_offset_delta
                if (
                    header.base_offset < self.next_offset
                    or last_offset - self.base_offset > MAX_RELATIVE_OFFSET
                    or (upper_offset is not None and last_offset >= upper_offset)
                ):
                    break
                self.index_batch(pos, header.base_offset, last_offset, header.max_timestamp,
                                 header.size)
                self.size = pos + header.size
        except CorruptBatchError:
            pass
        cut = file_size - self.size
        if cut:
            os.ftruncate(self.fd, self.size)
        self.dirty = True
        self.mutations += 1
        return cut

    def _reset_state(self) -> None:
        self.size = 0
        self.next_offset = self.base_offset
        self.max_timestamp = -1
        self.rolling_timestamp = None
        self.bytes_since_index = 0

    def load_trusted(self, upper_offset: int | None) -> bool:
        """Load the index files of a segment known to be intact (clean shutdown, or
        fully below the recovery point), checking them against the log; walks
        only the batches after the last index entry. False means: run `recover`.

        `upper_offset` is the next segment's base offset, if there is one.
        """
        file_size = os.fstat(self.fd).st_size
        self._reset_state()
        self.size = file_size
        upper_relative = (
            MAX_RELATIVE_OFFSET + 1 if upper_offset is None else upper_offset - self.base_offset
        )
        if not self.index.load(file_size) or not self.time_index.load(upper_relative):
            return False
        if self.index.relative_offsets and self.index.relative_offsets[-1] >= upper_relative:
            return False
        tail_start = self.index.last_position
        if len(self.time_index) == 0 and tail_start > 0:
            return False  # indexed batches but no timestamps: max_timestamp unknown
        try:
            self.max_timestamp = self.time_index.last_timestamp
            if file_size:
                self.rolling_timestamp = parse_header(self.read_bytes(0, HEADER_SIZE)).max_timestamp
            last: BatchHeader | None = None
            for _, header in self.iter_headers(tail_start, file_size):
                last = header
                self.max_timestamp = max(self.max_timestamp, header.max_timestamp)
        except (LogStorageError, CorruptBatchError):
            return False
        if last is not None:
            self.next_offset = last.base_offset + last.last_offset_delta + 1
        elif file_size:
            return False  # an index entry pointing at the end of the file
        if self.next_offset - self.base_offset > upper_relative:
            return False
        if self.time_index.relative_offsets and (
            self.base_offset + self.time_index.relative_offsets[-1] >= self.next_offset
        ):
            return False
        self.bytes_since_index = file_size - tail_start
        return True

    # ------------------------------------------------------------------ truncation

    def truncate_to(self, offset: int) -> int:
        """Cut the first batch whose last offset is >= `offset` and all after it.

        A batch is never split, so a cut inside a batch removes the whole batch.
        Returns the number of bytes removed.
        """
        found = self.find_batch(offset)
        if found is None:
            return 0
        position, first_removed = found
        removed = self.size - position
        os.ftruncate(self.fd, position)
        self.size = position
        self.index.truncate_to_position(position)
        self.time_index.truncate_to_offset(first_removed.base_offset)
        self._recompute_tail_state()
        self.dirty = True
        self.mutations += 1
        return removed

    def _recompute_tail_state(self) -> None:
        """After a cut: next_offset and max_timestamp from the surviving batches."""
        if self.size == 0:
            self._reset_state()
            return
        # A time index entry (T, O) covers every record <= O, so only the batches
        # after O need reading; the last batch is after the last offset index entry.
        self.max_timestamp = self.time_index.last_timestamp
        start = 0
        if len(self.time_index):
            covered = self.base_offset + self.time_index.relative_offsets[-1]
            start = min(self.index.lookup(covered + 1)[1], self.index.last_position)
        next_offset = self.base_offset
        for _, header in self.iter_headers(start):
            next_offset = header.base_offset + header.last_offset_delta + 1
            self.max_timestamp = max(self.max_timestamp, header.max_timestamp)
        self.next_offset = next_offset
        self.bytes_since_index = self.size - self.index.last_position

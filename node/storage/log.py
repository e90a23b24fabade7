"""PartitionLog: one partition replica's log on disk (sans-network, synchronous).

A partition replica is a directory::

    00000000000000000000.log        record batches, exactly as produced (stamped)
    00000000000000000000.index      sparse offset -> position
    00000000000000000000.timeindex  sparse timestamp -> offset
    00000000000000004096.log ...    the next segment (named by its base offset)
    leader-epoch-checkpoint         epoch -> start offset (KIP-101)
    log-start-offset-checkpoint     the log start offset, when above the first segment
    recovery-point-offset-checkpoint  everything below it is fsynced
    .clean-shutdown                 present only between close() and the next open()
    .lock                           flock'ed while open: one process per directory

Public API (all offsets are absolute, all times epoch milliseconds)::

    PartitionLog.open(directory, config=LogConfig(), now_ms=0) -> PartitionLog  # recovers
    log.log_start_offset / log_end_offset / size_bytes / latest_epoch
    log.recovery_point / segment_count / epoch_entries / last_recovery / config
    log.append_as_leader(batch, leader_epoch, now_ms) -> AppendInfo
    log.append_as_follower(batches, now_ms=None) -> int            # the new log end offset
    log.read(offset, max_bytes, max_offset=None) -> bytes
    log.truncate_to(offset) -> int                                  # the new log end offset
    log.truncate_fully_and_start_at(offset) -> None
    log.advance_log_start_offset(offset) -> bool                    # e.g. after a snapshot
    log.end_offset_for_epoch(epoch) -> tuple[int, int]              # (epoch, end offset)
    log.offset_for_timestamp(timestamp) -> int | None
    log.enforce_retention(now_ms, high_watermark) -> int            # segments deleted
    log.compact(now_ms, high_watermark) -> CompactionStats
    log.needs_compaction(high_watermark) -> bool / compaction_dirty_ratio(high_watermark)
    log.update_config(config) -> None
    log.flush() -> None
    log.close() -> None

Threading. Every method is synchronous and meant for the event-loop thread,
except `flush`, `compact` and `enforce_retention`, which the caller may run in
a worker thread (`asyncio.to_thread`). One `threading.RLock` guards the
in-memory state (segment list, indexes, offsets); appends and reads hold it
for microseconds. The slow parts never hold it: `flush` takes the list of
dirty files under the lock and fsyncs duplicated descriptors outside it;
`compact` reads and rewrites segments outside it through its own descriptors
and takes it only for the swap (three small fsyncs, once per pass);
retention renames files under it and unlinks them after. Blocking fsyncs do
happen on the calling thread in three rare operations: a new leader epoch
(the epoch checkpoint), truncation, and advancing the log start offset,
because each must be durable before the log moves on.

Durability. Appends are buffered by the page cache (one writev each, no
fsync). `flush` makes everything appended so far durable and records the
recovery point. After a crash, `open` trusts segments wholly below the
recovery point (with sanity checks on their indexes) and fully validates
the rest: CRC of every batch, a torn or corrupt tail is cut, indexes are
rebuilt.

I/O failures (disk full, EIO). Index entries are derived from the segments
and checkpoints are replaced atomically, so failing to write them leaves
nothing in an unknown state: the log stays online and `flush` retries them
(a checkpoint whose stale content could mislead recovery is removed, which
sends recovery down its safe path). An append the disk refuses is cut back
and fails alone. Only an error that leaves a segment's log file in an
unknown state (an append that cannot be undone, a failed fsync, a failed
read) takes the log offline: every call then raises LogStorageError until
the log is reopened, which recovers it. `on_io_error` hears of every
failure, so the node can report a failing disk even while its logs serve.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from node.storage import cleaner
from node.storage.batch import (
    BatchHeader,
    BatchView,
    decode_records,
    iter_batches,
    stamped_prefix,
    validate_produced_batch,
)
from node.storage.checkpoint import (
    TMP_SUFFIX,
    fsync_directory,
    read_offset_checkpoint,
    write_file_atomically,
    write_offset_checkpoint,
)
from node.storage.cleaner import CompactionStats, SourceSegment
from node.storage.config import LogConfig
from node.storage.errors import (
    InvalidRecordError,
    LogStorageError,
    MessageTooLargeError,
    OffsetOutOfRangeError,
    StaleLeaderEpochError,
)
from node.storage.index import MAX_RELATIVE_OFFSET
from node.storage.leader_epoch import LeaderEpochCache
from node.storage.segment import (
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    TIMEINDEX_SUFFIX,
    Segment,
    parse_segment_file_name,
)

LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
LOG_START_CHECKPOINT = "log-start-offset-checkpoint"
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
CLEAN_SHUTDOWN_MARKER = ".clean-shutdown"
LOCK_FILE = ".lock"

T = TypeVar("T")


class AppendInfo(NamedTuple):
    first_offset: int
    last_offset: int
    record_count: int
    max_timestamp: int
    size_bytes: int
    leader_epoch: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    append_time_ms: int

    @property
    def next_offset(self) -> int:
        return self.last_offset + 1


@dataclass(frozen=True)
class RecoveryReport:
    """What `open` had to do; useful for logs, metrics and tests."""

    clean_shutdown: bool
    segments_loaded: int
    segments_recovered: int  # fully scanned and re-indexed
    bytes_truncated: int  # torn or corrupt bytes cut
    segments_deleted: int  # after a corrupt segment, or below the log start offset
    epoch_cache_rebuilt: bool


class PartitionLog:
    def __init__(self, directory: str, config: LogConfig, lock_fd: int) -> None:
        self.directory = directory
        self._config = config
        self._lock_fd = lock_fd
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()  # one flush at a time
        self._checkpoint_lock = threading.Lock()  # serializes recovery-point file writes
        self._compaction_lock = threading.Lock()  # one compaction at a time
        self._segments: list[Segment] = []
        self._bases: list[int] = []  # base offsets of _segments, for bisect
        self._log_start = 0
        self._recovery_point = 0
        self._epochs = LeaderEpochCache(os.path.join(directory, LEADER_EPOCH_CHECKPOINT))
        self._directory_dirty = False  # files created since the last flush
        # Checkpoints whose rewrite the disk refused; flush retries them.
        self._epochs_stale = False
        self._log_start_stale = False
        self._recovery_point_stale = False
        self._recovery_point_on_disk = 0  # what the checkpoint file says (0 when absent)
        self._truncations = 0
        self._cleaned_upto = 0  # the last compaction pass covered offsets below this
        self._offline_reason: str | None = None
        self._closed = False
        self._closing = False  # tells a running compaction pass to stop
        self.last_recovery: RecoveryReport | None = None
        # Told about every I/O failure (what failed), from whichever thread hit it: the
        # node reports a failing disk to the controller even when the log stays online.
        self.on_io_error: Callable[[str], None] | None = None

    # ================================================================== open / recovery

    @classmethod
    def open(
        cls, directory: str, config: LogConfig | None = None, now_ms: int = 0
    ) -> PartitionLog:
        """Open (creating if needed) the log in `directory`, recovering it first."""
        del now_ms  # recovery needs no clock; kept for symmetry with the other calls
        config = config or LogConfig()
        os.makedirs(directory, exist_ok=True)
        lock_fd = _lock_directory(directory)
        log = cls(directory, config, lock_fd)
        try:
            log._recover()
        except BaseException:
            log._release_files()
            raise
        return log

    def _recover(self) -> None:
        directory = self.directory
        marker = os.path.join(directory, CLEAN_SHUTDOWN_MARKER)
        clean = os.path.exists(marker)
        cleaner.recover_interrupted(directory)
        bases, leftovers = _scan_directory(directory)
        for path in leftovers:
            os.remove(path)

        checkpointed_start = read_offset_checkpoint(self._path(LOG_START_CHECKPOINT))
        recovery_point = read_offset_checkpoint(self._path(RECOVERY_POINT_CHECKPOINT)) or 0
        interval = self._config.index_interval_bytes
        recovered = truncated = deleted = 0
        for i, base in enumerate(bases):
            upper = bases[i + 1] if i + 1 < len(bases) else None
            segment = Segment.open_existing(directory, base, interval)
            self._segments.append(segment)
            trusted = clean or (upper is not None and upper <= recovery_point)
            if trusted and segment.load_trusted(upper):
                segment.dirty = False
            else:
                recovered += 1
                cut = segment.recover(upper)
                truncated += cut
                if cut and upper is not None:
                    # Corruption before the last segment: what follows cannot be trusted
                    # to be contiguous with it; replication refetches it.
                    for later in bases[i + 1 :]:
                        Segment(directory, later, interval, "").delete_files()
                        deleted += 1
                    break
        if not self._segments:
            self._segments.append(Segment.create(directory, checkpointed_start or 0, interval))
            self._directory_dirty = True
        self._bases = [s.base_offset for s in self._segments]

        self._log_start = max(self._segments[0].base_offset, checkpointed_start or 0)
        if self._log_start > self.log_end_offset:
            self._truncate_fully(self._log_start)
        deleted += self._delete_below_log_start()

        epochs = LeaderEpochCache.load(self._epochs.path)
        rebuilt = epochs is None and self.log_end_offset > self._segments[0].base_offset
        if epochs is None:
            epochs = LeaderEpochCache(self._epochs.path)
            if rebuilt:
                self._rebuild_epoch_cache(epochs)
        self._epochs = epochs
        changed = self._epochs.truncate_from_end(self.log_end_offset, persist=False)
        changed = self._epochs.truncate_from_start(self._log_start, persist=False) or changed
        if rebuilt or changed:
            self._persist_epochs()

        self._recovery_point_on_disk = recovery_point
        self._recovery_point = min(recovery_point, self.log_end_offset)
        if clean:
            os.remove(marker)
            fsync_directory(directory)  # a crash from now on must not look clean
        self.last_recovery = RecoveryReport(
            clean_shutdown=clean,
            segments_loaded=len(self._segments),
            segments_recovered=recovered,
            bytes_truncated=truncated,
            segments_deleted=deleted,
            epoch_cache_rebuilt=rebuilt,
        )

    def _rebuild_epoch_cache(self, epochs: LeaderEpochCache) -> None:
        """The checkpoint is gone: every batch carries its leader epoch, so replay them."""
        for segment in self._segments:
            for _, header in segment.iter_headers(0):
                if header.leader_epoch > epochs.latest_epoch:
                    epochs.assign(header.leader_epoch, header.base_offset, persist=False)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    # ================================================================== properties

    @property
    def config(self) -> LogConfig:
        return self._config

    @property
    def log_start_offset(self) -> int:
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        """The offset the next appended record will get."""
        return self._segments[-1].next_offset

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(segment.size for segment in self._segments)

    @property
    def latest_epoch(self) -> int:
        return self._epochs.latest_epoch

    @property
    def epoch_entries(self) -> list[tuple[int, int]]:
        with self._lock:
            return self._epochs.entries

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def offline_reason(self) -> str | None:
        """Why the log refuses every operation until reopened, or None while it is online."""
        return self._offline_reason

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def segment_base_offsets(self) -> list[int]:
        with self._lock:
            return list(self._bases)

    def update_config(self, config: LogConfig) -> None:
        """Apply a changed topic config (takes effect for new appends and passes)."""
        with self._lock:
            self._config = config
            self._segments[-1].index_interval = config.index_interval_bytes

    # ================================================================== appends

    def append_as_leader(self, batch: bytes, leader_epoch: int, now_ms: int) -> AppendInfo:
        """Validate a producer's batch, give it the next offsets and `leader_epoch`, append.

        The body is decoded once to validate it, never re-encoded: the 16
        bytes holding baseOffset and the leader epoch are written in front of
        the rest of the producer's bytes (`writev`).
        """
        with self._lock:
            self._check_usable()
            limit = self._config.max_message_bytes
            if len(batch) > limit:
                raise MessageTooLargeError(len(batch), limit)
            header = validate_produced_batch(
                batch, max_batch_bytes=limit, require_keys=self._config.compact
            )
            latest = self._epochs.latest_epoch
            if leader_epoch < latest:
                raise StaleLeaderEpochError(leader_epoch, latest)
            base_offset = self.log_end_offset
            segment = self._segment_for(header, base_offset)
            if leader_epoch > latest:
                self._epochs.assign(leader_epoch, base_offset, persist=False)
                self._persist_epochs()
            last_offset = base_offset + header.last_offset_delta
            chunks = (stamped_prefix(header, base_offset, leader_epoch), memoryview(batch)[16:])
            position = self._write(segment, chunks, header.size)
            segment.index_batch(
                position, base_offset, last_offset, header.max_timestamp, header.size
            )
            return AppendInfo(
                base_offset,
                last_offset,
                header.record_count,
                header.max_timestamp,
                header.size,
                leader_epoch,
                header.producer_id,
                header.producer_epoch,
                header.base_sequence,
                now_ms,
            )

    def append_as_follower(self, batches: bytes | memoryview, now_ms: int | None = None) -> int:
        """Append batches that already carry offsets and epochs (a fetch response).

        Every batch is validated (CRC) before anything is written. The first
        batch must start at or after the log end offset and offsets must
        increase (a compacted leader log has gaps between batches). A trailing
        partial batch is ignored. Returns the new log end offset.
        """
        del now_ms  # segments roll on record timestamps, like the leader's
        with self._lock:
            self._check_usable()
            view = memoryview(batches)
            parsed = list(iter_batches(view, verify=True))
            expected = self.log_end_offset
            for header, _ in parsed:
                if header.base_offset < expected:
                    raise InvalidRecordError(
                        f"follower append out of order: batch at offset {header.base_offset} "
                        f"but the log continues at {expected}"
                    )
                expected = header.base_offset + header.last_offset_delta + 1
            position = 0
            start = 0
            while start < len(parsed):
                end, segment = self._follower_run(parsed, start)
                run_size = sum(parsed[k].header.size for k in range(start, end))
                self._assign_epochs_from(parsed[k].header for k in range(start, end))
                written_at = self._write(segment, (view[position : position + run_size],), run_size)
                for k in range(start, end):
                    header = parsed[k].header
                    segment.index_batch(
                        written_at,
                        header.base_offset,
                        header.base_offset + header.last_offset_delta,
                        header.max_timestamp,
                        header.size,
                    )
                    written_at += header.size
                position += run_size
                start = end
            return self.log_end_offset

    def _write(self, segment: Segment, chunks: tuple[bytes | memoryview, ...], size: int) -> int:
        """Append to the data file. A failure the segment undid (disk full) fails this
        append only; one it could not undo leaves the file in an unknown state: offline."""
        try:
            return segment.append(chunks, size)
        except LogStorageError as exc:
            # Nothing was written: forget an epoch that was assigned for this data, so
            # the cache never names data that is not there.
            if self._epochs.truncate_from_end(self.log_end_offset, persist=False):
                self._persist_epochs()
            self._io_failed(exc.message)
            raise
        except OSError as exc:
            raise self._go_offline(f"append to {segment.log_path} failed and could not be undone: {exc}") from exc

    def _follower_run(self, parsed: list[BatchView], start: int) -> tuple[int, Segment]:
        """The longest run of batches from `start` that can go into one segment."""
        first = parsed[start].header
        segment = self._segment_for(first, first.base_offset)
        config = self._config
        size = segment.size + first.size
        rolling = segment.rolling_timestamp if segment.size else first.max_timestamp
        end = start + 1
        while end < len(parsed):
            header = parsed[end].header
            if (
                size + header.size > config.segment_bytes
                or header.base_offset + header.last_offset_delta - segment.base_offset
                > MAX_RELATIVE_OFFSET
                or (rolling is not None and header.max_timestamp - rolling > config.segment_ms)
            ):
                break
            size += header.size
            end += 1
        return end, segment

    def _assign_epochs_from(self, headers: Iterable[BatchHeader]) -> None:
        changed = False
        for header in headers:
            if header.leader_epoch >= 0 and header.leader_epoch > self._epochs.latest_epoch:
                self._epochs.assign(header.leader_epoch, header.base_offset, persist=False)
                changed = True
        if changed:
            self._persist_epochs()

    def _segment_for(self, header: BatchHeader, base_offset: int) -> Segment:
        """The active segment, rolled first if the batch does not belong in it."""
        active = self._segments[-1]
        config = self._config
        if active.fits(header, base_offset, config.segment_bytes, config.segment_ms):
            return active
        return self._roll(base_offset)

    def _roll(self, base_offset: int) -> Segment:
        """Start a segment at `base_offset`. Raises LogStorageError, with the log unchanged
        and usable, if the disk refuses the new files."""
        active = self._segments[-1]
        try:
            active.seal()
        except OSError as exc:
            # Index entries are derived from the log: they stay in memory, flush writes them.
            active.dirty = True
            self._io_failed(f"cannot write the indexes of segment {active.base_offset}: {exc}")
        try:
            segment = Segment.create(self.directory, base_offset, self._config.index_interval_bytes)
        except LogStorageError as exc:
            self._io_failed(exc.message)
            raise
        self._segments.append(segment)
        self._bases.append(base_offset)
        self._directory_dirty = True
        return segment

    # ================================================================== reads

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> bytes:
        """Whole batches starting with the one that holds `offset`.

        Never returns a batch reaching `max_offset` (exclusive; pass the high
        watermark for consumers) and returns at least one batch even if it
        is larger than `max_bytes`. The first batch may start before `offset`;
        the consumer skips those records. Reads stay within one segment.
        Raises OffsetOutOfRangeError outside [log_start_offset, log_end_offset].
        """
        with self._lock:
            self._check_usable()
            end = self.log_end_offset
            if offset < self._log_start or offset > end:
                raise OffsetOutOfRangeError(offset, self._log_start, end)
            limit = end if max_offset is None else min(max_offset, end)
            if offset >= limit:
                return b""
            i = bisect.bisect_right(self._bases, offset) - 1
            try:
                while i < len(self._segments):
                    data = self._segments[i].read(offset, max_bytes, limit)
                    if data is not None:
                        return data
                    i += 1  # nothing left in this segment (e.g. compacted away)
            except OSError as exc:
                raise self._go_offline(f"read failed: {exc}") from exc
            return b""

    def offset_for_timestamp(self, timestamp: int) -> int | None:
        """The first offset (>= log start) whose record timestamp is >= `timestamp`."""
        with self._lock:
            self._check_usable()
            for segment in self._segments:
                if segment.max_timestamp < timestamp or segment.next_offset <= self._log_start:
                    continue
                found = _offset_for_timestamp(segment, timestamp, self._log_start)
                if found is not None:
                    return found
            return None

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """KIP-101 OffsetForLeaderEpoch: (largest epoch <= `epoch`, its end offset);
        (-1, -1) if `epoch` is newer than any this log knows."""
        with self._lock:
            return self._epochs.end_offset_for(epoch, self.log_end_offset)

    # ================================================================== truncation

    def truncate_to(self, offset: int) -> int:
        """Drop every record at or after `offset` (follower divergence repair).

        Batches are never split: if `offset` falls inside a batch, that whole
        batch goes and the log ends at its base offset. Returns the new log
        end offset. Durable before returning (fsync), so divergent records
        cannot reappear after a crash.
        """
        with self._lock:
            self._check_usable()
            if offset >= self.log_end_offset:
                return self.log_end_offset
            if offset < self._log_start:
                self._truncate_fully(offset)
                return offset
            return self._guard_io(lambda: self._truncate_to(offset))

    def _truncate_to(self, offset: int) -> int:
        i = bisect.bisect_right(self._bases, offset) - 1
        removed = self._segments[i + 1 :]
        del self._segments[i + 1 :]
        del self._bases[i + 1 :]
        for segment in removed:
            self._retire(segment)
        target = self._segments[-1]
        found = target.find_batch(offset)
        # Never below the log start: if the cut batch straddles it, the log
        # resumes at the log start (an empty segment there keeps that offset).
        new_end = offset if found is None else max(min(offset, found[1].base_offset), self._log_start)
        target.truncate_to(offset)
        try:
            target.write_pending_indexes()
        except OSError as exc:  # derived entries: flush writes them later
            target.dirty = True
            self._io_failed(f"cannot write the indexes of segment {target.base_offset}: {exc}")
        for fd in target.sync_handles():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        rolled = target.next_offset < new_end
        if rolled:
            # The cut fell in a gap left by compaction (or below the log start):
            # an empty segment at new_end keeps the log end offset across restarts.
            try:
                self._roll(new_end)
            except LogStorageError as exc:
                raise self._go_offline(f"truncation could not start a segment at {new_end}: {exc.message}") from exc
        if removed or rolled:
            fsync_directory(self.directory)
        self._truncations += 1
        self._cleaned_upto = min(self._cleaned_upto, new_end)
        if self._epochs.truncate_from_end(new_end, persist=False):
            self._persist_epochs()
        self._lower_recovery_point(new_end)
        return new_end

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete everything; the log restarts empty at `offset` (log start = end = offset)."""
        if offset < 0:
            raise ValueError(f"cannot start a log at negative offset {offset}")
        with self._lock:
            self._check_usable()
            self._guard_io(lambda: self._truncate_fully(offset))

    def _truncate_fully(self, offset: int) -> None:
        for segment in self._segments:
            self._retire(segment)
        try:
            segment = Segment.create(self.directory, offset, self._config.index_interval_bytes)
        except LogStorageError as exc:
            raise self._go_offline(f"no segment left after a full truncation: {exc.message}") from exc
        self._segments = [segment]
        self._bases = [offset]
        self._log_start = offset
        self._truncations += 1
        self._cleaned_upto = 0
        self._epochs.clear(persist=False)
        self._persist_epochs()
        # A stale (lower) log start is harmless: recovery starts at the first segment's base.
        self._persist_log_start()
        self._lower_recovery_point(offset)
        fsync_directory(self.directory)

    def _retire(self, segment: Segment) -> None:
        segment.retired = True
        segment.close()
        segment.delete_files()

    def _lower_recovery_point(self, offset: int) -> None:
        if self._recovery_point > offset:
            self._recovery_point = offset
            self._persist_recovery_point()

    # ================================================================== retention

    def advance_log_start_offset(self, offset: int) -> bool:
        """Move the log start offset up (records below become unreadable and their
        segments deletable by `enforce_retention`). Returns whether it moved."""
        with self._lock:
            self._check_usable()
            if offset <= self._log_start:
                return False
            if offset > self.log_end_offset:
                raise OffsetOutOfRangeError(offset, self._log_start, self.log_end_offset)
            self._log_start = offset
            self._log_start_moved()
            return True

    def _log_start_moved(self) -> None:
        self._persist_log_start()
        if self._epochs.truncate_from_start(self._log_start, persist=False):
            self._persist_epochs()

    def enforce_retention(self, now_ms: int, high_watermark: int) -> int:
        """Delete whole segments past retention.ms or retention.bytes (cleanup.policy
        delete), and segments wholly below the log start offset.

        Never the active segment, never a segment holding offsets at or above
        `high_watermark`; deletion is always a prefix of the log. Advances the
        log start offset. Returns the number of segments deleted.
        """
        with self._lock:
            self._check_usable()
            count = self._retention_prefix(now_ms, high_watermark)
            if not count:
                return 0
            doomed = self._segments[:count]
            del self._segments[:count]
            del self._bases[:count]
            try:
                for segment in doomed:
                    segment.retired = True
                    segment.close()
                    segment.rename(DELETED_SUFFIX)
            except OSError as exc:
                raise self._go_offline(f"retention could not remove a segment: {exc}") from exc
            if self._segments[0].base_offset > self._log_start:
                self._log_start = self._segments[0].base_offset
                self._log_start_moved()
        for segment in doomed:  # the slow part (freeing the blocks) without the lock
            segment.delete_files()
        return count

    def _retention_prefix(self, now_ms: int, high_watermark: int) -> int:
        config = self._config
        segments = self._segments
        excess = (
            sum(s.size for s in segments) - config.retention_bytes
            if config.delete and config.retention_bytes >= 0
            else -1
        )
        count = 0
        while count < len(segments) - 1:  # never the active segment
            segment = segments[count]
            upper = segments[count + 1].base_offset
            if upper > high_watermark:
                break
            below_start = upper <= self._log_start
            expired = (
                config.delete
                and config.retention_ms >= 0
                and now_ms - segment.max_timestamp > config.retention_ms
            )
            oversize = excess >= segment.size
            if not (below_start or expired or oversize):
                break
            excess -= segment.size
            count += 1
        return count

    def _delete_below_log_start(self) -> int:
        deleted = 0
        while len(self._segments) > 1 and self._segments[1].base_offset <= self._log_start:
            self._retire(self._segments.pop(0))
            self._bases.pop(0)
            deleted += 1
        return deleted

    # ================================================================== compaction

    def compact(self, now_ms: int, high_watermark: int) -> CompactionStats:
        """One compaction pass (cleanup.policy contains "compact"); see cleaner.py.

        Safe to run in a worker thread while the loop thread appends and reads.
        Returns stats with `aborted` set if a retention or truncation changed a
        source segment meanwhile (nothing is lost; the next pass retries), or if
        another pass is already running.
        """
        if not self._config.compact:
            return CompactionStats()
        if not self._compaction_lock.acquire(blocking=False):
            return CompactionStats(aborted=True)
        try:
            with self._lock:
                self._check_usable()
                sources = self._compaction_sources(now_ms, high_watermark)
            if not sources:
                return CompactionStats()
            try:
                groups, stats = cleaner.clean(
                    self.directory, sources, self._config, now_ms, lambda: self._closing
                )
            except cleaner.CompactionCancelled:
                return CompactionStats(aborted=True)
            finally:
                for source in sources:
                    os.close(source.fd)
            replaced: list[Segment] = []
            with self._lock:
                changed = any(
                    s.segment.retired or s.segment.mutations != s.mutations
                    for g in groups
                    for s in g.sources
                )
                if changed or self._offline_reason is not None or self._closed:
                    cleaner.discard(groups)
                    stats.aborted = True
                    return stats
                replaced = self._guard_io(lambda: cleaner.commit_swap(self.directory, groups))
                for group in groups:
                    i = self._segments.index(group.sources[0].segment)
                    self._segments[i : i + len(group.sources)] = [group.output]
                self._bases = [s.base_offset for s in self._segments]
                for segment in replaced:
                    segment.retired = True
                self._cleaned_upto = max(self._cleaned_upto, stats.end_offset)
            for segment in replaced:
                segment.delete_files()
            return stats
        finally:
            self._compaction_lock.release()

    def compaction_dirty_ratio(self, high_watermark: int) -> float:
        """Share of the cleanable bytes (sealed, below the high watermark) not yet
        covered by a compaction pass since this log was opened."""
        clean = dirty = 0
        with self._lock:
            for i, segment in enumerate(self._segments[:-1]):
                upper = self._segments[i + 1].base_offset
                if upper > high_watermark:
                    break
                if upper <= self._cleaned_upto:
                    clean += segment.size
                else:
                    dirty += segment.size
        return dirty / (clean + dirty) if dirty else 0.0

    def needs_compaction(self, high_watermark: int) -> bool:
        """Whether a `compact` pass is due (min.cleanable.dirty.ratio, as in Kafka)."""
        if not self._config.compact:
            return False
        ratio = self.compaction_dirty_ratio(high_watermark)
        return ratio > 0 and ratio >= self._config.min_cleanable_dirty_ratio

    def _compaction_sources(self, now_ms: int, high_watermark: int) -> list[SourceSegment]:
        lag = self._config.min_compaction_lag_ms
        sources: list[SourceSegment] = []
        for i, segment in enumerate(self._segments[:-1]):
            upper = self._segments[i + 1].base_offset
            if upper > high_watermark or (lag > 0 and segment.max_timestamp > now_ms - lag):
                break
            fd = os.open(segment.log_path, os.O_RDONLY)
            sources.append(SourceSegment(segment, fd, segment.size, upper, segment.mutations))
        return sources

    # ================================================================== flush / close

    def flush(self) -> None:
        """fsync everything appended so far and advance the recovery point.

        Meant for a worker thread: the lock is held only to collect the files.

        A failure to write a derived or atomically replaced file (index entries,
        checkpoints, the directory) leaves nothing in an unknown state: the log
        stays online, the next flush retries what failed, and this one raises
        LogStorageError after doing the rest. Only a failed fsync of a segment's
        log file takes the log offline: the kernel may have dropped its pages, so
        what the file holds is unknown.
        """
        with self._flush_lock:
            failures: list[str] = []  # retried next time; the log stays online
            with self._lock:
                self._check_usable()
                if self._epochs_stale and not self._persist_epochs():
                    failures.append(f"cannot write {LEADER_EPOCH_CHECKPOINT}")
                if self._log_start_stale and not self._persist_log_start():
                    failures.append(f"cannot write {LOG_START_CHECKPOINT}")
                target = self.log_end_offset
                truncations = self._truncations
                sync_directory = self._directory_dirty
                self._directory_dirty = False
                synced: list[tuple[Segment, list[int]]] = []
                for segment in self._segments:
                    if not segment.dirty:
                        continue
                    indexes_written = True
                    try:
                        segment.write_pending_indexes()
                    except OSError as exc:
                        indexes_written = False
                        failures.append(f"cannot write the indexes of segment {segment.base_offset}: {exc}")
                    try:
                        handles = segment.sync_handles()
                    except OSError as exc:  # e.g. out of descriptors: nothing was synced, retry it all
                        for done, done_handles in synced:
                            done.dirty = True
                            _close_all(done_handles)
                        self._directory_dirty = self._directory_dirty or sync_directory
                        raise self._flush_incomplete([f"cannot open segment {segment.base_offset}: {exc}"]) from exc
                    segment.dirty = not indexes_written
                    synced.append((segment, handles))
            # fsync without the lock: appends and reads go on meanwhile.
            unsynced_indexes: list[Segment] = []
            directory_synced = True
            try:
                for segment, handles in synced:
                    try:
                        os.fsync(handles[0])
                    except OSError as exc:
                        raise self._go_offline(f"fsync of {segment.log_path} failed: {exc}") from exc
                    try:
                        for fd in handles[1:]:
                            os.fsync(fd)
                    except OSError as exc:
                        unsynced_indexes.append(segment)
                        failures.append(f"fsync of the indexes of segment {segment.base_offset} failed: {exc}")
                if sync_directory:
                    try:
                        fsync_directory(self.directory)
                    except OSError as exc:
                        directory_synced = False
                        failures.append(f"fsync of the directory failed: {exc}")
            finally:
                for _, handles in synced:
                    _close_all(handles)
            with self._lock:
                for segment in unsynced_indexes:
                    segment.rewrite_indexes_later()
                if not directory_synced:
                    self._directory_dirty = True
                # Claim nothing if a truncation meanwhile may have replaced synced data, or
                # if some file below the target is not durable yet (the next flush will be).
                advance = (
                    not failures and self._truncations == truncations and target > self._recovery_point
                )
                if advance:
                    self._recovery_point = min(target, self.log_end_offset)
                persist = advance or self._recovery_point_stale
            if persist and not self._persist_recovery_point():
                failures.append(f"cannot write {RECOVERY_POINT_CHECKPOINT}")
            if failures:
                raise self._flush_incomplete(failures)

    def _flush_incomplete(self, failures: list[str]) -> LogStorageError:
        reason = "; ".join(failures)
        self._io_failed(f"flush: {reason}")
        return LogStorageError(
            f"flush of log {self.directory} incomplete (the log stays online; the next flush retries): {reason}"
        )

    def close(self) -> None:
        """Flush, mark the shutdown clean (the next open skips the full scan), release.

        A compaction pass running in another thread is stopped first (it notices
        within one batch and leaves nothing behind). If the disk refuses the
        flush, the log is still closed, unmarked: the next open validates it.
        """
        self._closing = True
        with self._compaction_lock:  # waits for a running pass to stop
            pass
        with self._lock:
            if self._closed:
                return
        try:
            if self._offline_reason is None:
                with self._lock:
                    self._segments[-1].seal()  # completes the time index
                self.flush()
                with self._lock:
                    write_file_atomically(self._path(CLEAN_SHUTDOWN_MARKER), b"")
        except OSError as exc:
            raise LogStorageError(f"log {self.directory} closed without a clean shutdown: {exc}") from exc
        finally:
            with self._lock:
                self._release_files()  # without the marker, the next open runs recovery

    def _release_files(self) -> None:
        self._closed = True
        for segment in self._segments:
            segment.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    # ================================================================== checkpoints

    def _persist_epochs(self) -> bool:
        """Rewrite the leader-epoch checkpoint (under the lock); False if the disk refused.

        Then the file is removed instead: a stale one could name epochs the log does
        not hold or miss one it does, while a missing one makes recovery rebuild it
        from the batch headers, which carry every epoch. Flush retries the write.
        """
        try:
            self._epochs.persist()
        except OSError as exc:
            self._epochs_stale = True
            self._remove_stale_checkpoint(self._epochs.path, exc)
            return False
        self._epochs_stale = False
        return True

    def _persist_log_start(self) -> bool:
        """Rewrite the log-start checkpoint (under the lock); False if the disk refused.

        The old file stays: a lower log start only keeps records that are already
        below the new one readable after a crash, until the next retention pass.
        """
        try:
            write_offset_checkpoint(self._path(LOG_START_CHECKPOINT), self._log_start)
        except OSError as exc:
            self._log_start_stale = True
            self._io_failed(f"cannot write {LOG_START_CHECKPOINT}: {exc}")
            return False
        self._log_start_stale = False
        return True

    def _persist_recovery_point(self) -> bool:
        """Rewrite the recovery-point checkpoint; False if the disk refused.

        A stale lower value only makes recovery check more; a stale higher one
        (the point was lowered by a truncation) would trust segments that were
        never synced, so then the file is removed: recovery checks every segment.
        """
        with self._checkpoint_lock:
            # Read the value under the file lock so the last write is the newest.
            value = self._recovery_point
            path = self._path(RECOVERY_POINT_CHECKPOINT)
            try:
                write_offset_checkpoint(path, value)
            except OSError as exc:
                self._recovery_point_stale = True
                if value < self._recovery_point_on_disk:
                    self._recovery_point_on_disk = 0
                    self._remove_stale_checkpoint(path, exc)
                else:
                    self._io_failed(f"cannot write {RECOVERY_POINT_CHECKPOINT}: {exc}")
                return False
            self._recovery_point_on_disk = value
            self._recovery_point_stale = False
            return True

    def _remove_stale_checkpoint(self, path: str, exc: OSError) -> None:
        self._io_failed(f"cannot write {os.path.basename(path)} ({exc}); removed it")
        try:
            try:
                os.remove(path)
            except FileNotFoundError:
                return
            fsync_directory(self.directory)
        except OSError as remove_exc:
            raise self._go_offline(
                f"cannot write {os.path.basename(path)} ({exc}) nor remove the stale one ({remove_exc})"
            ) from remove_exc

    # ================================================================== errors

    def _check_usable(self) -> None:
        if self._closed:
            raise LogStorageError(f"log {self.directory} is closed")
        if self._offline_reason is not None:
            raise LogStorageError(f"log {self.directory} is offline: {self._offline_reason}")

    def _io_failed(self, reason: str) -> None:
        callback = self.on_io_error
        if callback is not None:
            callback(f"log {self.directory}: {reason}")

    def _go_offline(self, reason: str) -> LogStorageError:
        """After an I/O error that leaves a data file in an unknown state, refuse further
        use until the log is reopened (recovery will sort the files out)."""
        self._offline_reason = reason
        self._io_failed(f"taken offline: {reason}")
        return LogStorageError(f"log {self.directory} taken offline: {reason}")

    def _guard_io(self, action: Callable[[], T]) -> T:
        """Run a file operation; a raw OSError means the state on disk is unknown."""
        try:
            return action()
        except OSError as exc:
            raise self._go_offline(str(exc)) from exc


# ====================================================================== helpers


def _lock_directory(directory: str) -> int:
    fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise LogStorageError(f"log directory {directory} is already open") from None
        raise LogStorageError(f"cannot lock log directory {directory}: {exc}") from exc
    return fd


def _scan_directory(directory: str) -> tuple[list[int], list[str]]:
    """Base offsets of the segments, and files to remove (temp, deleted, orphan indexes)."""
    names = os.listdir(directory)
    bases = sorted(b for b in (parse_segment_file_name(n) for n in names) if b is not None)
    known = set(bases)
    leftovers = []
    for name in names:
        if name.endswith((TMP_SUFFIX, DELETED_SUFFIX)):
            leftovers.append(os.path.join(directory, name))
            continue
        for suffix in (INDEX_SUFFIX, TIMEINDEX_SUFFIX):
            base = parse_segment_file_name(name, suffix)
            if base is not None and base not in known:
                leftovers.append(os.path.join(directory, name))
    return bases, leftovers


def _offset_for_timestamp(segment: Segment, timestamp: int, min_offset: int) -> int | None:
    entry = segment.time_index.last_entry_before(timestamp)
    start_offset = max(min_offset, entry[1] + 1 if entry else segment.base_offset)
    found = segment.find_batch(start_offset)
    if found is None:
        return None
    for position, header in segment.iter_headers(found[0]):
        if header.max_timestamp < timestamp:
            continue
        for record in decode_records(segment.read_bytes(position, header.size)):
            if record.offset >= start_offset and record.timestamp >= timestamp:
                return record.offset
    return None


def _close_all(handles: list[int]) -> None:
    for fd in handles:
        try:
            os.close(fd)
        except OSError:
            pass

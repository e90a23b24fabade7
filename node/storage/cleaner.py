"""Log compaction (cleanup.policy=compact): keep the latest record of every key.

How one pass works (Kafka's log cleaner, simplified):

1. The log picks the *cleanable* segments: a prefix of the sealed segments,
   entirely below the high watermark and older than min.compaction.lag.ms.
   These never change under us except by retention or truncation, which the
   swap detects (see step 4). The cleaner reads them through its own file
   descriptors, so it runs in a worker thread while appends and reads go on.
2. Map pass: read every record of those segments and remember, per key, the
   offset of its last occurrence (at most MAX_COMPACTION_MAP_KEYS keys; a pass
   that would need more covers fewer segments and the next pass continues).
3. Copy pass: consecutive segments are grouped (up to segment.bytes) and each
   group is rewritten into one `<base>.log.cleaned` (+ indexes) keeping a
   record iff it is the last of its key, or has no key; a tombstone (value
   None) that is the last of its key is kept until its timestamp is older
   than delete.retention.ms, so consumers that were behind still see the
   delete. A batch whose records all survive is copied byte for byte; a
   thinned batch is re-encoded with the same base offset and lastOffsetDelta
   (offsets of kept records never change); an emptied batch is dropped.
   The output is fsynced.
4. Swap (under the log's lock, so readers and appenders never see a half
   swapped log): check that no source segment was deleted or truncated
   meanwhile (else discard the output), then write the manifest
   `cleaner-swap.json` naming every group (fsync), rename the sources to
   `.deleted`, rename the outputs to their final names (indexes first, log
   last), fsync the directory, delete the manifest, fsync the directory.

Crash safety: before the manifest exists, recovery deletes `.cleaned` files
(the old segments are untouched). Once it exists, the outputs are complete and
durable, so recovery rolls forward: for each group whose `<base>.log.cleaned`
still exists, it deletes the sources and renames the outputs, then deletes
the manifest. Either way no record is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cluster.limits import MAX_COMPACTION_MAP_KEYS
from node.storage.batch import Record, decode_records, encode_retained, parse_header
from node.storage.checkpoint import fsync_directory, write_file_atomically
from node.storage.config import LogConfig
from node.storage.errors import CorruptBatchError, LogStorageError
from node.storage.index import MAX_RELATIVE_OFFSET
from node.storage.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    FILE_SUFFIXES,
    LOG_SUFFIX,
    Segment,
    scan_batches,
    segment_file_name,
)

MANIFEST_NAME = "cleaner-swap.json"
_MANIFEST_VERSION = 0


@dataclass
class CompactionStats:
    segments_cleaned: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    records_before: int = 0
    records_after: int = 0
    tombstones_removed: int = 0
    batches_rewritten: int = 0  # thinned and re-encoded
    batches_removed: int = 0  # emptied entirely
    end_offset: int = -1  # the pass covered offsets below this
    aborted: bool = False  # a source segment changed during the pass; nothing was swapped


@dataclass
class SourceSegment:
    segment: Segment  # the live segment (identity and mutation count checked at swap)
    fd: int  # the cleaner's own read-only descriptor
    size: int
    upper_offset: int  # the next segment's base offset
    mutations: int

    @property
    def base_offset(self) -> int:
        return self.segment.base_offset


@dataclass
class CleanedGroup:
    sources: list[SourceSegment]
    output: Segment  # files carry CLEANED_SUFFIX until swapped in


@dataclass
class _Pass:
    config: LogConfig
    tombstone_horizon: int  # tombstones with timestamp <= this are removed
    should_stop: Callable[[], bool]  # polled between batches (the log is closing)
    latest_offsets: dict[bytes, int] = field(default_factory=dict)
    stats: CompactionStats = field(default_factory=CompactionStats)


class CompactionCancelled(Exception):
    """The pass was stopped (the log is closing); nothing was swapped in."""


def clean(
    directory: str,
    sources: list[SourceSegment],
    config: LogConfig,
    now_ms: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[list[CleanedGroup], CompactionStats]:
    """Steps 2 and 3: returns the fsynced outputs (not yet swapped in) and stats.

    Raises CompactionCancelled (after removing its output) if `should_stop()`
    turns true.
    """
    work = _Pass(config, now_ms - config.delete_retention_ms, should_stop)
    covered = _build_key_map(sources, work)
    groups: list[CleanedGroup] = []
    try:
        for group in _group(sources[:covered], config.segment_bytes):
            groups.append(CleanedGroup(group, _copy_group(directory, group, work)))
    except BaseException:
        discard(groups)
        raise
    work.stats.segments_cleaned = covered
    work.stats.end_offset = sources[covered - 1].upper_offset if covered else -1
    return groups, work.stats


def _records(source: SourceSegment, work: _Pass) -> Iterator[tuple[memoryview, list[Record]]]:
    """Each batch of a source segment with its records, streamed (segments are big)."""
    try:
        for _, _, data in scan_batches(source.fd, 0, source.size, verify=True):
            if work.should_stop():
                raise CompactionCancelled()
            yield data, decode_records(data, verify_crc=False)
    except CorruptBatchError as exc:
        raise LogStorageError(
            f"compaction found a corrupt batch in {source.segment.log_path}: {exc}"
        ) from exc


def _build_key_map(sources: list[SourceSegment], work: _Pass) -> int:
    """Fill work.latest_offsets; returns how many leading sources it covers."""
    latest = work.latest_offsets
    covered = 0
    for source in sources:
        if covered and len(latest) >= MAX_COMPACTION_MAP_KEYS:
            break  # the next pass picks up from here
        for _, records in _records(source, work):
            for record in records:
                if record.key is not None:
                    latest[record.key] = record.offset
        covered += 1
    return covered


def _group(sources: list[SourceSegment], segment_bytes: int) -> list[list[SourceSegment]]:
    """Merge consecutive small segments so compaction does not leave many tiny files."""
    groups: list[list[SourceSegment]] = []
    for source in sources:
        if groups:
            current = groups[-1]
            total = sum(s.size for s in current) + source.size
            span = source.upper_offset - current[0].base_offset
            if total <= segment_bytes and span <= MAX_RELATIVE_OFFSET + 1:
                current.append(source)
                continue
        groups.append([source])
    return groups


def _copy_group(directory: str, group: list[SourceSegment], work: _Pass) -> Segment:
    base = group[0].base_offset
    _remove_cleaned_files(directory, base)  # a stale output of an interrupted pass
    output = Segment.create(directory, base, work.config.index_interval_bytes, CLEANED_SUFFIX)
    try:
        for source in group:
            _copy_segment(source, output, work)
        output.seal()
        for fd in output.sync_handles():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        output.dirty = False
    except BaseException:
        output.close()
        output.delete_files()
        raise
    return output


def _copy_segment(source: SourceSegment, output: Segment, work: _Pass) -> None:
    stats = work.stats
    latest = work.latest_offsets
    horizon = work.tombstone_horizon
    stats.bytes_before += source.size
    for data, records in _records(source, work):
        header = parse_header(data)
        kept: list[Record] = []
        for record in records:
            key = record.key
            if key is not None:
                if latest.get(key) != record.offset:
                    continue  # a later record has this key
                if record.value is None and record.timestamp <= horizon:
                    stats.tombstones_removed += 1
                    continue
            kept.append(record)
        stats.records_before += len(records)
        stats.records_after += len(kept)
        if not kept:
            stats.batches_removed += 1
            continue
        if len(kept) == len(records):
            out: bytes | memoryview = data
            out_header = header
        else:
            out = encode_retained(header, kept)
            out_header = parse_header(out)
            stats.batches_rewritten += 1
        position = output.append((out,), out_header.size)
        output.index_batch(
            position,
            out_header.base_offset,
            out_header.base_offset + out_header.last_offset_delta,
            out_header.max_timestamp,
            out_header.size,
        )
        stats.bytes_after += out_header.size


def discard(groups: list[CleanedGroup]) -> None:
    for group in groups:
        group.output.close()
        group.output.delete_files()


def commit_swap(directory: str, groups: list[CleanedGroup]) -> list[Segment]:
    """Step 4, called with the log's lock held. Returns the replaced segments,
    closed and renamed to `.deleted` (the caller unlinks them after the lock)."""
    manifest = {
        "version": _MANIFEST_VERSION,
        "groups": [
            {"output": g.output.base_offset, "sources": [s.base_offset for s in g.sources]}
            for g in groups
        ],
    }
    manifest_path = os.path.join(directory, MANIFEST_NAME)
    write_file_atomically(manifest_path, json.dumps(manifest).encode())
    replaced: list[Segment] = []
    for group in groups:
        for source in group.sources:
            source.segment.close()
            source.segment.rename(DELETED_SUFFIX)
            replaced.append(source.segment)
        group.output.rename("")
    fsync_directory(directory)
    os.remove(manifest_path)
    fsync_directory(directory)
    return replaced


def recover_interrupted(directory: str) -> None:
    """Finish or undo a pass that a crash interrupted (see the module docstring)."""
    manifest_path = os.path.join(directory, MANIFEST_NAME)
    try:
        with open(manifest_path, "rb") as f:
            manifest = json.loads(f.read())
        groups = [(int(g["output"]), [int(s) for s in g["sources"]]) for g in manifest["groups"]]
    except FileNotFoundError:
        groups = None
    except (ValueError, KeyError, TypeError) as exc:
        # Written atomically, so this cannot be a torn write: refuse to guess.
        raise LogStorageError(f"unreadable compaction manifest {manifest_path}: {exc}") from exc
    if groups is not None:
        for output, sources in groups:
            _roll_forward(directory, output, sources)
        fsync_directory(directory)
        os.remove(manifest_path)
        fsync_directory(directory)
    for name in os.listdir(directory):
        if name.endswith(CLEANED_SUFFIX):
            os.remove(os.path.join(directory, name))


def _roll_forward(directory: str, output: int, sources: list[int]) -> None:
    def path(base: int, kind: str, suffix: str = "") -> str:
        return os.path.join(directory, segment_file_name(base, kind) + suffix)

    if not os.path.exists(path(output, LOG_SUFFIX, CLEANED_SUFFIX)):
        return  # this group's swap completed before the crash
    for source in sources:
        for kind in FILE_SUFFIXES:
            if source == output and kind != LOG_SUFFIX and not os.path.exists(
                path(output, kind, CLEANED_SUFFIX)
            ):
                continue  # already the renamed output index: keep it
            _remove_quietly(path(source, kind))
    for kind in FILE_SUFFIXES:  # indexes first, the log last
        if os.path.exists(path(output, kind, CLEANED_SUFFIX)):
            os.replace(path(output, kind, CLEANED_SUFFIX), path(output, kind))


def _remove_cleaned_files(directory: str, base: int) -> None:
    for kind in FILE_SUFFIXES:
        _remove_quietly(os.path.join(directory, segment_file_name(base, kind) + CLEANED_SUFFIX))


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

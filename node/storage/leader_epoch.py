"""The leader-epoch cache: for each leader epoch, the first offset written in it.

This is what KIP-101 adds to Kafka so that a follower can find where its log
diverged from a new leader's: it asks "where does my latest epoch end on your
log?" (`end_offset_for`) and truncates there, instead of trusting the high
watermark, which can lose acknowledged data or keep divergent data.

Persisted in Kafka's text format in `leader-epoch-checkpoint`::

    0               <- version
    2               <- number of entries
    0 0             <- epoch start_offset
    3 1200

Every change is written atomically (temp file, fsync, rename). Changes are
rare (one per leader election, truncation or retention pass), so doing this
synchronously is fine.
"""

from __future__ import annotations

import bisect
import itertools

from node.storage.checkpoint import write_file_atomically

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1
_VERSION = 0


class LeaderEpochCache:
    def __init__(self, path: str, entries: list[tuple[int, int]] | None = None) -> None:
        self.path = path
        # (epoch, start_offset), both strictly increasing.
        self._epochs: list[int] = []
        self._starts: list[int] = []
        for epoch, start in entries or ():
            self._epochs.append(epoch)
            self._starts.append(start)

    # ------------------------------------------------------------------ persistence

    @classmethod
    def load(cls, path: str) -> LeaderEpochCache | None:
        """The cache stored at `path`, or None if the file is missing or malformed."""
        try:
            with open(path, "rb") as f:
                lines = f.read(16 * 1024 * 1024).decode("ascii").split("\n")
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        try:
            if int(lines[0]) != _VERSION:
                return None
            count = int(lines[1])
            if count < 0 or len(lines) < 2 + count:
                return None
            entries = []
            for line in lines[2 : 2 + count]:
                epoch_text, start_text = line.split(" ")
                entries.append((int(epoch_text), int(start_text)))
        except (ValueError, IndexError):
            return None
        if not _strictly_increasing(entries):
            return None
        return cls(path, entries)

    def persist(self) -> None:
        lines = [str(_VERSION), str(len(self._epochs))]
        lines.extend(f"{e} {s}" for e, s in zip(self._epochs, self._starts, strict=True))
        write_file_atomically(self.path, ("\n".join(lines) + "\n").encode())

    # ------------------------------------------------------------------ queries

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(zip(self._epochs, self._starts, strict=True))

    @property
    def latest_epoch(self) -> int:
        return self._epochs[-1] if self._epochs else UNDEFINED_EPOCH

    @property
    def earliest_epoch(self) -> int:
        return self._epochs[0] if self._epochs else UNDEFINED_EPOCH

    def epoch_for_offset(self, offset: int) -> int:
        """The epoch the record at `offset` was written in (UNDEFINED_EPOCH if unknown)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        return self._epochs[i] if i >= 0 else UNDEFINED_EPOCH

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch answer: (largest epoch <= requested, its end offset).

        The end offset of an epoch is the start offset of the next larger epoch
        in the cache, or the log end offset if it is the latest epoch. If the
        requested epoch is older than every entry, the answer is the requested
        epoch with the start offset of the earliest entry; if it is newer than
        the latest epoch (or the cache is empty), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
        """
        if requested_epoch == UNDEFINED_EPOCH or not self._epochs:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if requested_epoch == self._epochs[-1]:
            return requested_epoch, log_end_offset
        higher = bisect.bisect_right(self._epochs, requested_epoch)  # first epoch > requested
        if higher == len(self._epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return requested_epoch, self._starts[0]
        return self._epochs[higher - 1], self._starts[higher]

    # ------------------------------------------------------------------ updates

    def assign(self, epoch: int, start_offset: int, *, persist: bool = True) -> bool:
        """Record that `epoch` starts at `start_offset`; returns whether the cache changed.

        As in Kafka, entries that would break monotonicity (an epoch >= the new
        one, or a start offset >= the new one) are removed first.
        """
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"invalid leader epoch entry ({epoch}, {start_offset})")
        if self._epochs and epoch == self._epochs[-1] and start_offset >= self._starts[-1]:
            return False
        while self._epochs and (self._epochs[-1] >= epoch or self._starts[-1] >= start_offset):
            self._epochs.pop()
            self._starts.pop()
        self._epochs.append(epoch)
        self._starts.append(start_offset)
        if persist:
            self.persist()
        return True

    def truncate_from_end(self, end_offset: int, *, persist: bool = True) -> bool:
        """Drop entries starting at or after `end_offset` (the log was truncated there)."""
        changed = False
        while self._starts and self._starts[-1] >= end_offset:
            self._epochs.pop()
            self._starts.pop()
            changed = True
        if changed and persist:
            self.persist()
        return changed

    def truncate_from_start(self, start_offset: int, *, persist: bool = True) -> bool:
        """The log now starts at `start_offset`: drop older entries, keeping the one
        covering `start_offset` with its start moved up to it."""
        i = bisect.bisect_right(self._starts, start_offset) - 1  # last entry starting <= it
        if i < 0 or (i == 0 and self._starts[0] == start_offset):
            return False
        epoch = self._epochs[i]
        del self._epochs[: i + 1]
        del self._starts[: i + 1]
        self._epochs.insert(0, epoch)
        self._starts.insert(0, start_offset)
        if persist:
            self.persist()
        return True

    def clear(self, *, persist: bool = True) -> None:
        self._epochs.clear()
        self._starts.clear()
        if persist:
            self.persist()


def _strictly_increasing(entries: list[tuple[int, int]]) -> bool:
    increasing = all(a[0] < b[0] and a[1] < b[1] for a, b in itertools.pairwise(entries))
    return increasing and all(e >= 0 and s >= 0 for e, s in entries)

"""WATCH, made deterministic: which keys changed after a given log offset.

Redis marks the watching clients dirty when a key changes; that state lives in one
process. Here the EXEC record carries, for each watched key, the offset the leader had
applied when the client WATCHed it, and every replica decides the same way from replicated
state alone:

* The machine remembers the last-modified offset of the most recently modified keys, up
  to ``capacity`` of them (an LRU ordered by modification). When the oldest is evicted at
  offset ``o``, every modification it no longer knows about happened at or before ``o``:
  ``complete_since`` records that.
* EXEC aborts when a watched key was modified after its watch offset, when the watch
  offset is older than ``complete_since`` (we cannot tell: abort conservatively; clients
  retry WATCH/MULTI/EXEC as they always must), or when a FLUSHALL/FLUSHDB happened after
  the watch (Redis touches only the watched keys that existed; we abort for all).

Memory is bounded by ``capacity`` entries; the window is part of the snapshot and of the
digest, since EXEC replies depend on it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator


class ModificationWindow:
    __slots__ = ("_last", "capacity", "complete_since", "last_flush")

    def __init__(self, capacity: int) -> None:
        assert capacity > 0
        self.capacity = capacity
        self._last: OrderedDict[bytes, int] = OrderedDict()
        self.complete_since = -1  # modifications at offsets > this are all in _last
        self.last_flush = -1

    def __len__(self) -> int:
        return len(self._last)

    def record(self, keys: Iterable[bytes], offset: int) -> None:
        for key in keys:
            self._last[key] = offset
            self._last.move_to_end(key)
        while len(self._last) > self.capacity:
            _, evicted_offset = self._last.popitem(last=False)
            self.complete_since = max(self.complete_since, evicted_offset)

    def record_flush(self, offset: int) -> None:
        self.last_flush = offset

    def modified_after(self, key: bytes, offset: int) -> bool:
        """True if ``key`` may have changed at an offset after ``offset``."""
        if self.last_flush > offset or self.complete_since > offset:
            return True
        last = self._last.get(key)
        return last is not None and last > offset

    def items(self) -> Iterator[tuple[bytes, int]]:
        return iter(self._last.items())

    def restore(self, entries: Iterable[tuple[bytes, int]]) -> None:
        for key, offset in entries:
            self._last[key] = offset

"""Cursor iteration (SCAN, HSCAN, SSCAN, ZSCAN) and Redis's glob patterns (KEYS, MATCH).

SCAN's contract: an element present for the whole iteration is returned at least once,
whatever is added or removed in between; COUNT is a hint. Redis gets it by walking its
hash table with a reverse-binary cursor. We cannot walk a Python dict by bucket, so:

* Elements are visited in increasing order of ``hash(element) & HASH_MASK`` (Python's
  hash of bytes is fixed for the life of the process, like Redis's per-process dict
  seed). A cursor is "everything with a smaller hash was returned". Each call does one
  pass over the collection, keeps the ``batch`` smallest hashes at or above the cursor
  (a heap, O(N log batch)) and returns them all, including every element that ties with
  the last hash, so no element is skipped or split across calls. Elements present
  throughout are returned exactly once.
* Each call returns at least ``max(COUNT, N / PASSES_PER_ITERATION)`` elements, so a
  full iteration costs a bounded number of passes (O(N) each) whatever COUNT is;
  a collection that small returns in one call with cursor 0, as Redis does for its
  compact encodings.
* SCAN over the keyspace goes slot by slot; the cursor is ``hash_threshold << 14 | slot``
  so a cursor also says which slot (hence which shard) to continue in.

Like Redis's, cursors are only meaningful to the process that issued them: after a
failover the new leader's hashes differ (the SDK restarts the scan of that shard).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Final, TypeVar

from node.keyspace.slots import SLOT_COUNT

T = TypeVar("T")

HASH_BITS: Final = 50
HASH_MASK: Final = (1 << HASH_BITS) - 1
SLOT_BITS: Final = 14
PASSES_PER_ITERATION: Final = 16
assert 1 << SLOT_BITS == SLOT_COUNT


def scan_hash(element: bytes) -> int:
    return hash(element) & HASH_MASK


def scan_batch(
    elements: Iterable[T], size: int, threshold: int, count: int, name: Callable[[T], bytes]
) -> tuple[list[T], int]:
    """One step over a collection of ``size`` elements from cursor ``threshold``.

    Returns the elements and the next threshold (0 when the iteration is complete).
    """
    batch = max(count, -(-size // PASSES_PER_ITERATION))
    if threshold == 0 and size <= batch:
        return list(elements), 0
    # Keep the `batch + 1` smallest hashes >= threshold: the extra one tells where the
    # next call starts; elements tying with the last kept hash are all kept.
    heap: list[tuple[int, int]] = []  # (-hash, sequence) max-heap of the smallest hashes
    kept: dict[int, list[T]] = {}
    for element in elements:
        value = scan_hash(name(element))
        if value < threshold:
            continue
        if value in kept:
            kept[value].append(element)
            continue
        if len(heap) <= batch:
            heapq.heappush(heap, (-value, value))
            kept[value] = [element]
        elif value < -heap[0][0]:
            _, dropped = heapq.heapreplace(heap, (-value, value))
            del kept[dropped]
            kept[value] = [element]
    hashes = sorted(kept)
    if len(hashes) <= batch:
        return [element for value in hashes for element in kept[value]], 0
    next_threshold = hashes[batch]
    return [element for value in hashes[:batch] for element in kept[value]], next_threshold


def encode_keys_cursor(slot: int, threshold: int) -> int:
    return (threshold << SLOT_BITS) | slot


def decode_keys_cursor(cursor: int) -> tuple[int, int]:
    return cursor & (SLOT_COUNT - 1), cursor >> SLOT_BITS


# --- glob patterns ------------------------------------------------------------------------

# Redis's stringmatchlen() is a backtracking matcher with quirks that a translation to a
# regular expression has to keep: '\' escapes, '[...]' with '^' negation and 'a-z' ranges
# (reversed ranges are swapped, bounds compared as *signed* chars), an unclosed '[' runs
# to the end of the pattern, and an empty string matches only an empty pattern (the
# special case of a lone '*' is the caller's). To stay linear like Redis's matcher (it
# stops retrying earlier stars once the rest failed everywhere), each star-separated
# segment but the last is matched with an atomic group at its leftmost position, which is
# always optimal for fixed-width segments; the last segment is anchored at the end.


def glob_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A predicate telling whether a key matches ``pattern`` as Redis's KEYS/SCAN do."""
    if pattern == b"*":
        return _match_all
    regex = _compile_glob(pattern)

    def matches(subject: bytes) -> bool:
        if not subject:
            return not pattern
        return regex.match(subject) is not None

    return matches


def _match_all(subject: bytes) -> bool:
    return True


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _byte_class(members: set[int], negate: bool) -> bytes:
    chosen = [b for b in range(256) if (b in members) != negate]
    if not chosen:
        return b"(?!)"
    return b"[" + b"".join(b"\\x%02x" % b for b in chosen) + b"]"


@lru_cache(maxsize=256)
def _compile_glob(pattern: bytes) -> re.Pattern[bytes]:
    segments: list[list[bytes]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == 0x2A:  # '*'
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            segments.append([])
        elif char == 0x3F:  # '?'
            segments[-1].append(b"(?s:.)")
        elif char == 0x5B:  # '['
            i += 1
            negate = i < n and pattern[i] == 0x5E  # '^'
            if negate:
                i += 1
            members: set[int] = set()
            while True:
                if i < n and pattern[i] == 0x5C and n - i >= 2:  # '\' escape
                    i += 1
                    members.add(pattern[i])
                elif i < n and pattern[i] == 0x5D:  # ']'
                    break
                elif i >= n:
                    i -= 1
                    break
                elif n - i >= 3 and pattern[i + 1] == 0x2D:  # 'a-z'
                    low, high = _signed(pattern[i]), _signed(pattern[i + 2])
                    if low > high:
                        low, high = high, low
                    members.update(b for b in range(256) if low <= _signed(b) <= high)
                    i += 2
                else:
                    members.add(pattern[i])
                i += 1
            segments[-1].append(_byte_class(members, negate))
        else:
            if char == 0x5C and n - i >= 2:  # '\'
                i += 1
                char = pattern[i]
            segments[-1].append(re.escape(bytes([char])))
        i += 1
    parts = [b"".join(segment) for segment in segments]
    if len(parts) == 1:
        source = parts[0] + b"\\Z"
    else:
        middle = b"".join(b"(?>(?s:.)*?" + part + b")" for part in parts[1:-1])
        source = parts[0] + middle + b"(?s:.)*" + parts[-1] + b"\\Z"
    return re.compile(source)


def filter_matching(names: Iterator[bytes], pattern: bytes | None) -> Iterator[bytes]:
    if pattern is None:
        return names
    matcher = glob_matcher(pattern)
    return (name for name in names if matcher(name))

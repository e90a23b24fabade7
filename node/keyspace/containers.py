"""The data structures behind sets and sorted sets (strings are ``bytes``, hashes ``dict``,
lists ``collections.deque``).

Two requirements shape them beyond Redis's complexity guarantees:

* **Determinism across processes.** Python's ``set`` iterates in hash order, and bytes
  hashes are randomised per process (PYTHONHASHSEED), so ``SPOP`` on a ``set`` would pop
  different members on different replicas. Every order here depends only on the sequence
  of operations applied.
* **Memory.** A 1,000,000-member sorted set must stay within 2x of Redis's footprint, so
  no per-member tuple or float objects.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Final

from sortedcontainers import SortedList

# --- sets --------------------------------------------------------------------------------

# A set is a list of members plus a dict from member to its index in the list.
#
#   add:     append to the list, record the index                       O(1)
#   remove:  move the last member into the hole, fix its index, pop     O(1)
#   random:  pick an index                                              O(1)
#
# Redis gets O(1) random members (SPOP, SRANDMEMBER) from its hash table; a Python set or
# dict cannot pick a random member without walking to it. The trade-off is an int object
# per member (the index), and that removal reorders: the order is still a pure function
# of the operations, which is what replicas need.


class SetValue:
    __slots__ = ("_index", "_items")

    def __init__(self, members: Iterable[bytes] = ()) -> None:
        self._items: list[bytes] = []
        self._index: dict[bytes, int] = {}
        for member in members:
            self.add(member)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, member: object) -> bool:
        return member in self._index

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._items)

    def add(self, member: bytes) -> bool:
        if member in self._index:
            return False
        self._index[member] = len(self._items)
        self._items.append(member)
        return True

    def remove(self, member: bytes) -> bool:
        position = self._index.pop(member, None)
        if position is None:
            return False
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position
        return True

    def at(self, position: int) -> bytes:
        return self._items[position]

    def pop_at(self, position: int) -> bytes:
        member = self._items[position]
        self.remove(member)
        return member

    def members(self) -> list[bytes]:
        return list(self._items)

    def copy(self) -> SetValue:
        clone = SetValue()
        clone._items = list(self._items)
        clone._index = dict(self._index)
        return clone


# --- sorted sets ------------------------------------------------------------------------

# A sorted set is a dict from member to its *sort key*, and a SortedList of the sort keys.
#
# The sort key is one bytes object: an 8-byte big-endian encoding of the score that orders
# like the score, followed by the member. Comparing two sort keys as bytes compares the
# scores first, then the members byte-wise (memcmp, shorter first on a tie), which is
# exactly Redis's (score, member) order. The dict value and the SortedList entry are the
# same object, so a member costs its name, one sort key, a dict slot and a list slot:
# no tuples, no floats. Score lookups decode 8 bytes.
#
# Score encoding: the IEEE-754 bits, with the sign bit flipped for positive numbers and
# all bits flipped for negative numbers, orders like the numbers (-inf < ... < -0 < +0 <
# ... < +inf). Redis treats -0 and +0 as equal scores, so -0 is encoded as +0 and the
# members whose score really is -0 (ZSCORE prints "-0") are remembered on the side.

_DOUBLE: Final = struct.Struct(">d")
_UINT64: Final = struct.Struct(">Q")
_SIGN: Final = 1 << 63
_ALL: Final = (1 << 64) - 1
SCORE_BYTES: Final = 8


def score_prefix(score: float) -> bytes:
    if score == 0.0:
        score = 0.0
    (bits,) = _UINT64.unpack(_DOUBLE.pack(score))
    bits = bits ^ _ALL if bits & _SIGN else bits ^ _SIGN
    return _UINT64.pack(bits)


def decode_score(sort_key: bytes) -> float:
    (bits,) = _UINT64.unpack_from(sort_key)
    bits = bits ^ _SIGN if bits & _SIGN else bits ^ _ALL
    (score,) = _DOUBLE.unpack(_UINT64.pack(bits))
    return float(score)


def _is_negative_zero(score: float) -> bool:
    return score == 0.0 and math.copysign(1.0, score) < 0


class ZSetValue:
    __slots__ = ("_entries", "_negative_zero", "_order")

    def __init__(self) -> None:
        self._entries: dict[bytes, bytes] = {}
        self._order: SortedList = SortedList()
        self._negative_zero: set[bytes] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, member: object) -> bool:
        return member in self._entries

    def score(self, member: bytes) -> float | None:
        sort_key = self._entries.get(member)
        if sort_key is None:
            return None
        if self._negative_zero is not None and member in self._negative_zero:
            return -0.0
        return decode_score(sort_key)

    def score_of_key(self, sort_key: bytes) -> float:
        if self._negative_zero is not None and sort_key[SCORE_BYTES:] in self._negative_zero:
            return -0.0
        return decode_score(sort_key)

    def set(self, member: bytes, score: float) -> None:
        """Insert ``member`` or move it to ``score``. O(log N)."""
        old = self._entries.get(member)
        prefix = score_prefix(score)
        if old is not None:
            if old[:SCORE_BYTES] != prefix:
                self._order.remove(old)
                old = None
            elif self._negative_zero is not None:
                self._negative_zero.discard(member)
        if old is None:
            sort_key = prefix + member
            self._entries[member] = sort_key
            self._order.add(sort_key)
        if _is_negative_zero(score):
            if self._negative_zero is None:
                self._negative_zero = set()
            self._negative_zero.add(member)
        elif self._negative_zero is not None:
            self._negative_zero.discard(member)

    def remove(self, member: bytes) -> bool:
        sort_key = self._entries.pop(member, None)
        if sort_key is None:
            return False
        self._order.remove(sort_key)
        if self._negative_zero is not None:
            self._negative_zero.discard(member)
        return True

    def rank(self, member: bytes) -> int | None:
        sort_key = self._entries.get(member)
        if sort_key is None:
            return None
        return int(self._order.index(sort_key))

    def key_at(self, rank: int) -> bytes:
        return bytes(self._order[rank])

    def keys_between(self, start: int, stop: int, reverse: bool = False) -> Iterator[bytes]:
        """Sort keys with rank in ``[start, stop)``; ascending, or descending from
        ``stop - 1`` when ``reverse``."""
        if start >= stop:
            return iter(())
        result: Iterator[bytes] = self._order.islice(start, stop, reverse=reverse)
        return result

    def bisect_left(self, sort_key: bytes) -> int:
        return int(self._order.bisect_left(sort_key))

    def iter_keys(self) -> Iterator[bytes]:
        return iter(self._order)

    def items(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) in order."""
        for sort_key in self._order:
            yield sort_key[SCORE_BYTES:], self.score_of_key(sort_key)

    def members_in_insertion_order(self) -> Iterator[bytes]:
        return iter(self._entries)

    def copy(self) -> ZSetValue:
        clone = ZSetValue()
        clone._entries = dict(self._entries)
        clone._order = SortedList(self._order)
        if self._negative_zero:
            clone._negative_zero = set(self._negative_zero)
        return clone

    def first_n(self, count: int, reverse: bool = False) -> list[bytes]:
        return list(islice(self._order.islice(0, len(self._order), reverse=reverse), count))

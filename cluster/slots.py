"""Redis Cluster slot math: which of the 16384 slots a key lives in, and who owns each slot.

Sans-I/O and dependency-free, shared by the node (routing, MOVED replies, CLUSTER KEYSLOT)
and the SDK (client-side routing), so both always agree with each other and with every
Redis Cluster client: ``key_slot`` is bit-for-bit Redis's ``keyHashSlot``.

The slot -> shard table travels in the cluster map as compact ``[start, end, shard]``
ranges (inclusive, like CLUSTER SLOTS); ``SlotRanges`` expands it into a per-slot table
for O(1) lookups and compacts it back.
"""

from __future__ import annotations

from array import array
from binascii import crc_hqx
from collections.abc import Iterable, Iterator

from cluster.limits import SLOT_COUNT

__all__ = [
    "INTERNAL_KEY_PREFIX",
    "SLOT_COUNT",
    "SlotRanges",
    "compact_slots",
    "even_slot_ranges",
    "hash_tag",
    "is_internal_key",
    "key_slot",
]

_SLOT_MASK = SLOT_COUNT - 1  # 16384 is a power of two: ``& mask`` is ``% SLOT_COUNT``
assert SLOT_COUNT & _SLOT_MASK == 0

_UNASSIGNED = -1

# Keys the cluster keeps for itself in the keyspace (consumer groups' ``{__group:G}:...``).
# Users never see them in KEYS/SCAN/RANDOMKEY/DBSIZE and FLUSHALL keeps them, as Kafka's
# ``__consumer_offsets`` is not a topic a user's cleanup deletes; only ``admin`` on
# ``cluster`` may touch them (cluster/auth.py).
INTERNAL_KEY_PREFIX = b"{__"


def is_internal_key(key: bytes) -> bool:
    return key.startswith(INTERNAL_KEY_PREFIX)


def hash_tag(key: bytes) -> bytes:
    """The part of ``key`` that is hashed, following Redis's hash-tag rule.

    If the key contains ``{`` and, after the first ``{``, a ``}``, and the text between
    the first ``{`` and the first ``}`` after it is non-empty, only that text is hashed;
    otherwise the whole key is. So ``foo{}{bar}`` hashes the whole key, ``foo{{bar}}zap``
    hashes ``{bar`` and ``foo{bar}{zap}`` hashes ``bar``.
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def key_slot(key: bytes) -> int:
    """CRC16-XMODEM of the key (or its hash tag) modulo 16384, exactly as Redis Cluster.

    ``binascii.crc_hqx(data, 0)`` is CRC16-XMODEM (poly 0x1021, init 0) implemented in C.
    """
    # Inlined hash_tag: this runs once per keyed command on the request path.
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return crc_hqx(key[start + 1 : end], 0) & _SLOT_MASK
    return crc_hqx(key, 0) & _SLOT_MASK


def even_slot_ranges(num_shards: int) -> list[tuple[int, int, int]]:
    """Spread all slots over ``num_shards`` shards as contiguous ``(start, end, shard)`` ranges.

    Shard ``i`` ends at ``round_half_up((i + 1) * 16384 / n - 1)``: the same split as
    ``redis-cli --cluster create`` (3 shards: 0-5460, 5461-10922, 10923-16383), computed
    in exact integer arithmetic so it is deterministic everywhere. Range sizes differ by
    at most one slot.
    """
    if not 1 <= num_shards <= SLOT_COUNT:
        raise ValueError(f"num_shards must be in 1..{SLOT_COUNT}, got {num_shards}")
    ranges: list[tuple[int, int, int]] = []
    first = 0
    for shard in range(num_shards):
        if shard == num_shards - 1:
            last = SLOT_COUNT - 1
        else:
            # floor(x + 1/2) with x = (shard + 1) * S / n - 1, kept in integers.
            last = (2 * (shard + 1) * SLOT_COUNT - num_shards) // (2 * num_shards)
        ranges.append((first, last, shard))
        first = last + 1
    return ranges


def compact_slots(slots: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ``(start, end)`` ranges covering exactly ``slots``."""
    ranges: list[tuple[int, int]] = []
    start = end = -2
    for slot in sorted(set(slots)):
        _check_slot(slot)
        if slot == end + 1:
            end = slot
            continue
        if start >= 0:
            ranges.append((start, end))
        start = end = slot
    if start >= 0:
        ranges.append((start, end))
    return ranges


def _check_slot(slot: int) -> None:
    if not 0 <= slot < SLOT_COUNT:
        raise ValueError(f"slot {slot} out of range 0..{SLOT_COUNT - 1}")


class SlotRanges:
    """The slot -> shard table: one shard id (an int >= 0) or nothing per slot.

    Held per slot (an ``array`` of 16384 ints, 64 KiB) so ``shard_for_slot`` is one index;
    exchanged as compact ``[start, end, shard]`` ranges (``from_ranges``/``to_ranges``),
    which is what the cluster map stores and CLUSTER SLOTS reports.
    """

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table = array("i", [_UNASSIGNED]) * SLOT_COUNT

    # --- construction -------------------------------------------------------------

    @classmethod
    def evenly(cls, num_shards: int) -> SlotRanges:
        """Every slot assigned, ``num_shards`` contiguous ranges (see ``even_slot_ranges``)."""
        return cls.from_ranges(even_slot_ranges(num_shards))

    @classmethod
    def from_ranges(cls, ranges: Iterable[Iterable[int]]) -> SlotRanges:
        """Build from ``[start, end, shard]`` triples (inclusive). Overlaps are an error."""
        table = cls()
        for entry in ranges:
            start, end, shard = _unpack_range(entry)
            for slot in range(start, end + 1):
                if table._table[slot] != _UNASSIGNED:
                    raise ValueError(f"slot {slot} assigned twice (ranges overlap)")
            table._table[start : end + 1] = array("i", [shard]) * (end - start + 1)
        return table

    @classmethod
    def from_table(cls, shards: Iterable[int | None]) -> SlotRanges:
        """Build from a per-slot sequence of 16384 shard ids (``None`` = unassigned)."""
        values = [_UNASSIGNED if shard is None else shard for shard in shards]
        if len(values) != SLOT_COUNT:
            raise ValueError(f"expected {SLOT_COUNT} entries, got {len(values)}")
        for shard in values:
            if shard != _UNASSIGNED:
                _check_shard(shard)
        table = cls()
        table._table = array("i", values)
        return table

    def copy(self) -> SlotRanges:
        clone = SlotRanges()
        clone._table = array("i", self._table)
        return clone

    # --- queries --------------------------------------------------------------------

    def shard_for_slot(self, slot: int) -> int | None:
        """Shard owning ``slot``, or ``None`` if the slot is unassigned."""
        if not 0 <= slot < SLOT_COUNT:
            raise ValueError(f"slot {slot} out of range 0..{SLOT_COUNT - 1}")
        shard = self._table[slot]
        return None if shard == _UNASSIGNED else shard

    def shard_for_key(self, key: bytes) -> int | None:
        shard = self._table[key_slot(key)]
        return None if shard == _UNASSIGNED else shard

    def to_table(self) -> list[int | None]:
        """Per-slot list of 16384 shard ids (``None`` = unassigned)."""
        return [None if shard == _UNASSIGNED else shard for shard in self._table]

    def to_ranges(self) -> list[list[int]]:
        """Compact ``[start, end, shard]`` ranges in slot order; unassigned slots omitted."""
        return [[start, end, shard] for start, end, shard in self.iter_ranges()]

    def iter_ranges(self) -> Iterator[tuple[int, int, int]]:
        table = self._table
        start = 0
        while start < SLOT_COUNT:
            shard = table[start]
            end = start
            while end + 1 < SLOT_COUNT and table[end + 1] == shard:
                end += 1
            if shard != _UNASSIGNED:
                yield start, end, shard
            start = end + 1

    def slots_of(self, shard: int) -> list[tuple[int, int]]:
        """Inclusive ``(start, end)`` ranges owned by ``shard``."""
        return [(start, end) for start, end, owner in self.iter_ranges() if owner == shard]

    def slot_counts(self) -> dict[int, int]:
        """Number of slots per shard (unassigned slots not counted)."""
        counts: dict[int, int] = {}
        for start, end, shard in self.iter_ranges():
            counts[shard] = counts.get(shard, 0) + end - start + 1
        return counts

    def shards(self) -> list[int]:
        return sorted(self.slot_counts())

    def unassigned(self) -> list[tuple[int, int]]:
        return compact_slots(slot for slot, shard in enumerate(self._table) if shard < 0)

    def is_complete(self) -> bool:
        """True when every slot has an owner (Redis's ``cluster_state:ok`` precondition)."""
        return _UNASSIGNED not in self._table

    # --- changes ----------------------------------------------------------------------

    def assign(self, start: int, end: int, shard: int | None) -> None:
        """Give slots ``start..end`` (inclusive) to ``shard`` (``None`` unassigns them)."""
        _check_slot(start)
        _check_slot(end)
        if start > end:
            raise ValueError(f"empty slot range {start}-{end}")
        value = _UNASSIGNED
        if shard is not None:
            _check_shard(shard)
            value = shard
        self._table[start : end + 1] = array("i", [value]) * (end - start + 1)

    # --- dunder -------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SlotRanges):
            return NotImplemented
        return self._table == other._table

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"SlotRanges({self.to_ranges()!r})"


def _check_shard(shard: int) -> None:
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < 2**31:
        raise ValueError(f"shard id must be an int in 0..2**31-1, got {shard!r}")


def _unpack_range(entry: Iterable[int]) -> tuple[int, int, int]:
    values = list(entry)
    if len(values) != 3:
        raise ValueError(f"a slot range is [start, end, shard], got {values!r}")
    start, end, shard = values
    _check_slot(start)
    _check_slot(end)
    if start > end:
        raise ValueError(f"slot range start {start} > end {end}")
    _check_shard(shard)
    return start, end, shard

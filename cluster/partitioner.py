"""Kafka's default partitioner: murmur2 for keyed records, sticky batching for unkeyed ones.

A keyed record goes to ``toPositive(murmur2(key)) % numPartitions`` exactly as Kafka's
``BuiltInPartitioner.partitionForKey`` computes it, so a topic's key -> partition layout is
the one a Java (or librdkafka "murmur2_random") producer would produce. Unkeyed records use
the sticky partitioner of KIP-480: stay on one partition until its batch is sent, then
switch to another, random, available partition.

Sans-I/O: no clocks, no sockets; randomness comes from an injected ``random.Random``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

from cluster.limits import PARTITIONER_HASH_CACHE_ENTRIES, PARTITIONER_HASH_CACHE_MAX_KEY_BYTES

__all__ = [
    "DefaultPartitioner",
    "StickyPartitioner",
    "murmur2",
    "partition_for_key",
    "positive_murmur2",
    "to_positive",
]

_SEED = 0x9747B28C
_M = 0x5BD1E995  # the mixing constant; r = 24
_MASK32 = 0xFFFFFFFF

# Words per chunk on the long-key path; also bounds the per-length caches below.
_CHUNK_WORDS = 256
# From this many 4-byte words on, the lane-parallel loop wins over the plain one (measured).
_LANES_MIN_WORDS = 12

_Unpack = Callable[..., tuple[int, ...]]
_word_unpackers: dict[int, _Unpack] = {}
_lane_kits: dict[int, tuple[_Unpack, Callable[..., bytes], _Unpack, int]] = {}


def _words(count: int) -> _Unpack:
    unpack = _word_unpackers.get(count)
    if unpack is None:
        unpack = _word_unpackers[count] = struct.Struct(f"<{count}I").unpack_from
    return unpack


def _lane_kit(count: int) -> tuple[_Unpack, Callable[..., bytes], _Unpack, int]:
    kit = _lane_kits.get(count)
    if kit is None:
        lanes = struct.Struct(f"<{count}Q")
        lane_mask = int.from_bytes(b"\xff\xff\xff\xff\x00\x00\x00\x00" * count, "little")
        kit = _lane_kits[count] = (_words(count), lanes.pack, lanes.unpack, lane_mask)
    return kit


def _mix_long(h: int, data: bytes, n_words: int) -> int:
    """Fold ``n_words`` little-endian words of ``data`` into ``h``, lane-parallel.

    The per-word ``k`` transform (``k *= m; k ^= k >>> 24; k *= m``) does not depend on
    ``h``, so compute it for a whole chunk of words at once, in one big int holding a 64-bit
    lane per word: a 32-bit word times m fits in a lane, and masking after every step drops
    whatever a shift or product pushed across a lane boundary. Only the short ``h`` chain
    stays a Python loop. Measured 1.3-1.5x faster than the plain loop from ~48-byte keys.
    """
    offset = 0
    while n_words:
        count = min(n_words, _CHUNK_WORDS)
        unpack_words, pack_lanes, unpack_lanes, lane_mask = _lane_kit(count)
        lanes = int.from_bytes(pack_lanes(*unpack_words(data, offset)), "little")
        lanes = lanes * _M & lane_mask
        lanes = (lanes ^ lanes >> 24) & lane_mask
        lanes = lanes * _M & lane_mask
        for k in unpack_lanes(lanes.to_bytes(count * 8, "little")):
            h = (h * _M ^ k) & _MASK32
        offset += count * 4
        n_words -= count
    return h


def _murmur2_unsigned(data: bytes) -> int:
    length = len(data)
    n_words = length >> 2
    h = _SEED ^ length
    if n_words >= _LANES_MIN_WORDS:
        h = _mix_long(h, data, n_words)
    elif n_words:
        unpack = _word_unpackers.get(n_words) or _words(n_words)
        for k in unpack(data):
            # k *= m; k ^= k >>> 24; k *= m; h *= m; h ^= k -- in unsigned 32-bit, masking
            # only where high bits would leak into a shift, and once per round for h.
            k = k * _M & _MASK32
            h = (h * _M ^ (k ^ k >> 24) * _M) & _MASK32
    tail = length & 3
    if tail:
        t = n_words << 2
        if tail == 3:
            h ^= data[t + 2] << 16 | data[t + 1] << 8 | data[t]
        elif tail == 2:
            h ^= data[t + 1] << 8 | data[t]
        else:
            h ^= data[t]
        h = h * _M & _MASK32
    h ^= h >> 13
    h = h * _M & _MASK32
    return h ^ h >> 15


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: the 32-bit MurmurHash2 as a signed Java ``int``."""
    h = _murmur2_unsigned(data)
    return h - 0x100000000 if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not ``abs``)."""
    return number & 0x7FFFFFFF


# Producers hash the same keys over and over (user ids, order ids): memoise the positive
# hash of short keys. Bounded in entries and key size; cleared wholesale when full, which
# is cheaper per call than LRU bookkeeping and never worse than no cache.
_HASH_CACHE_MAX_ENTRIES = PARTITIONER_HASH_CACHE_ENTRIES
_HASH_CACHE_MAX_KEY_BYTES = PARTITIONER_HASH_CACHE_MAX_KEY_BYTES
_hash_cache: dict[bytes, int] = {}


def positive_murmur2(key: bytes) -> int:
    """``to_positive(murmur2(key))``, memoised for short keys."""
    h = _hash_cache.get(key)
    if h is None:
        h = _murmur2_unsigned(key) & 0x7FFFFFFF
        if len(key) <= _HASH_CACHE_MAX_KEY_BYTES:
            if len(_hash_cache) >= _HASH_CACHE_MAX_ENTRIES:
                _hash_cache.clear()
            _hash_cache[bytes(key)] = h
    return h


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """The partition of a keyed record: ``to_positive(murmur2(key)) % num_partitions``."""
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, got {num_partitions}")
    return positive_murmur2(key) % num_partitions


class StickyPartitioner:
    """KIP-480 sticky partitioning for records without a key.

    Every unkeyed record of a topic goes to the topic's current sticky partition, so records
    fill one batch instead of trickling into many (bigger batches, fewer requests, lower
    latency). When the producer closes that batch (sent, or full), it calls
    ``on_new_batch`` and the topic sticks to a new partition, chosen at random among the
    available ones (partitions whose leader is known and reachable), different from the
    previous one when there is a choice. This is Kafka's ``StickyPartitionCache``.
    """

    __slots__ = ("_current", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._current: dict[str, int] = {}

    def partition(self, topic: str, num_partitions: int, available: Sequence[int] | None = None) -> int:
        """The partition for the next unkeyed record of ``topic``."""
        current = self._current.get(topic)
        if current is None or current >= num_partitions:
            # First record, or the topic's partition count changed under us.
            return self._choose(topic, num_partitions, available, previous=None)
        return current

    def on_new_batch(
        self,
        topic: str,
        num_partitions: int,
        previous_partition: int,
        available: Sequence[int] | None = None,
    ) -> int:
        """The batch on ``previous_partition`` was closed: move on if it was the sticky one.

        Only the batch of the current sticky partition triggers a switch, so a late
        notification about an older partition never makes the topic hop twice.
        """
        current = self._current.get(topic)
        if current is None or current == previous_partition or current >= num_partitions:
            return self._choose(topic, num_partitions, available, previous=current)
        return current

    def current(self, topic: str) -> int | None:
        return self._current.get(topic)

    def _choose(
        self,
        topic: str,
        num_partitions: int,
        available: Sequence[int] | None,
        previous: int | None,
    ) -> int:
        if num_partitions <= 0:
            raise ValueError(f"num_partitions must be positive, got {num_partitions}")
        if available is None:
            # Availability unknown: every partition is a candidate.
            chosen = self._rng.randrange(num_partitions)
            while chosen == previous and num_partitions > 1:
                chosen = self._rng.randrange(num_partitions)
            self._current[topic] = chosen
            return chosen
        # Deduplicated, in the caller's order, so the choice is reproducible from the seed.
        candidates = list(dict.fromkeys(p for p in available if 0 <= p < num_partitions))
        if not candidates:
            # Nothing available (all leaders unknown): any partition, as Kafka does.
            chosen = self._rng.randrange(num_partitions)
        elif len(candidates) == 1:
            chosen = candidates[0]
        else:
            chosen = candidates[self._rng.randrange(len(candidates))]
            while chosen == previous:
                chosen = candidates[self._rng.randrange(len(candidates))]
        self._current[topic] = chosen
        return chosen


class DefaultPartitioner:
    """Kafka's default partitioning: murmur2 for keyed records, sticky for unkeyed ones."""

    __slots__ = ("sticky",)

    def __init__(self, rng: random.Random) -> None:
        self.sticky = StickyPartitioner(rng)

    def partition(
        self,
        topic: str,
        key: bytes | None,
        num_partitions: int,
        available: Sequence[int] | None = None,
    ) -> int:
        if key is not None:
            # Keyed records ignore availability: the key -> partition mapping is a contract.
            return partition_for_key(key, num_partitions)
        return self.sticky.partition(topic, num_partitions, available)

    def on_new_batch(
        self,
        topic: str,
        num_partitions: int,
        previous_partition: int,
        available: Sequence[int] | None = None,
    ) -> int:
        return self.sticky.on_new_batch(topic, num_partitions, previous_partition, available)

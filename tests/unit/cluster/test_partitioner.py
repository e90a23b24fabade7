"""Kafka's default partitioner: murmur2 vectors from Kafka's own tests, and sticky batching."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.partitioner import (
    DefaultPartitioner,
    StickyPartitioner,
    murmur2,
    partition_for_key,
    positive_murmur2,
    to_positive,
)

# From Apache Kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
# testMurmur2(): the Java implementation's results as signed ints.
KAFKA_MURMUR2_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


def reference_murmur2(data: bytes) -> int:
    """A line-by-line transcription of Kafka's Java ``Utils.murmur2`` (int overflow emulated)."""

    def as_int(value: int) -> int:  # Java int arithmetic
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value

    def ushr(value: int, bits: int) -> int:  # Java >>>
        return (value & 0xFFFFFFFF) >> bits

    length = len(data)
    m = 0x5BD1E995
    h = as_int(0x9747B28C ^ length)
    for i in range(length // 4):
        i4 = i * 4
        k = as_int(data[i4] + (data[i4 + 1] << 8) + (data[i4 + 2] << 16) + (data[i4 + 3] << 24))
        k = as_int(k * m)
        k = as_int(k ^ ushr(k, 24))
        k = as_int(k * m)
        h = as_int(h * m)
        h = as_int(h ^ k)
    tail = length % 4
    if tail >= 3:
        h = as_int(h ^ (data[(length & ~3) + 2] << 16))
    if tail >= 2:
        h = as_int(h ^ (data[(length & ~3) + 1] << 8))
    if tail >= 1:
        h = as_int(h ^ data[length & ~3])
        h = as_int(h * m)
    h = as_int(h ^ ushr(h, 13))
    h = as_int(h * m)
    return as_int(h ^ ushr(h, 15))


@pytest.mark.parametrize(("key", "expected"), KAFKA_MURMUR2_VECTORS)
def test_murmur2_matches_kafka_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected
    assert reference_murmur2(key) == expected


def test_to_positive_masks_the_sign_bit() -> None:
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(2**31)) == 0
    assert to_positive(0) == 0
    assert to_positive(123) == 123
    assert to_positive(murmur2(b"21")) == -973932308 & 0x7FFFFFFF  # not abs()


def test_partition_for_key_vectors() -> None:
    # (-973932308 & 0x7fffffff) = 1173551340
    assert partition_for_key(b"21", 6) == 1173551340 % 6
    for key, expected in KAFKA_MURMUR2_VECTORS:
        for partitions in (1, 3, 6, 7, 100):
            assert partition_for_key(key, partitions) == (expected & 0x7FFFFFFF) % partitions


# Lengths around the short-loop / lane-parallel switch and the chunk size, and every tail.
@pytest.mark.parametrize("length", [*range(0, 80), 255, 256, 1023, 1024, 1025, 1027, 5000])
def test_murmur2_matches_reference_at_every_length(length: int) -> None:
    rng = random.Random(length)
    for _ in range(5):
        data = rng.randbytes(length)
        assert murmur2(data) == reference_murmur2(data)


def test_murmur2_high_bytes() -> None:
    for length in range(0, 40):
        data = b"\xff" * length
        assert murmur2(data) == reference_murmur2(data)


@given(st.binary(max_size=300))
def test_murmur2_is_a_signed_32_bit_int_matching_reference(data: bytes) -> None:
    value = murmur2(data)
    assert -(2**31) <= value < 2**31
    assert value == reference_murmur2(data)


@given(st.binary(max_size=100), st.integers(1, 10_000))
def test_partition_for_key_in_range_and_deterministic(key: bytes, partitions: int) -> None:
    partition = partition_for_key(key, partitions)
    assert 0 <= partition < partitions
    assert partition_for_key(bytes(key), partitions) == partition  # cached or not
    assert positive_murmur2(key) == to_positive(murmur2(key))


def test_partition_for_key_cache_is_bounded_and_transparent() -> None:
    keys = [b"user-%d" % i for i in range(70_000)]  # more than the cache holds
    first = [partition_for_key(key, 12) for key in keys]
    second = [partition_for_key(key, 12) for key in keys]
    assert first == second
    assert first == [to_positive(reference_murmur2(key)) % 12 for key in keys[:200]] + first[200:]


def test_keyed_distribution_is_roughly_uniform() -> None:
    counts = Counter(partition_for_key(b"key-%d" % i, 6) for i in range(60_000))
    assert all(9_000 < count < 11_000 for count in counts.values())


@pytest.mark.parametrize("partitions", [0, -3])
def test_partition_for_key_rejects_no_partitions(partitions: int) -> None:
    with pytest.raises(ValueError):
        partition_for_key(b"k", partitions)


# --- sticky partitioner -------------------------------------------------------------------


def test_sticky_stays_on_one_partition_until_a_new_batch() -> None:
    sticky = StickyPartitioner(random.Random(7))
    first = sticky.partition("t", 6)
    assert all(sticky.partition("t", 6) == first for _ in range(100))
    second = sticky.on_new_batch("t", 6, previous_partition=first)
    assert second != first
    assert all(sticky.partition("t", 6) == second for _ in range(100))


def test_sticky_ignores_a_stale_new_batch_notification() -> None:
    sticky = StickyPartitioner(random.Random(1))
    current = sticky.partition("t", 6)
    stale = (current + 1) % 6
    assert sticky.on_new_batch("t", 6, previous_partition=stale) == current


def test_sticky_prefers_available_partitions() -> None:
    sticky = StickyPartitioner(random.Random(3))
    available = [1, 4]
    seen = {sticky.partition("t", 6, available)}
    for _ in range(200):
        seen.add(sticky.on_new_batch("t", 6, sticky.partition("t", 6), available))
    assert seen == {1, 4}  # only available ones, and it alternates between them


def test_sticky_single_available_partition_is_always_chosen() -> None:
    sticky = StickyPartitioner(random.Random(3))
    assert sticky.partition("t", 6, [5]) == 5
    assert sticky.on_new_batch("t", 6, 5, [5]) == 5
    assert sticky.on_new_batch("t", 6, 5, [2, 2, 2]) == 2  # duplicates do not loop forever


def test_sticky_without_available_partitions_uses_any() -> None:
    sticky = StickyPartitioner(random.Random(5))
    seen = set()
    for _ in range(300):
        seen.add(sticky.on_new_batch("t", 4, sticky.partition("t", 4), available=[]))
    assert seen == {0, 1, 2, 3}


def test_sticky_topics_are_independent_and_seeded() -> None:
    def run(seed: int) -> list[int]:
        sticky = StickyPartitioner(random.Random(seed))
        out = []
        for i in range(50):
            topic = f"t{i % 3}"
            out.append(sticky.partition(topic, 8))
            if i % 4 == 0:
                out.append(sticky.on_new_batch(topic, 8, out[-1]))
        return out

    assert run(11) == run(11)
    sticky = StickyPartitioner(random.Random(0))
    a = sticky.partition("a", 8)
    sticky.on_new_batch("b", 8, sticky.partition("b", 8))
    assert sticky.partition("a", 8) == a
    assert sticky.current("zzz") is None


def test_sticky_repicks_when_partition_count_shrinks() -> None:
    sticky = StickyPartitioner(random.Random(9))
    for _ in range(20):
        sticky.on_new_batch("t", 100, sticky.partition("t", 100))
        if sticky.partition("t", 100) >= 3:
            break
    assert 0 <= sticky.partition("t", 3) < 3


@given(st.integers(0, 2**32), st.integers(1, 50), st.lists(st.integers(-2, 60), max_size=8))
def test_sticky_always_in_range(seed: int, partitions: int, available: list[int]) -> None:
    sticky = StickyPartitioner(random.Random(seed))
    for _ in range(10):
        current = sticky.partition("t", partitions, available)
        assert 0 <= current < partitions
        following = sticky.on_new_batch("t", partitions, current, available)
        assert 0 <= following < partitions
        valid = {p for p in available if 0 <= p < partitions}
        if valid:
            assert following in valid
        if len(valid) > 1:
            assert following != current


def test_default_partitioner_keyed_and_unkeyed() -> None:
    partitioner = DefaultPartitioner(random.Random(2))
    assert partitioner.partition("t", b"21", 6) == partition_for_key(b"21", 6)
    # A keyed record ignores availability: the key -> partition contract must hold.
    assert partitioner.partition("t", b"21", 6, available=[0]) == partition_for_key(b"21", 6)
    sticky = partitioner.partition("t", None, 6)
    assert partitioner.partition("t", None, 6) == sticky
    assert partitioner.on_new_batch("t", 6, sticky) != sticky

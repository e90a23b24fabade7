"""Fuzz the batch decoder: whatever the bytes, the answer is a batch or CorruptBatchError.

Never another exception, never a huge allocation (the body is bounded by the
batch size and the decompression limit; tracemalloc checks the peak).
"""

from __future__ import annotations

import struct
import tracemalloc

import crc32c
import lz4.frame
import msgpack
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.storage.batch import (
    Compression,
    build_batch,
    decode_batches,
    decode_records,
    iter_batches,
    stamp,
    validate_batch,
    validate_produced_batch,
)
from node.storage.errors import CorruptBatchError, InvalidRecordError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # seeded: the same examples every run
    suppress_health_check=[HealthCheck.too_slow],
)
PEAK_LIMIT = 16 * 1024 * 1024


def _decode_everything(data: bytes) -> None:
    """Run every decoding entry point; only CorruptBatchError may escape."""
    for call in (
        lambda: validate_batch(data),
        lambda: validate_batch(data, verify_records=True),
        lambda: decode_records(data),
        lambda: decode_records(data, verify_crc=False),
        lambda: decode_batches(data),
        lambda: list(iter_batches(data, verify=False)),
        lambda: validate_produced_batch(data, require_keys=True),
    ):
        try:
            call()
        except (CorruptBatchError, InvalidRecordError):
            pass


def _bounded(data: bytes) -> None:
    tracemalloc.start()
    try:
        _decode_everything(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT + 64 * len(data), f"peak allocation {peak} bytes"


def _with_valid_crc(prefix_and_rest: bytes) -> bytes:
    """Recompute the CRC (and length) so the fuzzed body gets past the checksum."""
    if len(prefix_and_rest) < 61:
        return prefix_and_rest
    buf = bytearray(prefix_and_rest)
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    return bytes(buf)


_SEED_BATCHES = [
    build_batch([(b"k%d" % i, b"v" * i, [("h", b"x")], 1000 + i) for i in range(5)], now_ms=0),
    build_batch([(b"k", b"v" * 200, None, 1)] * 3, compression=Compression.LZ4, now_ms=0),
    build_batch([(None, None, None, 2)] * 4, compression=Compression.ZSTD, now_ms=0),
]


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    _bounded(data)


@FUZZ
@given(
    st.sampled_from(_SEED_BATCHES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    st.booleans(),
)
def test_mutated_batches(seed: bytes, flips: list[tuple[int, int]], fix_crc: bool) -> None:
    buf = bytearray(seed)
    for position, value in flips:
        buf[position % len(buf)] = value
    data = bytes(buf)
    _bounded(_with_valid_crc(data) if fix_crc else data)


@FUZZ
@given(st.sampled_from(_SEED_BATCHES), st.integers(0, 10_000), st.booleans())
def test_truncated_and_extended_batches(seed: bytes, cut: int, fix_crc: bool) -> None:
    data = seed[: cut % (len(seed) + 1)] if cut % 2 else seed + seed[: cut % 97]
    _bounded(_with_valid_crc(data) if fix_crc else data)


_msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=20)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


@FUZZ
@given(
    _msgpack_values,
    st.sampled_from([0, 3, 4]),
    st.integers(-3, 40),
    st.integers(-2, 40),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**63 - 1),
)
def test_well_checksummed_garbage_bodies(
    body_object: object, codec: int, count: int, last_delta: int, first_ts: int, ts_span: int
) -> None:
    """A valid CRC over a body that is arbitrary msgpack (possibly compressed)."""
    body = msgpack.packb(body_object)
    if codec == 3:
        body = lz4.frame.compress(body)
    elif codec == 4:
        body = zstandard.ZstdCompressor().compress(body)
    max_ts = min(first_ts + ts_span, 2**63 - 1)
    tail = struct.pack(">hiqqqhii", codec, last_delta, first_ts, max_ts, -1, -1, -1, count) + body
    data = struct.pack(">qiibI", 0, len(tail) + 9, -1, 2, crc32c.crc32c(tail)) + tail
    _bounded(data)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.none() | st.binary(max_size=30),
            st.none() | st.binary(max_size=100),
            st.none() | st.lists(st.tuples(st.text(max_size=5), st.binary(max_size=5)), max_size=3),
            st.none() | st.integers(0, 2**40),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(list(Compression)),
    st.integers(0, 2**40),
    st.integers(-1, 2**31 - 1),
)
def test_valid_batches_round_trip(
    records: list, compression: Compression, base_offset: int, epoch: int
) -> None:
    batch = stamp(build_batch(records, compression=compression, now_ms=123), base_offset, epoch)
    decoded = decode_records(batch)
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(records)))
    assert [(r.key, r.value) for r in decoded] == [(k, v) for k, v, _, _ in records]
    assert [r.timestamp for r in decoded] == [123 if t is None else t for _, _, _, t in records]
    assert [list(map(tuple, r.headers)) for r in decoded] == [list(h or []) for _, _, h, _ in records]

"""The record batch format: exact layout, round trips, stamping, validation."""

from __future__ import annotations

import struct
from typing import Any

import crc32c
import msgpack
import pytest

from cluster.errors import ErrorCode
from node.storage.batch import (
    HEADER_SIZE,
    BatchHeader,
    Compression,
    Record,
    build_batch,
    decode_batches,
    decode_records,
    encode_retained,
    iter_batches,
    parse_header,
    stamp,
    validate_batch,
    validate_produced_batch,
)
from node.storage.errors import CorruptBatchError, InvalidRecordError

from .conftest import BASE_TS, make_batch


def _raw_batch(
    body: bytes,
    *,
    count: int,
    last_offset_delta: int | None = None,
    attributes: int = 0,
    magic: int = 2,
    first_ts: int = BASE_TS,
    max_ts: int = BASE_TS,
    fix_crc: bool = True,
) -> bytes:
    """Hand-assembled batch, to test the validator against exact bytes."""
    delta = count - 1 if last_offset_delta is None else last_offset_delta
    tail = struct.pack(">hiqqqhii", attributes, delta, first_ts, max_ts, -1, -1, -1, count) + body
    crc = crc32c.crc32c(tail) if fix_crc else 0xDEADBEEF
    return struct.pack(">qiibI", 0, len(tail) + 9, -1, magic, crc) + tail


def test_layout_is_kafka_v2_like_and_big_endian() -> None:
    batch = build_batch(
        [(b"k", b"v", [("h", b"x")], 1000), (None, None, None, 1005)],
        base_offset=7,
        leader_epoch=3,
        producer_id=42,
        producer_epoch=2,
        base_sequence=9,
        now_ms=0,
    )
    (base_offset, length, epoch, magic, crc) = struct.unpack_from(">qiibI", batch, 0)
    assert (base_offset, epoch, magic) == (7, 3, 2)
    assert length == len(batch) - 12
    assert crc == crc32c.crc32c(batch[21:])
    fields = struct.unpack_from(">hiqqqhii", batch, 21)
    assert fields == (0, 1, 1000, 1005, 42, 2, 9, 2)
    body = msgpack.unpackb(batch[61:])
    assert body == [[0, 0, b"k", b"v", [["h", b"x"]]], [1, 5, None, None, []]]
    header = parse_header(batch)
    assert header.size == len(batch) and header.last_offset == 8 and header.next_offset == 9
    assert header.last_sequence == 10
    assert HEADER_SIZE == 61


@pytest.mark.parametrize("compression", list(Compression))
def test_round_trip_every_codec(compression: Compression) -> None:
    records = [(b"key%d" % i, b"value" * i, [("a", b"b")] if i % 2 else None, BASE_TS + i)
               for i in range(50)]
    batch = build_batch(records, base_offset=100, compression=compression)
    header = validate_batch(batch, verify_records=True)
    assert header.compression is compression
    decoded = decode_records(batch)
    assert [r.offset for r in decoded] == list(range(100, 150))
    assert [r.timestamp for r in decoded] == [BASE_TS + i for i in range(50)]
    assert [r.key for r in decoded] == [r[0] for r in records]
    assert [r.value for r in decoded] == [r[1] for r in records]
    assert decoded[1].headers == (("a", b"b"),) and decoded[0].headers == ()


def test_missing_timestamps_take_now_and_max_is_tracked() -> None:
    batch = build_batch([(b"a", b"1", None, None), (b"b", b"2", None, 5000)], now_ms=7000)
    header = parse_header(batch)
    assert (header.first_timestamp, header.max_timestamp) == (7000, 7000)
    assert [r.timestamp for r in decode_records(batch)] == [7000, 5000]


def test_compression_accepts_names() -> None:
    batch = build_batch([(b"a", b"1" * 1000, None, 1)], compression="zstd")
    assert parse_header(batch).compression is Compression.ZSTD
    assert len(batch) < 1000
    with pytest.raises(ValueError, match="unknown compression"):
        build_batch([(b"a", b"1", None, 1)], compression="snappy")


def test_build_batch_rejects_empty() -> None:
    with pytest.raises(ValueError):
        build_batch([])


def test_stamp_changes_offset_and_epoch_but_keeps_crc_valid() -> None:
    batch = make_batch(5)
    stamped = stamp(batch, 1234, 17)
    header = validate_batch(stamped)
    assert (header.base_offset, header.leader_epoch, header.crc) == (1234, 17, parse_header(batch).crc)
    assert stamped[16:] == batch[16:]
    assert [r.offset for r in decode_records(stamped)] == [1234, 1235, 1236, 1237, 1238]


def test_bad_crc_is_detected() -> None:
    batch = bytearray(make_batch(3))
    batch[-1] ^= 0x01
    with pytest.raises(CorruptBatchError, match="CRC32C mismatch") as info:
        validate_batch(batch)
    assert info.value.code is ErrorCode.CORRUPT_MESSAGE


def test_bad_magic() -> None:
    with pytest.raises(CorruptBatchError, match="magic"):
        validate_batch(_raw_batch(msgpack.packb([[0, 0, b"k", b"v", []]]), count=1, magic=1))


def test_length_mismatch_both_ways() -> None:
    batch = make_batch(3)
    with pytest.raises(CorruptBatchError, match="buffer holds"):
        validate_batch(batch + b"\x00")
    with pytest.raises(CorruptBatchError, match="buffer holds"):
        validate_batch(batch[:-1])
    with pytest.raises(CorruptBatchError, match="header needs 61 bytes"):
        validate_batch(batch[:60])


def test_count_mismatch_uncompressed_is_caught_without_decoding() -> None:
    body = msgpack.packb([[0, 0, b"k", b"v", []], [1, 0, b"k", b"v", []]])
    with pytest.raises(CorruptBatchError, match="recordCount 3 but the body holds 2"):
        validate_batch(_raw_batch(body, count=3))


def test_count_mismatch_compressed_needs_verify_records() -> None:
    import lz4.frame

    body = lz4.frame.compress(msgpack.packb([[0, 0, b"k", b"v", []]]))
    batch = _raw_batch(body, count=2, attributes=int(Compression.LZ4))
    validate_batch(batch)  # cheap check cannot see inside a compressed body
    with pytest.raises(CorruptBatchError, match="recordCount 2"):
        validate_batch(batch, verify_records=True)
    with pytest.raises(CorruptBatchError):
        decode_records(batch)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "recordCount 0"),
        ({"count": 2_000_000}, "recordCount 2000000"),
        ({"count": 3, "last_offset_delta": 1}, "lastOffsetDelta 1 too small"),
        ({"count": 1, "attributes": 1}, "unsupported batch attributes"),
        ({"count": 1, "attributes": 0x20}, "unsupported batch attributes"),
        ({"count": 1, "first_ts": 10, "max_ts": 5}, "maxTimestamp 5 is before"),
    ],
)
def test_header_fields_out_of_limits(kwargs: dict[str, Any], message: str) -> None:
    body = msgpack.packb([[0, 0, b"k", b"v", []]])
    with pytest.raises(CorruptBatchError, match=message):
        validate_batch(_raw_batch(body, **kwargs))


def test_batch_larger_than_limit() -> None:
    batch = make_batch(10, value_size=100)
    with pytest.raises(CorruptBatchError, match="exceeds the limit"):
        validate_batch(batch, max_batch_bytes=len(batch) - 1)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[0, 0, "str-key", b"v", []]], "key is str"),
        ([[0, 0, b"k", 5, []]], "value is int"),
        ([[0, 0.5, b"k", b"v", []]], "timestamp delta"),
        ([[1, 0, b"k", b"v", []], [0, 0, b"k", b"v", []]], "offset delta 0"),
        ([[0, 0, b"k", b"v", []], [0, 0, b"k", b"v", []]], "offset delta 0"),
        ([[0, 0, b"k", b"v", [["h", "not-bytes"]]]], "header"),
        ([[0, 0, b"k", b"v"]], "5-element"),
        ([[True, 0, b"k", b"v", []]], "offset delta True"),
    ],
)
def test_record_structure_is_checked(rows: list[list[object]], message: str) -> None:
    batch = _raw_batch(msgpack.packb(rows), count=len(rows), last_offset_delta=len(rows))
    with pytest.raises(CorruptBatchError, match=message):
        decode_records(batch)


def test_produced_batch_must_have_consecutive_offsets_and_keys_when_compacted() -> None:
    rows = [[0, 0, b"k", b"v", []], [2, 0, b"k", b"v", []]]
    gappy = _raw_batch(msgpack.packb(rows), count=2, last_offset_delta=2)
    decode_records(gappy)  # legal in a compacted log
    with pytest.raises(CorruptBatchError, match="consecutive offsets"):
        validate_produced_batch(gappy)
    keyless = make_batch(2, keys=[b"a", None])
    validate_produced_batch(keyless)
    with pytest.raises(InvalidRecordError, match="record 1 has no key"):
        validate_produced_batch(keyless, require_keys=True)


def test_iter_batches_stops_cleanly_at_a_partial_tail() -> None:
    batches = [stamp(make_batch(2, start=i * 2), i * 2, 0) for i in range(3)]
    stream = b"".join(batches)
    for cut in range(len(stream) + 1):
        complete = [view.header.base_offset for view in iter_batches(stream[:cut])]
        expected = [i * 2 for i in range(3) if sum(map(len, batches[: i + 1])) <= cut]
        assert complete == expected


def test_iter_batches_rejects_corrupt_length_and_crc() -> None:
    batch = bytearray(make_batch(2))
    bad_length = bytes(batch[:8]) + struct.pack(">i", 3) + bytes(batch[12:])
    with pytest.raises(CorruptBatchError, match="batchLength 3"):
        list(iter_batches(bad_length))
    batch[-1] ^= 0xFF
    with pytest.raises(CorruptBatchError, match="CRC"):
        list(iter_batches(batch))
    assert len(list(iter_batches(batch, verify=False))) == 1


def test_decode_batches_skips_records_before_min_offset() -> None:
    stream = stamp(make_batch(5), 10, 0) + stamp(make_batch(5), 15, 0)
    assert [r.offset for r in decode_batches(stream, min_offset=13)] == [13, 14, 15, 16, 17, 18, 19]
    assert decode_batches(stream, min_offset=20) == []


@pytest.mark.parametrize("compression", list(Compression))
def test_encode_retained_keeps_offsets_and_batch_extent(compression: Compression) -> None:
    batch = stamp(make_batch(6, compression=compression), 100, 4)
    header = validate_batch(batch)
    kept = [r for r in decode_records(batch) if r.offset in (101, 104)]
    rewritten = encode_retained(header, kept)
    new_header = validate_batch(rewritten, verify_records=True)
    assert isinstance(new_header, BatchHeader)
    assert (new_header.base_offset, new_header.last_offset, new_header.leader_epoch) == (100, 105, 4)
    assert new_header.record_count == 2 and new_header.compression is compression
    assert decode_records(rewritten) == kept
    assert all(isinstance(r, Record) for r in kept)


def test_decompression_bomb_is_refused_before_inflating() -> None:
    import zstandard

    body = zstandard.ZstdCompressor().compress(bytes(10 * 1024 * 1024))
    batch = _raw_batch(body, count=1, attributes=int(Compression.ZSTD))
    with pytest.raises(CorruptBatchError, match="declares 10485760 bytes"):
        decode_records(batch, max_uncompressed_bytes=1024 * 1024)

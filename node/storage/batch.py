"""The record batch: the unit that is produced, stored, replicated and fetched.

Layout (big-endian, modelled on Kafka's v2 batch; 61-byte header then body)::

    offset size field
         0    8 baseOffset            int64   stamped by the leader, outside the CRC
         8    4 batchLength           int32   bytes after this field (= total size - 12)
        12    4 partitionLeaderEpoch  int32   stamped by the leader, outside the CRC
        16    1 magic                 int8    always 2
        17    4 crc                   uint32  CRC32C of bytes [21, end)
        21    2 attributes            int16   bits 0-2: compression (0 none, 3 lz4, 4 zstd)
        23    4 lastOffsetDelta       int32
        27    8 firstTimestamp        int64
        35    8 maxTimestamp          int64
        43    8 producerId            int64
        51    2 producerEpoch         int16
        53    4 baseSequence          int32
        57    4 recordCount           int32
        61    - body                  msgpack list of records (compressed as a whole if
                                      attributes say so)

A record is ``[offset_delta, timestamp_delta, key, value, headers]`` with key and
value ``bytes`` or ``None`` and headers a list of ``[str, bytes]`` pairs.

Because baseOffset and partitionLeaderEpoch sit before the CRC'd region, the
leader assigns offsets by rewriting those 16 bytes (`stamp`), never the body:
batches travel producer -> leader -> disk -> follower -> consumer as the same
bytes. Compaction is the only place that re-encodes a batch.

Public API::

    build_batch(records, *, base_offset=0, leader_epoch=-1, producer_id=-1,
                producer_epoch=-1, base_sequence=-1, compression=Compression.NONE,
                now_ms=None) -> bytes
    parse_header(buf, pos=0) -> BatchHeader                        # no checks
    check_header(header, max_batch_bytes=MAX_BATCH_BYTES) -> None   # field checks only
    validate_batch(buf, *, max_batch_bytes=MAX_BATCH_BYTES, verify_records=False) -> BatchHeader
    validate_produced_batch(buf, *, max_batch_bytes=..., require_keys=False) -> BatchHeader
    stamp(buf, base_offset, leader_epoch) -> bytes
    stamped_prefix(header, base_offset, leader_epoch) -> bytes     # the 16 rewritten bytes
    iter_batches(buf, *, verify=True) -> Iterator[BatchView]       # stops at a partial tail
    decode_records(batch, *, verify_crc=True,
                   max_uncompressed_bytes=MAX_UNCOMPRESSED_BATCH_BYTES) -> list[Record]
    decode_batches(buf, *, min_offset=0) -> list[Record]           # all records of a fetch
    encode_retained(header, records) -> bytes                      # used by compaction

`BatchHeader` is a NamedTuple of the fields above (snake_case) with `size`,
`last_offset`, `next_offset`, `compression` and `last_sequence`; `Record` is
``(offset, timestamp, key, value, headers)``; `BatchView` is ``(header, data)``.

Everything read from outside is size-checked against `cluster.limits` before
anything is allocated; every malformed input raises `CorruptBatchError`.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator, Sequence
from enum import IntEnum
from typing import Any, NamedTuple

import crc32c
import lz4.frame
import msgpack
import zstandard

from cluster.limits import MAX_BATCH_BYTES, MAX_RECORDS_PER_BATCH, MAX_UNCOMPRESSED_BATCH_BYTES
from node.storage.errors import CorruptBatchError, InvalidRecordError, MessageTooLargeError

MAGIC = 2
HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the bytes not counted by batchLength
CRC_START = 21  # the CRC covers [CRC_START, end)
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD

_HEADER = struct.Struct(">qiibIhiqqqhii")
_PREFIX = struct.Struct(">qiibI")  # baseOffset .. crc
_TAIL = struct.Struct(">hiqqqhii")  # attributes .. recordCount (the CRC'd part of the header)
_STAMP = struct.Struct(">qii")  # baseOffset, batchLength, partitionLeaderEpoch
_LENGTH = struct.Struct(">i")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
assert _HEADER.size == HEADER_SIZE and _PREFIX.size + _TAIL.size == HEADER_SIZE

COMPRESSION_MASK = 0x07
_INT32_MAX = 2**31 - 1


class Compression(IntEnum):
    NONE = 0
    LZ4 = 3
    ZSTD = 4

    @classmethod
    def parse(cls, value: Compression | str | int | None) -> Compression:
        """Accept an enum, its value, or a name such as "lz4" / "none"."""
        if value is None:
            return cls.NONE
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown compression {value!r}; use none, lz4 or zstd") from None
        return cls(value)


_SUPPORTED_CODECS = frozenset(int(c) for c in Compression)


class BatchHeader(NamedTuple):
    """The parsed 61-byte header of one batch."""

    base_offset: int
    batch_length: int
    leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    first_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch on disk and on the wire."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> Compression:
        return Compression(self.attributes & COMPRESSION_MASK)

    @property
    def last_sequence(self) -> int:
        """The idempotent producer's sequence of the last record (wraps at int32 like Kafka)."""
        if self.base_sequence < 0:
            return -1
        return (self.base_sequence + self.last_offset_delta) & _INT32_MAX


class Record(NamedTuple):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[Sequence[Any]]  # ((name: str, value: bytes), ...)


class BatchView(NamedTuple):
    header: BatchHeader
    data: memoryview  # exactly the batch's bytes


# (key, value, headers, timestamp_ms | None)
RecordInput = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]] | None, int | None]

# zstandard contexts are not thread-safe; compaction runs in a worker thread.
_thread_local = threading.local()


def _zstd_compressor() -> zstandard.ZstdCompressor:
    compressor = getattr(_thread_local, "zstd_compressor", None)
    if compressor is None:
        compressor = _thread_local.zstd_compressor = zstandard.ZstdCompressor(level=3)
    return compressor


def _zstd_decompressor() -> zstandard.ZstdDecompressor:
    decompressor = getattr(_thread_local, "zstd_decompressor", None)
    if decompressor is None:
        decompressor = _thread_local.zstd_decompressor = zstandard.ZstdDecompressor()
    return decompressor


def _compress(body: bytes, codec: Compression) -> bytes:
    if codec is Compression.NONE:
        return body
    if codec is Compression.LZ4:
        return lz4.frame.compress(body)
    return _zstd_compressor().compress(body)


# --------------------------------------------------------------------------- building


def build_batch(
    records: Sequence[RecordInput],
    *,
    base_offset: int = 0,
    leader_epoch: int = -1,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    compression: Compression | str | int = Compression.NONE,
    now_ms: int | None = None,
) -> bytes:
    """Encode records ``(key, value, headers, timestamp_ms | None)`` into one batch.

    A record without a timestamp gets `now_ms` (the wall clock when omitted).
    Keys and values must be bytes-like or None; the leader rejects anything else.
    """
    count = len(records)
    if count == 0:
        raise ValueError("a record batch needs at least one record")
    if count > MAX_RECORDS_PER_BATCH:
        raise ValueError(f"{count} records exceed MAX_RECORDS_PER_BATCH={MAX_RECORDS_PER_BATCH}")
    codec = Compression.parse(compression)
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    stamps = [now_ms if record[3] is None else record[3] for record in records]
    first_timestamp = stamps[0]
    body = msgpack.packb(
        [
            (delta, stamp - first_timestamp, record[0], record[1], record[2] or ())
            for delta, (record, stamp) in enumerate(zip(records, stamps, strict=True))
        ]
    )
    return _assemble(
        _compress(body, codec),
        base_offset=base_offset,
        leader_epoch=leader_epoch,
        attributes=int(codec),
        last_offset_delta=count - 1,
        first_timestamp=first_timestamp,
        max_timestamp=max(stamps),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        record_count=count,
    )


def _assemble(
    body: bytes,
    *,
    base_offset: int,
    leader_epoch: int,
    attributes: int,
    last_offset_delta: int,
    first_timestamp: int,
    max_timestamp: int,
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    record_count: int,
) -> bytes:
    size = HEADER_SIZE + len(body)
    if size > MAX_BATCH_BYTES:
        raise MessageTooLargeError(size, MAX_BATCH_BYTES)
    tail = _TAIL.pack(
        attributes,
        last_offset_delta,
        first_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
    )
    crc = crc32c.crc32c(body, crc32c.crc32c(tail))
    prefix = _PREFIX.pack(base_offset, size - LOG_OVERHEAD, leader_epoch, MAGIC, crc)
    return b"".join((prefix, tail, body))


def encode_retained(header: BatchHeader, records: Sequence[Record]) -> bytes:
    """Re-encode the records compaction kept from one batch.

    Offsets stay what they were: the base offset, lastOffsetDelta (so the batch
    still ends where it did), leader epoch, producer fields and compression are
    copied from `header`; only the timestamps and the count follow the records.
    """
    base = header.base_offset
    first_timestamp = records[0].timestamp
    body = msgpack.packb(
        [
            (record.offset - base, record.timestamp - first_timestamp, record.key, record.value,
             record.headers)
            for record in records
        ]
    )
    return _assemble(
        _compress(body, header.compression),
        base_offset=base,
        leader_epoch=header.leader_epoch,
        attributes=header.attributes,
        last_offset_delta=header.last_offset_delta,
        first_timestamp=first_timestamp,
        max_timestamp=max(record.timestamp for record in records),
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        record_count=len(records),
    )


def stamp(buf: bytes | bytearray | memoryview, base_offset: int, leader_epoch: int) -> bytes:
    """Return the batch with baseOffset and partitionLeaderEpoch replaced (CRC stays valid)."""
    (length,) = _LENGTH.unpack_from(buf, 8)
    return b"".join((_STAMP.pack(base_offset, length, leader_epoch), memoryview(buf)[16:]))


def stamped_prefix(header: BatchHeader, base_offset: int, leader_epoch: int) -> bytes:
    """The first 16 bytes of the batch once stamped; write it followed by ``buf[16:]``."""
    return _STAMP.pack(base_offset, header.batch_length, leader_epoch)


# --------------------------------------------------------------------------- parsing


def parse_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Parse the header at `pos` without checking it (see `validate_batch`)."""
    if pos < 0 or len(buf) - pos < HEADER_SIZE:
        raise CorruptBatchError(
            f"batch header needs {HEADER_SIZE} bytes, only {max(0, len(buf) - pos)} available"
        )
    return BatchHeader._make(_HEADER.unpack_from(buf, pos))


def check_header(header: BatchHeader, max_batch_bytes: int = MAX_BATCH_BYTES) -> None:
    """Check every header field that does not need the body."""
    if header.magic != MAGIC:
        raise CorruptBatchError(f"unsupported batch magic {header.magic} (expected {MAGIC})")
    if header.batch_length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(
            f"batchLength {header.batch_length} is smaller than the header ({MIN_BATCH_LENGTH})"
        )
    if header.batch_length + LOG_OVERHEAD > max_batch_bytes:
        raise CorruptBatchError(
            f"batch of {header.batch_length + LOG_OVERHEAD} bytes exceeds the limit "
            f"of {max_batch_bytes}"
        )
    if not 1 <= header.record_count <= MAX_RECORDS_PER_BATCH:
        raise CorruptBatchError(
            f"recordCount {header.record_count} outside [1, {MAX_RECORDS_PER_BATCH}]"
        )
    if header.last_offset_delta < header.record_count - 1:
        raise CorruptBatchError(
            f"lastOffsetDelta {header.last_offset_delta} too small for "
            f"{header.record_count} records"
        )
    if header.base_offset < 0:
        raise CorruptBatchError(f"negative baseOffset {header.base_offset}")
    if header.attributes & ~COMPRESSION_MASK or header.attributes not in _SUPPORTED_CODECS:
        raise CorruptBatchError(f"unsupported batch attributes 0x{header.attributes & 0xFFFF:04x}")
    if header.max_timestamp < header.first_timestamp:
        raise CorruptBatchError(
            f"maxTimestamp {header.max_timestamp} is before firstTimestamp "
            f"{header.first_timestamp}"
        )


def validate_batch(
    buf: bytes | bytearray | memoryview,
    *,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    verify_records: bool = False,
) -> BatchHeader:
    """Validate one whole batch (`buf` must be exactly one batch) and return its header.

    Checks the header fields, the length against ``len(buf)``, the CRC and, for
    an uncompressed body, that the msgpack array holds recordCount records.
    With `verify_records` the body is decoded (decompressed if needed) and
    every record's structure is checked as `decode_records` does.
    """
    header = parse_header(buf)
    check_header(header, max_batch_bytes)
    if header.size != len(buf):
        raise CorruptBatchError(
            f"batchLength says {header.size} bytes but the buffer holds {len(buf)}"
        )
    actual_crc = crc32c.crc32c(memoryview(buf)[CRC_START:])
    if actual_crc != header.crc:
        raise CorruptBatchError(
            f"CRC32C mismatch at offset {header.base_offset}: stored 0x{header.crc:08x}, "
            f"computed 0x{actual_crc:08x}"
        )
    if verify_records:
        _decode_rows(buf, header)
    elif header.attributes == Compression.NONE:
        body_count = _msgpack_array_length(buf, HEADER_SIZE)
        if body_count != header.record_count:
            raise CorruptBatchError(
                f"recordCount {header.record_count} but the body holds {body_count} records"
            )
    return header


def validate_produced_batch(
    buf: bytes | bytearray | memoryview,
    *,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    require_keys: bool = False,
) -> BatchHeader:
    """What a leader checks before accepting a producer's batch.

    Everything `validate_batch` checks, plus: offset deltas exactly 0..n-1,
    every record well formed, and (for compacted topics) every record keyed.
    The body is decoded once; nothing is re-encoded.
    """
    header = validate_batch(buf, max_batch_bytes=max_batch_bytes)
    if header.last_offset_delta != header.record_count - 1:
        raise CorruptBatchError(
            f"a produced batch must hold consecutive offsets: lastOffsetDelta "
            f"{header.last_offset_delta} with {header.record_count} records"
        )
    rows = _decode_rows(buf, header)
    if require_keys:
        for index, row in enumerate(rows):
            if row[2] is None:
                raise InvalidRecordError(
                    f"record {index} has no key; a compacted topic needs a key on every record"
                )
    return header


def _msgpack_array_length(buf: bytes | bytearray | memoryview, pos: int) -> int:
    """Element count of the msgpack array that starts at `pos` (cheap count check)."""
    if pos >= len(buf):
        raise CorruptBatchError("empty batch body")
    marker = buf[pos]
    if 0x90 <= marker <= 0x9F:
        return marker & 0x0F
    if marker == 0xDC and len(buf) - pos >= 3:
        return int(_U16.unpack_from(buf, pos + 1)[0])
    if marker == 0xDD and len(buf) - pos >= 5:
        return int(_U32.unpack_from(buf, pos + 1)[0])
    raise CorruptBatchError(f"batch body does not start with a msgpack array (0x{marker:02x})")


def iter_batches(buf: bytes | bytearray | memoryview, *, verify: bool = True) -> Iterator[BatchView]:
    """Yield the whole batches of a concatenation, stopping cleanly at a partial tail.

    With `verify`, each batch is checked by `validate_batch` (CRC included);
    without, only its header fields.
    """
    view = memoryview(buf)
    end = len(view)
    pos = 0
    while end - pos >= LOG_OVERHEAD:
        (length,) = _LENGTH.unpack_from(view, pos + 8)
        if length < MIN_BATCH_LENGTH or length + LOG_OVERHEAD > MAX_BATCH_BYTES:
            raise CorruptBatchError(f"batchLength {length} at byte {pos} is out of range")
        size = length + LOG_OVERHEAD
        if end - pos < size:
            return  # a partial batch at the end of a fetch: the caller asks again
        data = view[pos : pos + size]
        if verify:
            header = validate_batch(data)
        else:
            header = parse_header(data)
            check_header(header)
        yield BatchView(header, data)
        pos += size


# --------------------------------------------------------------------------- decoding

_new_record = tuple.__new__
_UNPACK_ERRORS = (ValueError, TypeError, msgpack.UnpackException, RecursionError)


def _body(buf: bytes | bytearray | memoryview, header: BatchHeader, limit: int) -> Any:
    """The batch body, decompressed, never larger than `limit` bytes."""
    raw = memoryview(buf)[HEADER_SIZE : header.size]
    codec = header.attributes & COMPRESSION_MASK
    if codec == Compression.NONE:
        return raw
    try:
        if codec == Compression.LZ4:
            return _lz4_decompress(raw, limit)
        return _zstd_decompress(raw, limit)
    except CorruptBatchError:
        raise
    except (RuntimeError, ValueError, zstandard.ZstdError, MemoryError) as exc:
        raise CorruptBatchError(
            f"cannot decompress {header.compression.name} body at offset "
            f"{header.base_offset}: {exc}"
        ) from None


# Bodies that declare at most this much are inflated in one call; anything
# larger, or of unknown size, is inflated in chunks so memory grows only with
# real output (a forged size field cannot make us allocate the limit).
_ONE_SHOT_INFLATE_BYTES = 1024 * 1024
_INFLATE_CHUNK = 256 * 1024


def _lz4_decompress(raw: memoryview, limit: int) -> bytes:
    declared = lz4.frame.get_frame_info(raw)["content_size"]
    if declared > limit:
        raise CorruptBatchError(f"lz4 body declares {declared} bytes, limit {limit}")
    if 0 < declared <= _ONE_SHOT_INFLATE_BYTES:
        out: bytes = lz4.frame.decompress(raw)
        return out
    decompressor = lz4.frame.LZ4FrameDecompressor()
    parts: list[bytes] = []
    total = 0
    pending: bytes | memoryview = raw
    while not decompressor.eof:
        chunk = decompressor.decompress(pending, max_length=_INFLATE_CHUNK)
        pending = b""
        total += len(chunk)
        if total > limit:
            raise CorruptBatchError(f"lz4 body inflates beyond {limit} bytes")
        if not chunk and not decompressor.eof:
            raise CorruptBatchError("lz4 body is truncated")
        parts.append(chunk)
    return b"".join(parts)


def _zstd_decompress(raw: memoryview, limit: int) -> bytes:
    declared = zstandard.frame_content_size(raw)
    if declared > limit:
        raise CorruptBatchError(f"zstd body declares {declared} bytes, limit {limit}")
    if 0 <= declared <= _ONE_SHOT_INFLATE_BYTES:
        out: bytes = _zstd_decompressor().decompress(raw)
        return out
    reader = _zstd_decompressor().stream_reader(raw)
    parts: list[bytes] = []
    total = 0
    while chunk := reader.read(_INFLATE_CHUNK):
        total += len(chunk)
        if total > limit:
            raise CorruptBatchError(f"zstd body inflates beyond {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _decode_rows(
    buf: bytes | bytearray | memoryview,
    header: BatchHeader,
    limit: int = MAX_UNCOMPRESSED_BATCH_BYTES,
) -> tuple[Any, ...]:
    """Unpack and structurally check the records of a batch whose header is valid."""
    body = _body(buf, header, limit)
    try:
        rows = msgpack.unpackb(body, use_list=False)
    except _UNPACK_ERRORS as exc:
        raise CorruptBatchError(
            f"undecodable body in batch at offset {header.base_offset}: {exc}"
        ) from None
    if type(rows) is not tuple or len(rows) != header.record_count:
        found = len(rows) if type(rows) is tuple else type(rows).__name__
        raise CorruptBatchError(
            f"recordCount {header.record_count} but the body holds {found} records "
            f"(batch at offset {header.base_offset})"
        )
    _check_rows(rows, header)
    return rows


def _check_rows(rows: tuple[Any, ...], header: BatchHeader) -> None:
    # Offset deltas must be strictly increasing inside [0, lastOffsetDelta]: a
    # compacted batch has gaps, a produced one is exactly 0..n-1.
    previous = -1
    last_delta = header.last_offset_delta
    for index, row in enumerate(rows):
        if type(row) is not tuple or len(row) != 5:
            raise CorruptBatchError(f"record {index} is not a 5-element array")
        offset_delta, timestamp_delta, key, value, headers = row
        if type(offset_delta) is not int or not previous < offset_delta <= last_delta:
            raise CorruptBatchError(
                f"record {index} has offset delta {offset_delta!r}; expected an int in "
                f"({previous}, {last_delta}]"
            )
        previous = offset_delta
        if type(timestamp_delta) is not int:
            raise CorruptBatchError(f"record {index} has a non-integer timestamp delta")
        if key is not None and type(key) is not bytes:
            raise CorruptBatchError(
                f"record {index} key is {type(key).__name__}, expected bytes or nil"
            )
        if value is not None and type(value) is not bytes:
            raise CorruptBatchError(
                f"record {index} value is {type(value).__name__}, expected bytes or nil"
            )
        if headers != ():
            _check_headers(index, headers)


def _check_headers(index: int, headers: Any) -> None:
    if type(headers) is not tuple:
        raise CorruptBatchError(f"record {index} headers are not an array")
    for pair in headers:
        if (
            type(pair) is not tuple
            or len(pair) != 2
            or type(pair[0]) is not str
            or type(pair[1]) is not bytes
        ):
            raise CorruptBatchError(f"record {index} has a header that is not [str, bytes]")


def decode_records(
    batch: bytes | bytearray | memoryview,
    *,
    verify_crc: bool = True,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BATCH_BYTES,
) -> list[Record]:
    """Decode the records of one batch (`batch` is exactly one batch).

    Raises `CorruptBatchError` for anything malformed, including a body whose
    records do not match the header.
    """
    if verify_crc:
        header = validate_batch(batch)
    else:
        header = parse_header(batch)
        check_header(header)
        if header.size != len(batch):
            raise CorruptBatchError(
                f"batchLength says {header.size} bytes but the buffer holds {len(batch)}"
            )
    rows = _decode_rows(batch, header, max_uncompressed_bytes)
    base = header.base_offset
    first_timestamp = header.first_timestamp
    return [
        _new_record(Record, (base + offset_delta, first_timestamp + timestamp_delta, k, v, h))
        for offset_delta, timestamp_delta, k, v, h in rows
    ]


def decode_batches(buf: bytes | bytearray | memoryview, *, min_offset: int = 0) -> list[Record]:
    """All records with offset >= `min_offset` in the whole batches of `buf` (a fetch).

    A fetch starts at the batch containing the requested offset, so the first
    batch may hold records before it; `min_offset` drops those.
    """
    out: list[Record] = []
    for header, data in iter_batches(buf):
        if header.last_offset < min_offset:
            continue
        records = decode_records(data, verify_crc=False)
        if header.base_offset < min_offset:
            records = [record for record in records if record.offset >= min_offset]
        out.extend(records)
    return out

"""Snapshots (stream of msgpack records) and the state digest.

A snapshot is a sequence of msgpack objects, written and read one at a time so that
memory stays bounded by the largest single value rather than by the keyspace:

    {"format": "keystream-keyspace", "version": 1, "applied_offset", "clock_ms",
     "key_count", "watch": {"complete_since", "last_flush"}}     # header
    ["w", [key, offset, key, offset, ...]]                        # WATCH window, chunks
    ["k", key, type, expire_ms | None, payload | chunk_count]     # one per key
    ["c", [element, ...]]                                         # chunk_count chunks
    ["end", key_count, digest]                                    # trailer

``type`` is 0 string (payload: the bytes), 1 hash (chunks of field, value), 2 list,
3 set (members), 4 sorted set (chunks of member, score). Collections are written in their
own order, and loading rebuilds them by appending in that order, so a loaded keyspace
has the same iteration orders, hence the same future replies, as the original.

The digest is order-independent over keys: the sum modulo 2**128 of a BLAKE2b hash of
each key's canonical record (the same encoding), plus a hash of the header fields and the
WATCH window. Two replicas with the same digest hold the same keys, values, orders, TTLs
and WATCH state.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, Final

import msgpack

from node.keyspace.containers import SetValue, ZSetValue
from node.keyspace.database import Value

if TYPE_CHECKING:
    from node.keyspace.machine import Keyspace

FORMAT: Final = "keystream-keyspace"
VERSION: Final = 1
CHUNK: Final = 1024  # elements per chunk record
_MOD: Final = 1 << 128

STRING, HASH, LIST, SET, ZSET = 0, 1, 2, 3, 4


class SnapshotError(ValueError):
    """The stream is not a valid keyspace snapshot (truncated, corrupt, wrong format)."""


def _value_records(key: bytes, value: Value, expire: int | None) -> Iterator[list[Any]]:
    if isinstance(value, bytes | bytearray):
        yield ["k", key, STRING, expire, value]
        return
    elements: Iterator[Any]
    if isinstance(value, dict):
        code, size = HASH, 2 * len(value)
        elements = (item for pair in value.items() for item in pair)
    elif isinstance(value, deque):
        code, size, elements = LIST, len(value), iter(value)
    elif isinstance(value, SetValue):
        code, size, elements = SET, len(value), iter(value)
    elif isinstance(value, ZSetValue):
        code, size = ZSET, 2 * len(value)
        elements = (item for pair in value.items() for item in pair)
    else:
        raise TypeError(f"unknown value type {type(value)!r}")
    yield ["k", key, code, expire, -(-size // CHUNK)]
    while chunk := list(islice(elements, CHUNK)):
        yield ["c", chunk]


def _header(keyspace: Keyspace) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "applied_offset": keyspace.applied_offset,
        "clock_ms": keyspace.clock_ms,
        "key_count": keyspace.db.key_count,
        "watch": {
            "complete_since": keyspace.window.complete_since,
            "last_flush": keyspace.window.last_flush,
        },
    }


def _window_records(keyspace: Keyspace) -> Iterator[list[Any]]:
    flat: list[Any] = []
    for key, offset in keyspace.window.items():
        flat += [key, offset]
        if len(flat) >= 2 * CHUNK:
            yield ["w", flat]
            flat = []
    if flat:
        yield ["w", flat]


def _key_records(keyspace: Keyspace) -> Iterator[Iterator[list[Any]]]:
    db = keyspace.db
    for slot in db.non_empty_slots():
        expires = db.expires_in_slot(slot)
        for key, value in db.keys_in_slot(slot).items():
            yield _value_records(key, value, expires.get(key))


def _walk(keyspace: Keyspace, write: Callable[[bytes], object] | None) -> bytes:
    """Encode the whole state once: feed every record to ``write`` (if given) and return
    the digest."""
    packer = msgpack.Packer(use_bin_type=True)
    meta = hashlib.blake2b(digest_size=16)
    for record in [_header(keyspace)], _window_records(keyspace):
        for item in record:
            packed = packer.pack(item)
            meta.update(packed)
            if write is not None:
                write(packed)
    total = int.from_bytes(meta.digest(), "big")
    for records in _key_records(keyspace):
        hasher = hashlib.blake2b(digest_size=16)
        for record in records:
            packed = packer.pack(record)
            hasher.update(packed)
            if write is not None:
                write(packed)
        total = (total + int.from_bytes(hasher.digest(), "big")) % _MOD
    return total.to_bytes(16, "big")


def state_digest(keyspace: Keyspace) -> bytes:
    return _walk(keyspace, None)


def write_snapshot(keyspace: Keyspace, fp: IO[bytes]) -> None:
    digest = _walk(keyspace, fp.write)
    fp.write(msgpack.packb(["end", keyspace.db.key_count, digest], use_bin_type=True))


def read_snapshot(keyspace: Keyspace, fp: IO[bytes]) -> None:
    """Load a snapshot into an empty keyspace; verifies the trailer's digest."""
    limit = keyspace.limits.max_value_bytes + keyspace.limits.max_key_bytes + 1024
    unpacker = msgpack.Unpacker(
        fp, use_list=True, raw=False, max_buffer_size=min(limit, 2**31 - 1), strict_map_key=False
    )
    records = iter(unpacker)
    try:
        header = next(records)
    except StopIteration:
        raise SnapshotError("empty snapshot") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError("not a keyspace snapshot")
    if header.get("version") != VERSION:
        raise SnapshotError(f"unsupported snapshot version {header.get('version')!r}")
    keyspace.applied_offset = int(header["applied_offset"])
    keyspace.clock_ms = int(header["clock_ms"])
    keyspace.window.complete_since = int(header["watch"]["complete_since"])
    keyspace.window.last_flush = int(header["watch"]["last_flush"])
    db = keyspace.db
    for record in records:
        tag = record[0]
        if tag == "w":
            flat = record[1]
            keyspace.window.restore(zip(flat[::2], flat[1::2], strict=True))
        elif tag == "k":
            _, key, code, expire, payload = record
            value = _read_value(code, payload, records)
            db.insert(key, value)
            if expire is not None:
                db.set_expire(key, expire)
        elif tag == "end":
            _, key_count, digest = record
            if key_count != db.key_count or key_count != header["key_count"]:
                raise SnapshotError("key count mismatch")
            if digest != keyspace.digest():
                raise SnapshotError("digest mismatch")
            return
        else:
            raise SnapshotError(f"unexpected record {tag!r}")
    raise SnapshotError("truncated snapshot (no trailer)")


def _read_value(code: int, payload: Any, records: Iterator[Any]) -> Value:
    """Rebuild a value chunk by chunk (appending in the snapshot's order)."""
    if code == STRING:
        if not isinstance(payload, bytes):
            raise SnapshotError("string payload is not bytes")
        return payload
    value: Value
    if code == HASH:
        value = {}
    elif code == LIST:
        value = deque()
    elif code == SET:
        value = SetValue()
    elif code == ZSET:
        value = ZSetValue()
    else:
        raise SnapshotError(f"unknown type code {code!r}")
    for _ in range(int(payload)):
        chunk = next(records, None)
        if chunk is None or chunk[0] != "c":
            raise SnapshotError("missing chunk")
        elements = chunk[1]
        if isinstance(value, dict):
            value.update(zip(elements[::2], elements[1::2], strict=True))
        elif isinstance(value, deque):
            value.extend(elements)
        elif isinstance(value, SetValue):
            for member in elements:
                value.add(member)
        else:
            for member, score in zip(elements[::2], elements[1::2], strict=True):
                value.set(member, float(score))
    if not value:
        raise SnapshotError("empty collection")
    return value

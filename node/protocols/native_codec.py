"""The native protocol's frames, sans-I/O (used by the node and by the SDK).

A frame is a big-endian u32 length followed by that many bytes of msgpack:

* request:  ``[request_id, op, args]`` (``op`` a string, ``args`` a map or nil)
* response: ``[request_id, code, payload]``: ``code`` 0 and the result, or an
  ``ErrorCode`` and ``{"message": ..., "detail": ...}``.

Request ids let a client pipeline many requests on one connection and match
responses that come back in a different order. The length prefix is checked
against the limit before a byte of the frame is buffered.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import msgpack

from cluster import limits
from cluster.errors import ErrorCode, KeystreamError

_LEN = struct.Struct(">I")
HEADER_BYTES = _LEN.size


class FrameTooLarge(KeystreamError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            ErrorCode.FRAME_TOO_LARGE, f"frame of {size} bytes exceeds the limit of {limit} bytes"
        )
        self.size = size
        self.limit = limit


class Request(NamedTuple):
    request_id: int
    op: str
    args: dict[str, Any]


class Response(NamedTuple):
    request_id: int
    code: int
    payload: Any

    def result(self) -> Any:
        """The payload, or raise the typed error it carries."""
        if self.code == ErrorCode.NONE:
            return self.payload
        detail = self.payload if isinstance(self.payload, dict) else {"message": str(self.payload)}
        return _raise(KeystreamError.from_wire({"code": self.code, **detail}))


def _raise(exc: Exception) -> Any:
    raise exc


class FrameDecoder:
    """Feed bytes, take complete frame bodies out. Never buffers past one frame + read size."""

    def __init__(self, max_frame_bytes: int = limits.MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame body, None if more bytes are needed.

        Raises FrameTooLarge as soon as a length prefix over the limit is seen.
        """
        avail = len(self._buf) - self._pos
        if avail < HEADER_BYTES:
            return None
        (length,) = _LEN.unpack_from(self._buf, self._pos)
        if length > self.max_frame_bytes:
            raise FrameTooLarge(length, self.max_frame_bytes)
        if avail < HEADER_BYTES + length:
            return None
        start = self._pos + HEADER_BYTES
        body = bytes(self._buf[start : start + length])
        self._pos = start + length
        return body

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def pending_frame_bytes(self) -> int:
        """Bytes the frame being received still needs (for read-size hints)."""
        avail = self.buffered
        if avail < HEADER_BYTES:
            return HEADER_BYTES - avail
        (length,) = _LEN.unpack_from(self._buf, self._pos)
        return max(0, HEADER_BYTES + length - avail)


def _pack(obj: Any) -> bytes:
    body = msgpack.packb(obj, use_bin_type=True)
    return _LEN.pack(len(body)) + body


def encode_request(request_id: int, op: str, args: dict[str, Any] | None = None) -> bytes:
    return _pack([request_id, op, args])


def encode_response(request_id: int, result: Any) -> bytes:
    return _pack([request_id, 0, result])


def encode_error(request_id: int, error: KeystreamError) -> bytes:
    payload: dict[str, Any] = {"message": error.message}
    if error.detail is not None:
        payload["detail"] = error.detail
    return _pack([request_id, int(error.code), payload])


def decode_request(body: bytes) -> Request:
    """Parse a request frame body; raises KeystreamError(INVALID_REQUEST) naming the problem."""
    try:
        obj = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as exc:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"frame is not valid msgpack: {exc}") from None
    if not isinstance(obj, list) or len(obj) != 3:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, "a request is [request_id, op, args]")
    request_id, op, args = obj
    if not isinstance(request_id, int) or isinstance(request_id, bool) or not 0 <= request_id < 2**63:
        raise KeystreamError(
            ErrorCode.INVALID_REQUEST, f"request_id must be a non-negative int, got {request_id!r}"
        )
    if not isinstance(op, str) or not op or len(op) > 64:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"op must be a short string, got {op!r}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"args of {op} must be a map")
    return Request(request_id, op, args)


def decode_response(body: bytes) -> Response:
    try:
        obj = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as exc:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"response is not valid msgpack: {exc}") from None
    if (
        not isinstance(obj, list)
        or len(obj) != 3
        or not isinstance(obj[0], int)
        or not isinstance(obj[1], int)
    ):
        raise KeystreamError(ErrorCode.INVALID_REQUEST, "a response is [request_id, code, payload]")
    return Response(obj[0], obj[1], obj[2])

"""Argument parsing shared by the command modules, with Redis's exact error texts.

Redis compares option names with ``strcasecmp`` on C strings, so an option is whatever
comes before the first NUL byte, case-insensitively: :func:`option` gives that.
"""

from __future__ import annotations

from typing import Final

from node.keyspace.numeric import LongDouble, parse_double, parse_int, parse_unsigned_cursor
from node.keyspace.replies import (
    INVALID_CURSOR,
    NOT_FLOAT,
    NOT_INTEGER,
    RedisError,
)

LONG_MAX: Final = 2**63 - 1


def option(raw: bytes) -> bytes:
    nul = raw.find(b"\0")
    return (raw if nul < 0 else raw[:nul]).lower()


def integer(raw: bytes, message: str = NOT_INTEGER) -> int:
    """``getLongLongFromObjectOrReply``: the int64 or the error."""
    value = parse_int(raw)
    if value is None:
        raise RedisError(message)
    return value


def integer_in_range(raw: bytes, low: int, high: int, message: str | None = None) -> int:
    """``getRangeLongFromObjectOrReply``."""
    value = parse_int(raw)
    if value is None:
        raise RedisError(message if message is not None else NOT_INTEGER)
    if value < low or value > high:
        if message is not None:
            raise RedisError(message)
        raise RedisError(f"ERR value is out of range, value must between {low} and {high}")
    return value


def positive_integer(raw: bytes, message: str = "value is out of range, must be positive") -> int:
    """``getPositiveLongFromObjectOrReply``: 0 .. LONG_MAX; one message for a non-integer
    and for a negative value (``message`` without its ``ERR`` prefix)."""
    return integer_in_range(raw, 0, LONG_MAX, "ERR " + message)


def double(raw: bytes, message: str = NOT_FLOAT) -> float:
    """``getDoubleFromObjectOrReply``."""
    value = parse_double(raw)
    if value is None:
        raise RedisError(message)
    return value


def long_double(raw: bytes, message: str = NOT_FLOAT) -> LongDouble:
    value = LongDouble.parse(raw)
    if value is None:
        raise RedisError(message)
    return value


def cursor(raw: bytes) -> int:
    """A SCAN-family cursor (``parseScanCursorOrReply``)."""
    value = parse_unsigned_cursor(raw)
    if value is None:
        raise RedisError(INVALID_CURSOR)
    return value

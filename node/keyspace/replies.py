"""Reply values of keyspace commands, and Redis 7.0's error texts.

A reply is plain Python data that a RESP2/RESP3 encoder turns into bytes exactly as
Redis does. The mapping (RESP2 | RESP3):

=====================  =========================================  ==========================
Python value           RESP2                                      RESP3
=====================  =========================================  ==========================
``bytes``              bulk string                                bulk string
``None``               null bulk ``$-1``                          null ``_``
``NULL_ARRAY``         null array ``*-1``                         null ``_``
``int``                integer                                    integer
``float``              bulk string of :func:`format_double`        double ``,`` (same digits)
``SimpleString``       simple string ``+OK``                      simple string
``RedisError``         error ``-ERR ...``                         error (same text)
``list``               array                                      array
``Map``                flat array k1, v1, k2, v2                  map ``%``
``SetReply``           array                                      set ``~``
``PairArray``          flat array a1, b1, a2, b2                  array of 2-element arrays
=====================  =========================================  ==========================

``PairArray`` is what ``ZRANGE ... WITHSCORES``, ``ZPOPMIN key count`` and
``HRANDFIELD key count WITHVALUES`` reply: Redis 7 nests the pairs only in RESP3.
``WOULD_BLOCK`` is not sent to clients: a blocking command (BLPOP, BRPOP, BLMOVE,
BRPOPLPUSH) applied while all its keys are empty returns it, and the shell parks the client.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Union


@dataclass(frozen=True, slots=True)
class SimpleString:
    text: str


OK: Final = SimpleString("OK")


class RedisError(Exception):
    """An error reply. ``message`` is the full text after ``-``, with its prefix
    (``ERR``, ``WRONGTYPE``, ``CROSSSLOT``, ...). Raised inside command handlers and
    returned (not raised) as a reply; equal when the texts are equal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)

    def __repr__(self) -> str:
        return f"RedisError({self.message!r})"


class _NullArray:
    _instance: _NullArray | None = None

    def __new__(cls) -> _NullArray:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL_ARRAY"

    def __reduce__(self) -> str:
        return "NULL_ARRAY"


class _WouldBlock:
    _instance: _WouldBlock | None = None

    def __new__(cls) -> _WouldBlock:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WOULD_BLOCK"

    def __reduce__(self) -> str:
        return "WOULD_BLOCK"


NULL_ARRAY: Final = _NullArray()
WOULD_BLOCK: Final = _WouldBlock()


@dataclass(frozen=True, slots=True)
class Map:
    """A map reply, pairs in order (Redis's order: HGETALL follows the hash's order)."""

    pairs: list[tuple[Reply, Reply]]


@dataclass(frozen=True, slots=True)
class SetReply:
    items: list[Reply]


@dataclass(frozen=True, slots=True)
class PairArray:
    pairs: list[tuple[Reply, Reply]]


Reply = Union[  # noqa: UP007 (a recursive alias needs the Union spelling)
    bytes,
    None,
    int,
    float,
    SimpleString,
    RedisError,
    _NullArray,
    _WouldBlock,
    list["Reply"],
    Map,
    SetReply,
    PairArray,
]


def format_double(value: float) -> bytes:
    """A double as Redis 7.0 prints it (``addReplyDouble``, scores): ``%.17g``,
    ``inf``/``-inf``. ``0.1`` prints as ``0.10000000000000001``, ``3.0`` as ``3``."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def flat(pairs: Iterable[tuple[Reply, Reply]]) -> list[Reply]:
    """The RESP2 form of a :class:`Map` or :class:`PairArray`."""
    out: list[Reply] = []
    for first, second in pairs:
        out.append(first)
        out.append(second)
    return out


# --- Redis 7.0's error texts (server.c shared objects and the t_*.c commands) ----------

WRONGTYPE: Final = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX: Final = "ERR syntax error"
NOT_INTEGER: Final = "ERR value is not an integer or out of range"
NOT_FLOAT: Final = "ERR value is not a valid float"
NO_SUCH_KEY: Final = "ERR no such key"
INDEX_OUT_OF_RANGE: Final = "ERR index out of range"
OVERFLOW: Final = "ERR increment or decrement would overflow"
DECREMENT_OVERFLOW: Final = "ERR decrement would overflow"
NAN_OR_INFINITY: Final = "ERR increment would produce NaN or Infinity"
STRING_TOO_LONG: Final = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_OUT_OF_RANGE: Final = "ERR offset is out of range"
HASH_NOT_INTEGER: Final = "ERR hash value is not an integer"
HASH_NOT_FLOAT: Final = "ERR hash value is not a float"
MUST_BE_POSITIVE: Final = "ERR value is out of range, must be positive"
MIN_MAX_NOT_FLOAT: Final = "ERR min or max is not a float"
MIN_MAX_NOT_LEX: Final = "ERR min or max not valid string range item"
SCORE_NAN: Final = "ERR resulting score is not a number (NaN)"
WEIGHT_NOT_FLOAT: Final = "ERR weight value is not a float"
INVALID_CURSOR: Final = "ERR invalid cursor"
CROSSSLOT: Final = "CROSSSLOT Keys in request don't hash to the same slot"
OOM: Final = "OOM command not allowed when used memory > 'maxmemory'."
TIMEOUT_NOT_FLOAT: Final = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE: Final = "ERR timeout is negative"
SAME_OBJECT: Final = "ERR source and destination objects are the same"


def wrong_arity(name: str) -> str:
    return f"ERR wrong number of arguments for '{name}' command"


def invalid_expire(name: str) -> str:
    return f"ERR invalid expire time in '{name}' command"


def unknown_command(argv: list[bytes]) -> str:
    """Redis 7.0's text for an unknown command: the name and the first arguments,
    each quoted and cut to fit 128 characters, CR/LF replaced by spaces."""
    args = ""
    for raw in argv[1:]:
        if len(args) >= 128:
            break
        text = raw.decode("utf-8", "replace")[: 128 - len(args)]
        args += f"'{text}' "
    name = argv[0].decode("utf-8", "replace")[:128] if argv else ""
    message = f"ERR unknown command '{name}', with args beginning with: {args}"
    return message.replace("\r", " ").replace("\n", " ")

"""Reply values for the RESP codec whose wire type a plain Python value cannot express.

``encode_reply`` maps plain values by type: ``bytes``/``str`` -> bulk string, ``int`` ->
integer, ``None`` -> null, ``bool`` -> boolean, ``float`` -> double, ``list``/``tuple``
-> array, ``dict`` -> map, ``set``/``frozenset`` -> set. The classes here cover the rest.
Each is small, immutable and compares by type and value, so a decoded reply can be checked
with ``==`` in tests. Text is ``str`` (sent as UTF-8; surrogate escapes round-trip
arbitrary bytes).

Each type documents how it degrades in RESP2, the same way Redis degrades it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "NULL_ARRAY",
    "OK",
    "PONG",
    "QUEUED",
    "Attribute",
    "BigNumber",
    "Double",
    "ErrorReply",
    "Map",
    "NullArray",
    "Push",
    "Raw",
    "RespSet",
    "SimpleString",
    "Verbatim",
]


@dataclass(frozen=True, slots=True)
class SimpleString:
    """``+text`` (both protocols): status replies such as OK, PONG, QUEUED.

    CR and LF, which would end the line early, are sent as spaces.
    """

    text: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """``-text`` (both protocols). ``text`` starts with the error code, as Redis sends it:
    ``"ERR unknown command 'x'"``, ``"WRONGTYPE Operation against a key holding the wrong
    kind of value"``, ``"MOVED 3999 127.0.0.1:6381"``. CR/LF are sent as spaces."""

    text: str

    @property
    def code(self) -> str:
        """The first word: ``ERR``, ``WRONGTYPE``, ``MOVED``..."""
        return self.text.split(" ", 1)[0]

    @property
    def message(self) -> str:
        """The text after the code."""
        parts = self.text.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True, slots=True)
class Double:
    """RESP3 ``,value``; RESP2 a bulk string formatted like ``%.17g`` (``inf``/``-inf``).

    A plain ``float`` encodes the same way; this marker exists for readability."""

    value: float


@dataclass(frozen=True, slots=True)
class BigNumber:
    """RESP3 ``(digits``; RESP2 a bulk string of the digits (as Redis's addReplyBigNum).

    Plain ``int`` values outside the signed 64-bit range are sent this way too."""

    value: int


@dataclass(frozen=True, slots=True)
class Verbatim:
    """RESP3 ``=len\\r\\nfmt:text``; RESP2 a bulk string of ``text``. ``format`` is three
    characters: ``txt`` (plain text) or ``mkd`` (markdown). Used by INFO, CLIENT LIST..."""

    text: str
    format: str = "txt"


@dataclass(frozen=True, slots=True)
class Map:
    """RESP3 ``%n`` map; RESP2 a flat array ``k1 v1 k2 v2 ...`` (as Redis's addReplyMapLen).

    ``items`` is a mapping or a sequence of ``(key, value)`` pairs (keys need not be
    hashable, order is kept). A plain ``dict`` encodes the same way."""

    items: Mapping[Any, Any] | tuple[tuple[Any, Any], ...] | list[tuple[Any, Any]]

    def pairs(self) -> Iterable[tuple[Any, Any]]:
        items = self.items
        return items.items() if isinstance(items, Mapping) else items

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class RespSet:
    """RESP3 ``~n`` set; RESP2 an array. ``items`` keeps the caller's order (SMEMBERS order)
    and may hold unhashable values. A plain ``set``/``frozenset`` encodes the same way."""

    items: tuple[Any, ...] | list[Any]


@dataclass(frozen=True, slots=True)
class Push:
    """RESP3 ``>n`` out-of-band push (pub/sub messages, invalidations); RESP2 an array.

    ``items[0]`` is the kind: ``b"message"``, ``b"pmessage"``, ``b"subscribe"``..."""

    items: tuple[Any, ...] | list[Any]


@dataclass(frozen=True, slots=True)
class Attribute:
    """RESP3 ``|n`` attribute map followed by ``value``; RESP2 just ``value``."""

    attributes: Mapping[Any, Any]
    value: Any


class NullArray:
    """RESP2 ``*-1`` (the null of commands that return arrays: BLPOP timeout, EXEC abort);
    RESP3 ``_``. Use the singleton ``NULL_ARRAY``; plain ``None`` is the null bulk string."""

    __slots__ = ()
    _instance: NullArray | None = None

    def __new__(cls) -> NullArray:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL_ARRAY"

    def __reduce__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY: Final = NullArray()


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes that are already a complete RESP frame, sent as they are (cached replies)."""

    data: bytes


OK: Final = SimpleString("OK")
PONG: Final = SimpleString("PONG")
QUEUED: Final = SimpleString("QUEUED")

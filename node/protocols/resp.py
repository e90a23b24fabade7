"""RESP2/RESP3 codec, sans-I/O (h11 style): bytes in, commands out; values in, bytes out.

Three parts, none of which touches a socket:

* ``RespParser`` -- the server side of the request stream. ``feed()`` it what the socket
  gave, then pull complete commands (``list[bytes]``) with ``next_command()`` or
  ``read_commands()``. It accepts what Redis 7.0's ``processInputBuffer`` accepts --
  multibulk (``*``) commands and inline commands (a line of space-separated, optionally
  quoted words, as telnet and ``redis-cli`` in some modes send), pipelined, split at any
  byte -- and refuses what Redis refuses, with Redis's own error text. Every size that
  arrives from the network is checked against a named limit before anything is allocated.
* ``encode_reply()`` -- a reply value to RESP2 or RESP3 bytes (see ``resp_types``).
* ``RespReplyDecoder`` / ``encode_command()`` -- the client side, for our tests and tools.

Protocol errors raise ``RespProtocolError``; the front end writes ``error.reply`` (Redis's
``-ERR Protocol error: ...`` line) and closes the connection, as Redis does. Commands
parsed before the bad bytes are still returned first, so their replies go out in order.

Why not hiredis for parsing requests (``tests/unit/protocols/bench_resp.py`` measures both):
its reader is ~9x faster on well-formed pipelines, but it is a *reply* parser. It calls
``PyList_New(N)`` as soon as it reads ``*N`` -- for any N below 2**32, also nested inside a
command -- so a 20-byte request costs seconds of CPU to allocate and free; it accepts
elements Redis refuses (``+``, ``:``, ``=``, nested arrays...); it cannot say how many
bytes it consumed (needed to switch to an inline command mid-stream); and its errors are
not Redis's. Making it safe and exact (a pre-scan for large counts, bounded windows, and a
byte-for-byte check of every command against its canonical encoding) measured ~1.5x faster
than this parser at ``-P 16`` and slower at ``-P 1``: not worth a second code path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from cluster.limits import (
    RESP_CLIENT_MAX_AGGREGATE_LEN,
    RESP_MAX_ARRAY_LEN,
    RESP_MAX_BULK_BYTES,
    RESP_MAX_INLINE_BYTES,
    RESP_MAX_NESTING,
    RESP_MAX_QUERY_BUFFER_BYTES,
)
from node.protocols.resp_types import (
    Attribute,
    BigNumber,
    Double,
    ErrorReply,
    Map,
    NullArray,
    Push,
    Raw,
    RespSet,
    SimpleString,
    Verbatim,
)

__all__ = [
    "NEED_DATA",
    "RESP2",
    "RESP3",
    "RespDecodeError",
    "RespParser",
    "RespProtocolError",
    "RespQueryBufferLimitError",
    "RespReplyDecoder",
    "encode_command",
    "encode_replies",
    "encode_reply",
    "format_double",
    "register_reply_type",
    "split_inline",
]

RESP2: Final = 2
RESP3: Final = 3

# Redis's limits for clients that have not authenticated yet (networking.c): a stranger
# may not make the server buffer big requests before proving it knows the password.
UNAUTHENTICATED_MAX_ARRAY_LEN: Final = 10
UNAUTHENTICATED_MAX_BULK_BYTES: Final = 16384

_LLONG_MIN: Final = -(2**63)
_LLONG_MAX: Final = 2**63 - 1


class RespProtocolError(Exception):
    """The peer broke the protocol. Send ``reply`` (when not ``None``), then close.

    ``message`` is exactly the text Redis puts after ``-ERR `` for the same input, e.g.
    ``Protocol error: invalid bulk length``.
    """

    def __init__(self, message: str, *, send_reply: bool = True) -> None:
        super().__init__(message)
        self.message = message
        # latin-1 maps each char back to the one byte it came from: "got 'x'" quotes the
        # client's raw byte, like Redis does.
        self.reply: bytes | None = b"-ERR " + message.encode("latin-1") + b"\r\n" if send_reply else None


class RespQueryBufferLimitError(RespProtocolError):
    """The client sent more unprocessed data than the query buffer limit allows.

    Redis closes such a client without a reply (and logs this text); so do we."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Closing client that reached max query buffer length ({limit} bytes)",
            send_reply=False,
        )


def _too_big_inline() -> RespProtocolError:
    return RespProtocolError("Protocol error: too big inline request")


def _expected_dollar(byte: int) -> RespProtocolError:
    # addReplyErrorFormat turns CR/LF into spaces; "%c" of NUL ends the C string there.
    if byte == 0:
        return RespProtocolError("Protocol error: expected '$', got '")
    char = " " if byte in (10, 13) else chr(byte)
    return RespProtocolError(f"Protocol error: expected '$', got '{char}'")


def _string2ll(text: bytes) -> int | None:
    """Redis's ``string2ll``: strict decimal, no sign but ``-``, no leading zeros, 64-bit."""
    size = len(text)
    if size == 0 or size >= 21:
        return None
    if text == b"0":
        return 0
    negative = text[0] == 45  # '-'
    digits = text[1:] if negative else text
    if not digits.isdigit() or digits[0] == 48:  # isdigit on bytes is ASCII-only
        return None
    value = int(digits)
    if negative:
        value = -value
        return value if value >= _LLONG_MIN else None
    return value if value <= _LLONG_MAX else None


# --- inline commands ------------------------------------------------------------------------

# A line without quotes and without the whitespace that C's isspace() and Python's split()
# disagree on (\v \f are blanks between words but not word terminators in sdssplitargs)
# splits with bytes.split(), in C.
_INLINE_NEEDS_SDS_SPLIT = re.compile(b"[\"'\\x00\\x0b\\x0c]")
_C_ISSPACE = frozenset(b" \t\n\x0b\x0c\r")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command line into arguments exactly like Redis's ``sdssplitargs``.

    ``None`` means unbalanced quotes (or a closing quote not followed by a space).
    """
    if _INLINE_NEEDS_SDS_SPLIT.search(line) is None:
        return line.split()
    return _sds_split_args(line)


def _sds_split_args(line: bytes) -> list[bytes] | None:
    """A transcription of sds.c ``sdssplitargs``, including its C-string view of the line:
    the line ends at the first NUL byte."""
    nul = line.find(b"\x00")
    if nul >= 0:
        line = line[:nul]
    size = len(line)

    def at(index: int) -> int:  # *(p+n) on a NUL-terminated string
        return line[index] if index < size else 0

    args: list[bytes] = []
    i = 0
    while True:
        while i < size and line[i] in _C_ISSPACE:
            i += 1
        if i >= size:
            return args
        current = bytearray()
        in_double = in_single = done = False
        while not done:
            c = at(i)
            if in_double:
                if c == 92 and at(i + 1) == 120 and at(i + 2) in _HEX_DIGITS and (at(i + 3) in _HEX_DIGITS):  # \xHH
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and at(i + 1):  # backslash escape
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:  # closing "
                    if at(i + 1) and at(i + 1) not in _C_ISSPACE:
                        return None
                    done = True
                elif c == 0:
                    return None  # unterminated
                else:
                    current.append(c)
            elif in_single:
                if c == 92 and at(i + 1) == 39:  # \'
                    i += 1
                    current.append(39)
                elif c == 39:  # closing '
                    if at(i + 1) and at(i + 1) not in _C_ISSPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    current.append(c)
            elif c in (32, 10, 13, 9, 0):
                done = True
            elif c == 34:
                in_double = True
            elif c == 39:
                in_single = True
            else:
                current.append(c)
            if at(i):
                i += 1
        args.append(bytes(current))


# --- the request parser -----------------------------------------------------------------------


class RespParser:
    """Server-side RESP request parser. Not thread-safe; one per connection.

    ``feed(data)`` buffers bytes (raising ``RespQueryBufferLimitError`` past the query
    buffer limit). ``read_commands()`` / ``next_command()`` parse what is complete. A
    protocol error is raised once every command before it has been returned; after that
    the parser is dead and keeps raising the same error.

    Memory: at most ``max_query_buffer_bytes`` of unprocessed input plus the arguments of
    the one command being assembled (counted against the same limit); every count and
    length is checked against its limit before the bytes it announces are awaited.
    """

    __slots__ = (
        "_args",
        "_buf",
        "_bulk_len",
        "_chunks",
        "_chunks_len",
        "_error",
        "_missing",
        "_partial_bytes",
        "_wanted",
        "authenticated",
        "max_array_len",
        "max_bulk_bytes",
        "max_inline_bytes",
        "max_query_buffer_bytes",
    )

    def __init__(
        self,
        *,
        max_bulk_bytes: int = RESP_MAX_BULK_BYTES,
        max_array_len: int = RESP_MAX_ARRAY_LEN,
        max_inline_bytes: int = RESP_MAX_INLINE_BYTES,
        max_query_buffer_bytes: int = RESP_MAX_QUERY_BUFFER_BYTES,
        authenticated: bool = True,
    ) -> None:
        self.max_bulk_bytes = max_bulk_bytes
        self.max_array_len = max_array_len
        self.max_inline_bytes = max_inline_bytes
        self.max_query_buffer_bytes = max_query_buffer_bytes
        # False while a password is required and not yet given: Redis then refuses arrays
        # over 10 elements and bulks over 16 KiB. The front end flips it after AUTH/HELLO.
        self.authenticated = authenticated
        self._buf = b""  # fed, joined, not parsed yet
        self._chunks: list[bytes] = []  # fed but not yet joined onto _buf
        self._chunks_len = 0
        self._wanted = 0  # unprocessed bytes needed before parsing can make progress
        self._args: list[bytes] | None = None  # the multibulk command being assembled
        self._missing = 0  # its arguments still to read
        self._bulk_len = -1  # length of the argument being read; -1: header not read yet
        self._partial_bytes = 0  # bytes held in _args
        self._error: RespProtocolError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for commands not yet returned (unparsed input + partial arguments)."""
        return len(self._buf) + self._chunks_len + self._partial_bytes

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes received from the client."""
        if self._error is not None:
            raise self._error
        size = len(data)
        if not size:
            return
        if len(self._buf) + self._chunks_len + self._partial_bytes + size > (self.max_query_buffer_bytes):
            self._error = RespQueryBufferLimitError(self.max_query_buffer_bytes)
            raise self._error
        self._chunks.append(data if type(data) is bytes else bytes(data))
        self._chunks_len += size

    def next_command(self) -> list[bytes] | None:
        """The next complete command, or ``None`` if more data is needed."""
        commands = self.read_commands(1)
        return commands[0] if commands else None

    def read_commands(self, max_commands: int = 1 << 62) -> list[list[bytes]]:
        """Up to ``max_commands`` complete commands, in order (empty: more data needed)."""
        if self._error is not None:
            raise self._error
        chunks = self._chunks
        if chunks:
            if len(self._buf) + self._chunks_len < self._wanted:
                return []  # e.g. the rest of a big argument has not arrived yet: don't rescan
            if self._buf:
                chunks.insert(0, self._buf)
            self._buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._chunks_len = 0
        elif len(self._buf) < self._wanted or not self._buf:
            return []
        commands: list[list[bytes]] = []
        try:
            self._parse(commands, max_commands)
        except RespProtocolError as error:
            self._error = error
            self._buf = b""
            self._args = None
            self._partial_bytes = 0
            if not commands:
                raise
        return commands

    def _parse(self, out: list[list[bytes]], max_commands: int) -> None:
        """Parse commands from ``_buf`` into ``out``: the hot loop of the RESP front end.

        Two paths. The fast one takes a whole command at once, when it is complete and in
        the canonical form every client library sends (``*3``, ``$5``, up to 99 arguments
        of up to 999 bytes): each header is recognised by probing where its CR is and one
        dict lookup of its bytes. Anything else -- an incomplete command, a long argument,
        odd but valid spacing, an error -- is (re)read by the general path, incrementally,
        with ``_header``/``_inline`` applying Redis's exact rules and error texts.
        State lives in locals, written back at the end.
        """
        buf = self._buf
        pos = 0
        end = len(buf)
        args = self._args
        missing = self._missing
        bulk_len = self._bulk_len
        partial = self._partial_bytes
        max_bulk = self.max_bulk_bytes
        max_array = self.max_array_len
        bulk_lens = _CANONICAL_BULK_LENS
        counts = _CANONICAL_COUNTS
        fast = self.authenticated
        emit = out.append
        wanted_end = 0  # where we stop for lack of data: the buffer end we need to reach
        try:
            while len(out) < max_commands:
                if args is None:
                    if pos >= end:
                        break
                    if fast and buf[pos] == 42:
                        try:
                            # "*" and 1-2 digits, CR and one more byte.
                            if buf[pos + 2] == 13:
                                fast_count = counts.get(buf[pos : pos + 2], 0)
                                p = pos + 4
                            elif buf[pos + 3] == 13:
                                fast_count = counts.get(buf[pos : pos + 3], 0)
                                p = pos + 5
                            else:
                                fast_count = 0
                            if 0 < fast_count <= max_array and p <= end:
                                fast_args = []
                                for _ in range(fast_count):
                                    # "$" and 1-3 digits, CR and one more byte.
                                    if buf[p + 2] == 13:
                                        size = bulk_lens.get(buf[p : p + 2], -1)
                                        p += 4
                                    elif buf[p + 3] == 13:
                                        size = bulk_lens.get(buf[p : p + 3], -1)
                                        p += 5
                                    elif buf[p + 4] == 13:
                                        size = bulk_lens.get(buf[p : p + 4], -1)
                                        p += 6
                                    else:
                                        break
                                    next_pos = p + size
                                    if size < 0 or size > max_bulk or next_pos + 2 > end:
                                        break
                                    fast_args.append(buf[p:next_pos])
                                    p = next_pos + 2
                                else:
                                    emit(fast_args)
                                    pos = p
                                    continue
                        except IndexError:
                            pass  # ran off the end: the general path knows what to wait for
                    if buf[pos] != 42:  # not '*': an inline command
                        words, pos = self._inline(buf, pos, end)
                        if words is None:
                            wanted_end = end + 1
                            break
                        if words:
                            out.append(words)
                        continue
                    cr = buf.find(b"\r", pos, pos + 8)
                    count = counts.get(buf[pos:cr]) if 0 < cr < end - 1 else None
                    if count is not None and count <= max_array and self.authenticated:
                        pos = cr + 2
                    else:
                        count, pos = self._header(buf, pos, end, 42)
                        if count is None:
                            wanted_end = end + 1
                            break
                        if count <= 0:
                            continue  # "*0" and "*-1" are no command at all
                    args = []
                    missing = count
                while missing:
                    if bulk_len < 0:
                        # "$", 1-3 digits, CR and one more byte: probe where the CR is.
                        if pos + 5 < end:
                            if buf[pos + 2] == 13:
                                bulk_len = bulk_lens.get(buf[pos : pos + 2], -1)
                                cr = pos + 2
                            elif buf[pos + 3] == 13:
                                bulk_len = bulk_lens.get(buf[pos : pos + 3], -1)
                                cr = pos + 3
                            elif buf[pos + 4] == 13:
                                bulk_len = bulk_lens.get(buf[pos : pos + 4], -1)
                                cr = pos + 4
                        if 0 <= bulk_len <= max_bulk:
                            pos = cr + 2
                        else:
                            length, pos = self._header(buf, pos, end, 36)
                            if length is None:
                                bulk_len = -1
                                wanted_end = end + 1
                                break
                            bulk_len = length
                    next_pos = pos + bulk_len
                    if next_pos + 2 > end:
                        wanted_end = next_pos + 2
                        break
                    # Like Redis, the two bytes after the argument are skipped, not checked.
                    args.append(buf[pos:next_pos])
                    partial += bulk_len
                    pos = next_pos + 2
                    bulk_len = -1
                    missing -= 1
                if missing:
                    break
                out.append(args)
                args = None
                partial = 0
        finally:
            # Keep only the unparsed tail, so consumed input is never held twice.
            self._buf = buf[pos:] if pos < end else b""
            self._wanted = max(wanted_end - pos, 0)
            self._args = args
            self._missing = missing
            self._bulk_len = bulk_len
            self._partial_bytes = partial

    def _header(self, buf: bytes, pos: int, end: int, kind: int) -> tuple[int | None, int]:
        """Read a ``*count`` (kind 42) or ``$length`` (kind 36) line at ``pos`` by Redis's
        rules. Returns ``(value, position after the line)``, or ``(None, pos)`` when the
        line is incomplete. Raises ``RespProtocolError`` with Redis's text."""
        max_line = self.max_inline_bytes
        # Like Redis, the line ends at CR and the byte after it is skipped unseen. The search
        # stops past the inline limit: a longer header is an error whatever follows.
        cr = buf.find(b"\r", pos, pos + max_line + 2)
        if cr >= 0 and buf.find(b"\x00", pos, cr) >= 0:
            cr = -1  # Redis finds the CR with strchr(), which stops at a NUL byte
        if cr < 0 or cr + 1 >= end:
            if cr < 0 and end - pos > max_line:
                what = "mbulk" if kind == 42 else "bulk"
                raise RespProtocolError(f"Protocol error: too big {what} count string")
            return None, pos
        if kind == 42:
            count = _string2ll(buf[pos + 1 : cr])
            if count is None or count > self.max_array_len:
                raise RespProtocolError("Protocol error: invalid multibulk length")
            if count > UNAUTHENTICATED_MAX_ARRAY_LEN and not self.authenticated:
                raise RespProtocolError("Protocol error: unauthenticated multibulk length")
            return count, cr + 2
        if buf[pos] != 36:  # '$'
            raise _expected_dollar(buf[pos])
        size = _string2ll(buf[pos + 1 : cr])
        if size is None or size < 0 or size > self.max_bulk_bytes:
            raise RespProtocolError("Protocol error: invalid bulk length")
        if size > UNAUTHENTICATED_MAX_BULK_BYTES and not self.authenticated:
            raise RespProtocolError("Protocol error: unauthenticated bulk length")
        return size, cr + 2

    def _inline(self, buf: bytes, pos: int, end: int) -> tuple[list[bytes] | None, int]:
        """Read an inline command line at ``pos``: ``(words, position after the line)``, or
        ``(None, pos)`` when the line is incomplete."""
        max_line = self.max_inline_bytes
        newline = buf.find(b"\n", pos, pos + max_line + 2)
        if newline >= 0 and buf.find(b"\x00", pos, newline) >= 0:
            newline = -1  # Redis finds the LF with strchr(), which stops at a NUL byte
        if newline < 0:
            if end - pos > max_line:
                raise _too_big_inline()
            return None, pos
        line_end = newline - 1 if newline > pos and buf[newline - 1] == 13 else newline
        if line_end - pos > max_line:
            raise _too_big_inline()
        words = split_inline(buf[pos:line_end])
        if words is None:
            raise RespProtocolError("Protocol error: unbalanced quotes in request")
        return words, newline + 1


# Canonical headers, as every client sends them, mapped to their values: the fast path's
# whole header parse is one dict lookup. Anything else goes through _header.
_CANONICAL_COUNTS: Final = {b"*%d" % n: n for n in range(1, 1025)}
_CANONICAL_BULK_LENS: Final = {b"$%d" % n: n for n in range(1000)}


# --- reply encoding ---------------------------------------------------------------------------

# A writer appends the encoding of one value to ``out``. Dispatch is one dict lookup on the
# exact type; other types are resolved once (registered adapters, ``__resp__``, base classes)
# and cached.
_Writer = Callable[[Any, int, list[bytes]], None]

# Above this size a bulk payload is appended as its own part rather than copied into a
# formatted header+payload+CRLF string (the final join copies it once anyway).
_BIG_BULK = 16 * 1024

_CRLF: Final = b"\r\n"
_NULL_RESP2: Final = b"$-1\r\n"
_NULL_ARRAY_RESP2: Final = b"*-1\r\n"
_NULL_RESP3: Final = b"_\r\n"

# Replies every pipeline repeats, encoded once.
_SIMPLE_CACHE: dict[str, bytes] = {text: b"+" + text.encode() + b"\r\n" for text in ("OK", "PONG", "QUEUED")}
_SMALL_INTS: tuple[bytes, ...] = tuple(b":%d\r\n" % i for i in range(-1, 1025))


def _line_text(text: str) -> bytes:
    # A status or error line may not contain CR/LF: that would let a value inject replies.
    data = text.encode("utf-8", "surrogateescape")
    if b"\r" in data or b"\n" in data:
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data


def _write_bytes(value: bytes, protocol: int, out: list[bytes]) -> None:
    if len(value) < _BIG_BULK:
        out.append(b"$%d\r\n%b\r\n" % (len(value), value))
    else:
        out += (b"$%d\r\n" % len(value), value, _CRLF)


def _write_bytes_like(value: bytearray | memoryview, protocol: int, out: list[bytes]) -> None:
    _write_bytes(bytes(value), protocol, out)


def _write_str(value: str, protocol: int, out: list[bytes]) -> None:
    _write_bytes(value.encode("utf-8", "surrogateescape"), protocol, out)


def _write_none(value: None, protocol: int, out: list[bytes]) -> None:
    out.append(_NULL_RESP2 if protocol == 2 else _NULL_RESP3)


def _write_null_array(value: NullArray, protocol: int, out: list[bytes]) -> None:
    out.append(_NULL_ARRAY_RESP2 if protocol == 2 else _NULL_RESP3)


def _write_int(value: int, protocol: int, out: list[bytes]) -> None:
    if -1 <= value <= 1024:
        out.append(_SMALL_INTS[value + 1])
    elif _LLONG_MIN <= value <= _LLONG_MAX:
        out.append(b":%d\r\n" % value)
    else:
        _write_big_number(BigNumber(value), protocol, out)


def _write_bool(value: bool, protocol: int, out: list[bytes]) -> None:
    if protocol == 2:
        out.append(b":1\r\n" if value else b":0\r\n")  # Redis's addReplyBool in RESP2
    else:
        out.append(b"#t\r\n" if value else b"#f\r\n")


def format_double(value: float) -> bytes:
    """A double as Redis 7.0's addReplyDouble writes it: ``%.17g``, ``inf``, ``-inf``."""
    if value != value:
        return b"nan"
    if value in (float("inf"), float("-inf")):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def _write_float(value: float, protocol: int, out: list[bytes]) -> None:
    text = format_double(value)
    if protocol == 2:
        out.append(b"$%d\r\n%b\r\n" % (len(text), text))
    else:
        out.append(b",%b\r\n" % text)


def _write_double(value: Double, protocol: int, out: list[bytes]) -> None:
    _write_float(float(value.value), protocol, out)


def _write_big_number(value: BigNumber, protocol: int, out: list[bytes]) -> None:
    digits = b"%d" % value.value
    if protocol == 2:
        out.append(b"$%d\r\n%b\r\n" % (len(digits), digits))
    else:
        out.append(b"(%b\r\n" % digits)


def _write_simple(value: SimpleString, protocol: int, out: list[bytes]) -> None:
    cached = _SIMPLE_CACHE.get(value.text)
    out.append(cached if cached is not None else b"+%b\r\n" % _line_text(value.text))


def _write_error(value: ErrorReply, protocol: int, out: list[bytes]) -> None:
    out.append(b"-%b\r\n" % _line_text(value.text))


def _write_verbatim(value: Verbatim, protocol: int, out: list[bytes]) -> None:
    text = value.text.encode("utf-8", "surrogateescape")
    if protocol == 2:
        _write_bytes(text, protocol, out)
        return
    fmt = value.format.encode("ascii")
    if len(fmt) != 3:
        raise ValueError(f"a verbatim string format is 3 characters, got {value.format!r}")
    out.append(b"=%d\r\n%b:" % (len(text) + 4, fmt))
    out += (text, _CRLF)


def _write_items(items: Iterable[Any], protocol: int, out: list[bytes]) -> None:
    for item in items:
        kind = type(item)
        if kind is bytes:
            if len(item) < _BIG_BULK:
                out.append(b"$%d\r\n%b\r\n" % (len(item), item))
            else:
                out += (b"$%d\r\n" % len(item), item, _CRLF)
        else:
            writer = _WRITERS.get(kind) or _resolve_writer(kind)
            writer(item, protocol, out)


def _write_list(value: list[Any] | tuple[Any, ...], protocol: int, out: list[bytes]) -> None:
    out.append(b"*%d\r\n" % len(value))
    _write_items(value, protocol, out)


def _write_pairs(pairs: Iterable[tuple[Any, Any]], size: int, protocol: int, out: list[bytes]) -> None:
    out.append(b"*%d\r\n" % (size * 2) if protocol == 2 else b"%%%d\r\n" % size)
    for key, item in pairs:
        _write_items((key, item), protocol, out)


def _write_dict(value: Mapping[Any, Any], protocol: int, out: list[bytes]) -> None:
    _write_pairs(value.items(), len(value), protocol, out)


def _write_map(value: Map, protocol: int, out: list[bytes]) -> None:
    _write_pairs(value.pairs(), len(value), protocol, out)


def _write_set(value: set[Any] | frozenset[Any], protocol: int, out: list[bytes]) -> None:
    out.append(b"*%d\r\n" % len(value) if protocol == 2 else b"~%d\r\n" % len(value))
    _write_items(value, protocol, out)


def _write_resp_set(value: RespSet, protocol: int, out: list[bytes]) -> None:
    items = value.items
    out.append(b"*%d\r\n" % len(items) if protocol == 2 else b"~%d\r\n" % len(items))
    _write_items(items, protocol, out)


def _write_push(value: Push, protocol: int, out: list[bytes]) -> None:
    items = value.items
    out.append(b"*%d\r\n" % len(items) if protocol == 2 else b">%d\r\n" % len(items))
    _write_items(items, protocol, out)


def _write_attribute(value: Attribute, protocol: int, out: list[bytes]) -> None:
    if protocol != 2:
        out.append(b"|%d\r\n" % len(value.attributes))
        for key, item in value.attributes.items():
            _write_items((key, item), protocol, out)
    _write_items((value.value,), protocol, out)


def _write_raw(value: Raw, protocol: int, out: list[bytes]) -> None:
    out.append(value.data)


_BUILTIN_WRITERS: dict[type, _Writer] = {
    bytes: _write_bytes,
    bytearray: _write_bytes_like,
    memoryview: _write_bytes_like,
    str: _write_str,
    type(None): _write_none,
    NullArray: _write_null_array,
    int: _write_int,
    bool: _write_bool,
    float: _write_float,
    Double: _write_double,
    BigNumber: _write_big_number,
    SimpleString: _write_simple,
    ErrorReply: _write_error,
    Verbatim: _write_verbatim,
    list: _write_list,
    tuple: _write_list,
    dict: _write_dict,
    Map: _write_map,
    set: _write_set,
    frozenset: _write_set,
    RespSet: _write_resp_set,
    Push: _write_push,
    Attribute: _write_attribute,
    Raw: _write_raw,
}
# Registered conversions: type -> (convert, whether convert takes the protocol too).
_ADAPTERS: dict[type, tuple[Callable[..., Any], bool]] = {}
_WRITERS: dict[type, _Writer] = dict(_BUILTIN_WRITERS)


def _adapted(convert: Callable[..., Any], with_protocol: bool) -> _Writer:
    if with_protocol:

        def write_adapted_for(value: Any, protocol: int, out: list[bytes]) -> None:
            _write_items((convert(value, protocol),), protocol, out)

        return write_adapted_for

    def write_adapted(value: Any, protocol: int, out: list[bytes]) -> None:
        _write_items((convert(value),), protocol, out)

    return write_adapted


def _resolve_writer(kind: type) -> _Writer:
    """Find and cache the writer for a type not seen before: a registered conversion, a
    ``__resp__`` method, or a built-in base class (an ``IntEnum`` is an int), in MRO order."""
    for base in kind.__mro__:
        if base in _ADAPTERS:
            writer = _adapted(*_ADAPTERS[base])
            break
        if "__resp__" in vars(base):
            writer = _adapted(base.__resp__, with_protocol=True)  # type: ignore[attr-defined]
            break
        if base in _BUILTIN_WRITERS:
            writer = _BUILTIN_WRITERS[base]
            break
    else:
        raise TypeError(f"cannot encode a {kind.__qualname__} as a RESP reply")
    _WRITERS[kind] = writer
    return writer


def register_reply_type(kind: type, convert: Callable[..., Any], *, with_protocol: bool = False) -> None:
    """Teach the encoder a foreign reply type.

    ``convert(value)`` -- or ``convert(value, protocol)`` with ``with_protocol=True``, for
    replies whose shape differs between RESP2 and RESP3 -- returns something the encoder
    already knows: plain values, the ``resp_types`` markers, or other registered types. It
    applies to subclasses too. This bridges another module's reply types (e.g.
    ``node.keyspace.replies``) without either module importing the other. A class may
    instead define ``__resp__(self, protocol)`` returning such a value.
    """
    if kind in _BUILTIN_WRITERS:
        raise ValueError(f"{kind.__qualname__} already has a built-in RESP encoding")
    _ADAPTERS[kind] = (convert, with_protocol)
    # Forget resolutions made before this registration (a subclass may now map here).
    for cached in [k for k in _WRITERS if k not in _BUILTIN_WRITERS]:
        del _WRITERS[cached]


def encode_reply(value: Any, protocol: int = 2) -> bytes:
    """One reply value as RESP2 (``protocol=2``) or RESP3 (``protocol=3``) bytes."""
    kind = type(value)
    if kind is bytes:  # GET: the hot path
        if len(value) < _BIG_BULK:
            return b"$%d\r\n%b\r\n" % (len(value), value)
        return b"".join((b"$%d\r\n" % len(value), value, _CRLF))
    if value is None:
        return _NULL_RESP2 if protocol == 2 else _NULL_RESP3
    out: list[bytes] = []
    writer = _WRITERS.get(kind) or _resolve_writer(kind)
    writer(value, protocol, out)
    return out[0] if len(out) == 1 else b"".join(out)


def encode_replies(values: Iterable[Any], protocol: int = 2) -> bytes:
    """Several replies (a pipeline's worth) as one buffer, for one write."""
    out: list[bytes] = []
    _write_items(values, protocol, out)
    return b"".join(out)


# --- the client side: commands out, replies in -------------------------------------------------


def encode_command(*args: bytes | str | int | float) -> bytes:
    """A command as a RESP multibulk request, as clients send it."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bool):
            raise TypeError("booleans are not valid command arguments")
        elif isinstance(arg, int):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send a {type(arg).__qualname__} as a command argument")
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class RespDecodeError(Exception):
    """The server's reply stream is not valid RESP2/RESP3 (or breaks a decoder limit)."""


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
"""Returned by ``RespReplyDecoder.next_reply`` when the next reply is incomplete."""

# Aggregate frames on the decoder's stack: [kind byte, expected count, items].
_AGGREGATE_KINDS: Final = frozenset(b"*%~>|")


class RespReplyDecoder:
    """Client-side decoder of RESP2/RESP3 replies into Python values.

    bulk -> ``bytes``; simple string -> ``SimpleString``; error (``-``/``!``) ->
    ``ErrorReply`` (returned, not raised); integer -> ``int``; null (``$-1``, ``*-1``, ``_``)
    -> ``None``; double -> ``float``; boolean -> ``bool``; big number -> ``BigNumber``;
    verbatim -> ``Verbatim``; array -> ``list``; map -> ``dict`` (``Map`` of pairs if a key
    is unhashable); set -> ``RespSet``; push -> ``Push``; attribute -> ``Attribute``.

    Resumable: a reply split across ``feed`` calls is continued where it stopped, never
    re-parsed. Sizes are checked before data is awaited; nesting is bounded.
    """

    def __init__(
        self,
        *,
        max_bulk_bytes: int = RESP_MAX_BULK_BYTES,
        max_aggregate_len: int = RESP_CLIENT_MAX_AGGREGATE_LEN,
        max_nesting: int = RESP_MAX_NESTING,
    ) -> None:
        self.max_bulk_bytes = max_bulk_bytes
        self.max_aggregate_len = max_aggregate_len
        self.max_nesting = max_nesting
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._stack: list[list[Any]] = []

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self._chunks.append(bytes(data))

    def next_reply(self) -> Any:
        """The next complete reply, or ``NEED_DATA``."""
        if self._chunks:
            self._chunks.insert(0, self._buf[self._pos :])
            self._buf = b"".join(self._chunks)
            self._pos = 0
            self._chunks.clear()
        stack = self._stack
        while True:
            value = self._scalar_or_push()
            if value is NEED_DATA:
                return NEED_DATA
            if value is _PUSHED:
                if stack[-1][1] > 0:
                    continue  # an aggregate opened: read its elements
                value = self._finish(stack.pop())  # an empty one is complete at once
            # Attach to the enclosing aggregates, completing those that fill up.
            while value is not _PUSHED:
                if not stack:
                    return value
                frame = stack[-1]
                frame[2].append(value)
                if len(frame[2]) < frame[1]:
                    break
                value = self._finish(stack.pop())

    def replies(self) -> list[Any]:
        """Every complete reply available now."""
        out = []
        while (reply := self.next_reply()) is not NEED_DATA:
            out.append(reply)
        return out

    def _line(self) -> bytes | None:
        end = self._buf.find(b"\r\n", self._pos)
        if end < 0:
            if len(self._buf) - self._pos > RESP_MAX_INLINE_BYTES:
                raise RespDecodeError("reply line too long")
            return None
        line = self._buf[self._pos : end]
        self._pos = end + 2
        return line

    def _scalar_or_push(self) -> Any:
        """Decode one scalar, or push an aggregate frame and return ``_PUSHED``."""
        buf = self._buf
        start = self._pos
        if start >= len(buf):
            return NEED_DATA
        line = self._line()
        if line is None:
            return NEED_DATA
        kind = line[0] if line else 0
        body = line[1:]
        try:
            if kind == 36 or kind == 33 or kind == 61:  # $ ! =  (length-prefixed)
                size = _string2ll(body)
                if size is None or size < -1 or size > self.max_bulk_bytes:
                    raise RespDecodeError(f"bad length {body!r}")
                if size == -1:
                    if kind != 36:
                        raise RespDecodeError(f"bad length {body!r}")
                    return None
                if len(buf) - self._pos < size + 2:
                    self._pos = start  # wait for the whole payload
                    return NEED_DATA
                data = buf[self._pos : self._pos + size]
                if buf[self._pos + size : self._pos + size + 2] != _CRLF:
                    raise RespDecodeError("bulk payload not followed by CRLF")
                self._pos += size + 2
                if kind == 36:
                    return data
                if kind == 33:
                    return ErrorReply(data.decode("utf-8", "surrogateescape"))
                if len(data) < 4 or data[3] != 58:  # "fmt:"
                    raise RespDecodeError("verbatim string without a format")
                return Verbatim(data[4:].decode("utf-8", "surrogateescape"), data[:3].decode())
            if kind == 43:  # +
                return SimpleString(body.decode("utf-8", "surrogateescape"))
            if kind == 45:  # -
                return ErrorReply(body.decode("utf-8", "surrogateescape"))
            if kind == 58:  # :
                value = _string2ll(body)
                if value is None:
                    raise RespDecodeError(f"bad integer {body!r}")
                return value
            if kind == 95:  # _
                if body:
                    raise RespDecodeError("null with a payload")
                return None
            if kind == 44:  # ,
                return _parse_double(body)
            if kind == 35:  # #
                if body == b"t":
                    return True
                if body == b"f":
                    return False
                raise RespDecodeError(f"bad boolean {body!r}")
            if kind == 40:  # (
                if not re.fullmatch(b"-?[0-9]+", body):
                    raise RespDecodeError(f"bad big number {body!r}")
                return BigNumber(int(body))
            if kind in _AGGREGATE_KINDS:
                count = _string2ll(body)
                if count is None or count < -1 or count > self.max_aggregate_len:
                    raise RespDecodeError(f"bad aggregate length {body!r}")
                if count == -1:
                    if kind != 42:
                        raise RespDecodeError(f"bad aggregate length {body!r}")
                    return None
                if len(self._stack) >= self.max_nesting:
                    raise RespDecodeError(f"replies nested deeper than {self.max_nesting}")
                # Maps and attributes hold count pairs.
                expected = count * 2 if kind in (37, 124) else count
                self._stack.append([kind, expected, []])
                return _PUSHED
        except RespDecodeError:
            self._pos = start
            raise
        raise RespDecodeError(f"unknown reply type {chr(kind)!r}")

    def _finish(self, frame: list[Any]) -> Any:
        """The value of a complete aggregate frame (or ``_PUSHED`` for an attribute map,
        which then waits for the value it annotates)."""
        kind, _, items = frame[0], frame[1], frame[2]
        if kind == 42:  # *
            return items
        if kind == 126:  # ~
            return RespSet(items)
        if kind == 62:  # >
            return Push(items)
        if kind == _ATTRIBUTED:
            return Attribute(frame[3], items[0])
        pairs = list(zip(items[::2], items[1::2], strict=True))
        if kind == 124:  # |
            if len(self._stack) >= self.max_nesting:
                raise RespDecodeError(f"replies nested deeper than {self.max_nesting}")
            self._stack.append([_ATTRIBUTED, 1, [], _as_dict(pairs)])
            return _PUSHED
        return _as_dict(pairs)  # %


def _as_dict(pairs: list[tuple[Any, Any]]) -> dict[Any, Any] | Map:
    try:
        return dict(pairs)
    except TypeError:  # an unhashable key (RESP3 allows any value as a key)
        return Map(pairs)


def _parse_double(body: bytes) -> float:
    if body in (b"inf", b"+inf"):
        return float("inf")
    if body == b"-inf":
        return float("-inf")
    if body in (b"nan", b"-nan"):
        return float("nan")
    if not re.fullmatch(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", body):
        raise RespDecodeError(f"bad double {body!r}")
    return float(body)


_PUSHED: Final = object()  # "an aggregate frame was opened", from _scalar_or_push/_finish
_ATTRIBUTED: Final = -1  # frame kind: the value an attribute map annotates

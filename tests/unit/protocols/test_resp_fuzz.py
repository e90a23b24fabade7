"""Fuzzing the request parser: random, mutated, truncated and oversized input.

Whatever arrives, in whatever pieces, the parser either returns commands, waits for more
data, or raises RespProtocolError -- never anything else -- and what it holds never exceeds
its limits. A reference model, transcribed plainly from Redis's processInputBuffer (one
pass over all the input, no fast paths, no incremental state), must agree with it on every
input and every way of splitting it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.protocols.resp import (
    RespParser,
    RespProtocolError,
    RespQueryBufferLimitError,
    _sds_split_args,
    _string2ll,
    encode_command,
)

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small limits make every limit path reachable with small inputs.
SMALL_LIMITS: dict[str, int] = {"max_bulk_bytes": 20, "max_array_len": 6, "max_inline_bytes": 24}


def reference_parse(
    data: bytes, *, max_bulk_bytes: int, max_array_len: int, max_inline_bytes: int
) -> tuple[list[list[bytes]], str | None]:
    """Commands Redis 7.0 would run for ``data`` and the protocol error it would reply.

    networking.c processInlineBuffer / processMultibulkBuffer over the whole input, with
    strchr() stopping at NUL, and our one deliberate difference: a header or inline line
    over the inline limit is refused even when its line end has arrived.
    """
    commands: list[list[bytes]] = []
    size = len(data)
    pos = 0

    def strchr(start: int, char: int) -> int:
        for index in range(start, min(size, start + max_inline_bytes + 2)):
            if data[index] == 0:
                return -1
            if data[index] == char:
                return index
        return -1

    while pos < size:
        if data[pos] != ord("*"):
            newline = strchr(pos, ord("\n"))
            if newline < 0:
                if size - pos > max_inline_bytes:
                    return commands, "Protocol error: too big inline request"
                return commands, None
            end = newline - 1 if newline > pos and data[newline - 1] == ord("\r") else newline
            if end - pos > max_inline_bytes:
                return commands, "Protocol error: too big inline request"
            words = _sds_split_args(data[pos:end])
            if words is None:
                return commands, "Protocol error: unbalanced quotes in request"
            pos = newline + 1
            if words:
                commands.append(words)
            continue
        cr = strchr(pos, ord("\r"))
        if cr < 0:
            if size - pos > max_inline_bytes:
                return commands, "Protocol error: too big mbulk count string"
            return commands, None
        if cr + 1 >= size:
            return commands, None
        count = _string2ll(data[pos + 1 : cr])
        if count is None or count > max_array_len:
            return commands, "Protocol error: invalid multibulk length"
        pos = cr + 2
        args: list[bytes] = []
        for _ in range(max(count, 0)):
            cr = strchr(pos, ord("\r"))
            if cr < 0:
                if size - pos > max_inline_bytes:
                    return commands, "Protocol error: too big bulk count string"
                return commands, None
            if cr + 1 >= size:
                return commands, None
            if data[pos] != ord("$"):
                got = data[pos]
                # "%c" of NUL ends the C string; addReplyErrorFormat turns CR/LF into spaces.
                shown = "" if got == 0 else (" " if got in b"\r\n" else chr(got)) + "'"
                return commands, "Protocol error: expected '$', got '" + shown
            length = _string2ll(data[pos + 1 : cr])
            if length is None or length < 0 or length > max_bulk_bytes:
                return commands, "Protocol error: invalid bulk length"
            pos = cr + 2
            if size - pos < length + 2:
                return commands, None
            args.append(data[pos : pos + length])
            pos += length + 2
        if args:
            commands.append(args)
    return commands, None


def run_parser(
    data: bytes, cuts: list[int], pulls: list[int], **limits: Any
) -> tuple[list[list[bytes]], str | None, RespParser]:
    """Feed ``data`` in pieces, pulling a varying number of commands after each piece."""
    parser = RespParser(**limits)
    commands: list[list[bytes]] = []
    bounds = [0, *sorted(set(cuts)), len(data)]
    try:
        for index, (start, stop) in enumerate(pairwise(bounds)):
            parser.feed(data[start:stop])
            assert_bounded(parser)
            commands += parser.read_commands(pulls[index % len(pulls)] if pulls else 1 << 62)
            assert_bounded(parser)
        while got := parser.read_commands():
            commands += got
    except RespProtocolError as error:
        assert not isinstance(error, RespQueryBufferLimitError)
        return commands, error.message, parser
    return commands, None, parser


def assert_bounded(parser: RespParser) -> None:
    held = len(parser._buf) + parser._chunks_len + parser._partial_bytes
    assert held == parser.buffered_bytes <= parser.max_query_buffer_bytes


# --- generators --------------------------------------------------------------------------------

PROTOCOL_BYTES = b"*$\r\n0123456789-+ :\"'\\x\x00\t\x0babAB"
protocolish = st.lists(st.sampled_from(list(PROTOCOL_BYTES)), max_size=120).map(bytes)

# Mostly short arguments, sometimes ones with 3-digit lengths (the fast path's longest).
words = st.one_of(st.binary(max_size=12), st.binary(min_size=95, max_size=130))
inline_word = st.one_of(
    st.text(alphabet="abcXYZ019", min_size=1, max_size=8),
    st.text(alphabet="ab c\t'", max_size=6).map(lambda text: f'"{text}"'),
    st.text(alphabet='ab c\t"', max_size=6).map(lambda text: f"'{text}'"),
    st.sampled_from(['"\\x41\\n"', "'it\\'s'", '"\\""']),
)
inline_line = st.lists(inline_word, max_size=4).map(" ".join)
command_piece = st.one_of(
    st.lists(words, min_size=1, max_size=5).map(lambda args: encode_command(*args)),
    inline_line.map(lambda line: (line + "\r\n").encode()),
    inline_line.map(lambda line: (line + "\n").encode()),
    st.sampled_from([b"*0\r\n", b"*-1\r\n", b"\r\n", b"PING\r\n"]),
)
valid_stream = st.lists(command_piece, max_size=6).map(b"".join)


@st.composite
def mutated_stream(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_stream))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, len(data)))
        if kind == "flip" and position < len(data):
            data[position] = draw(st.sampled_from(list(PROTOCOL_BYTES)))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            del data[position:]
    return bytes(data)


any_input = st.one_of(protocolish, valid_stream, mutated_stream(), st.binary(max_size=80))
splits = st.lists(st.integers(0, 200), max_size=8)
pull_sizes = st.lists(st.integers(1, 3), max_size=3)


# --- properties -----------------------------------------------------------------------------------


@FUZZ
@given(any_input, splits, pull_sizes)
def test_parser_agrees_with_the_reference_model_with_small_limits(
    data: bytes, cuts: list[int], pulls: list[int]
) -> None:
    cuts = [cut for cut in cuts if cut <= len(data)]
    commands, error, _ = run_parser(data, cuts, pulls, **SMALL_LIMITS)
    assert (commands, error) == reference_parse(data, **SMALL_LIMITS)


@FUZZ
@given(any_input, splits, pull_sizes)
def test_parser_agrees_with_the_reference_model_with_default_limits(
    data: bytes, cuts: list[int], pulls: list[int]
) -> None:
    cuts = [cut for cut in cuts if cut <= len(data)]
    parser_limits: dict[str, Any] = {}
    commands, error, parser = run_parser(data, cuts, pulls, **parser_limits)
    expected = reference_parse(
        data,
        max_bulk_bytes=parser.max_bulk_bytes,
        max_array_len=parser.max_array_len,
        max_inline_bytes=parser.max_inline_bytes,
    )
    assert (commands, error) == expected


@FUZZ
@given(valid_stream, splits)
def test_valid_streams_parse_completely_in_any_pieces(data: bytes, cuts: list[int]) -> None:
    cuts = [cut for cut in cuts if cut <= len(data)]
    commands, error, parser = run_parser(data, cuts, [])
    assert error is None
    assert parser.buffered_bytes == 0
    assert commands == reference_parse(data, max_bulk_bytes=1 << 30, max_array_len=1 << 30, max_inline_bytes=1 << 16)[0]


@FUZZ
@given(st.lists(st.one_of(any_input, st.binary(min_size=50, max_size=400)), max_size=12))
def test_memory_stays_within_the_query_buffer_limit(pieces: list[bytes]) -> None:
    parser = RespParser(max_query_buffer_bytes=256, max_inline_bytes=64, max_bulk_bytes=128)
    for piece in pieces:
        try:
            parser.feed(piece)
            assert_bounded(parser)
            parser.read_commands()
        except RespProtocolError:
            return  # the front end replies (if it should) and closes
        assert_bounded(parser)


@pytest.mark.parametrize(
    "header",
    [b"*2147483647\r\n", b"*1048576\r\n$536870912\r\n", b"*3\r\n$3\r\nSET\r\n$536870912\r\n"],
)
def test_huge_announced_sizes_allocate_nothing(header: bytes) -> None:
    # Announcing a huge array or bulk costs the client nothing and us nothing: we wait for
    # bytes that the query buffer limit would refuse long before.
    parser = RespParser(max_array_len=2**31 - 1)
    parser.feed(header)
    assert parser.read_commands() == []
    assert parser.buffered_bytes < 64

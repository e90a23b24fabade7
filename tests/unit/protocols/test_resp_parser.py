"""RespParser: multibulk and inline commands, pipelining, splits, limits, Redis's error texts."""

from __future__ import annotations

import random

import pytest

from cluster import limits
from node.protocols.resp import (
    RespParser,
    RespProtocolError,
    RespQueryBufferLimitError,
    encode_command,
    split_inline,
)


def parse_all(data: bytes, **options: int | bool) -> list[list[bytes]]:
    parser = RespParser(**options)  # type: ignore[arg-type]
    parser.feed(data)
    return parser.read_commands()


def parse_error(data: bytes, **options: int | bool) -> tuple[list[list[bytes]], str]:
    """Commands parsed before the protocol error, and the error's message."""
    parser = RespParser(**options)  # type: ignore[arg-type]
    parser.feed(data)
    commands: list[list[bytes]] = []
    with pytest.raises(RespProtocolError) as caught:
        while True:
            got = parser.read_commands()
            assert got, "no protocol error"
            commands += got
    return commands, caught.value.message


# --- valid input ----------------------------------------------------------------------------


def test_multibulk_commands_and_pipelining() -> None:
    data = encode_command("SET", "key", "value") + encode_command("GET", "key") * 3
    assert parse_all(data) == [[b"SET", b"key", b"value"]] + [[b"GET", b"key"]] * 3


def test_binary_safe_arguments() -> None:
    value = bytes(range(256)) + b"\r\n*3\r\n$"
    assert parse_all(encode_command(b"SET", b"k\r\n", value)) == [[b"SET", b"k\r\n", value]]


@pytest.mark.parametrize("size", [0, 1, 9, 10, 99, 100, 999, 1000, 16 * 1024, 100_000])
def test_argument_sizes_around_the_fast_path(size: int) -> None:
    value = b"v" * size
    assert parse_all(encode_command(b"SET", b"k", value) + b"PING\r\n") == [
        [b"SET", b"k", value],
        [b"PING"],
    ]


def test_many_arguments() -> None:
    args = [b"%d" % i for i in range(3000)]
    assert parse_all(encode_command(b"DEL", *args)) == [[b"DEL", *args]]


def test_empty_arrays_are_no_command() -> None:
    assert parse_all(b"*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n") == [[b"PING"]]


def test_inline_commands() -> None:
    assert parse_all(b"PING\r\nSET  a   b\nGET a\r\n\r\n\n   \r\nECHO\t x \r\n") == [
        [b"PING"],
        [b"SET", b"a", b"b"],
        [b"GET", b"a"],
        [b"ECHO", b"x"],
    ]


def test_inline_then_multibulk_then_inline() -> None:
    data = b"PING\r\n" + encode_command("GET", "k") + b"ECHO x\r\n"
    assert parse_all(data) == [[b"PING"], [b"GET", b"k"], [b"ECHO", b"x"]]


def test_request_type_is_chosen_by_the_first_byte() -> None:
    # A leading space makes even "*1" an inline word; a '$' line is an inline word too.
    assert parse_all(b" *1\r\n$3\r\n") == [[b"*1"], [b"$3"]]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b'SET k "hello world"', [b"SET", b"k", b"hello world"]),
        (b"SET k 'it''s'", None),  # closing quote must be followed by a space
        (b"SET k 'it\\'s'", [b"SET", b"k", b"it's"]),
        (b'ECHO "a\\nb\\r\\t\\b\\a\\"\\\\"', [b"ECHO", b'a\nb\r\t\x08\x07"\\']),
        (b'ECHO "\\x41\\x4a\\xff\\x4"', [b"ECHO", b"AJ\xffx4"]),  # \x needs two hex digits
        (b'ECHO "\\q"', [b"ECHO", b"q"]),
        (b"ECHO '\\n'", [b"ECHO", b"\\n"]),  # no escapes in single quotes but \'
        (b'ECHO ""', [b"ECHO", b""]),
        (b"ECHO ''", [b"ECHO", b""]),
        (b'ECHO a"b c"d', None),  # a quote inside a word opens; its close needs a space
        (b'ECHO a"b c"', [b"ECHO", b"ab c"]),
        (b'ECHO "unterminated', None),
        (b"ECHO 'unterminated", None),
        (b'ECHO "x"y', None),
        (b"a\x0bb", [b"a\x0bb"]),  # \v and \f end no word...
        (b"\x0b\x0ca b\x0c", [b"a", b"b\x0c"]),  # ...but are skipped between words
        (b"a\rb", [b"a", b"b"]),
        (b"", []),
    ],
)
def test_inline_quoting_follows_sdssplitargs(line: bytes, words: list[bytes] | None) -> None:
    assert split_inline(line) == words


def test_split_anywhere_gives_the_same_commands() -> None:
    data = (
        encode_command("SET", "k", "v" * 1500)
        + encode_command("SET", "k", "w" * 150)
        + b"PING\r\n"
        + encode_command("MSET", "a", "1", "b", "")
        + b'ECHO "x y"\n'
        + b"*0\r\n"
        + encode_command("GET", "k")
    )
    expected = parse_all(data)
    assert len(expected) == 6
    for cut in range(len(data) + 1):  # every two-piece split
        parser = RespParser()
        parser.feed(data[:cut])
        got = parser.read_commands()
        parser.feed(data[cut:])
        got += parser.read_commands()
        assert got == expected, cut
        assert parser.buffered_bytes == 0
    rng = random.Random(7)
    for _ in range(50):  # random many-piece splits, pulling one command at a time
        parser = RespParser()
        got = []
        i = 0
        while i < len(data):
            step = rng.randint(1, 40)
            parser.feed(data[i : i + step])
            i += step
            while (command := parser.next_command()) is not None:
                got.append(command)
        assert got == expected


def test_byte_at_a_time() -> None:
    data = encode_command("SET", "key", "value") + b"PING\r\n"
    parser = RespParser()
    got = []
    for byte in data:
        parser.feed(bytes([byte]))
        got += parser.read_commands()
    assert got == [[b"SET", b"key", b"value"], [b"PING"]]


def test_max_commands_and_next_command() -> None:
    parser = RespParser()
    parser.feed(encode_command("GET", "a") + encode_command("GET", "b") + b"PING\r\n")
    assert parser.read_commands(1) == [[b"GET", b"a"]]
    assert parser.next_command() == [b"GET", b"b"]
    assert parser.next_command() == [b"PING"]
    assert parser.next_command() is None


def test_what_redis_tolerates() -> None:
    # The two bytes after an argument and the byte after a header's CR are skipped unseen.
    assert parse_all(b"*2\r\n$4\r\nECHOxx$1\rZax\r\n") == [[b"ECHO", b"a"]]
    assert parse_all(b"*1\rX$4\r\nPING\r\n") == [[b"PING"]]
    # ...even when the skipped bytes arrive later, one by one.
    data = b"*2\r\n$4\r\nECHO\r\n$1\r\naXY*1\rZ$4\r\nPINGxyECHO b\r\n"
    for cut in range(len(data) + 1):
        parser = RespParser()
        parser.feed(data[:cut])
        got = parser.read_commands()
        parser.feed(data[cut:])
        assert got + parser.read_commands() == [[b"ECHO", b"a"], [b"PING"], [b"ECHO", b"b"]]


def test_feed_accepts_bytes_like() -> None:
    parser = RespParser()
    parser.feed(bytearray(b"PI"))
    parser.feed(memoryview(b"NG\r\n"))
    assert parser.read_commands() == [[b"PING"]]


# --- protocol errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*\r\n", "Protocol error: invalid multibulk length"),
        (b"*01\r\n", "Protocol error: invalid multibulk length"),
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (b"* 1\r\n", "Protocol error: invalid multibulk length"),
        (b"*1 \r\n", "Protocol error: invalid multibulk length"),
        (b"*-0\r\n", "Protocol error: invalid multibulk length"),
        (b"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"),
        (b"*1048577\r\n", "Protocol error: invalid multibulk length"),  # RESP_MAX_ARRAY_LEN
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$03\r\nabc\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"),  # > 512 MiB
        (b"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (b"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
        (b"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"),
        (b"*1\r\n\r\n", "Protocol error: expected '$', got ' '"),  # CR shown as a space
        (b"*1\r\n\xff1\r\n", "Protocol error: expected '$', got '\xff'"),  # the raw byte
        (b'ECHO "a\r\n', "Protocol error: unbalanced quotes in request"),
        (b"ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"),
    ],
)
def test_protocol_errors_have_redis_texts(data: bytes, message: str) -> None:
    commands, got = parse_error(data)
    assert commands == []
    assert got == message


def test_error_reply_bytes() -> None:
    parser = RespParser()
    parser.feed(b"*1\r\n\xff1\r\n")
    with pytest.raises(RespProtocolError) as caught:
        parser.read_commands()
    assert caught.value.reply == b"-ERR Protocol error: expected '$', got '\xff'\r\n"


def test_commands_before_an_error_come_first_then_the_parser_stays_dead() -> None:
    parser = RespParser()
    parser.feed(b"PING\r\n" + encode_command("GET", "k") + b"*1\r\n$x\r\n")
    assert parser.read_commands() == [[b"PING"], [b"GET", b"k"]]
    for _ in range(2):
        with pytest.raises(RespProtocolError, match="invalid bulk length"):
            parser.read_commands()
    with pytest.raises(RespProtocolError):
        parser.feed(b"PING\r\n")
    assert parser.buffered_bytes == 0


def test_bad_header_is_refused_before_its_payload_arrives() -> None:
    parser = RespParser(max_bulk_bytes=100)
    parser.feed(b"*2\r\n$3\r\nSET\r\n$101\r\n")
    with pytest.raises(RespProtocolError, match="invalid bulk length"):
        parser.read_commands()
    parser = RespParser(max_array_len=2)
    parser.feed(b"*3\r\n")
    with pytest.raises(RespProtocolError, match="invalid multibulk length"):
        parser.read_commands()


# --- limits -----------------------------------------------------------------------------------


def test_default_limits_come_from_cluster_limits() -> None:
    parser = RespParser()
    assert parser.max_bulk_bytes == limits.RESP_MAX_BULK_BYTES
    assert parser.max_array_len == limits.RESP_MAX_ARRAY_LEN
    assert parser.max_inline_bytes == limits.RESP_MAX_INLINE_BYTES
    assert parser.max_query_buffer_bytes == limits.RESP_MAX_QUERY_BUFFER_BYTES


def test_bulk_and_array_limits_are_inclusive() -> None:
    assert parse_all(encode_command("A", "x" * 99), max_bulk_bytes=99) == [[b"A", b"x" * 99]]
    assert parse_all(encode_command("A", "b", "c"), max_array_len=3) == [[b"A", b"b", b"c"]]


def test_too_big_inline_request_without_newline() -> None:
    parser = RespParser(max_inline_bytes=64)
    parser.feed(b"x" * 64)
    assert parser.read_commands() == []  # at the limit: still waiting for the newline
    parser.feed(b"x")
    with pytest.raises(RespProtocolError) as caught:
        parser.read_commands()
    assert caught.value.message == "Protocol error: too big inline request"


def test_too_long_inline_line_is_refused_even_with_its_newline() -> None:
    # Deterministic where Redis depends on read sizes: a line over the limit is refused.
    assert parse_error(b"x" * 65 + b"\r\n", max_inline_bytes=64)[1] == ("Protocol error: too big inline request")
    assert parse_all(b"x" * 64 + b"\r\n", max_inline_bytes=64) == [[b"x" * 64]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*" + b"1" * 80, "Protocol error: too big mbulk count string"),
        (b"*1\r\n$" + b"1" * 80, "Protocol error: too big bulk count string"),
    ],
)
def test_too_big_count_strings(data: bytes, message: str) -> None:
    assert parse_error(data, max_inline_bytes=64)[1] == message


def test_a_nul_byte_hides_the_line_end_as_it_does_in_redis() -> None:
    # Redis looks for the line end with strchr(): a NUL before it means "not found yet".
    parser = RespParser(max_inline_bytes=64)
    parser.feed(b"PING\x00\r\n")
    assert parser.read_commands() == []
    parser.feed(b"y" * 64)
    with pytest.raises(RespProtocolError, match="too big inline request"):
        parser.read_commands()
    parser = RespParser(max_inline_bytes=64)
    parser.feed(b"*1\x00\r\n$4\r\nPING\r\n")
    assert parser.read_commands() == []


def test_query_buffer_limit() -> None:
    parser = RespParser(max_query_buffer_bytes=100)
    parser.feed(b"*2\r\n$3\r\nSET\r\n$80\r\n" + b"x" * 50)
    assert parser.read_commands() == []
    assert parser.buffered_bytes <= 100
    with pytest.raises(RespQueryBufferLimitError) as caught:
        parser.feed(b"x" * 60)
    assert caught.value.reply is None  # Redis closes such a client without a reply
    with pytest.raises(RespQueryBufferLimitError):
        parser.read_commands()


def test_query_buffer_counts_the_partial_command() -> None:
    parser = RespParser(max_query_buffer_bytes=100)
    parser.feed(b"*3\r\n$3\r\nSET\r\n$40\r\n" + b"k" * 40 + b"\r\n")
    assert parser.read_commands() == []
    assert parser.buffered_bytes == 43  # the two arguments held for the incomplete command
    with pytest.raises(RespQueryBufferLimitError):
        parser.feed(b"$60\r\n" + b"v" * 53)


def test_unprocessed_commands_count_against_the_query_buffer() -> None:
    # A client that pipelines faster than we process is cut off, not buffered forever.
    parser = RespParser(max_query_buffer_bytes=1000)
    with pytest.raises(RespQueryBufferLimitError):
        for _ in range(100):
            parser.feed(b"PING\r\n" * 10)


def test_unauthenticated_limits() -> None:
    args = ["x"] * 10
    assert parse_all(encode_command(*args), authenticated=False) == [[b"x"] * 10]
    assert parse_error(encode_command(*args, "y"), authenticated=False)[1] == (
        "Protocol error: unauthenticated multibulk length"
    )
    assert parse_all(encode_command("AUTH", "p" * 16384), authenticated=False)
    assert parse_error(encode_command("AUTH", "p" * 16385), authenticated=False)[1] == (
        "Protocol error: unauthenticated bulk length"
    )
    parser = RespParser(authenticated=False)
    parser.authenticated = True  # the front end flips it after AUTH
    parser.feed(encode_command(*args, "y"))
    assert parser.read_commands() == [[b"x"] * 10 + [b"y"]]


def test_waits_without_rescanning_a_big_argument() -> None:
    parser = RespParser()
    parser.feed(b"*2\r\n$3\r\nSET\r\n$1000000\r\n")
    assert parser.read_commands() == []
    for _ in range(99):
        parser.feed(b"x" * 10_000)
        assert parser.read_commands() == []
    parser.feed(b"x" * 10_000 + b"\r\n")
    assert parser.read_commands() == [[b"SET", b"x" * 1_000_000]]
    assert parser.buffered_bytes == 0

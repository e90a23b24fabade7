"""The request parser against a real redis-server: same commands, same protocol errors.

Each input is sent raw over a fresh loopback connection, the write side is shut, and every
reply up to the server's close is read. Our side of the comparison parses the same bytes
with RespParser and predicts the replies of the commands it finds (ECHO and PING, whose
replies reveal exactly what was parsed; any other command just has to get an error), then
the protocol error line, if any.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.protocols.resp import (
    RespParser,
    RespProtocolError,
    RespReplyDecoder,
    encode_command,
)
from node.protocols.resp_types import ErrorReply, SimpleString

# Redis 7.0 accepts up to INT_MAX elements; our default limit is lower (Redis <= 6.2's).
REDIS_7_0_LIMITS: dict[str, Any] = {"max_array_len": 2**31 - 1}


def _free_port(below: int = 65536) -> int:
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port < below:
            return port
    raise RuntimeError("no free port found")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A cluster-enabled redis-server on a loopback port, stopped at the end of the module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port(below=55536)  # Redis wants room for its cluster bus port
    args = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--cluster-enabled", "yes", "--cluster-port", str(_free_port()),
        "--cluster-config-file", str(workdir / "nodes.conf"), "--dir", str(workdir),
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        # Readiness is the server's own log line, not a guess with sleep. The raw pipe is
        # read (os.read): a buffered readline could hold the line while select waits.
        deadline = time.monotonic() + 15
        fd = proc.stdout.fileno()
        log = b""
        while b"Ready to accept connections" not in log:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(remaining, 0))
            chunk = os.read(fd, 65536) if readable else b""
            if not chunk:
                raise RuntimeError(f"redis-server did not start: {log!r}")
            log += chunk
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain its log
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def redis_replies(port: int, data: bytes) -> list[Any]:
    """Send ``data``, half-close, and decode every reply until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        received = []
        while chunk := conn.recv(65536):
            received.append(chunk)
    decoder = RespReplyDecoder()
    decoder.feed(b"".join(received))
    return decoder.replies()


class AnyError:
    """Stands for a command error whose exact text is not the parser's business."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrorReply) and not other.text.startswith("ERR Protocol")

    def __repr__(self) -> str:
        return "AnyError()"


def predicted_replies(data: bytes) -> list[Any]:
    """What Redis should answer to ``data``, from our parser's reading of it."""
    parser = RespParser(**REDIS_7_0_LIMITS)
    parser.feed(data)
    replies: list[Any] = []
    try:
        while commands := parser.read_commands():
            for command in commands:
                name = command[0].lower()
                if name == b"echo" and len(command) == 2:
                    replies.append(command[1])
                elif name == b"ping" and len(command) == 1:
                    replies.append(SimpleString("PONG"))
                elif name == b"ping" and len(command) == 2:
                    replies.append(command[1])
                else:
                    replies.append(AnyError())
    except RespProtocolError as error:
        if error.reply is not None:
            decoder = RespReplyDecoder()
            decoder.feed(error.reply)
            replies.append(decoder.next_reply())
    return replies


TRICKY_INPUTS: list[bytes] = [
    # well-formed
    encode_command("PING"),
    encode_command("ECHO", b"\x00\r\n*1\r\n$"),
    encode_command("ECHO", "x" * 150) + encode_command("ECHO", "y" * 20_000),
    b"PING\r\nPING\nECHO hello\r\n",
    b"  PING  \r\n\r\n\n   \r\nECHO\tx\r\n",
    b"*0\r\n*-1\r\n*-5\r\nPING\r\n",
    # RESP3 types are not requests: a line not starting with '*' is an inline command
    b"%1\r\n$4\r\nPING\r\n+PING\r\n:1\r\n_\r\n",
    b">2\r\n$4\r\nECHO\r\n$1\r\na\r\n",
    # what Redis tolerates: unchecked bytes after CR and after arguments
    b"*2\r\n$4\r\nECHOxx$1\rZax\r\n",
    b"*1\rX$4\r\nPING\r\n",
    # inline quoting
    b'ECHO "hello world"\r\n',
    b"ECHO 'it\\'s'\r\n",
    b'ECHO "\\x41\\x4a\\xff\\x4"\r\n',
    b'ECHO "a\\nb\\r\\t\\b\\a\\"\\\\\\q"\r\n',
    b"ECHO '\\n'\r\n",
    b'ECHO ""\r\n',
    b'ECHO a"b c"\r\n',
    b"ECHO \xc3\xa9\xff\r\n",
    b"ECHO a\x0bb\r\n",
    b"\x0b\x0cECHO b\x0c\r\n",
    b"ECHO a\rb\r\n",
    # inline errors
    b'ECHO "unterminated\r\n',
    b"ECHO 'unterminated\r\n",
    b"ECHO 'a'b\r\n",
    b'ECHO "x"y\r\n',
    b"PING\r\nECHO 'x\r\nPING\r\n",
    # multibulk count errors
    b"*x\r\n",
    b"*\r\n",
    b"*01\r\n",
    b"*+1\r\n",
    b"* 1\r\n",
    b"*1 \r\n",
    b"*-0\r\n",
    b"*99999999999999999999\r\n",
    b"*1.5\r\n",
    # bulk errors
    b"*2\r\n$4\r\nECHO\r\n$x\r\n",
    b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
    b"*2\r\n$4\r\nECHO\r\n$03\r\nabc\r\n",
    b"*2\r\n$4\r\nECHO\r\n$\r\n",
    b"*2\r\n$4\r\nECHO\r\n$536870913\r\n",
    b"*2\r\n$4\r\nECHO\r\n$+3\r\nabc\r\n",
    b"*2\r\n$4\r\nECHO\r\n:1\r\n",
    b"*2\r\n$4\r\nECHO\r\n*1\r\n",
    b"*2\r\n$4\r\nECHO\r\n+OK\r\n",
    b"*2\r\n$4\r\nECHO\r\n%1\r\n",
    b"*1\r\n\r\n",
    b"*1\r\n\n\r\n",
    b"*1\r\n\xff\r\n",
    b"*1\r\n \r\n",
    # errors after good commands
    b"PING\r\n" + encode_command("ECHO", "a") + b"*1\r\n$x\r\n",
    # NUL bytes hide line ends from strchr(): Redis waits (then sees our close)
    b"PING\x00\r\n",
    b"*1\x00\r\n$4\r\nPING\r\n",
    b"*1\r\n\x00\r\n",
    b'ECHO "a\x00b"\r\nPING\r\n',
    # incomplete: no reply at all
    b"*2\r\n$4\r\nECHO\r\n$3\r\nfo",
    b"*2\r\n$4\r\nECHO\r\n$3",
    b"PING",
    # too big lines
    b"x" * 70_000,
    b"*" + b"1" * 70_000,
    b"*1\r\n$" + b"1" * 70_000,
    b"*1\r\n" + b"$" + b"\x00" * 70_000,
]


@pytest.mark.parametrize("data", TRICKY_INPUTS, ids=lambda data: repr(data[:40]))
def test_tricky_inputs_match_redis(redis_port: int, data: bytes) -> None:
    assert predicted_replies(data) == redis_replies(redis_port, data)


def test_protocol_error_texts_are_redis_texts(redis_port: int) -> None:
    """Every protocol error message our parser can produce is one Redis sends."""
    seen = set()
    for data in TRICKY_INPUTS:
        replies = redis_replies(redis_port, data)
        seen |= {r.text for r in replies if isinstance(r, ErrorReply) and "Protocol" in r.text}
    assert seen >= {
        "ERR Protocol error: invalid multibulk length",
        "ERR Protocol error: invalid bulk length",
        "ERR Protocol error: expected '$', got ':'",
        "ERR Protocol error: too big inline request",
        "ERR Protocol error: too big mbulk count string",
        "ERR Protocol error: too big bulk count string",
        "ERR Protocol error: unbalanced quotes in request",
    }


# --- generated inputs ------------------------------------------------------------------------

_arg = st.one_of(st.binary(max_size=8), st.binary(min_size=95, max_size=120), st.sampled_from([b"", b"\r\n"]))
_inline_word = st.one_of(
    st.text(alphabet="abXY01", min_size=1, max_size=6),
    st.text(alphabet="a b'\\\t", max_size=5).map(lambda text: f'"{text}"'),
    st.text(alphabet='a b"\\', max_size=5).map(lambda text: f"'{text}'"),
)
_piece = st.one_of(
    _arg.map(lambda arg: encode_command("ECHO", arg)),
    st.just(encode_command("PING")),
    _inline_word.map(lambda word: f"ECHO {word}\r\n".encode()),
    _inline_word.map(lambda word: f"PING {word}\n".encode()),
    st.sampled_from([b"*0\r\n", b"\r\n", b"PING\r\n"]),
)
_BYTES = list(b"*$\r\n0123456789-+: \"'\\x\x00")


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(b"".join(draw(st.lists(_piece, min_size=1, max_size=5))))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(data)))
        if draw(st.booleans()) and position < len(data):
            data[position] = draw(st.sampled_from(_BYTES))
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_generated_inputs_match_redis(redis_port: int, data: bytes) -> None:
    assert predicted_replies(data) == redis_replies(redis_port, data)

"""Hostile bytes over a real socket (hypothesis, seeded): malformed, truncated and
oversized frames get ``-ERR Protocol error: ...`` and a closed connection -- after the
replies of the well-formed commands before them -- never a crash, never unbounded memory;
a bystander connection is served throughout.

The expected outcome of every input comes from the sans-I/O parser itself (already
checked against a real redis-server by ``tests/unit/protocols``): how many commands it
accepts before the bytes go bad, and the exact error text.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from client.local_cluster import LocalCluster
from node.protocols.resp import (
    NEED_DATA,
    RespParser,
    RespProtocolError,
    RespReplyDecoder,
    encode_command,
)
from node.protocols.resp_types import ErrorReply, SimpleString
from tests.integration.test_resp_support import Raw, resp_port, start_cluster


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Raw]]:
    cluster = start_cluster(tmp_path_factory.mktemp("resp-fuzz"), nodes=1)
    bystander = Raw(resp_port(cluster, 1))
    yield cluster, bystander
    bystander.close()
    cluster.stop_all(timeout=15)


_SAFE_COMMANDS = st.one_of(
    st.just([b"PING"]),
    st.builds(lambda x: [b"ECHO", x], st.binary(max_size=20)),
    st.builds(lambda k, v: [b"SET", b"fz:" + k, v], st.binary(max_size=8), st.binary(max_size=20)),
    st.builds(lambda k: [b"GET", b"fz:" + k], st.binary(max_size=8)),
)
_VALID = st.lists(_SAFE_COMMANDS, max_size=4).map(lambda cmds: b"".join(encode_command(*c) for c in cmds))


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = draw(_VALID.filter(bool))
    position = draw(st.integers(0, len(data) - 1))
    action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
    byte = bytes([draw(st.integers(0, 255))])
    if action == "replace":
        return data[:position] + byte + data[position + 1 :]
    if action == "insert":
        return data[:position] + byte + data[position:]
    if action == "delete":
        return data[:position] + data[position + 1 :]
    return data[:position] + draw(st.binary(max_size=30))


_BIG = st.sampled_from([1024 * 1024 + 1, 2**31, 2**63, 10**30, -2, 536870913])
_OVERSIZED = st.one_of(
    _BIG.map(lambda n: b"*%d\r\n" % n),
    _BIG.map(lambda n: b"*1\r\n$%d\r\n" % n),
    st.integers(70_000, 100_000).map(lambda n: b"*" + b"1" * n),  # a count line past the inline limit
    st.integers(70_000, 100_000).map(lambda n: b"P" * n),  # an inline line past the limit
    st.integers(1, 20).map(lambda n: b"*1\r\n" * n + b"x\r\n"),
)
_GARBAGE = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.sampled_from([b"*", b"$", b"\r\n", b"-1", b"0", b"3", b"+", b":", b'"', b"'", b" ", b"\\x", b"\x00"]),
        max_size=30,
    ).map(b"".join),
)
_INPUT = st.tuples(_VALID, st.one_of(_mutated(), _OVERSIZED, _GARBAGE)).map(lambda parts: parts[0] + parts[1])


_PING = b"*1\r\n$4\r\nPING\r\n"


def _parse(data: bytes) -> tuple[list[list[bytes]], bytes | None]:
    parser = RespParser()
    parser.feed(data)
    out: list[list[bytes]] = []
    try:
        while commands := parser.read_commands():
            out += commands
    except RespProtocolError as error:
        return out, error.reply
    return out, None


def _expected(data: bytes) -> tuple[int, bytes | None, bool]:
    """(commands accepted, the error reply or None, whether a PING sent next would be a
    command of its own -- not the rest of an unfinished one)."""
    commands, error = _parse(data)
    with_ping, ping_error = _parse(data + _PING)
    ping_answers = ping_error is None and len(with_ping) == len(commands) + 1 and with_ping[-1] == [b"PING"]
    return len(commands), error, ping_answers


def _read_replies(sock: socket.socket, count: int) -> tuple[list[object], bytes]:
    """``count`` replies, then whatever follows until the server closes (bounded)."""
    decoder = RespReplyDecoder()
    replies: list[object] = []
    raw = b""
    while len(replies) < count:
        reply = decoder.next_reply()
        if reply is NEED_DATA:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise AssertionError(f"closed after {len(replies)} of {count} replies")
            raw += chunk
            decoder.feed(chunk)
            continue
        replies.append(reply)
    return replies, raw


@seed(20251127)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          derandomize=True)  # fmt: skip
@given(data=_INPUT)
def test_hostile_frames(node: tuple[LocalCluster, Raw], data: bytes) -> None:
    cluster, bystander = node
    accepted, error, ping_answers = _expected(data)
    sock = socket.create_connection(("127.0.0.1", resp_port(cluster, 1)), timeout=5)
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            assert error is not None  # the server may close while we are still sending
            return
        if error is not None:
            received = b""
            while len(received) < 1 << 22:
                try:
                    chunk = sock.recv(1 << 16)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
            assert received.endswith(error), (data[:200], received[-300:])
            decoder = RespReplyDecoder()
            decoder.feed(received)
            replies = decoder.replies()
            assert len(replies) == accepted + 1
            assert isinstance(replies[-1], ErrorReply) and replies[-1].text.startswith("ERR Protocol error")
        elif ping_answers:
            sock.sendall(_PING)
            replies, _ = _read_replies(sock, accepted + 1)
            assert replies[-1] == SimpleString("PONG")
    finally:
        sock.close()
    assert bystander.call("PING") == SimpleString("PONG")


def test_declared_but_unsent_bulks_cost_no_memory(node: tuple[LocalCluster, Raw]) -> None:
    """Announcing 512 MB arguments and sending none of them allocates nothing."""
    cluster, bystander = node

    def used() -> int:
        text = bystander.call("INFO", "memory").decode()
        return int(text.split("used_memory:")[1].split("\r\n")[0])

    before = used()
    sockets = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", resp_port(cluster, 1)), timeout=10)
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc")
            sockets.append(sock)
        assert bystander.call("PING") == SimpleString("PONG")
        assert used() - before < 64 * 1024 * 1024
    finally:
        for sock in sockets:
            sock.close()
    assert bystander.call("PING") == SimpleString("PONG")

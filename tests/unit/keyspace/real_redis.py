"""Start a real ``redis-server`` (Debian's 7.0.15) on a loopback port, and talk raw RESP2 to it.

Used by the command-table test, the memory benchmark and the table generator. The server runs
in a temporary directory with persistence off; with ``cluster=True`` it is a one-node Redis
Cluster owning all 16384 slots, so CROSSSLOT and the cluster-mode behaviours of commands
are Redis's own.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REDIS_PORT_CEILING = 55536  # Redis refuses data ports whose bus port (+10000) overflows


def free_port(below: int = 65536) -> int:
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port < below:
            return port
    raise RuntimeError("no free loopback port found")


class RespError(Exception):
    """An error reply, kept apart from bulk strings so replies compare exactly."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RespError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)

    def __repr__(self) -> str:
        return f"RespError({self.message!r})"


class RawRedis:
    """A minimal RESP2 client that keeps every reply's type.

    Replies are tagged tuples so that a simple string, a bulk string, a null bulk and a null
    array stay distinguishable (redis-py collapses them): ``("+", b"OK")``, ``("$", b"v")``,
    ``("$", None)``, ``(":", 1)``, ``("*", [...])``, ``("*", None)``, ``("-", b"ERR ...")``.
    """

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self._buffer = b""

    def close(self) -> None:
        self._sock.close()

    def call(self, *argv: bytes | str | int) -> tuple[str, Any]:
        self.send(*argv)
        return self.read()

    def send(self, *argv: bytes | str | int) -> None:
        parts = [b"*%d\r\n" % len(argv)]
        for arg in argv:
            raw = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        self._sock.sendall(b"".join(parts))

    def read(self) -> tuple[str, Any]:
        line = self._line()
        kind, rest = chr(line[0]), line[1:]
        if kind in "+-":
            return (kind, rest)
        if kind == ":":
            return (kind, int(rest))
        if kind == "$":
            length = int(rest)
            if length < 0:
                return ("$", None)
            data = self._exactly(length + 2)[:-2]
            return ("$", data)
        if kind == "*":
            count = int(rest)
            if count < 0:
                return ("*", None)
            return ("*", [self.read() for _ in range(count)])
        raise ValueError(f"unexpected RESP2 line {line!r}")

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self) -> None:
        chunk = self._sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        self._buffer += chunk


def plain(reply: tuple[str, Any]) -> Any:
    """A tagged reply without its tags (errors become :class:`RespError`)."""
    kind, value = reply
    if kind == "*" and value is not None:
        return [plain(item) for item in value]
    if kind == "-":
        return RespError(value)
    return value


@contextmanager
def redis_server(cluster: bool = True, extra: tuple[str, ...] = ()) -> Iterator[int]:
    """A ``redis-server`` on a free loopback port for the duration of the block.

    Readiness is the server's own log line (and, in cluster mode, ``cluster_state:ok``
    after assigning every slot), never a guessed sleep.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed")
    with tempfile.TemporaryDirectory(prefix="keystream-redis-") as tmp:
        workdir = Path(tmp)
        port = free_port(below=REDIS_PORT_CEILING)
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(workdir), *extra]  # fmt: skip
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                     "--cluster-config-file", str(workdir / "nodes.conf")]  # fmt: skip
        proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        try:
            _wait_for_log_line(proc, b"Ready to accept connections", timeout=15)
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            if cluster:
                _assign_all_slots(port)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_for_log_line(proc: subprocess.Popen[bytes], needle: bytes, timeout: float) -> None:
    """Read the server's output until ``needle`` appears. Reads the raw pipe (``os.read``):
    a buffered ``readline`` could hold the line in its buffer while ``select`` waits."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    log = b""
    while needle not in log:
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([fd], [], [], max(remaining, 0))
        chunk = os.read(fd, 65536) if readable else b""
        if not chunk:
            raise RuntimeError(f"redis-server did not start: {log!r}")
        log += chunk


def _assign_all_slots(port: int) -> None:
    """Make the server a one-node cluster that owns every slot, then wait for
    ``cluster_state:ok`` (Redis delays it up to 2 s after start-up). Between polls the
    server itself blocks (``WAIT 1 20`` returns after 20 ms: there are no replicas)."""
    conn = RawRedis(port)
    try:
        reply = conn.call("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        assert reply == ("+", b"OK"), reply
        deadline = time.monotonic() + 15
        while b"cluster_state:ok" not in conn.call("CLUSTER", "INFO")[1]:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server cluster never reached cluster_state:ok")
            conn.call("WAIT", 1, 20)
    finally:
        conn.close()

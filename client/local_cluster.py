"""A cluster of real node processes on loopback: ``keystream local`` and the tests use it.

Each node is a separate ``keystream node`` process with its own data
directory ``<data_dir>/node<N>``. Ports are laid out from a base port:
node N (1-based) gets ``base + 10*(N-1)`` for native, ``+1`` HTTP, ``+2``
RESP and ``+3`` Raft. The cluster secret is generated on first use and kept
in ``<data_dir>/cluster.secret`` (mode 0600), so a second run brings the same
cluster back; it reaches the nodes through their environment, never argv.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.connection import NativeConnection
from cluster.errors import KeystreamError

SERVICE_OFFSETS = {"native": 0, "http": 1, "resp": 2, "raft": 3}
PORT_STRIDE = 10


def voter_count(nodes: int) -> int:
    """First 3 (or 5) nodes vote in the metadata Raft group; the rest are brokers."""
    if nodes <= 3:
        return nodes
    return 3 if nodes < 5 else 5


@dataclass
class NodeProcess:
    node_id: int
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ClusterNotReady(TimeoutError):
    pass


class LocalCluster:
    def __init__(
        self,
        data_dir: Path | str,
        nodes: int = 3,
        base_port: int = 9100,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        per_node_args: Mapping[int, Sequence[str]] | None = None,
        per_node_env: Mapping[int, Mapping[str, str]] | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not 1 <= nodes <= 7:
            raise ValueError(f"--nodes must be between 1 and 7, got {nodes}")
        self.data_dir = Path(data_dir).resolve()
        self.size = nodes
        self.base_port = base_port
        self.host = host
        self.extra_args = list(extra_args)
        self.per_node_args = {k: list(v) for k, v in (per_node_args or {}).items()}
        self.env = dict(env or {})
        self.per_node_env = {k: dict(v) for k, v in (per_node_env or {}).items()}
        # ssl / credentials for this object's own readiness checks
        self.client_options: dict[str, Any] = dict(client_options or {})
        self.nodes = {i: NodeProcess(i) for i in range(1, nodes + 1)}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secret = self._load_or_create_secret()

    # --- layout -------------------------------------------------------------------------------
    def port(self, node_id: int, service: str) -> int:
        return self.base_port + PORT_STRIDE * (node_id - 1) + SERVICE_OFFSETS[service]

    def address(self, node_id: int, service: str) -> str:
        return f"{self.host}:{self.port(node_id, service)}"

    def addresses(self) -> dict[str, dict[str, str]]:
        return {str(i): {svc: self.address(i, svc) for svc in ("native", "http", "raft", "resp")} for i in self.nodes}

    def bootstrap(self) -> list[str]:
        return [self.address(i, "native") for i in self.nodes]

    def voters(self) -> dict[int, str]:
        return {i: self.address(i, "raft") for i in range(1, voter_count(self.size) + 1)}

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node{node_id}"

    def _load_or_create_secret(self) -> str:
        path = self.data_dir / "cluster.secret"
        if path.exists():
            return path.read_text().strip()
        secret = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        return secret

    def node_command(self, node_id: int) -> list[str]:
        voters = ",".join(f"{k}={v}" for k, v in self.voters().items())
        cmd = [
            sys.executable, "-m", "client.cli.main", "node",
            "--id", str(node_id),
            "--data-dir", str(self.node_dir(node_id)),
            "--voters", voters,
            "--listener", f"default.native={self.address(node_id, 'native')}",
            "--listener", f"default.http={self.address(node_id, 'http')}",
            "--listener", f"default.resp={self.address(node_id, 'resp')}",
        ]  # fmt: skip
        if node_id in self.voters():
            cmd += ["--raft", self.address(node_id, "raft")]
        return cmd + self.extra_args + self.per_node_args.get(node_id, [])

    def write_cluster_json(self) -> Path:
        path = self.data_dir / "cluster.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.addresses(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    # --- processes -----------------------------------------------------------------------------
    def start_node(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if node.alive:
            return
        self.node_dir(node_id).mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            "KEYSTREAM_CLUSTER_SECRET": self.secret,
            "PYTHONUNBUFFERED": "1",
            **self.per_node_env.get(node_id, {}),
        }
        out = open(self.node_dir(node_id) / "stdout.log", "ab")
        node.proc = subprocess.Popen(
            self.node_command(node_id), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        out.close()
        node.paused = False

    def start_all(self) -> None:
        for node_id in self.nodes:
            self.start_node(node_id)

    def signal(self, node_id: int, sig: int) -> None:
        node = self.nodes[node_id]
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(sig)

    def kill(self, node_id: int) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        node = self.nodes[node_id]
        if node.proc is not None and node.proc.poll() is None:
            if node.paused:
                node.proc.send_signal(signal.SIGCONT)
            node.proc.kill()
            node.proc.wait(timeout=10)
        node.paused = False

    def pause(self, node_id: int) -> None:
        self.signal(node_id, signal.SIGSTOP)
        self.nodes[node_id].paused = True

    def resume(self, node_id: int) -> None:
        self.signal(node_id, signal.SIGCONT)
        self.nodes[node_id].paused = False

    def stop_node(self, node_id: int, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout``)."""
        node = self.nodes[node_id]
        if node.proc is None:
            return None
        if node.proc.poll() is None:
            if node.paused:
                node.proc.send_signal(signal.SIGCONT)
            node.proc.terminate()
            try:
                node.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=10)
        node.paused = False
        return node.proc.returncode

    def stop_all(self, timeout: float = 20.0) -> dict[int, int | None]:
        for node in self.nodes.values():
            if node.alive:
                if node.paused:
                    node.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
                node.proc.terminate()  # type: ignore[union-attr]
        codes = {}
        deadline = time.monotonic() + timeout
        for node_id, node in self.nodes.items():
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=10)
            codes[node_id] = node.proc.returncode
        return codes

    def exited(self) -> dict[int, int]:
        """Nodes whose process has exited, with their exit codes."""
        return {i: n.proc.returncode for i, n in self.nodes.items() if n.proc is not None and n.proc.poll() is not None}

    def log_tail(self, node_id: int, lines: int = 20) -> str:
        path = self.node_dir(node_id) / "stdout.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- readiness -------------------------------------------------------------------------------
    async def node_map(self, node_id: int, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            conn = await NativeConnection.open(
                self.address(node_id, "native"), connect_timeout=timeout, **self.client_options
            )
        except (ConnectionError, KeystreamError):
            return None
        try:
            return dict(await conn.request("metadata", {}, timeout=timeout))
        except (KeystreamError, ConnectionError):
            return None
        finally:
            await conn.close()

    async def node_health(self, node_id: int, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            conn = await NativeConnection.open(
                self.address(node_id, "native"), connect_timeout=timeout, **self.client_options
            )
        except (ConnectionError, KeystreamError):
            return None
        try:
            return dict(await conn.request("health", {}, timeout=timeout))
        except (KeystreamError, ConnectionError):
            return None
        finally:
            await conn.close()

    async def wait_ready(
        self,
        timeout: float = 60.0,
        expect_live: Sequence[int] | None = None,
        poll: float = 0.1,
        keyspace: bool = True,
    ) -> dict[str, Any]:
        """Wait until every running node is healthy (registered with its current
        incarnation, not fenced) and serves the same map with a controller, in which
        ``expect_live`` (default: every running node) are not fenced; with ``keyspace``, also
        until the keyspace exists and every shard has a leader."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            crashed = {i: c for i, c in self.exited().items() if expect_live is None or i in expect_live}
            if crashed and expect_live is None:
                raise ClusterNotReady(f"node(s) exited during start-up: {crashed}")
            running = [i for i, n in self.nodes.items() if n.alive and not n.paused]
            want_live = list(expect_live) if expect_live is not None else running
            maps = await asyncio.gather(*(self.node_map(i) for i in running))
            healths = await asyncio.gather(*(self.node_health(i) for i in running))
            last = (maps, healths)
            healthy = all(h is not None and h["ok"] for h in healths)
            if healthy and maps and all(m is not None for m in maps):
                first = maps[0]
                assert first is not None
                same = all(
                    m is not None and m["map_epoch"] == first["map_epoch"] and m["controller"] == first["controller"]
                    for m in maps
                )
                live = {int(k) for k, n in first["nodes"].items() if not n["fenced"]}
                if same and first["controller"] is not None and first["cluster_id"] and set(want_live) <= live:
                    return first
            await asyncio.sleep(poll)
        raise ClusterNotReady(f"cluster not ready after {timeout}s; last maps: {last}")


def free_port_base(count: int = 7, host: str = "127.0.0.1", start: int = 20000, end: int | None = None) -> int:
    """A base port whose whole block of node ports is currently free (for tests).

    Below the kernel's ephemeral range by default: a port found free there can still be
    taken, before the node binds it, by any outgoing connection on the machine. Above the
    ports the compose deployment publishes (16379-19094)."""
    import random

    if end is None:
        end = _ephemeral_range_start()
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(start, end - PORT_STRIDE * count, PORT_STRIDE)
        if all(_port_free(host, base + PORT_STRIDE * n + off) for n in range(count) for off in range(4)):
            return base
    raise RuntimeError("no free block of ports found")


def _ephemeral_range_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            return max(21000, int(fh.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

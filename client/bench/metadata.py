"""Foundation benchmarks: cluster start-up, controller failover, metadata write latency.

Each run starts a fresh ``keystream local`` as a separate process (exactly as
a user would), so the start-up time includes process start, Raft election,
registration and the readiness check that ``keystream local`` itself runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from client.connection import NativeConnection
from client.local_cluster import LocalCluster, free_port_base
from cluster.errors import KeystreamError


@dataclass
class RunResult:
    startup_s: float
    failover_s: float
    write_ms_leader: list[float] = field(default_factory=list)
    write_ms_follower: list[float] = field(default_factory=list)


async def _request(address: str, op: str, args: dict[str, object], timeout: float) -> dict[str, object]:
    conn = await NativeConnection.open(address, connect_timeout=timeout)
    try:
        return dict(await conn.request(op, args, timeout=timeout))
    finally:
        await conn.close()


async def _write_latencies(address: str, count: int) -> list[float]:
    conn = await NativeConnection.open(address)
    out = []
    try:
        for i in range(count):
            started = time.perf_counter()
            await conn.request("metadata_noop", {"tag": i}, timeout=10)
            out.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return out


async def _failover(cluster: LocalCluster, controller: int, pid: int) -> float:
    survivors = [i for i in cluster.nodes if i != controller]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 60
    while time.monotonic() < deadline:
        for node in survivors:
            try:
                reply = await _request(cluster.address(node, "native"), "metadata_noop", {"tag": "fo"}, 0.5)
            except (KeystreamError, ConnectionError, OSError):
                continue
            if reply.get("controller") not in (None, controller):
                return time.monotonic() - killed_at
    raise TimeoutError("no new controller committed a write within 60s")


def one_run(writes: int) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="keystream-bench-") as tmp:
        data_dir = Path(tmp)
        base = free_port_base(4)
        cluster = LocalCluster(data_dir, nodes=3, base_port=base)  # for the address layout only
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "client.cli.main", "local", "--data-dir", str(data_dir),
             "--base-port", str(base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = started + 120
            while not (data_dir / "cluster.json").exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("keystream local did not become ready")
                time.sleep(0.01)
            startup = time.monotonic() - started
            status = asyncio.run(_request(cluster.address(1, "native"), "cluster_status", {}, 5))
            controller = int(status["controller"])  # type: ignore[call-overload]
            follower = next(i for i in (1, 2, 3) if i != controller)
            leader_ms = asyncio.run(_write_latencies(cluster.address(controller, "native"), writes))
            follower_ms = asyncio.run(_write_latencies(cluster.address(follower, "native"), writes))
            pid = int((cluster.node_dir(controller) / ".lock").read_text().split()[0])
            failover = asyncio.run(_failover(cluster, controller, pid))
            return RunResult(startup, failover, leader_ms, follower_ms)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def summarize(runs: list[RunResult]) -> list[tuple[str, str, str, str]]:
    def row(name: str, values: list[float], unit: str) -> tuple[str, str, str, str]:
        median, worst = statistics.median(values), max(values)
        return (name, f"{median:.2f} {unit}", f"{worst:.2f} {unit}", str(len(values)))

    leader_all = [v for r in runs for v in r.write_ms_leader]
    follower_all = [v for r in runs for v in r.write_ms_follower]
    return [
        row("keystream local start -> ready cluster", [r.startup_s for r in runs], "s"),
        row("SIGKILL controller -> new controller commits a write", [r.failover_s for r in runs], "s"),
        row("metadata write latency, sent to the controller", leader_all, "ms"),
        row("metadata write latency, sent to a follower", follower_all, "ms"),
    ]

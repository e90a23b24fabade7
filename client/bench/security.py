"""The cost of authentication and TLS, side by side.

Each mode gets a fresh local three-node cluster per round:

* ``open``: no users, plain TCP (loopback only, as a fresh cluster runs);
* ``auth``: users defined; the benchmark authenticates as a user holding
  ``write`` on ``topic:*`` and ``key:*``, so every request goes through the
  per-request authorization check;
* ``tls``: TLS on every listener and between nodes (replication included), no users;
* ``tls+auth``: both.

Measured per mode: produce throughput (one SDK producer, acks=all), consume
throughput (one consumer from the beginning), and ``redis-benchmark --cluster
-t set,get`` against the RESP listeners (with ``--tls``/``--user`` when the
mode needs them). Besides the rates, the CPU time the three node processes
spent per record or request: on a shared two-core machine the rates move with
whatever else runs, the CPU per operation much less. Modes are interleaved
round by round and the median of the rounds is printed. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client import Keystream, TopicPartition
from client.bench.redis_benchmark import requests_per_second
from client.connection import NativeConnection
from client.local_cluster import LocalCluster, free_port_base

MODES = ("open", "auth", "tls", "tls+auth")
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"
ADMIN_USER = "root"
ADMIN_PASSWORD = "root-password"
TOPIC = "security-bench"


@dataclass
class SecurityBenchSettings:
    records: int = 500_000
    record_bytes: int = 100
    partitions: int = 6
    resp_requests: int = 200_000
    resp_clients: int = 50
    resp_pipelines: tuple[int, ...] = (1, 16)
    rounds: int = 3


@dataclass
class ModeResult:
    """One mode's measurements over the rounds: measure name -> one value per round."""

    mode: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""

    def add(self, measure: str, value: float) -> None:
        self.samples.setdefault(measure, []).append(value)

    def median(self, measure: str) -> float | None:
        values = self.samples.get(measure)
        return statistics.median(values) if values else None


def measures(settings: SecurityBenchSettings) -> list[tuple[str, str]]:
    """(measure, format) in the order printed."""
    rows = [
        ("produce records/s (acks=all)", "{:,.0f}"),
        ("  node CPU µs per record produced", "{:.2f}"),
        ("consume records/s (one consumer)", "{:,.0f}"),
        ("  node CPU µs per record consumed", "{:.2f}"),
    ]
    for pipeline in settings.resp_pipelines:
        for test in ("SET", "GET"):
            rows.append((f"RESP {test} -P {pipeline} requests/s", "{:,.0f}"))
            rows.append((f"  node CPU µs per {test} -P {pipeline}", "{:.1f}"))
    return rows


class _Mode:
    """A running cluster configured for one mode, and how clients reach it."""

    def __init__(self, mode: str, workdir: Path) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        self.tls = mode.startswith("tls")
        self.auth = mode.endswith("auth")
        self.certs = workdir / "certs"
        extra_args: list[str] = []
        self.client_options: dict[str, Any] = {}
        if self.tls:
            from client.cli.certs_cmd import make_dev_certs

            make_dev_certs(self.certs, ["127.0.0.1", "localhost"], nodes=3, days=1)
            extra_args += ["--set", "tls.listeners=default", "--set", f"tls.cert={self.certs}/node.pem",
                           "--set", f"tls.key={self.certs}/node-key.pem",
                           "--set", f"tls.ca={self.certs}/ca.pem"]  # fmt: skip
            self.client_options["ssl"] = ssl.create_default_context(cafile=str(self.certs / "ca.pem"))
        self.cluster = LocalCluster(workdir / "cluster", nodes=3, base_port=free_port_base(4), extra_args=extra_args,
                                    client_options=self.client_options)  # fmt: skip
        self.admin_options = dict(self.client_options)

    def start(self) -> None:
        self.cluster.start_all()
        asyncio.run(self.cluster.wait_ready(60))
        if self.auth:
            asyncio.run(_create_users(self.cluster, self.client_options.get("ssl")))
            self.client_options["credentials"] = _plain(BENCH_USER, BENCH_PASSWORD)
            self.admin_options["credentials"] = _plain(ADMIN_USER, ADMIN_PASSWORD)

    def stop(self) -> None:
        self.cluster.stop_all()

    def node_cpu_seconds(self) -> float:
        return cpu_seconds([n.proc.pid for n in self.cluster.nodes.values() if n.proc is not None])

    def redis_benchmark(self, test: str, pipeline: int, settings: SecurityBenchSettings) -> float:
        args = ["redis-benchmark", "--cluster", "-h", "127.0.0.1", "-p", str(self.cluster.port(1, "resp")),
                "-t", test.lower(), "-n", str(settings.resp_requests), "-c", str(settings.resp_clients),
                "-P", str(pipeline), "--csv"]  # fmt: skip
        if self.tls:
            args += ["--tls", "--cacert", str(self.certs / "ca.pem")]
        if self.auth:
            args += ["--user", BENCH_USER, "-a", BENCH_PASSWORD]
        return requests_per_second(args, test)


def _plain(user: str, password: str) -> dict[str, str]:
    return {"mechanism": "PLAIN", "username": user, "password": password}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def _create_users(cluster: LocalCluster, ssl_context: ssl.SSLContext | None) -> None:
    """The first admin is created anonymously (open mode, loopback), then the benchmark user."""
    anon = await NativeConnection.open(cluster.address(1, "native"), ssl=ssl_context)
    try:
        grants = [{"role": "admin", "resource": r} for r in ("cluster", "topic:*", "key:*", "group:*")]
        await anon.request("create_user", {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "grants": grants})
    finally:
        await anon.close()
    root = await NativeConnection.open(
        cluster.address(1, "native"), ssl=ssl_context, credentials=_plain(ADMIN_USER, ADMIN_PASSWORD)
    )
    try:
        grants = [{"role": "write", "resource": "topic:*"}, {"role": "write", "resource": "key:*"}]
        await root.request("create_user", {"name": BENCH_USER, "password": BENCH_PASSWORD, "grants": grants})
    finally:
        await root.close()


async def _log_round(mode: _Mode, settings: SecurityBenchSettings, result: ModeResult) -> None:
    async with Keystream(mode.cluster.bootstrap(), **mode.admin_options) as admin:
        await admin.admin.create_topic(TOPIC, partitions=settings.partitions, replication_factor=3)
        deadline = time.monotonic() + 30
        while len(await admin.admin.list_offsets(TOPIC, "latest")) < settings.partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{TOPIC} has no leaders after 30s")
            await asyncio.sleep(0.1)
    async with Keystream(mode.cluster.bootstrap(), **mode.client_options) as ks:
        payload = b"x" * settings.record_bytes
        producer = await ks.producer(acks="all", linger_ms=5.0, batch_size=512 * 1024).start()
        cpu, started = mode.node_cpu_seconds(), time.perf_counter()
        for _ in range(settings.records):
            await producer.send(TOPIC, payload)
        await producer.flush()
        elapsed = time.perf_counter() - started
        result.add("produce records/s (acks=all)", settings.records / elapsed)
        result.add("  node CPU µs per record produced", (mode.node_cpu_seconds() - cpu) / settings.records * 1e6)
        await producer.close()

        consumer = ks.consumer(auto_offset_reset="earliest", fetch_min_bytes=1)
        consumer.assign([TopicPartition(TOPIC, p) for p in range(settings.partitions)])
        cpu, started, got = mode.node_cpu_seconds(), time.perf_counter(), 0
        while got < settings.records:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                raise TimeoutError(f"consumed {got} of {settings.records} records, then nothing for 5 s")
            got += sum(len(records) for records in batch.values())
        elapsed = time.perf_counter() - started
        result.add("consume records/s (one consumer)", got / elapsed)
        result.add("  node CPU µs per record consumed", (mode.node_cpu_seconds() - cpu) / got * 1e6)
        await consumer.close()


def _one_round(mode_name: str, settings: SecurityBenchSettings, result: ModeResult, say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix=f"keystream-bench-{mode_name.replace('+', '-')}-") as tmp:
        mode = _Mode(mode_name, Path(tmp))
        mode.start()
        try:
            say(f"{mode_name}: produce and consume {settings.records:,} records")
            asyncio.run(_log_round(mode, settings, result))
            if shutil.which("redis-benchmark") is None:
                result.note = "redis-benchmark is not installed (Debian: apt-get install redis-tools)"
                return
            for pipeline in settings.resp_pipelines:
                for test in ("SET", "GET"):
                    say(f"{mode_name}: redis-benchmark {test} -P {pipeline}")
                    cpu = mode.node_cpu_seconds()
                    result.add(f"RESP {test} -P {pipeline} requests/s", mode.redis_benchmark(test, pipeline, settings))
                    per_request = (mode.node_cpu_seconds() - cpu) / settings.resp_requests * 1e6
                    result.add(f"  node CPU µs per {test} -P {pipeline}", per_request)
        finally:
            mode.stop()


def run_security_bench(
    modes: list[str], settings: SecurityBenchSettings, say: Callable[[str], None]
) -> list[ModeResult]:
    """Every mode once per round, modes interleaved so a noisy minute hits them alike."""
    results = {mode: ModeResult(mode) for mode in modes}
    for round_no in range(1, settings.rounds + 1):

        def say_round(text: str, round_no: int = round_no) -> None:
            say(f"round {round_no}/{settings.rounds}: {text}")

        for mode in modes:
            _one_round(mode, settings, results[mode], say_round)
    return list(results.values())

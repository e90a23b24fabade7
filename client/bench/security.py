"""The cost of authentication and TLS, side by side.

Each mode gets a fresh local three-node cluster:

* ``open``: no users, plain TCP (loopback only, as a fresh cluster runs);
* ``auth``: users defined; the benchmark authenticates as a user holding
  ``write`` on ``topic:*`` and ``key:*``, so every request goes through the
  per-request authorization check;
* ``tls``: TLS on every listener and between nodes, no users;
* ``tls+auth``: both.

In each mode it measures produce throughput (one SDK producer, acks=all),
consume throughput, end-to-end latency at a fixed rate, and
``redis-benchmark --cluster -t set,get`` against the RESP listeners (with
``--tls``/``--user`` when the mode needs them). Numbers are printed, never
asserted.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.bench.log import run_log_bench
from client.connection import NativeConnection
from client.local_cluster import LocalCluster, free_port_base

MODES = ("open", "auth", "tls", "tls+auth")
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"
ADMIN_USER = "root"
ADMIN_PASSWORD = "root-password"


@dataclass
class ModeResult:
    mode: str
    log_rows: list[tuple[str, str]] = field(default_factory=list)
    resp_rates: dict[str, float] = field(default_factory=dict)  # "SET -P 1" -> requests/s
    resp_error: str = ""


@dataclass
class SecurityBenchSettings:
    records: int = 300_000
    record_bytes: int = 100
    partitions: int = 6
    e2e_rate: int = 2000
    e2e_seconds: float = 5.0
    resp_requests: int = 100_000
    resp_clients: int = 50
    resp_pipelines: tuple[int, ...] = (1, 16)


def run_mode(mode: str, settings: SecurityBenchSettings, workdir: Path, say: Callable[[str], None]) -> ModeResult:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    tls = mode.startswith("tls")
    auth = mode.endswith("auth")
    extra_args: list[str] = []
    client_options: dict[str, Any] = {}
    certs = workdir / "certs"
    if tls:
        from client.cli.certs_cmd import make_dev_certs

        make_dev_certs(certs, ["127.0.0.1", "localhost"], nodes=3, days=1)
        extra_args += ["--set", "tls.listeners=default", "--set", f"tls.cert={certs}/node.pem",
                       "--set", f"tls.key={certs}/node-key.pem", "--set", f"tls.ca={certs}/ca.pem"]  # fmt: skip
        client_options["ssl"] = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    cluster = LocalCluster(workdir / "cluster", nodes=3, base_port=free_port_base(4), extra_args=extra_args,
                           client_options=client_options)  # fmt: skip
    cluster.start_all()
    result = ModeResult(mode)
    try:
        asyncio.run(cluster.wait_ready(60))
        if auth:
            asyncio.run(_create_users(cluster, client_options.get("ssl")))
            client_options["credentials"] = {"mechanism": "PLAIN", "username": BENCH_USER, "password": BENCH_PASSWORD}
            admin_options = {**client_options, "credentials": {"mechanism": "PLAIN", "username": ADMIN_USER,
                                                                 "password": ADMIN_PASSWORD}}  # fmt: skip
        else:
            admin_options = client_options
        say(f"{mode}: producing {settings.records:,} records")
        log = asyncio.run(
            run_log_bench(
                cluster.bootstrap(), records=settings.records, record_bytes=settings.record_bytes,
                partitions=settings.partitions, replication_factor=3, acks="all", linger_ms=5.0,
                batch_size=512 * 1024, compression=None, e2e_rate=settings.e2e_rate,
                e2e_seconds=settings.e2e_seconds, client_options=client_options, admin_options=admin_options,
            )
        )  # fmt: skip
        result.log_rows = log.rows()
        if shutil.which("redis-benchmark") is None:
            result.resp_error = "redis-benchmark is not installed (Debian: apt-get install redis-tools)"
            return result
        say(f"{mode}: redis-benchmark SET/GET")
        resp_port = cluster.port(1, "resp")
        for pipeline in settings.resp_pipelines:
            for test in ("SET", "GET"):
                args = ["redis-benchmark", "--cluster", "-h", "127.0.0.1", "-p", str(resp_port), "-t", test.lower(),
                        "-n", str(settings.resp_requests), "-c", str(settings.resp_clients), "-P", str(pipeline),
                        "--csv"]  # fmt: skip
                if tls:
                    args += ["--tls", "--cacert", str(certs / "ca.pem")]
                if auth:
                    args += ["--user", BENCH_USER, "-a", BENCH_PASSWORD]
                result.resp_rates[f"{test} -P {pipeline}"] = _redis_benchmark(args, test)
    finally:
        cluster.stop_all()
    return result


async def _create_users(cluster: LocalCluster, ssl_context: ssl.SSLContext | None) -> None:
    """The first admin is created anonymously (open mode, loopback), then the benchmark user."""
    anon = await NativeConnection.open(cluster.address(1, "native"), ssl=ssl_context)
    try:
        grants = [{"role": "admin", "resource": r} for r in ("cluster", "topic:*", "key:*", "group:*")]
        await anon.request("create_user", {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "grants": grants})
    finally:
        await anon.close()
    root = await NativeConnection.open(
        cluster.address(1, "native"), ssl=ssl_context,
        credentials={"mechanism": "PLAIN", "username": ADMIN_USER, "password": ADMIN_PASSWORD},
    )  # fmt: skip
    try:
        await root.request("create_user", {"name": BENCH_USER, "password": BENCH_PASSWORD,
                                           "grants": [{"role": "write", "resource": "topic:*"},
                                                      {"role": "write", "resource": "key:*"}]})  # fmt: skip
    finally:
        await root.close()


def _redis_benchmark(args: list[str], test: str) -> float:
    out = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({out.returncode}): {out.stderr[-1000:]}{out.stdout[-1000:]}")
    lines = [line for line in out.stdout.splitlines() if line.startswith('"')]
    for row in csv.reader(io.StringIO("\n".join(lines))):
        if row and row[0] == test:
            return float(row[1])
    raise RuntimeError(f"unexpected redis-benchmark output: {out.stdout[-1000:]}")


def run_security_bench(
    modes: list[str], settings: SecurityBenchSettings, say: Callable[[str], None]
) -> list[ModeResult]:
    results = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix=f"keystream-bench-{mode.replace('+', '-')}-") as tmp:
            results.append(run_mode(mode, settings, Path(tmp), say))
    return results

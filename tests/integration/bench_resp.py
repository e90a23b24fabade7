"""redis-benchmark against a real redis-server and against Keystream's RESP front end, in one run.

    python -m tests.integration.bench_resp [--requests 100000] [--clients 50] [--repeat 1]

Measures ``redis-benchmark -t set,get -c CLIENTS -n REQUESTS`` with ``-P 1`` and ``-P 16``:

* against one ``redis-server`` (Debian's 7.0, persistence off) that this script starts on a
  free loopback port;
* with ``--cluster`` against a fresh local three-node Keystream cluster, once with the
  keyspace's default ``acks=all`` (a write is acknowledged once every in-sync replica has
  it) and once with ``acks=leader`` (acknowledged once the leader applied it: Redis's
  durability);

and prints the requests per second of each, each ratio Keystream / Redis, and the servers'
CPU time per request (which a loaded machine distorts much less than the rates). Everything
runs on this machine at once (the benchmark client, Redis or the three node processes),
so the numbers are only comparable within one run; ``--repeat`` keeps the best of N.
The load average is printed too: on a shared machine it says how much to trust a run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from client.bench.redis_benchmark import requests_per_second
from tests.integration.test_resp_support import Raw, resp_port, start_cluster
from tests.unit.keyspace.real_redis import redis_server

TESTS = ("SET", "GET")
PIPELINES = (1, 16)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def server_pids(ports: list[int]) -> list[int]:
    """The process ids of the servers on ``ports`` (INFO server's process_id)."""
    pids = []
    for port in ports:
        conn = Raw(port)
        try:
            info = conn.call("INFO", "server").decode()
        finally:
            conn.close()
        pids.append(int(info.split("process_id:")[1].split("\r\n")[0]))
    return pids


def run_benchmark(port: int, test: str, pipeline: int, requests: int, clients: int, cluster: bool) -> float:
    """requests/s of one redis-benchmark run of one test (CSV output)."""
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test.lower(), "-n", str(requests),
            "-c", str(clients), "-P", str(pipeline), "--csv"]  # fmt: skip
    if cluster:
        args.append("--cluster")
    return requests_per_second(args, test, timeout=1800)


def measure(
    port: int, args: argparse.Namespace, cluster: bool, pids: list[int]
) -> tuple[dict[tuple[str, int], float], dict[tuple[str, int], float]]:
    """Per (test, pipeline): the best rate over ``--repeat`` runs, and the servers' CPU
    time per request in microseconds (over all those runs)."""
    rates: dict[tuple[str, int], float] = {}
    cpu: dict[tuple[str, int], float] = {}
    for pipeline in PIPELINES:
        for test in TESTS:
            before = cpu_seconds(pids)
            best = 0.0
            for _ in range(args.repeat):
                best = max(best, run_benchmark(port, test, pipeline, args.requests, args.clients, cluster))
            rates[(test, pipeline)] = best
            cpu[(test, pipeline)] = (cpu_seconds(pids) - before) / (args.repeat * args.requests) * 1e6
    return rates, cpu


Results = dict[tuple[str, int], float]


def measure_keystream(acks: str, args: argparse.Namespace, workdir: Path) -> tuple[Results, Results]:
    cluster = start_cluster(workdir / f"acks-{acks}", extra_args=("--set", f"keyspace.acks={acks}"))
    try:
        pids = server_pids([resp_port(cluster, n) for n in cluster.nodes])
        return measure(resp_port(cluster, 1), args, True, pids)
    finally:
        cluster.stop_all(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best rate is kept")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian: apt-get install redis-server redis-tools)", file=sys.stderr)
            return 2
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    results: dict[str, Results] = {}
    cpu: dict[str, Results] = {}
    with redis_server(cluster=False) as port:
        results["redis"], cpu["redis"] = measure(port, args, False, server_pids([port]))
    with tempfile.TemporaryDirectory(prefix="keystream-bench-resp-") as tmp:
        for acks in ("all", "leader"):
            started = time.monotonic()
            name = f"keystream acks={acks}"
            results[name], cpu[name] = measure_keystream(acks, args, Path(tmp))
            print(f"{name} measured in {time.monotonic() - started:.0f}s", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end\n")
    print(f"redis-benchmark -t set,get -c {args.clients} -n {args.requests}", end=" ")
    print(f"(requests per second; best of {args.repeat})")
    header = f"{'target':<22}" + "".join(f"{f'{t} -P {p}':>14}" for p in PIPELINES for t in TESTS)
    print(header)
    print("-" * len(header))
    for name, measured in results.items():
        print(f"{name:<22}" + "".join(f"{measured[(t, p)]:>14,.0f}" for p in PIPELINES for t in TESTS))
    print()
    for name, measured in results.items():
        if name == "redis":
            continue
        ratios = "".join(f"{measured[(t, p)] / results['redis'][(t, p)]:>14.1%}" for p in PIPELINES for t in TESTS)
        print(f"{name + ' / redis':<22}" + ratios)
    print()
    print("server CPU time per request, microseconds (all three node processes for Keystream):")
    print(header)
    print("-" * len(header))
    for name, measured in cpu.items():
        print(f"{name:<22}" + "".join(f"{measured[(t, p)]:>14.1f}" for p in PIPELINES for t in TESTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One chaos run, start to finish: what ``keystream chaos`` and the tests in ``tests/chaos`` call.

1. start a fault proxy (or use ``$TOXIPROXY_URL``) and a ``ChaosTopology``: the nodes,
   a proxy per client->node link and per node pair (Raft and native);
2. set the workloads up (topic, clients through the proxies);
3. run them for ``duration`` seconds while the ``Nemesis`` plays the seeded schedule;
4. heal everything, wait (bounded) until the cluster has *settled*: every node live and
   unfenced, every partition and shard fully replicated (ISR = replicas, every replica's
   log end = the leader's high watermark), every shard's replicas in the same state;
5. final reads (every replica of every partition, every key), the checkers, the report.

A run that does not settle within ``settle_timeout_s`` is itself a failure (the
``cluster/recovery`` check): the design promises service again within seconds of a
fault ending. Teardown (nodes, proxies, tmpfs mounts) always runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from client.chaos.checkers import SETTLE, CheckResult, check_history, recovery_result
from client.chaos.faultproxy.process import toxiproxy_endpoint
from client.chaos.history import META, History
from client.chaos.linearizability import DEFAULT_MAX_STATES_PER_KEY, Verdict
from client.chaos.nemesis import DEFAULT_NEMESES, NEMESES, FaultPlan, Nemesis, plan_schedule
from client.chaos.report import Analysis, analyse
from client.chaos.topology import DEFAULT_NODE_ARGS, ChaosTopology, can_mount
from client.chaos.workloads import WORKLOADS, Workload, WorkloadOptions
from client.connection import NativeConnection
from client.local_cluster import LocalCluster
from cluster.errors import KeystreamError

log = logging.getLogger(__name__)

DEFAULT_WORKLOADS = ("log", "kv")
SETTLE_TIMEOUT_S = 90.0
RUN_GRACE_S = 60.0  # workloads finish in-flight operations (producer delivery timeouts) within this
DISK_MB = 64


@dataclass
class ChaosOptions:
    nemeses: Sequence[str] = DEFAULT_NEMESES
    workloads: Sequence[str] = DEFAULT_WORKLOADS
    duration: float = 60.0
    seed: int = 0
    nodes: int = 3
    history_path: Path | None = None
    data_dir: Path | None = None  # default: a temporary directory, removed afterwards
    keep_data: bool = False
    workload: WorkloadOptions = field(default_factory=WorkloadOptions)
    node_args: Sequence[str] = DEFAULT_NODE_ARGS
    extra_node_args: Sequence[str] = ()  # e.g. ("--set", "keyspace.acks=leader")
    schedule: Sequence[FaultPlan] | None = None  # instead of plan_schedule(seed, ...)
    settle_timeout_s: float = SETTLE_TIMEOUT_S
    disk_mb: int = DISK_MB
    max_states_per_key: int = DEFAULT_MAX_STATES_PER_KEY

    def validate(self) -> None:
        unknown = [n for n in self.nemeses if n not in NEMESES]
        if unknown:
            raise ValueError(f"unknown nemesis {', '.join(unknown)} (choose from {', '.join(NEMESES)})")
        missing = [w for w in self.workloads if w not in WORKLOADS]
        if missing:
            raise ValueError(f"unknown workload {', '.join(missing)} (choose from {', '.join(WORKLOADS)})")
        if not self.workloads:
            raise ValueError("at least one workload is needed")
        if not 1 <= self.nodes <= 7:
            raise ValueError("--nodes must be between 1 and 7")
        if self.duration <= 0:
            raise ValueError("--duration must be positive")
        if "disk" in self.nemeses and not can_mount():
            raise ValueError("the disk nemesis mounts a small tmpfs per node: it needs root")


@dataclass
class RunResult:
    options: ChaosOptions
    events: list[dict[str, Any]]
    results: list[CheckResult]
    analysis: Analysis
    schedule: list[FaultPlan]
    settled: bool
    data_dir: Path
    elapsed_s: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent in each phase

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.verdict is Verdict.FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def result(self, workload: str, name: str) -> CheckResult:
        return next(r for r in self.results if r.workload == workload and r.name == name)

    def meta(self) -> dict[str, Any]:
        return next((e for e in self.events if e.get("type") == META), {})


Hook = Callable[[ChaosTopology, History], Coroutine[Any, Any, None]]


async def run_chaos(options: ChaosOptions, *, during: Hook | None = None) -> RunResult:
    """One run. ``during`` (tests) runs next to the nemesis, with the topology and history,
    for scenarios that need a precise sequence of faults instead of a schedule."""
    options.validate()
    started = time.monotonic()
    owned_dir = options.data_dir is None
    data_dir = _prepare_dir(options.data_dir)
    wopts = replace(
        options.workload, seed=options.seed, log_replication=min(options.workload.log_replication, options.nodes)
    )
    schedule = (
        list(options.schedule)
        if options.schedule is not None
        else plan_schedule(options.seed, list(options.nemeses), options.duration)
    )
    history: History | None = None
    settled, settle_state = False, "the run did not reach the settle phase"
    workloads: list[Workload] = []
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 2)
        mark = now

    try:
        with toxiproxy_endpoint(seed=options.seed, log_path=data_dir / "faultproxy.log") as url:
            topology = ChaosTopology(
                url,
                data_dir / "cluster",
                nodes=options.nodes,
                run_tag=f"ks{options.seed}p{os.getpid()}",
                node_args=options.node_args,
                extra_args=options.extra_node_args,
                disk_mb=options.disk_mb if "disk" in options.nemeses else None,
            )
            try:
                await topology.start()
                history = History(options.history_path)
                workloads = [WORKLOADS[name](history, wopts, topology.client_bootstrap()) for name in options.workloads]
                for workload in workloads:
                    await workload.setup()
                history.record(_meta(options, schedule, topology, await topology.cluster.node_map(1) or {}))
                phase("start")
                topics = [t for w in workloads for t in w.topics()]
                keys = [k for w in workloads for k in w.keys()]
                nemesis = Nemesis(topology, history, schedule, topics, keys)
                await _run(options, history, workloads, nemesis, topology, during)
                phase("run")
                settled, settle_state = await settle(topology.cluster, options.settle_timeout_s)
                history.record(
                    {"type": SETTLE, "settled": settled, "state": settle_state, "timeout_s": options.settle_timeout_s}
                )
                phase("settle")
                for workload in workloads:
                    try:
                        await workload.finish(topology.cluster)
                    except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                        log.warning("final reads of %s failed: %s", workload.name, exc)
                phase("final reads")
            finally:
                for workload in workloads:
                    await workload.close()
                await topology.close()
                phase("teardown")
    finally:
        if history is not None:
            history.close()
        if owned_dir and not options.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    events = history.events if history is not None else []
    results = check_history(events, list(options.workloads), max_states_per_key=options.max_states_per_key)
    if not any(e.get("type") == SETTLE for e in events):
        results.append(recovery_result(False, settle_state, options.settle_timeout_s))
    analysis = analyse(events, run_end=options.duration)
    phase("check")
    return RunResult(
        options, events, results, analysis, schedule, settled, data_dir, time.monotonic() - started, phases
    )


def _prepare_dir(given: Path | None) -> Path:
    data_dir = Path(given or tempfile.mkdtemp(prefix="keystream-chaos-")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _meta(
    options: ChaosOptions, schedule: Sequence[FaultPlan], topology: ChaosTopology, cluster_map: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": META,
        "time": 0.0,
        "seed": options.seed,
        "nodes": options.nodes,
        "duration": options.duration,
        "nemeses": list(options.nemeses),
        "workloads": list(options.workloads),
        "extra_node_args": list(options.extra_node_args),
        "schedule": [p.to_json() for p in schedule],
        "links": {
            name: {"kind": lk.kind, "dialer": lk.dialer, "acceptor": lk.acceptor, "listen": lk.listen}
            for name, lk in topology.links.items()
        },
        "initial_map": {k: cluster_map.get(k) for k in ("partitions", "shards", "slots", "controller")},
    }


async def _run(
    options: ChaosOptions,
    history: History,
    workloads: Sequence[Workload],
    nemesis: Nemesis,
    topology: ChaosTopology,
    during: Hook | None,
) -> None:
    """The workloads for ``duration`` seconds next to the nemesis (and ``during``), then heal."""
    until = options.duration
    tasks = [asyncio.create_task(w.run(until), name=f"workload-{w.name}") for w in workloads]
    faults = [asyncio.create_task(nemesis.run(), name="nemesis")]
    if during is not None:
        faults.append(asyncio.create_task(during(topology, history), name="scenario"))
    try:
        done, pending = await asyncio.wait(faults, timeout=options.duration + RUN_GRACE_S)
        for task in done:
            if task.exception() is not None:
                log.error("nemesis failed: %r", task.exception())
        for task in pending:
            task.cancel()
        await nemesis.heal_all()  # before the workloads' last operations: they finish on a healed cluster
        done, pending = await asyncio.wait(tasks, timeout=max(1.0, until - history.now()) + RUN_GRACE_S)
        for task in done:
            if task.exception() is not None:
                log.error("workload failed: %r", task.exception())
                raise task.exception()  # type: ignore[misc]
        for task in pending:
            log.warning("workload %s did not finish; cancelled", task.get_name())
            task.cancel()
    finally:
        for task in tasks + faults:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, *faults, return_exceptions=True)
        await nemesis.heal_all()


async def _describe_replicas(address: str) -> list[dict[str, Any]] | None:
    try:
        conn = await NativeConnection.open(address, connect_timeout=2)
    except ConnectionError:
        return None
    try:
        return list(await conn.request("describe_replicas", {}, timeout=5))
    except (KeystreamError, ConnectionError):
        return None
    finally:
        await conn.close()


async def fully_replicated(cluster: LocalCluster) -> tuple[bool, str]:
    """Every partition (log and keyspace shards) of the map has ISR = replicas, and every
    replica's log end equals its leader's high watermark and log end."""
    cluster_map = await cluster.node_map(1) or await cluster.node_map(2)
    if not cluster_map:
        return False, "no map"
    local = {}
    for node in sorted(cluster.nodes):
        replicas = await _describe_replicas(cluster.address(node, "native"))
        if replicas is None:
            return False, f"node {node} does not answer describe_replicas"
        local[node] = {(r["topic"], r["partition"]): r for r in replicas}
    for topic, parts in cluster_map.get("partitions", {}).items():
        for index, part in enumerate(parts):
            name = f"{topic}-{index}"
            if part["leader"] < 0:
                return False, f"{name} has no leader"
            if sorted(part["isr"]) != sorted(part["replicas"]):
                return False, f"{name}: ISR {part['isr']} != replicas {part['replicas']}"
            leader = local[part["leader"]].get((topic, index))
            if leader is None or leader["role"] != "leader":
                return False, f"{name}: node {part['leader']} does not lead it yet"
            if leader["high_watermark"] != leader["log_end_offset"]:
                return False, f"{name}: HW {leader['high_watermark']} < LEO {leader['log_end_offset']}"
            for node in part["replicas"]:
                mine = local[node].get((topic, index))
                if mine is None or mine["log_end_offset"] != leader["log_end_offset"]:
                    got = None if mine is None else mine["log_end_offset"]
                    return False, f"{name}: node {node} log end {got} != leader's {leader['log_end_offset']}"
    digests: dict[int, set[tuple[str, int]]] = {}
    for node in sorted(cluster.nodes):
        try:
            conn = await NativeConnection.open(cluster.address(node, "native"), connect_timeout=2)
            try:
                reply = await conn.request("keyspace_digest", {}, timeout=5)
            finally:
                await conn.close()
        except (KeystreamError, ConnectionError):
            return False, f"node {node} does not answer keyspace_digest"
        for shard, info in reply.items():
            digests.setdefault(int(shard), set()).add((info["digest"], int(info["applied"])))
    diverged = [s for s, states in digests.items() if len(states) > 1]
    if diverged:
        return False, f"shard {diverged[0]} replicas not yet identical: {sorted(digests[diverged[0]])}"
    return True, "settled"


async def settle(cluster: LocalCluster, timeout_s: float) -> tuple[bool, str]:
    """Wait (bounded) until every node is live and everything is fully replicated;
    (settled, the last state seen)."""
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        await cluster.wait_ready(timeout=timeout_s, expect_live=sorted(cluster.nodes))
    except TimeoutError as exc:
        log.error("cluster not ready after healing: %s", exc)
        return False, f"not ready: {str(exc)[:500]}"
    last = ""
    while time.monotonic() < deadline:
        ok, last = await fully_replicated(cluster)
        if ok:
            return True, f"settled {time.monotonic() - started:.1f} s after healing"
        await asyncio.sleep(0.25)
    log.error("cluster did not settle within %.0f s: %s", timeout_s, last)
    return False, last

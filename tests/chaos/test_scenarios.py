"""Chaos runs against real node processes, every link through a fault proxy.

By default a bounded selection (a few minutes in all): scheduled faults that must leave
every checker green, and the deliberately unsafe configurations that every checker
must catch (each checker proves it can fail). Longer runs carry the ``slow`` marker
(``pytest -m slow tests/chaos``); see tests/chaos/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from client.chaos.linearizability import Verdict
from client.chaos.nemesis import FaultPlan
from client.chaos.runner import ChaosOptions, RunResult, run_chaos
from client.chaos.topology import DEFAULT_NODE_ARGS, can_mount
from client.chaos.workloads import WorkloadOptions

REPO = Path(__file__).resolve().parents[2]
UNSAFE_ATTEMPTS = 3  # seeds tried before concluding the checker missed a lossy configuration


def _explain(result: RunResult) -> str:
    lines = [f"{r.workload}/{r.name}: {r.verdict.value}: {r.summary}\n{r.counterexample or ''}" for r in result.results]
    return "\n".join(lines) + f"\nfaults: {[f.to_json() for f in result.analysis.faults]}"


def _assert_all_pass(result: RunResult, workloads: Sequence[str]) -> None:
    assert result.ok, _explain(result)
    assert result.settled, _explain(result)
    verdicts = {(r.workload, r.name): r.verdict for r in result.results}
    assert Verdict.FAIL not in verdicts.values()
    # every workload did real work and every fault was applied
    for workload in workloads:
        counts = result.analysis.counts[workload]
        assert counts.ok > 200, (workload, counts)
    assert all("error" not in f.detail for f in result.analysis.faults), result.analysis.faults


def _plan(index: int, kind: str, variant: str, at: float, duration: float, **params: int) -> FaultPlan:
    return FaultPlan(index, kind, variant, at, duration, pick=index, params=tuple(sorted(params.items())))


async def test_partitions_and_kills_lose_nothing(tmp_path: Path) -> None:
    """Every partition variant and a controller kill, against all three workloads."""
    schedule = [
        _plan(0, "partition", "isolate-controller", 3, 5),
        _plan(1, "partition", "leader-followers", 10, 5),
        _plan(2, "kill", "controller", 17, 4),
        _plan(3, "partition", "one-way", 23, 5, inbound=0),
    ]
    options = ChaosOptions(nemeses=["partition", "kill"], workloads=["log", "kv", "groups"], duration=32, seed=3,
                           schedule=schedule, history_path=tmp_path / "history.jsonl")  # fmt: skip
    result = await run_chaos(options)
    _assert_all_pass(result, ["log", "kv", "groups"])
    assert {f.variant for f in result.analysis.faults} == {
        "isolate-controller", "leader-followers", "controller", "one-way"
    }  # fmt: skip
    assert (tmp_path / "history.jsonl").stat().st_size > 0


async def test_pauses_and_link_faults_lose_nothing(tmp_path: Path) -> None:
    """SIGSTOP beyond the session timeout, then latency, slicing, resets, black holes and a thin
    pipe, as the seeded schedule draws them."""
    nemeses = ["pause", "latency", "slicer", "reset", "blackhole", "bandwidth"]
    options = ChaosOptions(nemeses=nemeses, workloads=["log", "kv"], duration=40, seed=21)
    result = await run_chaos(options)
    _assert_all_pass(result, ["log", "kv"])
    assert len({f.kind for f in result.analysis.faults}) >= 4, result.analysis.faults


async def test_leaders_cut_off_and_killed_lose_nothing_with_safe_settings() -> None:
    """The cut-kill fault that makes the unsafe settings below lose data, with the defaults."""
    schedule = [_plan(0, "cut-kill", "partition-leader", 3, 7, cut_ms=2000),
                _plan(1, "cut-kill", "shard-leader", 13, 7, cut_ms=2000)]  # fmt: skip
    options = ChaosOptions(nemeses=["cut-kill"], workloads=["log", "kv"], duration=24, seed=5, schedule=schedule)
    _assert_all_pass(await run_chaos(options), ["log", "kv"])


# --- every checker can fail --------------------------------------------------------------------------------


async def _until_caught(make: ChaosOptions, checks: set[tuple[str, str]]) -> RunResult:
    """Run with seeds 1.. until the expected checkers fail (a lossy configuration loses
    something almost every time; a few attempts make the test deterministic enough)."""
    result = None
    for seed in range(1, UNSAFE_ATTEMPTS + 1):
        make.seed = seed
        result = await run_chaos(make)
        failed = {(r.workload, r.name) for r in result.failed}
        if checks <= failed:
            return result
    assert result is not None
    raise AssertionError(f"the checkers {sorted(checks)} never failed:\n{_explain(result)}")


async def test_acks_1_with_a_leader_kill_is_caught() -> None:
    options = ChaosOptions(
        nemeses=["cut-kill"], workloads=["log"], duration=14,
        schedule=[_plan(0, "cut-kill", "partition-leader", 3, 7, cut_ms=2000)],
        workload=WorkloadOptions(producer_acks="1"),
    )  # fmt: skip
    result = await _until_caught(options, {("log", "lost")})
    lost = result.result("log", "lost")
    assert "acknowledged at" in (lost.counterexample or "") and "missing from the final log" in (
        lost.counterexample or ""
    )
    assert lost.stats["lost"] > 0


async def test_keyspace_acks_leader_with_a_shard_leader_kill_is_caught() -> None:
    options = ChaosOptions(
        nemeses=["cut-kill"], workloads=["kv"], duration=14,
        schedule=[_plan(0, "cut-kill", "shard-leader", 3, 7, cut_ms=2000)],
        extra_node_args=["--set", "keyspace.acks=leader"],
    )  # fmt: skip
    result = await _until_caught(options, {("kv", "counters")})
    assert "outside [" in (result.result("kv", "counters").counterexample or "")


async def test_unclean_leader_election_is_caught() -> None:
    """min.insync.replicas=1 and unclean election: a leader cut from its followers shrinks the
    ISR to itself, keeps acknowledging acks=all writes, is fenced; a follower that never saw
    them is elected; what the consumer read disappears."""
    node_args = [a if a != "replica.lag.time.max.ms=4000" else "replica.lag.time.max.ms=1500" for a in
                 DEFAULT_NODE_ARGS]  # fmt: skip
    options = ChaosOptions(
        nemeses=["partition"], workloads=["log"], duration=16, node_args=node_args,
        schedule=[_plan(0, "partition", "leader-followers", 3, 7)],
        workload=WorkloadOptions(unclean_election=True, log_min_insync=1),
    )  # fmt: skip
    result = await _until_caught(options, {("log", "lost"), ("log", "consumers")})
    assert "later disappeared" in result.result("log", "consumers").summary


# --- bugs found ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not can_mount(), reason="the disk fault mounts a tmpfs per node: needs root")
async def test_a_full_disk_on_one_node_is_survived() -> None:
    options = ChaosOptions(
        nemeses=["disk"], workloads=["log"], duration=16, seed=2, settle_timeout_s=15,
        schedule=[_plan(0, "disk", "node", 3, 6)], workload=WorkloadOptions(delivery_timeout_ms=8_000),
    )  # fmt: skip
    result = await run_chaos(options)
    assert result.ok and result.settled, _explain(result)


# --- the command line --------------------------------------------------------------------------------------


def test_keystream_chaos_command_runs_checks_and_reports(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "client.cli.main", "chaos", "--nemesis", "kill", "--workload", "kv",
         "--duration", "14", "--seed", "4", "--data-dir", str(tmp_path / "run"), "--json", str(summary)],
        cwd=REPO, capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "PASS: every checker passed" in proc.stdout
    assert "Recovery after each fault type" in proc.stdout
    data = json.loads(summary.read_text())
    assert data["ok"] is True and data["analysis"]["counts"]["kv"]["ok"] > 100
    history = tmp_path / "run" / "chaos-4.jsonl"
    assert history.exists()
    again = subprocess.run(
        [sys.executable, "-m", "client.cli.main", "chaos", "check", str(history)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:]


# --- longer runs (pytest -m slow) ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", [7, 11, 13])
async def test_every_fault_three_nodes_long(seed: int) -> None:
    nemeses = ["partition", "kill", "pause", "latency", "bandwidth", "slicer", "reset", "blackhole", "cut-kill"]
    options = ChaosOptions(nemeses=nemeses, workloads=["log", "kv", "groups"], duration=120, seed=seed)
    _assert_all_pass(await run_chaos(options), ["log", "kv", "groups"])


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_five_nodes_minority_majority_splits_and_kills() -> None:
    options = ChaosOptions(nemeses=["partition", "kill", "pause", "cut-kill"], workloads=["log", "kv", "groups"],
                           duration=120, seed=17, nodes=5)  # fmt: skip
    _assert_all_pass(await run_chaos(options), ["log", "kv", "groups"])

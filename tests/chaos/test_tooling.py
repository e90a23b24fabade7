"""The chaos tooling without a cluster: schedules replay from the seed, histories round-trip,
every checker fails on a history that violates its property (and passes on one that
doesn't), the report's availability and recovery arithmetic, and the CLI's exit codes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from client.chaos.checkers import SETTLE, check_groups, check_history, check_kv, check_log
from client.chaos.history import History, load_history, pair_by_id
from client.chaos.linearizability import Verdict
from client.chaos.nemesis import COOLDOWN_S, NEMESES, WARMUP_S, plan_schedule
from client.chaos.report import analyse, render, sparkline
from client.chaos.topology import ChaosTopology, Link, raft_dialer
from client.cli.main import cli

# --- schedules -----------------------------------------------------------------------------------------


def test_the_same_seed_replays_the_same_schedule() -> None:
    a = plan_schedule(7, list(NEMESES), 120)
    assert a == plan_schedule(7, list(NEMESES), 120)
    assert a != plan_schedule(8, list(NEMESES), 120)
    # a longer run extends the schedule without changing its beginning
    assert plan_schedule(7, list(NEMESES), 200)[: len(a)] == a
    assert {p.kind for p in plan_schedule(7, ["kill"], 120)} == {"kill"}


def test_schedules_leave_quiet_time_and_never_overlap() -> None:
    for seed in range(20):
        plans = plan_schedule(seed, list(NEMESES), 90)
        assert plans, seed
        assert plans[0].at >= WARMUP_S
        assert plans[-1].at + plans[-1].duration <= 90 - COOLDOWN_S
        for before, after in itertools.pairwise(plans):
            assert before.at + before.duration < after.at
        pause = [p for p in plans if p.kind == "pause"]
        assert all(p.duration > 3.0 for p in pause)  # longer than the session timeout


def test_schedule_rejects_unknown_faults_and_allows_none() -> None:
    with pytest.raises(ValueError, match="unknown nemesis bogus"):
        plan_schedule(1, ["kill", "bogus"], 60)
    assert plan_schedule(1, [], 60) == []


# --- topology arithmetic ---------------------------------------------------------------------------------


def test_raft_links_are_dialed_by_the_smaller_voter_or_the_broker() -> None:
    assert raft_dialer(1, 2, [1, 2, 3]) == (1, 2)
    assert raft_dialer(3, 1, [1, 2, 3]) == (1, 3)
    assert raft_dialer(2, 4, [1, 2, 3]) == (4, 2)  # node 4 is a broker
    assert raft_dialer(4, 5, [1, 2, 3]) is None


def test_dropping_what_a_node_sends_picks_the_stream_by_dialer() -> None:
    topo = ChaosTopology.__new__(ChaosTopology)
    topo.links = {
        "raft_n1_n2": Link("raft_n1_n2", "raft", 1, 2, "127.0.0.1:1", "127.0.0.1:9"),
        "native_n1_n2": Link("native_n1_n2", "native", 1, 2, "127.0.0.1:2", "127.0.0.1:9"),
        "native_n2_n1": Link("native_n2_n1", "native", 2, 1, "127.0.0.1:3", "127.0.0.1:9"),
        "client_n1": Link("client_n1", "client", None, 1, "127.0.0.1:4", "127.0.0.1:9"),
    }
    targets = {(lk.name, stream) for lk, stream in topo.drop_targets(1, 2)}
    # what 1 writes travels upstream on the links 1 dials and downstream on those 2 dials
    assert targets == {("raft_n1_n2", "upstream"), ("native_n1_n2", "upstream"), ("native_n2_n1", "downstream")}
    assert {lk.name for lk in topo.links_touching(1, include_clients=False)} == {
        "raft_n1_n2", "native_n1_n2", "native_n2_n1"
    }  # fmt: skip


# --- histories -------------------------------------------------------------------------------------------


def test_history_round_trips_through_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as history:
        inv = history.invoke("kv", "register", 1, "write", key="k", value="v1")
        history.complete(inv, "ok")
        history.nemesis("start", "kill", index=0, nodes=[2])
        history.record({"type": "ok", "workload": "kv", "model": "set", "f": "read", "value": {"b", "a"}})
    with open(path, "a") as fh:
        fh.write('{"type": "invo')  # a torn last line, as a killed run leaves
    events = load_history(path)
    assert len(events) == 4
    assert events[-1]["value"] == ["a", "b"]
    [(invocation, completion)] = pair_by_id(events)
    assert (invocation["value"], completion and completion["type"]) == ("v1", "ok")


# --- synthetic histories for the checkers ------------------------------------------------------------------


class Builder:
    """Writes histories by hand: ``op(...)`` adds an invocation and its completion."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ids = iter(range(1, 10**6))

    def op(self, workload: str, model: str, process: int, f: str, start: float, end: float | None,
           outcome: str = "ok", invoke: dict[str, Any] | None = None, **done: Any) -> None:  # fmt: skip
        op_id = next(self.ids)
        base = {"workload": workload, "model": model, "process": process, "id": op_id, "f": f}
        self.events.append({"type": "invoke", "time": start, **base, **(invoke or {})})
        if end is not None:
            self.events.append({"type": outcome, "time": end, **base, **done})

    def send(self, producer: int, seq: int, partition: int, start: float, offset: int | None,
             outcome: str = "ok", workload: str = "log") -> None:  # fmt: skip
        done = {"offset": offset} if outcome == "ok" else {}
        self.op(workload, "record", producer, "send", start, start + 0.1, outcome,
                {"key": partition, "value": f"p{producer}-{seq}", "seq": seq}, **done)  # fmt: skip

    def replica(self, node: int, partition: int, records: list[tuple[int, str]], leader: int, sha: str = "x",
                workload: str = "log") -> None:  # fmt: skip
        self.events.append({"type": "ok", "time": 99.0, "workload": workload, "model": "replica",
                            "f": "replica_read", "final": True, "node": node, "partition": partition,
                            "leader": leader, "records": [list(r) for r in records], "sha256": sha,
                            "upto": len(records)})  # fmt: skip


def verdicts(results: list[Any]) -> dict[str, Verdict]:
    return {r.name: r.verdict for r in results}


@pytest.fixture
def good_log() -> Iterator[Builder]:
    b = Builder()
    for seq in range(3):
        b.send(0, seq, 0, seq, seq)
    log = [(0, "p0-0"), (1, "p0-1"), (2, "p0-2")]
    for node in (1, 2, 3):
        b.replica(node, 0, log, leader=1)
    b.events.append({"type": "ok", "time": 5.0, "workload": "log", "model": "consumer", "f": "poll",
                     "records": [[0, 0, "p0-0"], [0, 1, "p0-1"]]})  # fmt: skip
    yield b


def test_log_checkers_pass_a_clean_history(good_log: Builder) -> None:
    assert set(verdicts(check_log(good_log.events)).values()) == {Verdict.OK}


def test_log_checkers_catch_a_lost_record_and_a_consumer_that_saw_it() -> None:
    b = Builder()
    for seq in range(3):
        b.send(0, seq, 0, seq, seq)
    after = [(0, "p0-0"), (1, "p0-2")]  # p0-1 was acknowledged at offset 1, then lost
    for node in (1, 2):
        b.replica(node, 0, after, leader=1)
    b.events.append({"type": "ok", "time": 2.0, "workload": "log", "model": "consumer", "f": "poll",
                     "records": [[0, 1, "p0-1"]]})  # fmt: skip
    results = {r.name: r for r in check_log(b.events)}
    assert results["lost"].verdict is Verdict.FAIL
    assert "'p0-1'" in (results["lost"].counterexample or "")
    assert results["consumers"].verdict is Verdict.FAIL
    assert results["order"].verdict is Verdict.OK  # what is left is still in send order
    assert "offset 1" in (results["consumers"].counterexample or "")


def test_log_checkers_catch_duplicates_divergence_and_reordering() -> None:
    b = Builder()
    for seq in range(3):
        b.send(0, seq, 0, seq, None, outcome="info")
    leader = [(0, "p0-1"), (1, "p0-0"), (2, "p0-2"), (3, "p0-2")]  # reordered, then duplicated
    b.replica(1, 0, leader, leader=1, sha="a")
    b.replica(2, 0, [(0, "p0-1"), (1, "p0-0"), (2, "p0-9"), (3, "p0-2")], leader=1, sha="b")
    b.replica(3, 0, leader, leader=1, sha="c")
    results = {r.name: r for r in check_log(b.events)}
    assert results["duplicates"].verdict is Verdict.FAIL
    assert "appears 2 times" in (results["duplicates"].counterexample or "")
    assert results["replicas"].verdict is Verdict.FAIL
    assert "diverge at offset 2" in (results["replicas"].counterexample or "")
    assert "different batch bytes" in (results["replicas"].counterexample or "")  # node 3
    assert results["order"].verdict is Verdict.FAIL
    assert "'p0-1'" in (results["order"].counterexample or "")
    assert "'p0-9' at (partition, offset) (0, 2) was never sent" not in (results["duplicates"].counterexample or "")
    assert results["lost"].verdict is Verdict.OK  # nothing was acknowledged


def test_log_checkers_are_unknown_without_a_final_read() -> None:
    b = Builder()
    b.send(0, 0, 0, 0, 0)
    assert set(verdicts(check_log(b.events)).values()) == {Verdict.UNKNOWN}


def test_kv_checkers_pass_and_fail() -> None:
    b = Builder()
    b.op("kv", "register", 1, "write", 0, 1, invoke={"key": "r", "value": "a"})
    b.op("kv", "register", 2, "read", 2, 3, invoke={"key": "r"}, value="a")
    b.op("kv", "register", 1, "cas", 4, 5, invoke={"key": "r", "value": "b"}, expected="a", swapped=True)
    b.op("kv", "counter", 3, "add", 0, 1, invoke={"key": "c", "value": 1})
    b.op("kv", "counter", 3, "add", 1, None, invoke={"key": "c", "value": 1})  # unknown outcome
    b.op("kv", "counter", 3, "read", 9, 10, invoke={"key": "c", "final": True}, value=2)
    b.op("kv", "set", 4, "add", 0, 1, invoke={"key": "s", "value": "x"})
    b.op("kv", "set", 4, "read", 9, 10, invoke={"key": "s", "final": True}, value=["x"])
    b.events.append({"type": "ok", "time": 11, "workload": "kv", "model": "digest", "f": "keyspace_digest",
                     "node": 1, "shards": {"0": {"digest": "d", "applied": 5}}})  # fmt: skip
    b.events.append({"type": "ok", "time": 11, "workload": "kv", "model": "digest", "f": "keyspace_digest",
                     "node": 2, "shards": {"0": {"digest": "d", "applied": 5}}})  # fmt: skip
    assert set(verdicts(check_kv(b.events)).values()) == {Verdict.OK}

    bad = Builder()
    bad.op("kv", "register", 1, "write", 0, 1, invoke={"key": "r", "value": "a"})
    bad.op("kv", "register", 2, "read", 2, 3, invoke={"key": "r"}, value=None)  # a stale read
    bad.op("kv", "counter", 3, "add", 0, 1, invoke={"key": "c", "value": 1})
    bad.op("kv", "counter", 3, "read", 2, 3, invoke={"key": "c"}, value=0)  # an acknowledged INCR lost
    bad.op("kv", "set", 4, "add", 0, 1, invoke={"key": "s", "value": "x"})
    bad.op("kv", "set", 4, "read", 2, 3, invoke={"key": "s"}, value=[])  # a stale set read...
    bad.op("kv", "set", 4, "read", 4, 5, invoke={"key": "s"}, value=["x"])  # ...though the final one has it
    bad.events.append({"type": "ok", "time": 11, "workload": "kv", "model": "digest", "f": "keyspace_digest",
                       "node": 1, "shards": {"0": {"digest": "d", "applied": 5}}})  # fmt: skip
    bad.events.append({"type": "ok", "time": 11, "workload": "kv", "model": "digest", "f": "keyspace_digest",
                       "node": 2, "shards": {"0": {"digest": "e", "applied": 5}}})  # fmt: skip
    results = {r.name: r for r in check_kv(bad.events)}
    assert {n: r.verdict for n, r in results.items()} == dict.fromkeys(results, Verdict.FAIL)
    assert "read -> None" in (results["registers"].counterexample or "")
    assert "outside [1, 1]" in (results["counters"].counterexample or "")
    assert "misses 1 element" in (results["sets"].counterexample or "")
    assert "shard 0: replicas differ" in (results["replicas"].counterexample or "")


def test_group_checkers_tell_skipped_records_from_unconsumed_ones() -> None:
    def history(committed: int, consumed: list[int]) -> list[dict[str, Any]]:
        b = Builder()
        for seq in range(4):
            b.send(0, seq, 0, seq, seq, workload="groups")
        b.events.append({"type": "ok", "time": 5, "workload": "groups", "model": "consume", "f": "poll",
                         "process": 0, "records": [[0, o, f"p0-{o}"] for o in consumed]})  # fmt: skip
        b.op("groups", "commit", 0, "commit", 5, 6, invoke={"value": [[0, 2]]})
        b.op("groups", "committed", -2, "read", 7, 8, value=[[0, 2]])
        b.op("groups", "committed", -2, "read", 9, 10, value=[[0, committed]])
        return b.events

    results = {r.name: r for r in check_groups(history(4, [0, 1, 2, 3]))}
    assert {n: r.verdict for n, r in results.items()} == {"commits": Verdict.OK, "at-least-once": Verdict.OK}
    skipped = {r.name: r for r in check_groups(history(4, [0, 1, 3]))}
    assert skipped["at-least-once"].verdict is Verdict.FAIL
    assert "'p0-2'" in (skipped["at-least-once"].counterexample or "")
    unconsumed = {r.name: r for r in check_groups(history(2, [0, 1]))}
    assert unconsumed["at-least-once"].verdict is Verdict.UNKNOWN
    backwards = {r.name: r for r in check_groups(history(1, [0, 1, 2, 3]))}
    assert backwards["commits"].verdict is Verdict.FAIL
    assert "read as 1" in (backwards["commits"].counterexample or "")


# --- the report ----------------------------------------------------------------------------------------------


def test_availability_outage_and_recovery_arithmetic() -> None:
    b = Builder()
    # one op per 0.5 s; from 4 s to 7 s everything fails; the fault lasts 3.5 s - 6.0 s
    t = 0.0
    while t < 10:
        outcome = "fail" if 4 <= t < 7 else "ok"
        b.op("kv", "register", 1, "read", t, t + 0.1, outcome, invoke={"key": "r"}, value=None)
        t += 0.5
    b.events += [{"type": "nemesis", "phase": "start", "fault": "kill", "index": 0, "time": 3.5, "nodes": [1]},
                 {"type": "nemesis", "phase": "stop", "fault": "kill", "index": 0, "time": 6.0}]  # fmt: skip
    analysis = analyse(b.events, run_end=10)
    assert analysis.counts["kv"].attempted == 20 and analysis.counts["kv"].failed == 6
    assert analysis.availability["kv"][:4] == [1.0] * 4
    assert analysis.availability["kv"][4:7] == [0.0] * 3
    [fault] = analysis.faults
    assert fault.recovery == pytest.approx(1.1)  # first op invoked after 6.0 that succeeded: 7.0 -> 7.1
    assert fault.outage == pytest.approx(3.5)  # ok at 3.6, next ok at 7.1
    assert analysis.recovery_by_kind()["kill"]["median_s"] == pytest.approx(1.1)
    assert sparkline([1.0, 0.0, None, 0.5]) == "█_ ▅"


def test_render_prints_verdicts_counterexamples_and_the_outcome() -> None:
    b = Builder()
    b.op("kv", "counter", 3, "add", 0, 1, invoke={"key": "c", "value": 1})
    b.op("kv", "counter", 3, "read", 2, 3, invoke={"key": "c"}, value=0)
    b.events.append({"type": SETTLE, "time": 4, "settled": True, "state": "settled 0.1 s after healing",
                     "timeout_s": 90})  # fmt: skip
    results = check_history(b.events, ["kv"])
    console = Console(record=True, width=160)
    render(console, analyse(b.events, run_end=4), results, {"seed": 7, "nodes": 3, "nemeses": ["kill"]})
    text = console.export_text()
    assert "counters" in text and "FAIL" in text and "outside [1, 1]" in text
    assert "recovery" in text and "1 checker(s) found a violation" in text


# --- the CLI -------------------------------------------------------------------------------------------------


def test_chaos_check_exit_codes_and_plan(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    for path, value in ((good, 1), (bad, 0)):
        b = Builder()
        b.events.append({"type": "meta", "time": 0, "seed": 1, "workloads": ["kv"], "duration": 4})
        b.op("kv", "counter", 3, "add", 0, 1, invoke={"key": "c", "value": 1})
        b.op("kv", "counter", 3, "read", 2, 3, invoke={"key": "c"}, value=value)
        path.write_text("".join(json.dumps(e) + "\n" for e in b.events))
    runner = CliRunner()
    assert runner.invoke(cli, ["chaos", "check", str(good)]).exit_code == 0
    failed = runner.invoke(cli, ["chaos", "check", str(bad)])
    assert failed.exit_code == 1 and "outside [1, 1]" in failed.output
    plan = runner.invoke(cli, ["chaos", "--plan", "--seed", "7", "--nemesis", "kill,partition", "--duration", "60"])
    assert plan.exit_code == 0
    assert [json.loads(line) for line in plan.output.splitlines()] == [
        p.to_json() for p in plan_schedule(7, ["kill", "partition"], 60)
    ]
    unknown = runner.invoke(cli, ["chaos", "--nemesis", "meteor"])
    assert unknown.exit_code == 2 and "unknown nemesis meteor" in unknown.output

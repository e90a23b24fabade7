"""Checkers: verdicts on a recorded history (``history.py``), each with its first counterexample.

They read only the history, so a saved JSON Lines file can be checked again later
(``keystream chaos check FILE``). Verdicts are ``linearizability.Verdict``: ``ok``,
``fail`` (a counterexample exists), ``unknown`` (nothing to judge, or a search ran
out of budget: never counted as a pass *or* a failure of the system).

The log
    ``lost``        every acknowledged record is in the final log, at the offset its
                    acknowledgement gave
    ``duplicates``  no value appears twice, and none appears that was never sent
    ``replicas``    every replica holds the same records and the same batch bytes
                    below the high watermark
    ``order``       per producer and partition, the final log keeps the send order
    ``consumers``   every record a consumer saw during the run is in the final log at
                    that offset (nothing a consumer read later disappeared)

Consumer groups
    ``commits``     committed offsets never move backwards (reads of them include every
                    commit acknowledged and every offset read before they began)
    ``at-least-once`` every acknowledged record was handed to a member (members commit
                    after processing; a fresh member finishes from the committed offsets)

The keyspace
    ``registers``   the single-key register histories are linearizable (WGL search)
    ``counters``    every read of a counter within [acknowledged, acknowledged + unknown]
                    increments that could precede it
    ``sets``        no acknowledged element is missing from the final read, and no read
                    misses an element acknowledged before the read began
    ``replicas``    every replica of every shard has the same state digest and applied offset
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client.chaos.history import FAIL, INFO, OK, pair_by_id, select
from client.chaos.linearizability import (
    DEFAULT_MAX_STATES_PER_KEY,
    Op,
    Outcome,
    Verdict,
    check_counter,
    check_linearizable,
    check_set,
)

Event = Mapping[str, Any]
MAX_SHOWN = 5  # examples listed after the first counterexample


@dataclass
class CheckResult:
    workload: str
    name: str
    verdict: Verdict
    summary: str
    counterexample: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "name": self.name,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "counterexample": self.counterexample,
            "stats": self.stats,
        }


def _t(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f}s"


# --- the log -------------------------------------------------------------------------------------------


@dataclass
class Send:
    producer: int
    seq: int
    partition: int
    value: str
    outcome: str
    offset: int | None
    invoked: float
    completed: float | None


@dataclass
class LogFacts:
    sends: list[Send]
    polls: list[tuple[float, int, int, str]]  # (time, partition, offset, value)
    replicas: dict[int, dict[int, Event]]  # partition -> node -> final replica_read
    final: dict[int, dict[int, str]]  # partition -> offset -> value (the leader's copy)
    final_source: dict[int, int]  # partition -> node whose copy is ``final``

    @classmethod
    def from_events(cls, events: Sequence[Event], workload: str = "log") -> LogFacts:
        sends = []
        for inv, done in pair_by_id(select(events, workload=workload, model="record")):
            outcome = done["type"] if done is not None else INFO
            sends.append(
                Send(
                    int(inv["process"]),
                    int(inv["seq"]),
                    int(inv["key"]),
                    str(inv["value"]),
                    outcome,
                    done.get("offset") if done is not None and outcome == OK else None,
                    float(inv["time"]),
                    float(done["time"]) if done is not None else None,
                )
            )
        polls = [
            (float(e["time"]), int(p), int(o), str(v))
            for e in select(events, workload=workload, model="consumer", type=OK)
            for p, o, v in e.get("records", [])
        ]
        replicas: dict[int, dict[int, Event]] = defaultdict(dict)
        for e in select(events, workload=workload, model="replica", type=OK):
            replicas[int(e["partition"])][int(e["node"])] = e
        final: dict[int, dict[int, str]] = {}
        source: dict[int, int] = {}
        for partition, by_node in replicas.items():
            leader = next((n for n, e in by_node.items() if e.get("leader") == n), None)
            node = leader if leader is not None else max(by_node, key=lambda n: len(by_node[n]["records"]))
            final[partition] = {int(o): str(v) for o, v in by_node[node]["records"]}
            source[partition] = node
        return cls(sends, polls, dict(replicas), final, source)


def check_log(events: Sequence[Event], workload: str = "log") -> list[CheckResult]:
    facts = LogFacts.from_events(events, workload)
    if not facts.sends:
        return []
    return [
        _log_lost(facts, workload),
        _log_duplicates(facts, workload),
        _log_replicas(facts, workload),
        _log_order(facts, workload),
        _log_consumers(facts, workload),
    ]


def _no_final(workload: str, name: str) -> CheckResult:
    return CheckResult(workload, name, Verdict.UNKNOWN, "no final read of the replicas (the cluster did not recover)")


def _log_lost(facts: LogFacts, workload: str) -> CheckResult:
    if not facts.final:
        return _no_final(workload, "lost")
    acked = [s for s in facts.sends if s.outcome == OK]
    where: dict[str, tuple[int, int]] = {}
    for partition, log in facts.final.items():
        for offset, value in log.items():
            where.setdefault(value, (partition, offset))
    lost: list[str] = []
    for send in acked:
        log = facts.final.get(send.partition, {})
        if send.offset is not None and log.get(send.offset) == send.value:
            continue
        found = where.get(send.value)
        now = f"offset {send.offset} now holds {log.get(send.offset)!r}" if send.offset is not None else ""
        if found is None:
            lost.append(
                f"{send.value!r} acknowledged at {_t(send.completed)} (partition {send.partition} offset "
                f"{send.offset}) is missing from the final log (read from node "
                f"{facts.final_source.get(send.partition)}); {now}"
            )
        else:
            lost.append(
                f"{send.value!r} acknowledged at partition {send.partition} offset {send.offset} is at "
                f"partition {found[0]} offset {found[1]} instead; {now}"
            )
    unknown = sum(s.outcome == INFO for s in facts.sends)
    recovered = sum(1 for s in facts.sends if s.outcome != OK and s.value in where)
    stats = {"acknowledged": len(acked), "lost": len(lost), "unknown": unknown, "unknown_present": recovered}
    if lost:
        return CheckResult(
            workload,
            "lost",
            Verdict.FAIL,
            f"{len(lost)} of {len(acked)} acknowledged records lost",
            _first(lost),
            stats,
        )
    return CheckResult(workload, "lost", Verdict.OK, f"all {len(acked)} acknowledged records present", None, stats)


def _first(items: Sequence[str]) -> str:
    text = items[0]
    if len(items) > 1:
        text += "\n" + "\n".join(f"  also: {i}" for i in items[1:MAX_SHOWN])
        if len(items) > MAX_SHOWN:
            text += f"\n  ... and {len(items) - MAX_SHOWN} more"
    return text


def _log_duplicates(facts: LogFacts, workload: str) -> CheckResult:
    if not facts.final:
        return _no_final(workload, "duplicates")
    positions: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for partition, log in sorted(facts.final.items()):
        for offset, value in sorted(log.items()):
            positions[value].append((partition, offset))
    attempted = {s.value for s in facts.sends if s.outcome != FAIL}
    problems = [f"{v!r} appears {len(p)} times, at (partition, offset) {p}" for v, p in positions.items() if len(p) > 1]
    problems += [
        f"{v!r} at (partition, offset) {p[0]} was never sent" for v, p in positions.items() if v not in attempted
    ]
    records = sum(len(log) for log in facts.final.values())
    stats = {"records": records, "problems": len(problems)}
    if problems:
        return CheckResult(
            workload,
            "duplicates",
            Verdict.FAIL,
            f"{len(problems)} duplicated or unexpected records",
            _first(problems),
            stats,
        )
    return CheckResult(
        workload, "duplicates", Verdict.OK, f"{records} records, each sent once and stored once", None, stats
    )


def _log_replicas(facts: LogFacts, workload: str) -> CheckResult:
    if not facts.replicas:
        return _no_final(workload, "replicas")
    problems = []
    for partition, by_node in sorted(facts.replicas.items()):
        nodes = sorted(by_node)
        reference = facts.final_source[partition]
        ref = by_node[reference]
        ref_records = [tuple(r) for r in ref["records"]]
        for node in nodes:
            if node == reference:
                continue
            other = by_node[node]
            mine = [tuple(r) for r in other["records"]]
            if mine == ref_records and other["sha256"] == ref["sha256"]:
                continue
            if mine == ref_records:
                problems.append(
                    f"partition {partition}: node {node} has the same records as node {reference} below "
                    f"the HW ({ref['upto']}) but different batch bytes"
                )
                continue
            diff = next((i for i, (a, b) in enumerate(zip(ref_records, mine, strict=False)) if a != b), None)
            if diff is None:
                problems.append(
                    f"partition {partition}: below the HW ({ref['upto']}) node {reference} has "
                    f"{len(ref_records)} records, node {node} {len(mine)} (log end "
                    f"{other.get('log_end_offset')})"
                )
            else:
                problems.append(
                    f"partition {partition}: replicas diverge at offset {ref_records[diff][0]}: node "
                    f"{reference} has {ref_records[diff][1]!r}, node {node} has {mine[diff]!r} "
                    f"(offset {mine[diff][0]})"
                )
    checked = sum(len(n) for n in facts.replicas.values())
    stats = {"partitions": len(facts.replicas), "replicas": checked}
    if problems:
        return CheckResult(
            workload,
            "replicas",
            Verdict.FAIL,
            f"{len(problems)} replicas differ from their leader",
            _first(problems),
            stats,
        )
    return CheckResult(
        workload,
        "replicas",
        Verdict.OK,
        f"{checked} replicas of {len(facts.replicas)} partitions identical (records and bytes) below the HW",
        None,
        stats,
    )


def _log_order(facts: LogFacts, workload: str) -> CheckResult:
    if not facts.final:
        return _no_final(workload, "order")
    where = {value: (p, o) for p, log in facts.final.items() for o, value in log.items()}
    problems = []
    by_stream: dict[tuple[int, int], list[Send]] = defaultdict(list)
    for send in facts.sends:
        if send.value in where:
            by_stream[(send.producer, send.partition)].append(send)
    for (producer, partition), sends in sorted(by_stream.items()):
        sends.sort(key=lambda s: s.seq)
        for a, b in itertools.pairwise(sends):
            if where[a.value][1] >= where[b.value][1]:
                problems.append(
                    f"producer {producer}, partition {partition}: {b.value!r} (sent after {a.value!r}) is "
                    f"at offset {where[b.value][1]}, before it (offset {where[a.value][1]})"
                )
                break
    stats = {"streams": len(by_stream)}
    if problems:
        return CheckResult(
            workload, "order", Verdict.FAIL, f"{len(problems)} producer streams out of order", _first(problems), stats
        )
    return CheckResult(
        workload, "order", Verdict.OK, f"{len(by_stream)} producer x partition streams in send order", None, stats
    )


def _log_consumers(facts: LogFacts, workload: str) -> CheckResult:
    if not facts.final:
        return _no_final(workload, "consumers")
    problems = []
    for when, partition, offset, value in facts.polls:
        now = facts.final.get(partition, {}).get(offset)
        if now != value:
            problems.append(
                f"a consumer read {value!r} at partition {partition} offset {offset} at {_t(when)}; the "
                f"final log has {now!r} there"
            )
    stats = {"observed": len(facts.polls)}
    if problems:
        return CheckResult(
            workload,
            "consumers",
            Verdict.FAIL,
            f"{len(problems)} consumed records later disappeared",
            _first(problems),
            stats,
        )
    if not facts.polls:
        return CheckResult(workload, "consumers", Verdict.UNKNOWN, "no consumer saw a record", None, stats)
    return CheckResult(
        workload, "consumers", Verdict.OK, f"all {len(facts.polls)} consumed records still in place", None, stats
    )


# --- the keyspace ----------------------------------------------------------------------------------------


def kv_ops(events: Iterable[Event], model: str, workload: str = "kv") -> list[Op]:
    """Operations of one model, paired by id (a cas's expected value comes with its completion:
    the workload learns it by reading the key inside the operation)."""
    ops = []
    for inv, done in pair_by_id(select(events, workload=workload, model=model)):
        outcome = Outcome(done["type"]) if done is not None else Outcome.INFO
        f = inv["f"]
        value = (done or {}).get("value") if f == "read" else inv.get("value")
        if isinstance(value, list) and model != "set":
            value = tuple(value)
        expected = done["expected"] if done is not None and "expected" in done else inv.get("expected")
        ops.append(
            Op(
                f=f,
                key=inv.get("key"),
                invoke=float(inv["time"]),
                complete=float(done["time"]) if done is not None and outcome is Outcome.OK else None,
                value=value,
                outcome=outcome,
                expected=expected,
                swapped=(done or {}).get("swapped"),
                process=inv.get("process"),
            )
        )
    return ops


def check_kv(
    events: Sequence[Event], workload: str = "kv", max_states_per_key: int = DEFAULT_MAX_STATES_PER_KEY
) -> list[CheckResult]:
    results = []
    registers = kv_ops(events, "register", workload)
    if registers:
        results.append(_kv_registers(registers, workload, max_states_per_key))
    counters = kv_ops(events, "counter", workload)
    if counters:
        results.append(_kv_counters(counters, workload))
    sets = kv_ops(events, "set", workload)
    if sets:
        results.append(_kv_sets(sets, workload))
    digests = list(select(events, workload=workload, model="digest"))
    if digests:
        results.append(_kv_replicas(digests, workload))
    return results


def _kv_registers(ops: list[Op], workload: str, max_states: int) -> CheckResult:
    result = check_linearizable(ops, max_states_per_key=max_states)
    keys = len(result.keys)
    stats = {
        "keys": keys,
        "ops": len(ops),
        "ok": sum(o.outcome is Outcome.OK for o in ops),
        "unknown_keys": len(result.unknown),
        "failed_keys": len(result.failures),
    }
    if result.verdict is Verdict.FAIL:
        failure = result.failures[0]
        return CheckResult(
            workload,
            "registers",
            Verdict.FAIL,
            f"{len(result.failures)} of {keys} register keys not linearizable",
            str(failure.counterexample) if failure.counterexample else f"key {failure.key!r}",
            stats,
        )
    if result.verdict is Verdict.UNKNOWN:
        names = ", ".join(repr(r.key) for r in result.unknown[:MAX_SHOWN])
        return CheckResult(
            workload,
            "registers",
            Verdict.UNKNOWN,
            f"{len(result.unknown)} of {keys} keys exceeded the search budget ({names})",
            None,
            stats,
        )
    return CheckResult(
        workload, "registers", Verdict.OK, f"{keys} register keys linearizable ({len(ops)} operations)", None, stats
    )


def _by_key(ops: Iterable[Op]) -> dict[Hashable, list[Op]]:
    out: dict[Hashable, list[Op]] = defaultdict(list)
    for op in ops:
        out[op.key].append(op)
    return dict(sorted(out.items(), key=lambda kv: repr(kv[0])))


def _kv_counters(ops: list[Op], workload: str) -> CheckResult:
    problems = []
    verdicts = []
    stats: dict[str, Any] = {}
    for key, key_ops in _by_key(ops).items():
        result = check_counter(key_ops)
        verdicts.append(result.verdict)
        final = max(
            (o for o in key_ops if o.f == "read" and o.outcome is Outcome.OK), key=lambda o: o.invoke, default=None
        )
        stats[str(key)] = {
            "acknowledged": result.acknowledged,
            "unknown": result.unknown,
            "final": final.value if final else None,
            "reads": result.reads_checked,
        }
        problems += [f"counter {key!r}: {v}" for v in result.violations]
    if problems:
        return CheckResult(
            workload, "counters", Verdict.FAIL, f"{len(problems)} counter reads out of bounds", _first(problems), stats
        )
    if Verdict.UNKNOWN in verdicts:
        return CheckResult(workload, "counters", Verdict.UNKNOWN, "a counter was never read", None, stats)
    summary = "; ".join(
        f"{k}: final {v['final']} in [{v['acknowledged']:g}, {v['acknowledged'] + v['unknown']:g}]"
        for k, v in stats.items()
    )
    return CheckResult(workload, "counters", Verdict.OK, summary, None, stats)


def _kv_sets(ops: list[Op], workload: str) -> CheckResult:
    problems = []
    verdicts = []
    stats: dict[str, Any] = {}
    for key, key_ops in _by_key(ops).items():
        result = check_set(key_ops)
        verdicts.append(result.verdict)
        stats[str(key)] = {
            "acknowledged": result.acknowledged,
            "lost": len(result.lost),
            "unknown_present": len(result.recovered),
        }
        adds = {o.value: o for o in key_ops if o.f == "add"}
        last = max(
            (o for o in key_ops if o.f == "read" and o.outcome is Outcome.OK), key=lambda o: o.invoke, default=None
        )
        problems += [
            f"set {key!r}: element {e!r} acknowledged at {_t(adds[e].complete)} is missing from the last read "
            f"(invoked at {_t(last.invoke if last else None)})"
            for e in result.lost
        ]
        problems += [f"set {key!r}: element {e!r} was never added but is present" for e in result.unexpected]
        problems += _stale_set_reads(key, key_ops)
    if problems:
        return CheckResult(workload, "sets", Verdict.FAIL, f"{len(problems)} set anomalies", _first(problems), stats)
    if Verdict.UNKNOWN in verdicts:
        return CheckResult(workload, "sets", Verdict.UNKNOWN, "a set was never read", None, stats)
    total = sum(v["acknowledged"] for v in stats.values())
    return CheckResult(
        workload, "sets", Verdict.OK, f"all {total} acknowledged elements present; no stale read", None, stats
    )


def _stale_set_reads(key: Hashable, ops: Sequence[Op]) -> list[str]:
    """A read must contain every element whose add was acknowledged before the read began."""
    acked = sorted((o for o in ops if o.f == "add" and o.outcome is Outcome.OK), key=lambda o: o.end)
    problems = []
    for read in sorted((o for o in ops if o.f == "read" and o.outcome is Outcome.OK), key=lambda o: o.invoke):
        present = set(read.value)
        missing = [a for a in acked if a.end < read.invoke and a.value not in present]
        if missing:
            first = missing[0]
            problems.append(
                f"set {key!r}: a read at [{read.invoke:.3f}, {read.end:.3f}] misses {len(missing)} "
                f"element(s) acknowledged before it began, e.g. {first.value!r} (acknowledged at "
                f"{_t(first.complete)})"
            )
    return problems


def _kv_replicas(events: Sequence[Event], workload: str) -> CheckResult:
    failed = [e for e in events if e["type"] != OK]
    by_shard: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
    for e in events:
        if e["type"] == OK:
            for shard, info in e["shards"].items():
                by_shard[shard][int(e["node"])] = (info["digest"], int(info["applied"]))
    problems = [f"node {e['node']} did not answer keyspace_digest: {e.get('error')}" for e in failed]
    for shard, states in sorted(by_shard.items(), key=lambda kv: int(kv[0])):
        if len(set(states.values())) > 1:
            shown = ", ".join(f"node {n}: {d[:12]} applied {a}" for n, (d, a) in sorted(states.items()))
            problems.append(f"shard {shard}: replicas differ ({shown})")
    stats = {"shards": len(by_shard), "replicas": sum(len(s) for s in by_shard.values())}
    if problems:
        return CheckResult(
            workload, "replicas", Verdict.FAIL, f"{len(problems)} shards whose replicas differ", _first(problems), stats
        )
    return CheckResult(
        workload,
        "replicas",
        Verdict.OK,
        f"{stats['replicas']} replicas of {len(by_shard)} shards identical (digest, applied offset)",
        None,
        stats,
    )


# --- consumer groups ---------------------------------------------------------------------------------------


def check_groups(events: Sequence[Event], workload: str = "groups") -> list[CheckResult]:
    facts = LogFacts.from_events(events, workload)
    if not facts.sends:
        return []
    return [_groups_commits(events, workload), _groups_at_least_once(events, facts, workload)]


def _groups_commits(events: Sequence[Event], workload: str) -> CheckResult:
    """Committed offsets never move backwards: a read of them includes every commit
    acknowledged, and every value read, before the read began."""
    floors: list[tuple[float, int, int, str]] = []  # (time known, partition, offset, how)
    for inv, done in pair_by_id(select(events, workload=workload, model="commit")):
        if done is not None and done["type"] == OK:
            for partition, offset in inv["value"]:
                floors.append(
                    (
                        float(done["time"]),
                        int(partition),
                        int(offset),
                        f"commit of {offset} by member {inv['process']} acknowledged at {_t(done['time'])}",
                    )
                )
    reads = []
    for inv, done in pair_by_id(select(events, workload=workload, model="committed")):
        if done is not None and done["type"] == OK:
            reads.append((float(inv["time"]), float(done["time"]), {int(p): int(o) for p, o in done["value"]}))
            for partition, offset in done["value"]:
                floors.append(
                    (
                        float(done["time"]),
                        int(partition),
                        int(offset),
                        f"read of {offset} completed at {_t(done['time'])}",
                    )
                )
    floors.sort(key=lambda f: f[0])
    problems = []
    for invoked, completed, value in sorted(reads):
        best: dict[int, tuple[int, str]] = {}
        for known, partition, offset, how in floors:
            if known >= invoked:
                break
            if offset > best.get(partition, (-1, ""))[0]:
                best[partition] = (offset, how)
        for partition, (offset, how) in sorted(best.items()):
            got = value.get(partition)
            if got is None or got < offset:
                problems.append(
                    f"partition {partition}: committed offset read as {got} at [{invoked:.3f}, "
                    f"{completed:.3f}], after the {how}"
                )
                break
    stats = {"reads": len(reads), "acknowledged_commits": sum(1 for f in floors if f[3].startswith("commit"))}
    if problems:
        return CheckResult(
            workload,
            "commits",
            Verdict.FAIL,
            f"committed offsets moved backwards {len(problems)} times",
            _first(problems),
            stats,
        )
    if not reads:
        return CheckResult(workload, "commits", Verdict.UNKNOWN, "committed offsets were never read", None, stats)
    return CheckResult(
        workload,
        "commits",
        Verdict.OK,
        f"{len(reads)} reads of the committed offsets, none moved backwards",
        None,
        stats,
    )


def _groups_at_least_once(events: Sequence[Event], facts: LogFacts, workload: str) -> CheckResult:
    """Every acknowledged record was handed to a member. A record never handed out below the
    group's final committed offset was *skipped* (a violation); one at or above it was only
    not consumed yet (the final member ran out of time: unknown, reported as such)."""
    consumed: set[tuple[int, str]] = set()
    deliveries = 0
    for e in select(events, workload=workload, model="consume", type=OK):
        for partition, _offset, value in e["records"]:
            consumed.add((int(partition), str(value)))
            deliveries += 1
    acked = [s for s in facts.sends if s.outcome == OK]
    missing = sorted(
        (s for s in acked if (s.partition, s.value) not in consumed), key=lambda s: (s.partition, s.offset)
    )
    reads = list(select(events, workload=workload, model="committed", type=OK))
    committed = {int(p): int(o) for p, o in reads[-1]["value"]} if reads else {}
    skipped = [s for s in missing if s.offset is not None and s.offset < committed.get(s.partition, 0)]
    pending = [s for s in missing if s not in skipped]
    stats = {
        "acknowledged": len(acked),
        "deliveries": deliveries,
        "distinct": len(consumed),
        "redelivered": deliveries - len(consumed),
        "skipped": len(skipped),
        "not_consumed": len(pending),
    }
    if skipped:
        problems = [
            f"{s.value!r} (partition {s.partition} offset {s.offset}, acknowledged at {_t(s.completed)}) was "
            f"never handed to a member, yet the group committed offset {committed.get(s.partition)} past it"
            for s in skipped
        ]
        return CheckResult(
            workload,
            "at-least-once",
            Verdict.FAIL,
            f"{len(skipped)} of {len(acked)} acknowledged records skipped by the group",
            _first(problems),
            stats,
        )
    if pending:
        first = pending[0]
        return CheckResult(
            workload,
            "at-least-once",
            Verdict.UNKNOWN,
            f"{len(pending)} acknowledged records not "
            f"consumed by the end (none skipped: all at or above the committed offsets), e.g. "
            f"{first.value!r} at partition {first.partition} offset {first.offset}",
            None,
            stats,
        )
    return CheckResult(
        workload,
        "at-least-once",
        Verdict.OK,
        f"all {len(acked)} acknowledged records consumed ({deliveries - len(consumed)} redeliveries)",
        None,
        stats,
    )


SETTLE = "settle"  # the history event recording whether the healed cluster settled


def recovery_result(settled: bool, state: str, timeout_s: float) -> CheckResult:
    if settled:
        return CheckResult(
            "cluster",
            "recovery",
            Verdict.OK,
            f"every node live, every partition and shard fully replicated, shard replicas identical: {state}",
        )
    return CheckResult(
        "cluster",
        "recovery",
        Verdict.FAIL,
        f"the healed cluster did not settle within {timeout_s:.0f} s",
        f"last state: {state}",
    )


def check_history(
    events: Sequence[Event],
    workloads: Sequence[str] | None = None,
    max_states_per_key: int = DEFAULT_MAX_STATES_PER_KEY,
) -> list[CheckResult]:
    """Every checker of every workload present in (or asked of) the history."""
    present = {str(e["workload"]) for e in events if "workload" in e}
    names = list(workloads) if workloads is not None else sorted(present)
    results: list[CheckResult] = []
    for name in names:
        if name == "log":
            results += check_log(events, name)
        elif name == "kv":
            results += check_kv(events, name, max_states_per_key)
        elif name == "groups":
            results += check_groups(events, name)
    for event in events:
        if event.get("type") == SETTLE:
            results.append(recovery_result(bool(event["settled"]), str(event["state"]), float(event["timeout_s"])))
    return results

"""What a chaos run found, from its history: operation counts, checker verdicts,
availability per second, and how long the cluster took to recover from each fault.

Definitions (all on the history's clock):

* an operation's **outcome** is its completion's type (``ok``/``fail``/``info``); one that
  never completed counts as unknown. Final reads after the run are not counted.
* **availability** of a workload in second ``s``: the fraction of its operations
  completed in ``[s, s+1)`` that were ``ok``; 0 if none completed while some were in
  flight; blank when it was idle.
* a fault's **outage**: the longest stretch between its start and its end plus
  recovery during which a workload completed no ``ok`` operation (the largest over
  the workloads).
* a fault's **recovery**: from the moment it was healed to the first ``ok``
  completion of an operation invoked after that moment, per workload; the fault's
  recovery is the largest over the workloads (the cluster has recovered when every
  workload has). ``None`` if some workload never succeeded again during the run.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from client.chaos.checkers import CheckResult
from client.chaos.history import FAIL, INFO, META, NEMESIS, OK, pair_by_id
from client.chaos.linearizability import Verdict

Event = Mapping[str, Any]
SPARK = " ▁▂▃▄▅▆▇█"
MAX_TIMELINE_SECONDS = 600  # availability timelines longer than this are summarised


@dataclass
class OpCounts:
    attempted: int = 0
    ok: int = 0
    failed: int = 0
    unknown: int = 0

    def to_json(self) -> dict[str, int]:
        return {"attempted": self.attempted, "ok": self.ok, "failed": self.failed, "unknown": self.unknown}


@dataclass
class FaultWindow:
    index: int
    kind: str
    variant: str
    start: float
    stop: float | None
    detail: dict[str, Any]
    recovery: float | None = None
    outage: float = 0.0
    recovery_by_workload: dict[str, float | None] = field(default_factory=dict)

    def target(self) -> str:
        d = self.detail
        parts = []
        if d.get("role"):
            parts.append(str(d["role"]))
        if d.get("nodes"):
            parts.append("node " + ",".join(map(str, d["nodes"])))
        if d.get("groups"):
            parts.append(" | ".join(",".join(map(str, g)) for g in d["groups"]))
        if d.get("leader") is not None and d.get("followers") is not None:
            parts.append(f"{d['leader']} x {','.join(map(str, d['followers']))}")
        if d.get("direction"):
            parts.append(str(d["direction"]))
        if d.get("attributes"):
            parts.append(" ".join(f"{k}={v}" for k, v in d["attributes"].items()))
        if d.get("error"):
            parts.append(f"not applied: {d['error']}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "variant": self.variant,
            "start": self.start,
            "stop": self.stop,
            "detail": self.detail,
            "recovery": self.recovery,
            "outage": self.outage,
            "recovery_by_workload": self.recovery_by_workload,
        }


@dataclass
class Analysis:
    counts: dict[str, OpCounts]
    availability: dict[str, list[float | None]]
    faults: list[FaultWindow]
    end: float

    def recovery_by_kind(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        by_kind: dict[str, list[FaultWindow]] = defaultdict(list)
        for fault in self.faults:
            by_kind[fault.kind].append(fault)
        for kind, faults in sorted(by_kind.items()):
            known = [f.recovery for f in faults if f.recovery is not None]
            out[kind] = {
                "faults": len(faults),
                "recovered": len(known),
                "median_s": statistics.median(known) if known else None,
                "max_s": max(known) if known else None,
                "max_outage_s": max(f.outage for f in faults),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {w: c.to_json() for w, c in self.counts.items()},
            "availability": self.availability,
            "faults": [f.to_json() for f in self.faults],
            "recovery": self.recovery_by_kind(),
            "end": self.end,
        }


def _operations(events: Sequence[Event]) -> dict[str, list[tuple[float, float | None, str]]]:
    """(invoked, completed, outcome) of every counted operation, per workload."""
    out: dict[str, list[tuple[float, float | None, str]]] = defaultdict(list)
    for inv, done in pair_by_id(events):
        if inv.get("final"):
            continue
        outcome = done["type"] if done is not None else INFO
        out[str(inv.get("workload"))].append(
            (float(inv["time"]), float(done["time"]) if done is not None else None, outcome)
        )
    return out


def analyse(events: Sequence[Event], run_end: float | None = None) -> Analysis:
    ops = _operations(events)
    counts: dict[str, OpCounts] = {}
    for workload, items in sorted(ops.items()):
        c = OpCounts(attempted=len(items))
        for _, _, outcome in items:
            if outcome == OK:
                c.ok += 1
            elif outcome == FAIL:
                c.failed += 1
            else:
                c.unknown += 1
        counts[workload] = c
    invoked = [t for items in ops.values() for t, _, _ in items]
    end = run_end if run_end is not None else (max(invoked) if invoked else 0.0)
    seconds = min(int(end) + 1, MAX_TIMELINE_SECONDS)
    availability: dict[str, list[float | None]] = {}
    for workload, items in sorted(ops.items()):
        total = [0] * seconds
        good = [0] * seconds
        busy = [False] * seconds
        for invoke, complete, outcome in items:
            last = complete if complete is not None else end
            for s in range(max(0, int(invoke)), min(seconds, int(last) + 1)):
                busy[s] = True
            if complete is not None and int(complete) < seconds:
                total[int(complete)] += 1
                good[int(complete)] += outcome == OK
        availability[workload] = [
            good[s] / total[s] if total[s] else (0.0 if busy[s] else None) for s in range(seconds)
        ]
    faults = _fault_windows(events)
    for fault in faults:
        _measure(fault, ops, end)
    return Analysis(counts, availability, faults, end)


def _fault_windows(events: Sequence[Event]) -> list[FaultWindow]:
    windows: dict[int, FaultWindow] = {}
    for e in events:
        if e.get("type") != NEMESIS or "index" not in e:
            continue
        index = int(e["index"])
        if e["phase"] == "start":
            detail = {
                k: v for k, v in e.items() if k not in ("type", "phase", "fault", "index", "time", "variant", "applied")
            }
            windows[index] = FaultWindow(
                index, str(e["fault"]), str(e.get("variant", "")), float(e["time"]), None, detail
            )
        elif index in windows:
            windows[index].stop = float(e["time"])
    return [windows[i] for i in sorted(windows)]


def _measure(fault: FaultWindow, ops: Mapping[str, list[tuple[float, float | None, str]]], end: float) -> None:
    healed = fault.stop if fault.stop is not None else end
    worst: float | None = 0.0
    outage = 0.0
    for workload, items in ops.items():
        after = [c for i, c, o in items if o == OK and c is not None and i >= healed]
        recovery = min(after) - healed if after else None
        fault.recovery_by_workload[workload] = None if recovery is None else round(recovery, 3)
        if recovery is None or worst is None:
            worst = None
        else:
            worst = max(worst, recovery)
        window_end = healed + (recovery if recovery is not None else end - healed)
        oks = sorted(c for _, c, o in items if o == OK and c is not None and fault.start <= c <= window_end)
        marks = [fault.start, *oks, window_end]
        outage = max(outage, max(b - a for a, b in itertools.pairwise(marks)))
    fault.recovery = None if worst is None else round(worst, 3)
    fault.outage = round(outage, 3)


# --- rendering ---------------------------------------------------------------------------------------------

_VERDICT_STYLE = {Verdict.OK: "green", Verdict.FAIL: "bold red", Verdict.UNKNOWN: "yellow"}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def sparkline(values: Sequence[float | None]) -> str:
    return "".join(
        " " if v is None else SPARK[min(len(SPARK) - 1, 1 + int(v * (len(SPARK) - 2) + 0.5))] if v > 0 else "_"
        for v in values
    )


FAULT_LETTERS = {"partition": "P", "kill": "K", "pause": "Z", "latency": "L", "bandwidth": "W", "slicer": "S",
                 "reset": "R", "blackhole": "H", "disk": "D", "cut-kill": "C"}  # fmt: skip


def fault_line(faults: Sequence[FaultWindow], seconds: int) -> str:
    line = [" "] * seconds
    for fault in faults:
        stop = fault.stop if fault.stop is not None else seconds
        for s in range(int(fault.start), min(seconds, int(stop) + 1)):
            line[s] = FAULT_LETTERS.get(fault.kind, "?")
    return "".join(line)


def render(
    console: Console,
    analysis: Analysis,
    results: Sequence[CheckResult],
    meta: Mapping[str, Any] | None = None,
) -> None:
    if meta:
        console.print(
            f"[bold]Keystream chaos[/bold]: seed {meta.get('seed')}, {meta.get('nodes')} nodes, nemesis "
            f"{','.join(meta.get('nemeses', []))}, workloads {','.join(meta.get('workloads', []))}, "
            f"{meta.get('duration')} s"
        )
    ops = Table(title="Operations")
    for column in ("workload", "attempted", "ok", "failed", "unknown"):
        ops.add_column(column, justify="left" if column == "workload" else "right")
    for workload, c in analysis.counts.items():
        ops.add_row(workload, str(c.attempted), str(c.ok), str(c.failed), str(c.unknown))
    console.print(ops)

    checks = Table(title="Checkers", show_lines=True)
    for column in ("workload", "checker", "verdict", "result / first counterexample"):
        checks.add_column(column, overflow="fold")
    for r in results:
        detail = Text(r.summary)
        if r.counterexample:
            detail.append("\n" + r.counterexample, style="red" if r.failed else "")
        checks.add_row(r.workload, r.name, Text(r.verdict.value.upper(), style=_VERDICT_STYLE[r.verdict]), detail)
    console.print(checks)

    if analysis.faults:
        faults = Table(title="Faults")
        for column in ("#", "fault", "variant", "target", "start", "stop", "outage s", "recovery s"):
            faults.add_column(column, overflow="fold")
        for f in analysis.faults:
            faults.add_row(
                str(f.index),
                f.kind,
                f.variant,
                f.target(),
                _seconds(f.start),
                _seconds(f.stop),
                _seconds(f.outage),
                _seconds(f.recovery),
            )
        console.print(faults)
        recovery = Table(title="Recovery after each fault type (s)")
        for column in ("fault", "count", "median", "max", "longest outage"):
            recovery.add_column(column, justify="left" if column == "fault" else "right")
        for kind, row in analysis.recovery_by_kind().items():
            recovery.add_row(
                kind,
                str(row["faults"]),
                _seconds(row["median_s"]),
                _seconds(row["max_s"]),
                _seconds(row["max_outage_s"]),
            )
        console.print(recovery)

    seconds = max((len(v) for v in analysis.availability.values()), default=0)
    if seconds:
        console.print("[bold]Availability[/bold] (fraction of operations ok per second; _ = none, blank = idle)")
        width = max(len(w) for w in analysis.availability) + 2
        for workload, values in analysis.availability.items():
            known = [v for v in values if v is not None]
            mean = sum(known) / len(known) if known else 0.0
            console.print(
                f"{workload:<{width}}{sparkline(values)}  mean {mean:.0%}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"{'faults':<{width}}{fault_line(analysis.faults, seconds)}", markup=False, highlight=False, soft_wrap=True
        )
        legend = "  ".join(f"{FAULT_LETTERS.get(k, '?')}={k}" for k in sorted({f.kind for f in analysis.faults}))
        if legend:
            console.print(f"{'':<{width}}{legend}", markup=False, highlight=False)
    failed = [r for r in results if r.failed]
    if failed:
        console.print(f"[bold red]FAIL[/bold red]: {len(failed)} checker(s) found a violation")
    elif any(r.verdict is Verdict.UNKNOWN for r in results):
        console.print("[yellow]no violation found; some checkers could not decide[/yellow]")
    else:
        console.print("[bold green]PASS[/bold green]: every checker passed")


def meta_of(events: Sequence[Event]) -> dict[str, Any]:
    return dict(next((e for e in events if e.get("type") == META), {}))

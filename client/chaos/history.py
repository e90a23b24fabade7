"""The history of a chaos run: every operation and every fault, as JSON Lines.

One event per line, in the order they happened, with ``time`` in seconds since
the run began (monotonic clock). Operations follow Jepsen's shape so that
``linearizability.ops_from_events`` pairs them directly::

    {"time": 1.25, "type": "invoke", "workload": "kv", "model": "register", "process": 3,
     "id": 812, "f": "write", "key": "reg:0", "value": "w3-17"}
    {"time": 1.31, "type": "ok", "workload": "kv", "model": "register", "process": 3, "id": 812, ...}

``type`` is ``invoke``, then one of ``ok`` (it happened, with this result),
``fail`` (it certainly did not happen) or ``info`` (unknown). An operation's
invocation and completion share its ``id``; a process has one operation in
flight at a time, except the log producers, which pipeline (pair those by
``id``). Faults are ``{"type": "nemesis", "phase": "start"|"stop", "fault": ...}``,
observations made after the run (final reads of every replica) are ``ok``
events with no invocation (``"final": true``), and the first line is the run's
``meta`` (seed, nodes, nemeses, workloads, the schedule).

Values are JSON: keyspace values and log payloads are ASCII strings the
workloads generate, so nothing is lost in the round trip.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
NEMESIS, META = "nemesis", "meta"
COMPLETIONS = frozenset({OK, FAIL, INFO})

Event = dict[str, Any]


class History:
    """Append-only, in memory and (optionally) streamed to a JSON Lines file as it grows.

    Streaming line by line means a run that is interrupted still leaves the history
    up to that point on disk."""

    def __init__(self, path: Path | str | None = None, clock: Any = time.monotonic) -> None:
        self.events: list[Event] = []
        self.path = Path(path) if path is not None else None
        self._clock = clock
        self._t0 = clock()
        self._ids = itertools.count(1)
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")  # closed in close()

    def now(self) -> float:
        """Seconds since the history began."""
        return round(self._clock() - self._t0, 6)

    def new_id(self) -> int:
        return next(self._ids)

    def record(self, event: Mapping[str, Any]) -> Event:
        stored = dict(event)
        stored.setdefault("time", self.now())
        self.events.append(stored)
        if self._file is not None:
            self._file.write(json.dumps(stored, separators=(",", ":"), default=_json_default) + "\n")
        return stored

    # --- operations -------------------------------------------------------------------------------------
    def invoke(self, workload: str, model: str, process: int, f: str, **fields: Any) -> Event:
        return self.record(
            {
                "type": INVOKE,
                "workload": workload,
                "model": model,
                "process": process,
                "id": self.new_id(),
                "f": f,
                **fields,
            }
        )

    def complete(self, invocation: Mapping[str, Any], outcome: str, **fields: Any) -> Event:
        if outcome not in COMPLETIONS:
            raise ValueError(f"outcome must be one of {sorted(COMPLETIONS)}, got {outcome!r}")
        keep = {k: invocation[k] for k in ("workload", "model", "process", "id", "f", "key") if k in invocation}
        return self.record({"type": outcome, **keep, **fields})

    def nemesis(self, phase: str, fault: str, **fields: Any) -> Event:
        return self.record({"type": NEMESIS, "phase": phase, "fault": fault, **fields})

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_history(path: Path | str) -> list[Event]:
    """Every event of a JSON Lines history (a torn last line, from a killed run, is skipped)."""
    events: list[Event] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                if fh.readline() == "":  # only the very last line may be torn
                    break
                raise ValueError(f"{path}:{number}: not a JSON event") from None
    return events


def select(events: Iterable[Mapping[str, Any]], **match: Any) -> Iterator[Mapping[str, Any]]:
    """Events whose fields equal ``match`` (``select(events, workload="kv", model="counter")``)."""
    for event in events:
        if all(event.get(k) == v for k, v in match.items()):
            yield event


def pair_by_id(events: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """(invocation, completion or None) for every invocation, in invocation order."""
    invocations: dict[int, Mapping[str, Any]] = {}
    completions: dict[int, Mapping[str, Any]] = {}
    for event in events:
        if "id" not in event:
            continue
        if event["type"] == INVOKE:
            invocations[event["id"]] = event
        elif event["type"] in COMPLETIONS:
            completions[event["id"]] = event
    return [(inv, completions.get(op_id)) for op_id, inv in invocations.items()]

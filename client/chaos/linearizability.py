"""Checkers for histories recorded under faults: registers (linearizability),
counters and sets.

Register linearizability: the algorithm
=======================================

A history is a set of operations on keys, each a read, a write or a
compare-and-set (cas), with the time it was invoked, the time it completed and
its result. The outcome is ``ok`` (it happened, with that result), ``fail`` (it
certainly did not happen) or ``info`` (unknown: a timeout, a lost connection;
it may or may not have happened, at any time after its invocation). The
history is linearizable if some total order of the operations (1) respects real
time -- if A completed before B was invoked, A comes first -- and (2) replays
on a single register to exactly the results observed. Clock values are
compared with ``<``: operations whose intervals touch are treated as concurrent,
which can only make the checker more permissive, never report a false failure.

*Per key.* Linearizability is local (Herlihy & Wing): a history is linearizable
iff the sub-history of every object is, so each key is checked on its own (this
is what Porcupine calls P-compositionality). Independent small searches instead
of one large one.

*Normalisation.* ``fail`` operations are dropped. An ``info`` read is dropped
(it changed nothing and observed nothing we know). An ``info`` write or cas is
kept as an *optional* operation whose completion is at +infinity: the search may
linearize it anywhere after its invocation or never (never is the same as "after
everything else", where no one can observe it). An ``info`` cas takes effect iff
the register holds its expected value at the point chosen. Optional operations
are what makes a search expensive (each stays concurrent with everything after
it), so those whose value no operation could observe are removed first, an
exact reduction (``_drop_invisible_unknowns`` proves it). Write unique values in
workloads: it keeps that reduction, and the counterexamples, effective.

*Search (Wing & Gong, with Lowe's memoisation; the algorithm of Knossos' "wgl"
and of Porcupine).* Put the invocation and completion events of the key's
operations in one time-ordered doubly linked list (optional operations have no
completion event). Walk it from the head:

- at the invocation of an operation not yet linearized, try it next: if the
  register model accepts it in the current state (a read must see the current
  value, a successful cas must find its expected value, a failed cas must not),
  and the configuration (set of linearized operations, new register value) was
  never seen before, push (operation, old state) on a stack, unlink its two
  events from the list ("lift") and restart from the head;
- at a completion event, the operation that completes has not been linearized,
  yet every order must place it before anything invoked later: backtrack -- pop
  the last choice, relink its events, restore the state, and continue with the
  event after that choice's invocation.

Success when every required (``ok``) operation is linearized; failure when a
completion event is met with an empty stack. The memo of configurations (Lowe)
makes the search visit each (linearized set, value) pair once: the cost grows
with the length of the history times 2^(operations in flight at once), so keep
per-key histories to hundreds or a few thousand operations with a handful of
concurrent clients (as Jepsen's independent-key workloads do).

*Budget.* The number of configurations a key may explore is bounded
(``max_states_per_key``). A key that exceeds it gets the verdict ``unknown``,
never ``ok``: an unfinished search proves nothing.

*Counterexamples.* For a failing key we shrink soundly -- only by steps after
which "the smaller history fails" still implies "the original fails" (see
``_shrink``): (1) cut to the shortest failing prefix in time (a binary search
over completion times; operations still pending at the cut become ``info``);
(2) forget everything before a write that overlaps no other state change (it
pins the register's value; it stays, shown as a write); (3) drop reads and
failed compares, and state changes whose value nobody observes, ddmin-style,
while the history still fails. The searches spent shrinking are bounded too; a
budget that runs out leaves a larger, still sound, counterexample. The culprit
is the operation whose completion made the remaining history fail; we
enumerate the register values it could have met in any order valid for the
others and report them next to what it actually observed.

Counters and sets are checked by bounds rather than search (``check_counter``,
``check_set``).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_MAX_STATES_PER_KEY = 1_000_000
MAX_SHRINK_CHECKS = 400  # searches spent shrinking one failing key...
MAX_SHRINK_STATES = 2_000_000  # ...and configurations explored by them in all
MIN_STATES_PER_SHRINK_CHECK = 10_000
MAX_EXPLAIN_STATES = 200_000  # configurations enumerated to explain a counterexample...
MAX_EXPLAIN_OPS = 64  # ...if it has at most this many operations


class Verdict(enum.StrEnum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


class Outcome(enum.StrEnum):
    OK = "ok"  # happened, with the recorded result
    FAIL = "fail"  # certainly did not happen
    INFO = "info"  # unknown: may have happened, at any time after invocation


READ, WRITE, CAS, ADD = "read", "write", "cas", "add"


@dataclass(frozen=True)
class Op:
    """One operation of a history.

    ``f`` is ``read``/``write``/``cas`` for registers, ``add``/``read`` for counters
    and sets. ``value``: what a read returned, what a write wrote, the new value of
    a cas, the amount (counter) or element (set) of an add. ``expected`` and
    ``swapped`` (True: it swapped; False: the comparison failed, nothing changed)
    are for cas. ``complete`` is None when the outcome is ``info``.
    """

    f: str
    key: Hashable
    invoke: float
    complete: float | None
    value: Any = None
    outcome: Outcome = Outcome.OK
    expected: Any = None
    swapped: bool | None = None
    process: Hashable = None

    @property
    def end(self) -> float:
        """Completion time; +infinity unless the operation certainly completed."""
        if self.outcome is not Outcome.OK or self.complete is None:
            return math.inf
        return self.complete

    def describe(self) -> str:
        who = f"p{self.process} " if self.process is not None else ""
        end = "?" if self.end == math.inf else f"{self.end:g}"
        span = f"[{self.invoke:g}, {end}]"
        if self.f == CAS:
            what = f"cas({self.expected!r} -> {self.value!r})"
            if self.outcome is Outcome.OK:
                what += " swapped" if self.swapped else " compare-failed"
        elif self.f == READ:
            what = f"read -> {self.value!r}"
        else:
            what = f"{self.f}({self.value!r})"
        unknown = " (unknown outcome)" if self.outcome is Outcome.INFO else ""
        return f"{who}{what} {span}{unknown}"


def read(key: Hashable, value: Any, invoke: float, complete: float, process: Hashable = None) -> Op:
    return Op(READ, key, invoke, complete, value, Outcome.OK, process=process)


def write(
    key: Hashable,
    value: Any,
    invoke: float,
    complete: float | None,
    outcome: Outcome = Outcome.OK,
    process: Hashable = None,
) -> Op:
    return Op(WRITE, key, invoke, complete, value, outcome, process=process)


def cas(
    key: Hashable,
    expected: Any,
    new: Any,
    invoke: float,
    complete: float | None,
    swapped: bool | None,
    process: Hashable = None,
) -> Op:
    """A compare-and-set; ``swapped=None`` records an unknown outcome."""
    outcome = Outcome.INFO if swapped is None or complete is None else Outcome.OK
    return Op(CAS, key, invoke, complete, new, outcome, expected, swapped, process)


# --- results ------------------------------------------------------------------------------


@dataclass
class Counterexample:
    """Operations of one key that no order explains, and why.

    ``operations`` is a failing history by itself: the ``ok`` facts left after
    shrinking plus the unknown-outcome writes of values they observed. A write
    that stands for the history before it (see ``_anchor_cut``) is shown as the
    write of its value even if it was a cas.
    """

    key: Hashable
    operations: list[Op]  # the facts no order explains, by invocation time
    culprit: Op | None  # the operation whose completion made the history fail
    possible_values: list[Any] | None  # what the culprit could have met, in any valid order
    unknown_considered: int  # optional (unknown-outcome) operations the search also tried
    explanation: str

    def __str__(self) -> str:
        lines = [f"key {self.key!r}: {self.explanation}"]
        lines += [f"  {op.describe()}" for op in self.operations]
        return "\n".join(lines)


@dataclass
class KeyResult:
    key: Hashable
    verdict: Verdict
    operations: int
    explored: int
    counterexample: Counterexample | None = None


@dataclass
class LinearizabilityResult:
    verdict: Verdict
    keys: dict[Hashable, KeyResult] = field(default_factory=dict)

    @property
    def failures(self) -> list[KeyResult]:
        return [r for r in self.keys.values() if r.verdict is Verdict.FAIL]

    @property
    def unknown(self) -> list[KeyResult]:
        return [r for r in self.keys.values() if r.verdict is Verdict.UNKNOWN]

    def summary(self) -> str:
        counts = {v: sum(r.verdict is v for r in self.keys.values()) for v in Verdict}
        head = f"linearizability: {self.verdict} ({counts[Verdict.OK]} keys ok, "
        head += f"{counts[Verdict.FAIL]} failed, {counts[Verdict.UNKNOWN]} unknown)"
        failures = self.failures
        if failures and failures[0].counterexample is not None:
            head += "\n" + str(failures[0].counterexample)
        return head


# --- normalisation and the register model ------------------------------------------------


def _normalise(ops: Iterable[Op]) -> list[Op]:
    """Drop what cannot matter (failed ops, unknown reads); validate the rest."""
    kept: list[Op] = []
    for op in ops:
        if op.f not in (READ, WRITE, CAS):
            raise ValueError(f"not a register operation: {op!r}")
        if op.outcome is Outcome.FAIL:
            continue
        if op.outcome is Outcome.INFO or op.complete is None:
            if op.f == READ:
                continue
            op = replace(op, outcome=Outcome.INFO, complete=None)
        else:
            if op.complete < op.invoke:
                raise ValueError(f"completes before it is invoked: {op!r}")
            if op.f == CAS and op.swapped is None:
                raise ValueError(f"an ok cas needs swapped=True/False: {op!r}")
        kept.append(op)
    return kept


def _drop_invisible_unknowns(ops: list[Op]) -> list[Op]:
    """Remove unknown-outcome writes/cas whose value no operation could observe.

    Exact (the verdict is unchanged), and it matters: an unknown op stays
    concurrent with everything after it, doubling the configurations to search.
    An unknown op X writing v can go when (a) no read returned v and no cas
    expected v, and (b) no compare-failed cas could be ordered after X. Then in
    any valid order that includes X, removing X only changes the state seen by
    operations up to the next state change, and none of them looks at v: reads
    and swaps did not see v by (a), compare-failed cas are excluded by (b), and an
    unknown cas that would now swap moves to the end, where nobody sees it.
    Conversely an order without X is valid for the history with X (X never took
    effect). Removing one X can make another removable: iterate to a fixpoint.
    """
    current = ops
    for _round in range(len(ops) + 1):  # each round removes at least one op, or stops
        observed = {op.value for op in current if op.f == READ}
        observed |= {op.expected for op in current if op.f == CAS}
        failed_compares = [op for op in current if op.f == CAS and op.outcome is Outcome.OK and op.swapped is False]
        latest_failed_compare = max((op.end for op in failed_compares), default=-math.inf)

        kept = [
            op
            for op in current
            if not (op.outcome is Outcome.INFO and op.value not in observed and latest_failed_compare < op.invoke)
        ]
        if len(kept) == len(current):
            return current
        current = kept
    return current


def _step(state: Any, op: Op) -> tuple[bool, Any]:
    """The register model: may ``op`` take effect in ``state``, and the state after."""
    if op.f == READ:
        return state == op.value, state
    if op.f == WRITE:
        return True, op.value
    if op.outcome is not Outcome.OK:  # unknown cas: swaps iff it finds its expected value
        return True, op.value if state == op.expected else state
    if op.swapped:
        return state == op.expected, op.value
    return state != op.expected, state


# --- the search (Wing & Gong / Lowe) --------------------------------------------------------


class _BudgetExceeded(Exception):
    pass


def _search(ops: Sequence[Op], initial: Any, budget: int) -> tuple[bool, int]:
    """Is ``ops`` (one key, normalised) linearizable? (answer, configurations explored).

    Raises _BudgetExceeded when more than ``budget`` configurations are explored.
    """
    n = len(ops)
    required_left = sum(op.outcome is Outcome.OK for op in ops)
    if required_left == 0:
        return True, 0
    # Events: (time, is_completion, op index); at equal times invocations come
    # first, so touching intervals count as concurrent.
    events: list[tuple[float, int, int]] = []
    for index, op in enumerate(ops):
        events.append((op.invoke, 0, index))
        if op.outcome is Outcome.OK:
            events.append((op.end, 1, index))
    events.sort()
    count = len(events)
    head, tail = count, count + 1
    nxt = [0] * (count + 2)
    prv = [0] * (count + 2)
    order = [head, *range(count), tail]
    for a, b in itertools.pairwise(order):
        nxt[a], prv[b] = b, a
    is_completion = [e[1] == 1 for e in events]
    op_of = [e[2] for e in events]
    invocation = [0] * n
    completion = [-1] * n
    for position, (_time, kind, index) in enumerate(events):
        if kind:
            completion[index] = position
        else:
            invocation[index] = position

    def unlink(position: int) -> None:
        nxt[prv[position]] = nxt[position]
        prv[nxt[position]] = prv[position]

    def relink(position: int) -> None:
        nxt[prv[position]] = position
        prv[nxt[position]] = position

    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = []  # (invocation event, state before it)
    state = initial
    linearized = 0
    explored = 0
    position = nxt[head]
    # Bounded: every iteration either explores a new configuration (at most
    # ``budget``), advances along the list, or pops the stack.
    while True:
        if position != tail and not is_completion[position]:
            index = op_of[position]
            legal, new_state = _step(state, ops[index])
            if legal:
                configuration = (linearized | (1 << index), new_state)
                if configuration not in seen:
                    explored += 1
                    if explored > budget:
                        raise _BudgetExceeded(explored)
                    seen.add(configuration)
                    stack.append((position, state))
                    state, linearized = new_state, configuration[0]
                    unlink(position)
                    if completion[index] >= 0:
                        unlink(completion[index])
                        required_left -= 1
                        if required_left == 0:
                            return True, explored
                    position = nxt[head]
                    continue
            position = nxt[position]
            continue
        # A completion event (or the end): its operation must have come earlier.
        if not stack:
            return False, explored
        position, state = stack.pop()
        index = op_of[position]
        linearized &= ~(1 << index)
        if completion[index] >= 0:
            relink(completion[index])
            required_left += 1
        relink(position)
        position = nxt[position]


# --- counterexamples ------------------------------------------------------------------------


def _prefix(ops: Sequence[Op], cut: float) -> list[Op]:
    """The history as it stood at time ``cut``: later invocations gone, pending ops unknown."""
    kept: list[Op] = []
    for op in ops:
        if op.invoke > cut:
            continue
        if op.end > cut:
            if op.f == READ:
                continue
            op = replace(op, outcome=Outcome.INFO, complete=None)
        kept.append(op)
    return kept


def _observes(op: Op, value: Any) -> bool:
    """Whether ``op``'s legality depends on the register holding ``value``."""
    if op.f == READ:
        return bool(op.value == value)
    return op.f == CAS and bool(op.expected == value)


def _is_pure_observer(op: Op) -> bool:
    """Ok ops that change nothing: reads and compare-failed cas."""
    return op.outcome is Outcome.OK and (op.f == READ or (op.f == CAS and op.swapped is False))


class _ShrinkBudget:
    """Bounds the searches spent shrinking one key: a count of checks and of states.

    A check that runs out of states answers "does not fail", which only keeps
    an operation that could have gone: the counterexample stays sound, just larger.
    """

    def __init__(self, failure_cost: int) -> None:
        self.checks_left = MAX_SHRINK_CHECKS
        self.states_left = MAX_SHRINK_STATES
        # A sub-history costs about what the original failure proof cost, or less.
        self.per_check = max(MIN_STATES_PER_SHRINK_CHECK, 4 * failure_cost)

    @property
    def exhausted(self) -> bool:
        return self.checks_left <= 0 or self.states_left <= 0

    def fails(self, ops: Sequence[Op], initial: Any) -> bool:
        if self.exhausted:
            return False
        self.checks_left -= 1
        allowance = min(self.per_check, self.states_left)
        try:
            linearizable, explored = _search(_drop_invisible_unknowns(list(ops)), initial, allowance)
        except _BudgetExceeded:
            self.states_left -= allowance
            return False
        self.states_left -= explored
        return not linearizable


def _reduce(items: list[Op], still_fails: Callable[[set[int]], bool], budget: _ShrinkBudget) -> list[Op]:
    """Drop as many ``items`` as possible while ``still_fails(ids of all dropped)``.

    ddmin-like: try dropping halves, then quarters, ... then single items.
    Returns the items kept.
    """
    dropped: set[int] = set()
    chunk = max(1, len(items) // 2)
    while items and not budget.exhausted:
        index = 0
        while index < len(items) and not budget.exhausted:
            trial = {id(op) for op in items[index : index + chunk]}
            if still_fails(dropped | trial):
                dropped |= trial
                items = items[:index] + items[index + chunk :]
            else:
                index += chunk
        if chunk == 1:
            break
        chunk //= 2
    return items


def _shortest_failing_prefix(ops: list[Op], initial: Any, budget: _ShrinkBudget) -> tuple[list[Op], Op | None]:
    """Cut ``ops`` (failing) at the earliest completion time at which it already fails.

    Failing prefixes are upward closed in time, so a binary search finds the cut.
    Returns the prefix and the op completing at the cut (the culprit), or ``ops``
    and None if the budget ran out first.
    """
    cuts = sorted({op.end for op in ops if op.outcome is Outcome.OK})
    low, high = 0, len(cuts) - 1
    while low < high and not budget.exhausted:
        middle = (low + high) // 2
        if budget.fails(_prefix(ops, cuts[middle]), initial):
            high = middle
        else:
            low = middle + 1
    if not cuts:
        return ops, None
    cut = cuts[high]
    prefix = _prefix(ops, cut)
    if not budget.fails(prefix, initial):
        return ops, None
    culprit = next(op for op in prefix if op.outcome is Outcome.OK and op.end == cut)
    return prefix, culprit


def _is_change(op: Op) -> bool:
    return op.outcome is Outcome.OK and (op.f == WRITE or (op.f == CAS and bool(op.swapped)))


def _isolated_changes(ops: Sequence[Op]) -> list[Op]:
    """Ok state changes whose interval overlaps no other ok state change."""
    changes = sorted((op for op in ops if _is_change(op)), key=lambda op: op.invoke)
    isolated: list[Op] = []
    latest_end = -math.inf  # among changes invoked earlier
    for index, op in enumerate(changes):
        next_invoke = changes[index + 1].invoke if index + 1 < len(changes) else math.inf
        if latest_end < op.invoke and op.end < next_invoke:
            isolated.append(op)
        latest_end = max(latest_end, op.end)
    return isolated


def _anchor_cut(ops: Sequence[Op], anchor: Op) -> list[Op]:
    """Forget the ok operations invoked before ``anchor`` completed.

    ``anchor`` is an ok state change that overlaps no other: every change
    invoked before it completed also completed before it was invoked, so in any
    valid order the register holds ``anchor``'s value right after it, whatever
    came before (unknown-outcome ops aside, which are kept). The result keeps
    ``anchor`` as a plain write, every unknown-outcome op and every ok op invoked
    after ``anchor`` completed. Sound: in a valid order of ``ops``, the dropped
    changes precede ``anchor`` and are overwritten by it, the dropped observers
    constrain nothing we keep, and every kept ok op follows ``anchor``.
    """
    kept = [replace(anchor, f=WRITE, expected=None, swapped=None)]
    kept += [op for op in ops if op.outcome is not Outcome.OK or op.invoke > anchor.end]
    return kept


def _latest_failing_anchor_cut(
    ops: list[Op], culprit: Op, initial: Any, budget: _ShrinkBudget
) -> tuple[list[Op], Op | None]:
    """The failing anchor cut closest before ``culprit``, trying anchors ever further back.

    The 1st, 2nd, 4th, 8th, ... isolated change before the culprit: a logarithmic
    number of checks, each on a history much shorter than ``ops``. Returns the
    history and the anchor write that now stands for everything before it.
    """
    anchors = [op for op in _isolated_changes(ops) if op.end < culprit.invoke]
    anchors.sort(key=lambda op: op.end, reverse=True)
    step = 1
    while step <= len(anchors) and not budget.exhausted:
        cut_ops = _anchor_cut(ops, anchors[step - 1])
        if len(cut_ops) < len(ops) and budget.fails(cut_ops, initial):
            return cut_ops, cut_ops[0]
        step *= 2
    return ops, None


def _context_before_anchor(ops: Sequence[Op], anchor: Op, culprit: Op) -> Op | None:
    """The last ok change, overwritten by ``anchor``, of the value the culprit saw.

    Shown with the counterexample so a reader sees where that value came from.
    Adding it keeps the counterexample failing: it precedes ``anchor`` in real
    time (``anchor`` overlaps no change), so ``anchor`` overwrites it.
    """
    seen = culprit.value if culprit.f == READ else culprit.expected
    earlier = [op for op in ops if _is_change(op) and op.value == seen and op.end < anchor.invoke]
    return max(earlier, key=lambda op: op.end, default=None)


def _shrink(ops: list[Op], initial: Any, failure_cost: int) -> tuple[list[Op], Op | None]:
    """A small failing history whose failure implies that of ``ops`` (which fails).

    Only sound steps, each of which can only make a history more permissive, so
    "the shrunk history fails" still proves "the original fails":

    - cutting to a prefix in time, pending operations becoming unknown;
    - forgetting what came before a write that overlaps no other state change,
      which pins the register's value (``_anchor_cut``);
    - removing pure observers (reads, compare-failed cas): they constrain, never enable;
    - removing a write or cas whose value no remaining operation observes, while no
      compare-failed cas remains: in any order for the larger history, nothing
      depended on that value, so dropping the op (and moving unknown-outcome cas
      that would now swap to the end, where they are invisible) still gives a valid
      order.
    """
    budget = _ShrinkBudget(failure_cost)
    current, culprit = _shortest_failing_prefix(ops, initial, budget)
    anchor: Op | None = None
    if culprit is not None:
        current, anchor = _latest_failing_anchor_cut(current, culprit, initial, budget)
    current = _drop_invisible_unknowns(current)

    def fails_without(removed: set[int]) -> bool:
        return budget.fails([op for op in current if id(op) not in removed], initial)

    # Alternate the two removals until neither finds anything (each round removes
    # at least one op, so at most len(current) rounds; the budget bounds it too).
    # The anchor stays: it stands for the history before it.
    for _round in range(len(current) + 1):
        before = len(current)
        observers = [op for op in current if _is_pure_observer(op)]
        kept = _reduce(observers, fails_without, budget)
        dropped = {id(op) for op in observers} - {id(op) for op in kept}
        current = [op for op in current if id(op) not in dropped]
        if not any(op.f == CAS and op.outcome is Outcome.OK and op.swapped is False for op in current):
            changers = [
                op
                for op in current
                if not _is_pure_observer(op)
                and op is not anchor
                and not any(other is not op and _observes(other, op.value) for other in current)
            ]
            kept = _reduce(changers, fails_without, budget)
            dropped = {id(op) for op in changers} - {id(op) for op in kept}
            current = [op for op in current if id(op) not in dropped]
        if len(current) == before or budget.exhausted:
            break
    # The culprit of what is left: the op completing at its earliest failing cut.
    budget.checks_left = max(budget.checks_left, 2 * len(current).bit_length() + 2)
    budget.states_left = max(budget.states_left, budget.per_check)
    current, culprit = _shortest_failing_prefix(current, initial, budget)
    if anchor is not None and culprit is not None and any(op is anchor for op in current):
        context = _context_before_anchor(ops, anchor, culprit)
        if context is not None:
            current = [context, *current]
    return current, culprit


def _values_culprit_could_meet(ops: Sequence[Op], culprit: Op, initial: Any) -> list[Any] | None:
    """Register values ``culprit`` could meet in an order valid for all other ops.

    Exhaustive search over configurations (linearized set, value, value the
    culprit met), where the culprit's precondition is lifted (it accepts any
    value) but its reported effect is kept. None if over budget.
    """
    everyone = [op for op in ops if op is not culprit] + [culprit]
    wildcard = len(everyone) - 1
    if len(everyone) > MAX_EXPLAIN_OPS:
        return None
    required = sum(1 << i for i, op in enumerate(everyone) if op.outcome is Outcome.OK)
    must_precede = [
        sum(1 << j for j, other in enumerate(everyone) if required >> j & 1 and other.end < op.invoke)
        for op in everyone
    ]
    start: tuple[int, Any, tuple[Any] | None] = (0, initial, None)
    frontier = [start]
    seen = {start}
    met: set[Any] = set()
    # Bounded by MAX_EXPLAIN_STATES configurations.
    while frontier:
        if len(seen) > MAX_EXPLAIN_STATES:
            return None
        done, state, culprit_met = frontier.pop()
        if done & required == required:
            if culprit_met is not None:
                met.add(culprit_met[0])
            continue
        for i, op in enumerate(everyone):
            # Real time: every required op that completed before this one was
            # invoked must come first.
            if done >> i & 1 or must_precede[i] & ~done:
                continue
            following: tuple[int, Any, tuple[Any] | None]
            if i == wildcard:
                after = op.value if op.f == CAS and op.swapped else state
                following = (done | 1 << i, after, (state,))
            else:
                legal, after = _step(state, op)
                if not legal:
                    continue
                following = (done | 1 << i, after, culprit_met)
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return sorted(met, key=repr)


def _explain(key: Hashable, ops: list[Op], culprit: Op | None, initial: Any) -> Counterexample:
    facts = sorted((op for op in ops if op.outcome is Outcome.OK), key=lambda o: (o.invoke, o.end))
    unknown = [op for op in ops if op.outcome is not Outcome.OK]
    observed = {op.value for op in facts if op.f == READ} | {op.expected for op in facts if op.f == CAS}
    # Unknown writes of a value someone observed are the candidates a reader will ask about.
    relevant = [op for op in unknown if op.value in observed]
    shown = sorted(facts + relevant, key=lambda o: (o.invoke, o.end))
    possible: list[Any] | None = None
    if culprit is None:
        explanation = "no order of these operations is consistent with real time and their results"
    else:
        possible = _values_culprit_could_meet(ops, culprit, initial)
        if culprit.f == READ:
            wanted = f"returned {culprit.value!r}"
        elif culprit.swapped:
            wanted = f"swapped, so it found {culprit.expected!r}"
        else:
            wanted = f"failed its comparison, so it found a value other than {culprit.expected!r}"
        if possible is None:
            explanation = f"{culprit.describe()}: it {wanted}, which no order allows"
        elif not possible:
            explanation = (
                f"{culprit.describe()}: it {wanted}, but no order of the other operations "
                "is valid up to the point where it could take effect"
            )
        else:
            held = repr(possible[0]) if len(possible) == 1 else f"one of {possible!r}"
            explanation = (
                f"{culprit.describe()}: it {wanted}, but in every order consistent with real time "
                f"and the other results the register held {held}"
            )
            if initial in possible:
                explanation += f" ({initial!r} is the initial value)"
    if unknown:
        explanation += f"; {len(unknown)} operation(s) of unknown outcome were allowed to happen or not"
    return Counterexample(key, shown, culprit, possible, len(unknown), explanation)


# --- entry points --------------------------------------------------------------------------------


def check_register_key(
    key: Hashable,
    ops: Iterable[Op],
    initial: Any = None,
    max_states: int = DEFAULT_MAX_STATES_PER_KEY,
    counterexample: bool = True,
) -> KeyResult:
    """Check the history of one register."""
    normalised = _drop_invisible_unknowns(_normalise(ops))
    try:
        linearizable, explored = _search(normalised, initial, max_states)
    except _BudgetExceeded:
        return KeyResult(key, Verdict.UNKNOWN, len(normalised), max_states)
    if linearizable:
        return KeyResult(key, Verdict.OK, len(normalised), explored)
    result = KeyResult(key, Verdict.FAIL, len(normalised), explored)
    if counterexample:
        shrunk, culprit = _shrink(normalised, initial, explored)
        result.counterexample = _explain(key, shrunk, culprit, initial)
    return result


def check_linearizable(
    ops: Iterable[Op],
    initial: Any = None,
    initial_by_key: Mapping[Hashable, Any] | None = None,
    max_states_per_key: int = DEFAULT_MAX_STATES_PER_KEY,
    counterexample: bool = True,
) -> LinearizabilityResult:
    """Check a multi-key register history, key by key.

    ``initial`` is every register's value before the history (None: never
    written), unless ``initial_by_key`` says otherwise. Values must be hashable.
    The verdict is ``fail`` if any key fails, else ``unknown`` if any key ran out
    of budget, else ``ok``.
    """
    by_key: dict[Hashable, list[Op]] = defaultdict(list)
    for op in ops:
        by_key[op.key].append(op)
    result = LinearizabilityResult(Verdict.OK)
    for key, key_ops in by_key.items():
        start = initial_by_key.get(key, initial) if initial_by_key else initial
        key_result = check_register_key(key, key_ops, start, max_states_per_key, counterexample)
        result.keys[key] = key_result
    verdicts = {r.verdict for r in result.keys.values()}
    if Verdict.FAIL in verdicts:
        result.verdict = Verdict.FAIL
    elif Verdict.UNKNOWN in verdicts:
        result.verdict = Verdict.UNKNOWN
    return result


# --- histories from invoke/complete events ------------------------------------------------------


def ops_from_events(events: Iterable[Mapping[str, Any]]) -> list[Op]:
    """Pair Jepsen-style events into operations.

    Each event is a mapping with ``process``, ``type`` (``invoke``, ``ok``, ``fail``,
    ``info``), ``f``, ``key``, ``time`` and optionally ``value``, ``expected`` and
    ``swapped``. A process has at most one operation in flight: its next
    completion event closes it. Invocations never completed become ``info``. The
    invocation carries what was asked (write value, cas arguments), the
    completion what came back (read value, cas result).
    """
    pending: dict[Hashable, Mapping[str, Any]] = {}
    ops: list[Op] = []

    def to_op(invocation: Mapping[str, Any], completion: Mapping[str, Any] | None) -> Op:
        outcome = Outcome(completion["type"]) if completion is not None else Outcome.INFO
        done = completion if completion is not None else {}
        value = done.get("value") if invocation["f"] == READ else invocation.get("value")
        return Op(
            f=invocation["f"],
            key=invocation.get("key"),
            invoke=float(invocation["time"]),
            complete=float(done["time"]) if outcome is Outcome.OK else None,
            value=value,
            outcome=outcome,
            expected=invocation.get("expected"),
            swapped=done.get("swapped"),
            process=invocation.get("process"),
        )

    for event in events:
        process = event.get("process")
        if event["type"] == "invoke":
            if process in pending:
                raise ValueError(f"process {process!r} invoked twice without completing")
            pending[process] = event
            continue
        invocation = pending.pop(process, None)
        if invocation is None:
            raise ValueError(f"completion without invocation: {event!r}")
        ops.append(to_op(invocation, event))
    ops.extend(to_op(invocation, None) for invocation in pending.values())
    return ops


# --- counters ---------------------------------------------------------------------------------------


@dataclass
class CounterViolation:
    read: Op
    lower: float
    upper: float

    def __str__(self) -> str:
        return f"{self.read.describe()} outside [{self.lower:g}, {self.upper:g}]"


@dataclass
class CounterResult:
    verdict: Verdict
    reads_checked: int
    violations: list[CounterViolation]
    acknowledged: float  # sum of ok increments
    unknown: float  # sum of unknown-outcome increments


def check_counter(ops: Iterable[Op], initial: float = 0) -> CounterResult:
    """Every ok read of a counter (all ops on one key) lies within its bounds.

    A read must include every ok ``add`` that completed before it was invoked, and
    may include any ``add`` (ok or unknown) invoked before it completed. For a
    final read after the run that is the range [initial + acknowledged,
    initial + acknowledged + unknown] (for positive increments; negative ones widen
    the range the other way).
    """
    adds = [op for op in ops if op.f == ADD and op.outcome is not Outcome.FAIL]
    reads = [op for op in ops if op.f == READ and op.outcome is Outcome.OK and op.complete is not None]
    violations: list[CounterViolation] = []
    for op in reads:
        assert op.complete is not None
        lower = upper = float(initial)
        for add in adds:
            if add.invoke > op.complete:
                continue  # invoked after the read finished: cannot be included
            amount = float(add.value)
            if add.outcome is Outcome.OK and add.end < op.invoke:
                lower += amount  # certainly included
                upper += amount
            elif amount >= 0:
                upper += amount
            else:
                lower += amount
        if not lower <= float(op.value) <= upper:
            violations.append(CounterViolation(op, lower, upper))
    acknowledged = sum(float(a.value) for a in adds if a.outcome is Outcome.OK)
    unknown = sum(float(a.value) for a in adds if a.outcome is Outcome.INFO)
    verdict = Verdict.FAIL if violations else (Verdict.OK if reads else Verdict.UNKNOWN)
    return CounterResult(verdict, len(reads), violations, acknowledged, unknown)


# --- sets -------------------------------------------------------------------------------------------


@dataclass
class SetResult:
    verdict: Verdict
    acknowledged: int  # elements whose add was ok
    lost: list[Any]  # acknowledged, absent from the final read
    unexpected: list[Any]  # present, never added (or the add certainly failed)
    recovered: list[Any]  # unknown-outcome adds that are present


def check_set(ops: Iterable[Op]) -> SetResult:
    """No acknowledged ``add`` is missing from the final read of a set (one key).

    The final read is the ok read invoked last; its value is a collection of
    elements. It must hold every element whose add was acknowledged before the
    read was invoked (an add acknowledged later may or may not be in it: when the
    read after the run failed, the last read that succeeded is earlier than some
    acknowledgements). Elements that were never added, or whose add certainly
    failed, are reported as unexpected.
    """
    all_ops = list(ops)
    reads = [op for op in all_ops if op.f == READ and op.outcome is Outcome.OK]
    if not reads:
        return SetResult(Verdict.UNKNOWN, 0, [], [], [])
    final = max(reads, key=lambda op: (op.invoke, op.end))
    present = set(final.value)
    adds = [op for op in all_ops if op.f == ADD]
    acknowledged = {op.value for op in adds if op.outcome is Outcome.OK}
    required = {op.value for op in adds if op.outcome is Outcome.OK and op.end < final.invoke}
    attempted = {op.value for op in adds if op.outcome is not Outcome.FAIL}
    maybe = {op.value for op in adds if op.outcome is Outcome.INFO} - acknowledged
    lost = sorted(required - present, key=repr)
    unexpected = sorted(present - attempted, key=repr)
    recovered = sorted(maybe & present, key=repr)
    verdict = Verdict.FAIL if lost or unexpected else Verdict.OK
    return SetResult(verdict, len(acknowledged), lost, unexpected, recovered)

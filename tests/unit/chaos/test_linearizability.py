"""The history checkers: hand-written register histories, a brute-force
cross-check on small random histories, simulated correct and buggy registers
(hypothesis), and the counter and set checkers."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from client.chaos.linearizability import (
    ADD,
    CAS,
    READ,
    WRITE,
    Op,
    Outcome,
    Verdict,
    cas,
    check_counter,
    check_linearizable,
    check_register_key,
    check_set,
    ops_from_events,
    read,
    write,
)

INFO = Outcome.INFO


def verdict(ops: Sequence[Op], initial: Any = None) -> Verdict:
    return check_linearizable(ops, initial=initial).verdict


# --- hand-written register histories ------------------------------------------------------


def test_trivial_histories_are_linearizable() -> None:
    assert verdict([]) is Verdict.OK
    assert verdict([read("x", None, 0, 1)]) is Verdict.OK  # the initial value
    assert verdict([read("x", 7, 0, 1)], initial=7) is Verdict.OK
    assert verdict([write("x", 1, 0, 1), read("x", 1, 2, 3)]) is Verdict.OK


def test_a_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in (None, 1):
        assert verdict([write("x", 1, 0, 10), read("x", seen, 2, 3)]) is Verdict.OK
    # ...but once it saw the new value, a later read cannot go back.
    history = [write("x", 1, 0, 10), read("x", 1, 1, 2), read("x", None, 3, 4)]
    assert verdict(history) is Verdict.FAIL


def test_touching_intervals_count_as_concurrent() -> None:
    assert verdict([write("x", 1, 0, 1), read("x", None, 1, 2)]) is Verdict.OK


def test_stale_read_after_a_completed_write_fails_with_a_counterexample() -> None:
    history = [
        write("x", 1, 0, 1, process=1),
        write("x", 2, 2, 3, process=2),
        read("x", 2, 2.5, 3.5, process=4),  # irrelevant to the failure
        read("x", 1, 4, 5, process=3),  # stale
    ]
    result = check_linearizable(history)
    assert result.verdict is Verdict.FAIL
    failure = result.keys["x"]
    example = failure.counterexample
    assert example is not None
    assert example.culprit == history[3]
    assert example.operations == [history[0], history[1], history[3]]
    assert example.possible_values == [2]
    assert "returned 1" in example.explanation and "held 2" in example.explanation
    assert "key 'x'" in result.summary()


def test_lost_write_fails() -> None:
    # An acknowledged write, then reads that never see it.
    history = [write("x", 1, 0, 1), read("x", None, 2, 3)]
    result = check_linearizable(history)
    assert result.verdict is Verdict.FAIL
    example = result.keys["x"].counterexample
    assert example is not None and example.possible_values == [1]


def test_read_of_a_never_written_value_fails() -> None:
    history = [write("x", 1, 0, 1), write("x", 2, 0, 1), read("x", 3, 0, 5)]
    result = check_linearizable(history)
    assert result.verdict is Verdict.FAIL
    example = result.keys["x"].counterexample
    assert example is not None
    assert example.culprit == history[2]
    assert example.operations == [history[2]]  # the writes of 1 and 2 cannot explain 3
    assert example.possible_values == [None]
    assert "initial value" in example.explanation


def test_failed_and_unknown_outcome_writes() -> None:
    # A failed write certainly did not happen: reading its value is an anomaly.
    assert verdict([write("x", 1, 0, 1, Outcome.FAIL), read("x", 1, 2, 3)]) is Verdict.FAIL
    # An unknown write may have happened...
    assert verdict([write("x", 1, 0, None, INFO), read("x", 1, 2, 3)]) is Verdict.OK
    # ...or not, at any time after its invocation...
    history = [write("x", 1, 0, None, INFO), read("x", None, 2, 3), read("x", 1, 9, 10)]
    assert verdict(history) is Verdict.OK
    # ...but only once.
    history = [
        write("x", 1, 0, 1),
        write("x", 2, 2, None, INFO),
        read("x", 2, 3, 4),
        read("x", 1, 5, 6),
    ]
    assert verdict(history) is Verdict.FAIL
    # Not before it was invoked.
    assert verdict([read("x", 1, 0, 1), write("x", 1, 2, None, INFO)]) is Verdict.FAIL


def test_unknown_reads_are_ignored() -> None:
    assert verdict([write("x", 1, 0, 1), Op(READ, "x", 2, None, 99, INFO)]) is Verdict.OK


def test_cas_semantics() -> None:
    assert verdict([write("x", 1, 0, 1), cas("x", 1, 2, 2, 3, True), read("x", 2, 4, 5)]) is Verdict.OK
    # Two swaps from the same value cannot both succeed, concurrent or not.
    for second in ((2, 3), (4, 5)):
        history = [write("x", 1, 0, 1), cas("x", 1, 2, 2, 3, True), cas("x", 1, 3, *second, True)]
        assert verdict(history) is Verdict.FAIL
    # A compare that failed although the register held the expected value.
    assert verdict([write("x", 1, 0, 1), cas("x", 1, 2, 2, 3, False)]) is Verdict.FAIL
    # It may fail because of a concurrent write.
    history = [write("x", 1, 0, 1), write("x", 5, 2, 4), cas("x", 1, 2, 3, 6, False)]
    assert verdict(history) is Verdict.OK
    # A swap whose expected value was never there.
    assert verdict([cas("x", 7, 8, 0, 1, True)]) is Verdict.FAIL


def test_unknown_cas_swaps_only_from_its_expected_value() -> None:
    base = [write("x", 1, 0, 1), cas("x", 1, 2, 2, None, None)]
    assert verdict([*base, read("x", 2, 3, 4)]) is Verdict.OK
    assert verdict([*base, read("x", 1, 3, 4)]) is Verdict.OK  # it may not have happened
    other = [write("x", 1, 0, 1), cas("x", 5, 2, 2, None, None), read("x", 2, 3, 4)]
    assert verdict(other) is Verdict.FAIL


def test_keys_are_checked_independently() -> None:
    history = [
        write("a", 1, 0, 1),
        read("a", None, 2, 3),  # fails
        write("b", 1, 0, 1),
        read("b", 1, 2, 3),
        write("c", 1, 0, 5),
        read("c", None, 1, 2),
    ]
    result = check_linearizable(history)
    assert result.verdict is Verdict.FAIL
    assert {key: r.verdict for key, r in result.keys.items()} == {
        "a": Verdict.FAIL,
        "b": Verdict.OK,
        "c": Verdict.OK,
    }
    assert [r.key for r in result.failures] == ["a"]


def test_initial_values_per_key() -> None:
    history = [read("a", 5, 0, 1), read("b", None, 0, 1)]
    result = check_linearizable(history, initial_by_key={"a": 5})
    assert result.verdict is Verdict.OK


def test_an_exhausted_budget_is_unknown_never_ok() -> None:
    # Many concurrent writes and reads of a value nobody wrote: failing needs a full search.
    history = [write("x", i, 0, 100) for i in range(6)]
    history += [read("x", i, 1, 99) for i in range(6)] + [read("x", 99, 1, 99)]
    bounded = check_linearizable(history, max_states_per_key=500)  # a full search needs ~3000
    assert bounded.verdict is Verdict.UNKNOWN
    assert [r.key for r in bounded.unknown] == ["x"]
    assert check_linearizable(history[:-1], max_states_per_key=5).verdict is not Verdict.OK
    assert check_linearizable(history).verdict is Verdict.FAIL


def test_invalid_operations_are_refused() -> None:
    with pytest.raises(ValueError):
        check_linearizable([write("x", 1, 5, 4)])
    with pytest.raises(ValueError):
        check_linearizable([Op(CAS, "x", 0, 1, 2, Outcome.OK, expected=1, swapped=None)])
    with pytest.raises(ValueError):
        check_linearizable([Op(ADD, "x", 0, 1, 2)])


def test_ops_from_events_pairs_by_process() -> None:
    events = [
        {"process": 1, "type": "invoke", "f": "write", "key": "x", "value": 1, "time": 0},
        {"process": 2, "type": "invoke", "f": "read", "key": "x", "time": 0.5},
        {"process": 1, "type": "ok", "f": "write", "key": "x", "value": 1, "time": 1},
        {"process": 2, "type": "ok", "f": "read", "key": "x", "value": 1, "time": 2},
        {"process": 1, "type": "invoke", "f": "cas", "key": "x", "expected": 1, "value": 2, "time": 3},
        {"process": 1, "type": "info", "f": "cas", "key": "x", "time": 4},
        {"process": 3, "type": "invoke", "f": "write", "key": "x", "value": 9, "time": 5},
        {"process": 2, "type": "invoke", "f": "write", "key": "x", "value": 7, "time": 6},
        {"process": 2, "type": "fail", "f": "write", "key": "x", "time": 7},
    ]
    ops = ops_from_events(events)
    assert ops[0] == write("x", 1, 0, 1, process=1)
    assert ops[1] == read("x", 1, 0.5, 2, process=2)
    assert ops[2] == Op(CAS, "x", 3, None, 2, INFO, expected=1, process=1)
    assert (ops[3].value, ops[3].outcome) == (7, Outcome.FAIL)
    assert (ops[4].value, ops[4].outcome, ops[4].complete) == (9, INFO, None)  # never completed
    assert check_linearizable(ops).verdict is Verdict.OK
    with pytest.raises(ValueError):
        ops_from_events([events[0], events[0]])


# --- brute force cross-check ------------------------------------------------------------------


def brute_force_linearizable(ops: Sequence[Op], initial: Any = None) -> bool:
    """Straight from the definition, independent of the checker's normalisation.

    Some subset of the unknown-outcome writes/cas happened; find a total order of
    the ok ops and that subset that respects real time and replays the results.
    """
    done = [op for op in ops if op.outcome is Outcome.OK]
    maybe = [op for op in ops if op.outcome is INFO and op.f != READ]

    def must_precede(a: Op, b: Op) -> bool:
        return a.outcome is Outcome.OK and a.complete is not None and a.complete < b.invoke

    def replays(order: Sequence[Op]) -> bool:
        state = initial
        for op in order:
            if op.f == READ:
                if op.value != state:
                    return False
            elif op.f == WRITE:
                state = op.value
            elif op.outcome is INFO:
                state = op.value if state == op.expected else state
            elif op.swapped:
                if state != op.expected:
                    return False
                state = op.value
            elif state == op.expected:
                return False
        return True

    for size in range(len(maybe) + 1):
        for chosen in itertools.combinations(maybe, size):
            for order in itertools.permutations([*done, *chosen]):
                respects_time = all(
                    not must_precede(later, earlier) for i, earlier in enumerate(order) for later in order[i + 1 :]
                )
                if respects_time and replays(order):
                    return True
    return False


@st.composite
def small_histories(draw: st.DrawFn) -> list[Op]:
    ops: list[Op] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        invoke = draw(st.integers(min_value=0, max_value=8))
        complete = invoke + draw(st.integers(min_value=0, max_value=4))
        outcome = draw(st.sampled_from([Outcome.OK, Outcome.OK, Outcome.OK, INFO, Outcome.FAIL]))
        value = draw(st.sampled_from([None, 1, 2]))
        end = complete if outcome is Outcome.OK else None
        kind = draw(st.sampled_from([READ, WRITE, CAS]))
        if kind == CAS:
            swapped = draw(st.booleans()) if outcome is Outcome.OK else None
            expected = draw(st.sampled_from([None, 1, 2]))
            ops.append(Op(CAS, "k", invoke, end, value, outcome, expected, swapped))
        else:
            ops.append(Op(kind, "k", invoke, end, value, outcome))
    return ops


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=small_histories())
def test_checker_agrees_with_brute_force(history: list[Op]) -> None:
    result = check_register_key("k", history)
    expected = brute_force_linearizable(history)
    assert result.verdict is (Verdict.OK if expected else Verdict.FAIL)
    if result.verdict is Verdict.FAIL:
        # The counterexample is a failing history in its own right.
        example = result.counterexample
        assert example is not None
        assert not brute_force_linearizable(example.operations)


# --- simulated registers ------------------------------------------------------------------------


def simulate_register(seed: int, n_ops: int, n_processes: int, info_rate: float, cas_rate: float) -> list[Op]:
    """A correct register: each op takes effect at a random instant within its interval.

    Processes run one op at a time. Writes and swaps use unique values. An op
    with an unknown outcome took effect or not (a coin flip), and its completion
    is not recorded.
    """
    rng = random.Random(seed)
    free_at = [0.0] * n_processes
    planned: list[tuple[float, int, float, float, str]] = []
    for _ in range(n_ops):
        process = rng.randrange(n_processes)
        invoke = free_at[process] + rng.random()
        takes_effect = invoke + rng.random()
        complete = takes_effect + rng.random()
        free_at[process] = complete + 0.001
        kind = rng.choices([READ, WRITE, CAS], [1.0, 1.0, cas_rate])[0]
        planned.append((takes_effect, process, invoke, complete, kind))
    planned.sort()
    state: Any = None
    next_value = 0
    history: list[Op] = []
    for _instant, process, invoke, complete, kind in planned:
        unknown = rng.random() < info_rate
        happened = not unknown or rng.random() < 0.5
        if kind == READ:
            history.append(
                Op(
                    READ,
                    "k",
                    invoke,
                    None if unknown else complete,
                    state,
                    INFO if unknown else Outcome.OK,
                    process=process,
                )
            )
            continue
        next_value += 1
        if kind == WRITE:
            if happened:
                state = next_value
            history.append(
                write("k", next_value, invoke, None if unknown else complete, INFO if unknown else Outcome.OK, process)
            )
            continue
        expected = state if rng.random() < 0.6 else rng.randint(0, next_value)
        swapped = state == expected
        if swapped and happened:
            state = next_value
        history.append(
            cas("k", expected, next_value, invoke, None if unknown else complete, None if unknown else swapped, process)
        )
    return history


def inject_stale_read(history: list[Op], rng: random.Random) -> tuple[list[Op], Op] | None:
    """Make one read return a value that two later completed writes made impossible.

    Needs ok state changes w1 -> w2 in real time (w1 ends before w2 starts) and a
    read invoked after w2 ended; it then returns w1's (unique) value.
    """
    changes = [op for op in history if op.outcome is Outcome.OK and (op.f == WRITE or (op.f == CAS and op.swapped))]
    if not changes:
        return None
    earliest_end = min(op.end for op in changes)
    reads = [op for op in history if op.f == READ and op.outcome is Outcome.OK]
    rng.shuffle(reads)
    for victim in reads:  # bounded: stops at the first read that can be made stale
        middles = [w2 for w2 in changes if w2.end < victim.invoke and earliest_end < w2.invoke]
        if middles:
            w2 = rng.choice(middles)
            w1 = rng.choice([op for op in changes if op.end < w2.invoke])
            break
    else:
        return None
    stale = dataclasses.replace(victim, value=w1.value)
    return [stale if op is victim else op for op in history], stale


simulation = st.fixed_dictionaries(
    {
        "seed": st.integers(min_value=0, max_value=2**32),
        "n_ops": st.integers(min_value=1, max_value=60),
        "n_processes": st.integers(min_value=1, max_value=6),
        "info_rate": st.sampled_from([0.0, 0.05, 0.2]),
        "cas_rate": st.sampled_from([0.0, 0.5, 1.0]),
    }
)


@settings(max_examples=200, deadline=None)
@given(params=simulation)
def test_correct_register_histories_pass(params: dict[str, Any]) -> None:
    history = simulate_register(**params)
    assert check_linearizable(history, max_states_per_key=200_000).verdict is Verdict.OK


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(params=simulation)
def test_stale_reads_are_caught(params: dict[str, Any]) -> None:
    injected = inject_stale_read(simulate_register(**params), random.Random(params["seed"]))
    assume(injected is not None)
    assert injected is not None
    history, stale = injected
    result = check_linearizable(history, max_states_per_key=200_000)
    assert result.verdict is Verdict.FAIL
    example = result.keys["k"].counterexample
    assert example is not None
    assert example.culprit == stale  # the first moment the history went wrong
    assert stale.value not in (example.possible_values or [])
    assert check_register_key("k", example.operations).verdict is Verdict.FAIL


@pytest.mark.parametrize(
    ("n_ops", "n_processes", "info_rate", "cas_rate"),
    [(3000, 8, 0.0, 0.5), (3000, 8, 0.02, 0.0), (400, 5, 0.05, 0.5)],
)
def test_larger_simulated_histories_check_quickly(
    n_ops: int, n_processes: int, info_rate: float, cas_rate: float
) -> None:
    history = simulate_register(3, n_ops, n_processes, info_rate, cas_rate)
    assert check_linearizable(history).verdict is Verdict.OK
    injected = inject_stale_read(history, random.Random(3))
    assert injected is not None
    result = check_linearizable(injected[0])
    assert result.verdict is Verdict.FAIL
    example = result.keys["k"].counterexample
    assert example is not None and example.culprit == injected[1]
    assert len(example.operations) <= 10  # shrunk from hundreds or thousands


def test_unknown_writes_nobody_could_observe_do_not_slow_the_search() -> None:
    # 40 concurrent unknown writes of unique values: 2**40 orders, unless dropped.
    history = [write("x", 1, 0, 1)]
    history += [write("x", 100 + i, 2, None, INFO) for i in range(40)]
    history += [read("x", 1, 3, 4), read("x", 140, 5, 6)]
    result = check_linearizable(history, max_states_per_key=10_000)
    assert result.verdict is Verdict.FAIL  # nobody wrote 140
    history[-1] = read("x", 1, 5, 6)
    assert check_linearizable(history, max_states_per_key=10_000).verdict is Verdict.OK


# --- counters ------------------------------------------------------------------------------------


def add(value: float, invoke: float, complete: float | None, outcome: Outcome = Outcome.OK) -> Op:
    return Op(ADD, "c", invoke, complete, value, outcome)


def test_counter_final_read_within_acknowledged_and_unknown() -> None:
    adds = [add(1, 0, 1), add(1, 0, 1), add(5, 0, None, INFO), add(100, 0, 1, Outcome.FAIL)]
    for final, expected in [(2, Verdict.OK), (7, Verdict.OK), (1, Verdict.FAIL), (8, Verdict.FAIL)]:
        result = check_counter([*adds, read("c", final, 10, 11)])
        assert result.verdict is expected, final
        assert (result.acknowledged, result.unknown) == (2, 5)
    violation = check_counter([*adds, read("c", 1, 10, 11)]).violations[0]
    assert (violation.lower, violation.upper) == (2, 7)
    assert "outside [2, 7]" in str(violation)


def test_counter_intermediate_reads_and_negative_amounts() -> None:
    history = [add(3, 0, 1), add(-2, 2, 4), read("c", 3, 2.5, 3), read("c", 1, 2.5, 3), read("c", 1, 5, 6)]
    assert check_counter(history).verdict is Verdict.OK
    assert check_counter([add(3, 0, 1), read("c", 0, 2, 3)]).verdict is Verdict.FAIL
    assert check_counter([add(3, 5, 6), read("c", 3, 0, 1)]).verdict is Verdict.FAIL  # from the future
    assert check_counter([add(3, 0, 1)]).verdict is Verdict.UNKNOWN  # nothing read
    assert check_counter([read("c", 10, 0, 1)], initial=10).verdict is Verdict.OK


# --- sets ------------------------------------------------------------------------------------------


def test_set_checker() -> None:
    adds = [
        Op(ADD, "s", 0, 1, "a"),
        Op(ADD, "s", 0, 1, "b"),
        Op(ADD, "s", 0, None, "c", INFO),
        Op(ADD, "s", 0, 1, "d", Outcome.FAIL),
    ]
    ok = check_set([*adds, read("s", ["a", "b", "c"], 5, 6)])
    assert (ok.verdict, ok.acknowledged, ok.recovered) == (Verdict.OK, 2, ["c"])
    lost = check_set([*adds, read("s", ["a"], 5, 6)])
    assert (lost.verdict, lost.lost) == (Verdict.FAIL, ["b"])
    odd = check_set([*adds, read("s", ["a", "b", "d", "z"], 5, 6)])
    assert (odd.verdict, odd.unexpected) == (Verdict.FAIL, ["d", "z"])
    # The final read is the one invoked last.
    staged = check_set([*adds, read("s", ["a", "b"], 5, 6), read("s", [], 0.5, 0.6)])
    assert staged.verdict is Verdict.OK
    assert check_set(adds).verdict is Verdict.UNKNOWN
    # Only adds acknowledged before the final read began must be in it (the read after
    # the run failed, so the last read that succeeded is concurrent with later adds).
    late = check_set([*adds, Op(ADD, "s", 7, 8, "e"), read("s", ["a", "b"], 6.5, 7.5)])
    assert (late.verdict, late.lost, late.acknowledged) == (Verdict.OK, [], 3)
    missed = check_set([*adds, Op(ADD, "s", 7, 8, "e"), read("s", ["a"], 8.5, 9)])
    assert (missed.verdict, missed.lost) == (Verdict.FAIL, ["b", "e"])

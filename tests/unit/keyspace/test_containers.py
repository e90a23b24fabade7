"""The set and sorted-set structures against plain models."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from node.keyspace.containers import SetValue, ZSetValue, decode_score, score_prefix

scores = st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, math.inf, -math.inf]))
members = st.binary(max_size=6)


@given(st.lists(st.tuples(st.booleans(), members)))
def test_set_value_matches_a_set(operations: list[tuple[bool, bytes]]) -> None:
    model: set[bytes] = set()
    value = SetValue()
    for add, member in operations:
        if add:
            assert value.add(member) == (member not in model)
            model.add(member)
        else:
            assert value.remove(member) == (member in model)
            model.discard(member)
        assert len(value) == len(model) and set(value) == model
        assert all(value.at(i) in model for i in range(len(value)))


@given(st.lists(scores, min_size=2, max_size=2))
def test_score_prefix_orders_like_the_scores(pair: list[float]) -> None:
    a, b = pair
    if a == b:
        assert score_prefix(a) == score_prefix(b)
    else:
        assert (score_prefix(a) < score_prefix(b)) == (a < b)
    assert decode_score(score_prefix(a)) == a


@given(st.lists(st.tuples(st.booleans(), members, scores)))
def test_zset_value_matches_a_sorted_model(operations: list[tuple[bool, bytes, float]]) -> None:
    model: dict[bytes, float] = {}
    value = ZSetValue()
    for add, member, score in operations:
        if add:
            value.set(member, score)
            model[member] = score
        else:
            assert value.remove(member) == (member in model)
            model.pop(member, None)
    expected = sorted(model.items(), key=lambda item: (item[1], item[0]))
    assert [(m, s) for m, s in value.items()] == expected
    for rank, (member, score) in enumerate(expected):
        assert value.rank(member) == rank
        stored = value.score(member)
        assert stored == score and math.copysign(1, stored) == math.copysign(1, score)

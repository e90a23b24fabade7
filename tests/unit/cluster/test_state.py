"""ClusterState: deterministic commands, compare-and-set rejections, monotonic map epoch."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.errors import ErrorCode
from cluster.state import ClusterState

LISTENERS = {"default": {"native": "127.0.0.1:9100", "http": "127.0.0.1:9101"}}


def _register(state: ClusterState, node_id: int, incarnation: str = "a", **extra: object) -> dict:
    return state.apply(
        {
            "op": "register_node",
            "node_id": node_id,
            "incarnation": incarnation,
            "listeners": LISTENERS,
            **extra,
        }
    )


def _node(state: ClusterState, node_id: int) -> dict[str, Any]:
    node = state.node(node_id)
    assert node is not None
    return node


def test_register_fence_unfence_round_trip() -> None:
    state = ClusterState()
    assert _register(state, 1)["ok"] == {"fenced": False}
    epoch = state.map_epoch
    assert state.apply({"op": "fence_node", "node_id": 1, "incarnation": "a"})["ok"] is True
    assert _node(state, 1)["fenced"] and state.map_epoch == epoch + 1
    assert state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "a"})["ok"] is True
    assert not _node(state, 1)["fenced"] and state.map_epoch == epoch + 2


def test_new_incarnation_is_fenced_until_the_controller_unfences_it() -> None:
    state = ClusterState()
    _register(state, 1, "first")
    result = _register(state, 1, "second")
    assert result["ok"] == {"fenced": True}
    assert _node(state, 1)["incarnation"] == "second"


def test_stale_compare_and_set_inputs_are_rejected() -> None:
    state = ClusterState()
    _register(state, 1, "old")
    _register(state, 1, "new")
    epoch = state.map_epoch
    stale_unfence = state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "old"})
    assert stale_unfence["error"] == ErrorCode.STALE_EPOCH
    state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "new"})
    stale_fence = state.apply({"op": "fence_node", "node_id": 1, "incarnation": "old"})
    assert stale_fence["error"] == ErrorCode.STALE_EPOCH
    assert not _node(state, 1)["fenced"]
    state.apply({"op": "set_cluster_config", "key": "k", "value": "v1"})
    lost_race = state.apply({"op": "set_cluster_config", "key": "k", "value": "v3", "expected": "v2"})
    assert lost_race["error"] == ErrorCode.STALE_EPOCH
    assert state.data["config"]["k"] == "v1"
    assert state.map_epoch == epoch + 2


def test_no_op_changes_do_not_bump_the_epoch() -> None:
    state = ClusterState()
    _register(state, 1)
    epoch = state.map_epoch
    _register(state, 1)  # same incarnation, same listeners
    state.apply({"op": "fence_node", "node_id": 1})
    state.apply({"op": "fence_node", "node_id": 1})
    assert state.map_epoch == epoch + 1


def test_bad_commands_are_results_not_crashes() -> None:
    state = ClusterState()
    assert state.apply({"op": "no_such_op"})["error"] == ErrorCode.INVALID_REQUEST
    assert state.apply({"op": "register_node"})["error"] == ErrorCode.INVALID_REQUEST
    assert (
        state.apply(
            {"op": "register_node", "node_id": 1, "incarnation": "x", "listeners": {"d": {"native": 5}}}
        )["error"]
        == ErrorCode.INVALID_REQUEST
    )
    assert state.apply({"op": "fence_node", "node_id": 99})["error"] == ErrorCode.INVALID_REQUEST
    assert (
        state.apply({"op": "set_cluster_config", "key": "", "value": 1})["error"] == ErrorCode.INVALID_CONFIG
    )
    assert state.map_epoch == 0


_commands = st.one_of(
    st.builds(
        lambda n, inc: {"op": "register_node", "node_id": n, "incarnation": inc, "listeners": LISTENERS},
        st.integers(0, 4),
        st.sampled_from(["a", "b", "c"]),
    ),
    st.builds(
        lambda n, inc: {"op": "fence_node", "node_id": n, "incarnation": inc},
        st.integers(0, 4),
        st.sampled_from(["a", "b", "c"]),
    ),
    st.builds(
        lambda n, inc: {"op": "unfence_node", "node_id": n, "incarnation": inc},
        st.integers(0, 4),
        st.sampled_from(["a", "b", "c"]),
    ),
    st.builds(
        lambda k, v: {"op": "set_cluster_config", "key": k, "value": v},
        st.sampled_from(["x", "y"]),
        st.one_of(st.none(), st.integers(0, 3)),
    ),
    st.just({"op": "init_cluster", "cluster_id": "c1"}),
    st.just({"op": "bogus"}),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_commands, max_size=40))
def test_apply_is_deterministic_and_the_epoch_never_goes_back(commands: list[dict]) -> None:
    a, b = ClusterState(), ClusterState()
    last_epoch = 0
    for command in commands:
        assert a.apply(dict(command)) == b.apply(dict(command))
        assert a.map_epoch >= last_epoch
        last_epoch = a.map_epoch
    assert a.digest() == b.digest()
    # a snapshot round trip keeps the digest
    assert ClusterState.load_bytes(a.to_bytes()).digest() == a.digest()


def test_digest_is_independent_of_dict_insertion_order() -> None:
    rng = random.Random(7)
    commands = [{"op": "set_cluster_config", "key": f"k{i}", "value": i} for i in range(20)]
    a, b = ClusterState(), ClusterState()
    for c in commands:
        a.apply(c)
    shuffled = commands[:]
    rng.shuffle(shuffled)
    for c in shuffled:
        b.apply(c)
    assert a.data["config"] == b.data["config"]
    b.data["map_epoch"] = a.data["map_epoch"]
    assert a.digest() == b.digest()

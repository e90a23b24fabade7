"""Placement, topic rules, and what fencing does to partition leadership."""

from __future__ import annotations

from collections import Counter

import pytest

from cluster.errors import ErrorCode, KeystreamError
from cluster.state import ClusterState
from cluster.topics import assign_replicas, validate_topic_config, validate_topic_name

LISTENERS = {"default": {"native": "127.0.0.1:1"}}


def _cluster(nodes: int = 3) -> ClusterState:
    state = ClusterState()
    for i in range(1, nodes + 1):
        state.apply({"op": "register_node", "node_id": i, "incarnation": "a", "listeners": LISTENERS})
    return state


def _create(state: ClusterState, name: str, assignment: list[list[int]], **config: str) -> dict:
    return state.apply({"op": "create_topic", "name": name, "topic_id": f"id-{name}", "assignment": assignment,
                        "config": config})  # fmt: skip


def test_placement_spreads_leaders_and_replicas_evenly() -> None:
    live = {1: None, 2: None, 3: None}
    assignment = assign_replicas(live, 6, 3)
    assert all(len(set(r)) == 3 for r in assignment)
    assert Counter(r[0] for r in assignment) == {1: 2, 2: 2, 3: 2}
    # a second topic keeps the overall leader count even
    more = assign_replicas(live, 3, 2, existing=assignment)
    assert Counter(r[0] for r in assignment + more) == {1: 3, 2: 3, 3: 3}


def test_placement_is_rack_aware() -> None:
    live = {1: "a", 2: "a", 3: "b", 4: "b"}
    for replicas in assign_replicas(live, 8, 2):
        assert {live[n] for n in replicas} == {"a", "b"}


def test_more_replicas_than_live_nodes_is_refused() -> None:
    with pytest.raises(KeystreamError) as info:
        assign_replicas({1: None, 2: None}, 3, 3)
    assert info.value.code == ErrorCode.INVALID_REPLICATION_FACTOR and "2 live" in info.value.message


@pytest.mark.parametrize("name", ["", "a" * 250, "bad name", "ümlaut", ".", "..", "__internal"])
def test_invalid_topic_names(name: str) -> None:
    with pytest.raises(KeystreamError) as info:
        validate_topic_name(name)
    assert info.value.code == ErrorCode.INVALID_TOPIC


def test_invalid_topic_configs() -> None:
    with pytest.raises(KeystreamError, match="unknown topic config"):
        validate_topic_config({"retention.msx": "1"})
    with pytest.raises(KeystreamError, match=r"min\.insync\.replicas"):
        validate_topic_config({"min.insync.replicas": "0"})


def test_fencing_the_leader_elects_the_next_in_sync_replica() -> None:
    state = _cluster()
    _create(state, "t", [[1, 2, 3]])
    state.apply({"op": "fence_node", "node_id": 1})
    p = state.topics["t"]["partitions"][0]
    assert (p["leader"], p["leader_epoch"], p["isr"]) == (2, 1, [2, 3])
    state.apply({"op": "fence_node", "node_id": 2})
    state.apply({"op": "fence_node", "node_id": 3})
    p = state.topics["t"]["partitions"][0]
    assert p["leader"] == -1 and p["isr"] == [3], "the last in-sync replica stays on record"
    state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "a"})
    assert state.topics["t"]["partitions"][0]["leader"] == -1, "1 is not in sync: no unclean election"
    state.apply({"op": "unfence_node", "node_id": 3, "incarnation": "a"})
    p = state.topics["t"]["partitions"][0]
    assert p["leader"] == 3 and p["isr"] == [3]


def test_unclean_election_only_when_the_topic_allows_it() -> None:
    state = _cluster()
    _create(state, "u", [[1, 2, 3]], **{"unclean.leader.election.enable": "true"})
    for n in (1, 2, 3):
        state.apply({"op": "fence_node", "node_id": n})
    state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "a"})
    p = state.topics["u"]["partitions"][0]
    assert p["leader"] == 1 and p["isr"] == [1] and p["unclean_elections"] == 1


def test_alter_isr_is_compare_and_set() -> None:
    state = _cluster()
    _create(state, "t", [[1, 2, 3]])
    ok = state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 1, "leader_epoch": 0,
                      "partition_epoch": 0, "isr": [1, 2]})  # fmt: skip
    assert ok["ok"]["isr"] == [1, 2]
    stale = state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 1, "leader_epoch": 0,
                         "partition_epoch": 0, "isr": [1]})  # fmt: skip
    assert stale["error"] == ErrorCode.STALE_EPOCH
    deposed = state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 2, "leader_epoch": 0,
                           "partition_epoch": 1, "isr": [2]})  # fmt: skip
    assert deposed["error"] == ErrorCode.FENCED_LEADER_EPOCH
    state.apply({"op": "fence_node", "node_id": 3})
    fenced_joins = state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 1, "leader_epoch": 0,
                                "partition_epoch": 1, "isr": [1, 2, 3]})  # fmt: skip
    assert fenced_joins["error"] == ErrorCode.INVALID_REQUEST


def test_topic_create_validates_against_the_state() -> None:
    state = _cluster()
    assert _create(state, "t", [[1, 2]])["ok"]["partitions"] == 1
    assert _create(state, "t", [[1, 2]])["error"] == ErrorCode.TOPIC_ALREADY_EXISTS
    state.apply({"op": "fence_node", "node_id": 3})
    assert _create(state, "x", [[1, 3]])["error"] == ErrorCode.INVALID_REPLICATION_FACTOR
    assert _create(state, "y", [[1, 2]], **{"min.insync.replicas": "3"})["error"] == ErrorCode.INVALID_CONFIG
    assert state.apply({"op": "delete_topic", "name": "t"})["ok"] is True
    assert "t" not in state.topics

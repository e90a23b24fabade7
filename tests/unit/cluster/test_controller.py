"""Controller decisions: fencing by heartbeat silence, grace after takeover, preferred leaders."""

from __future__ import annotations

from cluster.controller import LivenessTracker, liveness_decisions, preferred_leader_decisions
from cluster.state import ClusterState

LISTENERS = {"d": {"native": "127.0.0.1:1"}}


def _state() -> ClusterState:
    state = ClusterState()
    for i in (1, 2, 3):
        state.apply({"op": "register_node", "node_id": i, "incarnation": f"i{i}", "listeners": LISTENERS})
    state.apply({"op": "create_topic", "name": "t", "topic_id": "x", "assignment": [[1, 2, 3], [2, 3, 1]]})
    return state


def test_new_controller_grants_a_grace_period_then_fences_the_silent() -> None:
    state = _state()
    tracker = LivenessTracker(session_timeout_s=3.0)
    tracker.become_controller(now=100.0)
    assert liveness_decisions(state, tracker, 102.9) == []  # nobody fenced for silence it did not see
    tracker.heartbeat(1, "i1", 102.0)
    tracker.heartbeat(2, "i2", 102.0)
    assert liveness_decisions(state, tracker, 104.0) == [{"op": "fence_node", "node_id": 3, "incarnation": "i3"}]


def test_a_fenced_node_is_unfenced_only_for_its_registered_incarnation() -> None:
    state = _state()
    state.apply({"op": "fence_node", "node_id": 3})
    tracker = LivenessTracker(3.0)
    tracker.become_controller(0.0)
    tracker.heartbeat(1, "i1", 1.0)
    tracker.heartbeat(2, "i2", 1.0)
    tracker.heartbeat(3, "old-incarnation", 1.0)
    assert liveness_decisions(state, tracker, 1.5) == []
    tracker.heartbeat(3, "i3", 2.0)
    assert liveness_decisions(state, tracker, 2.5) == [{"op": "unfence_node", "node_id": 3, "incarnation": "i3"}]


def test_leadership_returns_to_the_preferred_replica_once_it_is_stable() -> None:
    state = _state()
    state.apply({"op": "fence_node", "node_id": 1})  # partition 0 moves to 2
    state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "i1"})
    p0 = state.topics["t"]["partitions"][0]
    assert p0["leader"] == 2
    tracker = LivenessTracker(3.0)
    tracker.become_controller(0.0)
    for t in (0.0, 1.0, 2.0):
        tracker.heartbeat(1, "i1", t)
    assert preferred_leader_decisions(state, tracker, 5.0, stable_for_s=10.0) == []  # 1 not in the ISR yet
    state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 2, "leader_epoch": p0["leader_epoch"],
                 "partition_epoch": p0["partition_epoch"], "isr": [1, 2, 3]})  # fmt: skip
    assert preferred_leader_decisions(state, tracker, 5.0, stable_for_s=10.0) == []  # not stable long enough
    for t in range(3, 13):
        tracker.heartbeat(1, "i1", float(t))
    decision = preferred_leader_decisions(state, tracker, 12.5, stable_for_s=10.0)
    assert decision == [{"op": "elect_leader", "topic": "t", "partition": 0, "leader": 1,
                         "leader_epoch": p0["leader_epoch"]}]  # fmt: skip
    assert state.apply(decision[0])["ok"]["leader"] == 1

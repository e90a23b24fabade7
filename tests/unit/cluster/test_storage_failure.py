"""A node reporting failed storage: the controller's decisions and their effect on the state.

As a KRaft controller does for a broker whose log directory failed: the node is fenced,
its leaderships move to in-sync replicas and it leaves the ISRs; once it reports working
storage it is unfenced, and gets preferred leaderships back only after a stable period.
"""

from __future__ import annotations

from cluster.controller import LivenessTracker, liveness_decisions, preferred_leader_decisions
from cluster.state import ClusterState

LISTENERS = {"d": {"native": "127.0.0.1:1"}}


def _state() -> ClusterState:
    state = ClusterState()
    for i in (1, 2, 3):
        state.apply({"op": "register_node", "node_id": i, "incarnation": f"i{i}", "listeners": LISTENERS})
    state.apply({"op": "create_topic", "name": "t", "topic_id": "x",
                 "assignment": [[1, 2, 3], [2, 3, 1], [3, 1, 2]]})  # fmt: skip
    return state


def _tracker(now: float, failed: set[int] = frozenset()) -> LivenessTracker:  # type: ignore[assignment]
    tracker = LivenessTracker(session_timeout_s=3.0)
    tracker.become_controller(0.0)
    for node in (1, 2, 3):
        tracker.heartbeat(node, f"i{node}", now, storage_failed=node in failed)
    return tracker


def test_a_live_node_reporting_failed_storage_is_fenced() -> None:
    state = _state()
    tracker = _tracker(1.0, failed={1})
    assert tracker.is_alive(1, 1.5) and tracker.storage_failed(1)
    assert liveness_decisions(state, tracker, 1.5) == [{"op": "fence_node", "node_id": 1, "incarnation": "i1"}]


def test_fencing_it_moves_its_leaderships_to_in_sync_replicas_and_takes_it_out_of_every_isr() -> None:
    state = _state()
    tracker = _tracker(1.0, failed={1})
    for command in liveness_decisions(state, tracker, 1.5):
        assert "error" not in state.apply(command)
    partitions = state.topics["t"]["partitions"]
    assert partitions[0]["leader"] == 2 and partitions[0]["isr"] == [2, 3]  # 1 led it
    assert partitions[0]["leader_epoch"] == 1
    assert partitions[1]["leader"] == 2 and partitions[1]["isr"] == [2, 3]  # a follower leaves the ISR
    assert partitions[2]["leader"] == 3 and partitions[2]["isr"] == [3, 2]
    assert liveness_decisions(state, tracker, 1.6) == []  # fenced once


def test_it_stays_fenced_while_it_reports_failed_storage_and_is_unfenced_once_it_works() -> None:
    state = _state()
    tracker = _tracker(1.0, failed={1})
    for command in liveness_decisions(state, tracker, 1.5):
        state.apply(command)
    tracker.heartbeat(1, "i1", 2.0, storage_failed=True)
    assert liveness_decisions(state, tracker, 2.1) == []
    tracker.heartbeat(1, "i1", 2.5)  # the disk takes writes again
    assert liveness_decisions(state, tracker, 2.6) == [{"op": "unfence_node", "node_id": 1, "incarnation": "i1"}]


def test_a_node_whose_storage_fails_while_fenced_for_silence_is_not_unfenced() -> None:
    state = _state()
    state.apply({"op": "fence_node", "node_id": 3})
    tracker = _tracker(1.0, failed={3})
    assert liveness_decisions(state, tracker, 1.5) == []


def test_preferred_leadership_returns_only_after_a_stable_period_of_working_storage() -> None:
    state = _state()
    tracker = _tracker(0.0, failed={1})
    for command in liveness_decisions(state, tracker, 0.5):
        state.apply(command)
    state.apply({"op": "unfence_node", "node_id": 1, "incarnation": "i1"})
    p0 = state.topics["t"]["partitions"][0]
    state.apply({"op": "alter_isr", "topic": "t", "partition": 0, "leader": 2, "leader_epoch": p0["leader_epoch"],
                 "partition_epoch": p0["partition_epoch"], "isr": [1, 2, 3]})  # fmt: skip
    for t in range(1, 12):  # live all along, but the storage only works from t=6
        tracker.heartbeat(1, "i1", float(t), storage_failed=t < 6)
        for other in (2, 3):
            tracker.heartbeat(other, f"i{other}", float(t))
    assert tracker.alive_since(1) == 6.0
    assert preferred_leader_decisions(state, tracker, 11.0, stable_for_s=10.0) == []
    for t in range(12, 17):
        tracker.heartbeat(1, "i1", float(t))
    decision = preferred_leader_decisions(state, tracker, 16.0, stable_for_s=10.0)
    assert decision == [{"op": "elect_leader", "topic": "t", "partition": 0, "leader": 1,
                         "leader_epoch": p0["leader_epoch"]}]  # fmt: skip

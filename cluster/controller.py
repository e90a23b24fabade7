"""The controller's decisions, as pure functions over (state, liveness, now).

The controller is whichever node leads the metadata Raft group. It learns
liveness from heartbeats, in memory, as Kafka's KRaft controller does: a
node that has not heartbeated within the session timeout is fenced (through
a Raft command, so every node agrees), and a fenced node that heartbeats
again with the incarnation the map knows is unfenced. A new controller has
not seen anyone's heartbeat yet, so it starts every node's clock at the
moment it took over (the grace period) instead of fencing the world.

A node whose storage failed (it says so in its heartbeats: a full disk, an
I/O error, a log taken offline) is fenced too, as KRaft treats a broker whose
log directory failed: its leaderships move to in-sync replicas and it leaves
the ISRs. Once it reports healthy storage it is unfenced like any returning
node, catches up as a follower and rejoins the ISRs.

The asyncio shell (``node/controller_service.py``) feeds heartbeats and
time in and proposes the commands that come out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster.state import ClusterState, Command


@dataclass
class _Seen:
    at: float
    incarnation: str | None
    since: float  # start of the current run of timely, healthy heartbeats
    storage_failed: bool = False


class LivenessTracker:
    def __init__(self, session_timeout_s: float) -> None:
        self.session_timeout_s = session_timeout_s
        self._seen: dict[int, _Seen] = {}
        self._grace_from: float | None = None

    def become_controller(self, now: float) -> None:
        """Start every clock now: nobody is fenced for silence we did not observe."""
        self._seen.clear()
        self._grace_from = now

    def heartbeat(self, node_id: int, incarnation: str, now: float, storage_failed: bool = False) -> None:
        seen = self._seen.get(node_id)
        fresh = (
            seen is None
            or seen.incarnation != incarnation
            or now - seen.at > self.session_timeout_s
            or seen.storage_failed
        )
        self._seen[node_id] = _Seen(now, incarnation, now if fresh else seen.since, storage_failed)  # type: ignore[union-attr]

    def storage_failed(self, node_id: int) -> bool:
        """Whether the node's last heartbeat reported failed storage."""
        seen = self._seen.get(node_id)
        return seen is not None and seen.storage_failed

    def alive_since(self, node_id: int) -> float | None:
        seen = self._seen.get(node_id)
        return seen.since if seen is not None else None

    def last_seen(self, node_id: int) -> float | None:
        seen = self._seen.get(node_id)
        if seen is not None:
            return seen.at
        return self._grace_from

    def incarnation(self, node_id: int) -> str | None:
        seen = self._seen.get(node_id)
        return seen.incarnation if seen is not None else None

    def is_alive(self, node_id: int, now: float) -> bool:
        last = self.last_seen(node_id)
        return last is not None and now - last <= self.session_timeout_s


def liveness_decisions(state: ClusterState, tracker: LivenessTracker, now: float) -> list[Command]:
    """Fence silent nodes and nodes whose storage failed; unfence nodes that came back
    with the registered incarnation and working storage."""
    commands: list[Command] = []
    for node in sorted(state.nodes.values(), key=lambda n: n["id"]):
        node_id = node["id"]
        alive = tracker.is_alive(node_id, now)
        serviceable = alive and not tracker.storage_failed(node_id)
        if not node["fenced"] and not serviceable:
            commands.append({"op": "fence_node", "node_id": node_id, "incarnation": node["incarnation"]})
        elif node["fenced"] and serviceable and tracker.incarnation(node_id) == node["incarnation"]:
            commands.append({"op": "unfence_node", "node_id": node_id, "incarnation": node["incarnation"]})
    return commands


def preferred_leader_decisions(
    state: ClusterState, tracker: LivenessTracker, now: float, stable_for_s: float = 10.0
) -> list[Command]:
    """Move leadership back to each partition's preferred replica (the first one) once it
    has been live and in sync for ``stable_for_s`` (Kafka's auto.leader.rebalance), so load
    spreads again after a node comes back. One move per tick keeps changes gradual."""
    for name in sorted(state.topics):
        for index, p in enumerate(state.topics[name]["partitions"]):
            preferred = p["replicas"][0]
            if p["leader"] in (preferred, -1) or preferred not in p["isr"]:
                continue
            node = state.node(preferred)
            since = tracker.alive_since(preferred)
            if node is None or node["fenced"] or since is None or now - since < stable_for_s:
                continue
            if tracker.storage_failed(preferred):
                continue
            return [{"op": "elect_leader", "topic": name, "partition": index, "leader": preferred,
                     "leader_epoch": p["leader_epoch"]}]  # fmt: skip
    return []


def describe_nodes(state: ClusterState, controller_id: int | None) -> list[dict[str, Any]]:
    """Rows for ``keystream cluster status``."""
    rows = []
    for node in sorted(state.nodes.values(), key=lambda n: n["id"]):
        rows.append(
            {
                "id": node["id"],
                "state": "fenced" if node["fenced"] else "live",
                "controller": node["id"] == controller_id,
                "voter": node.get("voter", False),
                "rack": node.get("rack"),
                "listeners": node["listeners"],
            }
        )
    return rows

"""The controller's asyncio shell: runs on every node, acts only on the Raft leader.

It feeds heartbeats into the pure ``LivenessTracker``, periodically asks the
pure decision functions what to do, and proposes the resulting commands.
Feature modules (partition leadership, ISR, keyspace shards) add their own
decision functions with :meth:`add_decider`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from cluster.controller import LivenessTracker, liveness_decisions, preferred_leader_decisions
from cluster.errors import ErrorCode, KeystreamError
from cluster.raft import MetadataRaft
from cluster.state import ClusterState, Command

log = logging.getLogger(__name__)

Decider = Callable[[ClusterState, LivenessTracker, float], list[Command]]


class ControllerService:
    def __init__(self, raft: MetadataRaft, session_timeout_s: float, tick_s: float = 0.1) -> None:
        self.raft = raft
        self.tracker = LivenessTracker(session_timeout_s)
        self._tick_s = tick_s
        self._was_leader = False
        self._deciders: list[Decider] = [liveness_decisions, preferred_leader_decisions]
        self._in_flight: set[str] = set()
        self._proposals: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.became_controller_at: float | None = None

    def add_decider(self, decider: Decider) -> None:
        self._deciders.append(decider)

    @property
    def active(self) -> bool:
        return self.raft.is_leader

    def on_heartbeat(self, node_id: int, incarnation: str, storage_failed: str | None = None) -> dict[str, Any]:
        """``storage_failed``: why the node's storage failed, None while it works."""
        if not self.raft.is_leader:
            raise KeystreamError(
                ErrorCode.NOT_CONTROLLER,
                "this node is not the controller",
                {"controller": self.raft.leader_id},
            )
        if bool(storage_failed) != self.tracker.storage_failed(node_id):
            if storage_failed:
                log.warning("controller: node %d reports failed storage (%s): fencing it", node_id, storage_failed)
            else:
                log.info("controller: node %d reports its storage works again", node_id)
        self.tracker.heartbeat(node_id, incarnation, time.monotonic(), storage_failed=bool(storage_failed))
        node = self.raft.snapshot.node(node_id)
        return {
            # the epoch the Raft thread has applied, not the (possibly lagging) published copy:
            # a node takes a lease from this reply only once it has seen this epoch itself
            "map_epoch": self.raft.applied_map_epoch(),
            "fenced": bool(node["fenced"]) if node else None,
            "registered": node is not None and node["incarnation"] == incarnation,
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller tick failed")
            await asyncio.sleep(self._tick_s)

    async def _tick(self) -> None:
        leader = self.raft.is_leader
        now = time.monotonic()
        if leader and not self._was_leader:
            self.tracker.become_controller(now)
            self.became_controller_at = now
            log.info(
                "became the controller (term %d); grace period %.1fs before fencing anyone",
                self.raft.term,
                self.tracker.session_timeout_s,
            )
        elif not leader and self._was_leader:
            log.info("no longer the controller")
        self._was_leader = leader
        if not leader:
            return
        state = self.raft.snapshot
        if state.cluster_id is None:
            await self._propose({"op": "init_cluster", "cluster_id": uuid.uuid4().hex})
            return
        for decide in self._deciders:
            for command in decide(state, self.tracker, now):
                task = asyncio.create_task(self._propose(command))
                self._proposals.add(task)
                task.add_done_callback(self._proposals.discard)

    async def _propose(self, command: Command) -> None:
        key = repr(sorted(command.items()))
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        try:
            await self.raft.propose(command, timeout=5.0)
            if command["op"] in ("fence_node", "unfence_node"):
                log.info("controller: %s node %s", command["op"].split("_")[0] + "d", command.get("node_id"))
        except KeystreamError as exc:
            if exc.code != ErrorCode.STALE_EPOCH:
                log.warning("controller: %s failed: %s", command["op"], exc)
        finally:
            self._in_flight.discard(key)

"""The nemesis: a seeded schedule of faults, applied to a ``ChaosTopology`` and healed.

Two halves, as in Jepsen:

* ``plan_schedule(seed, kinds, duration, nodes)`` is pure: the same arguments give
  the same list of ``FaultPlan`` -- which fault, which variant, when, for how long,
  with which parameters, and a seeded ``pick`` that chooses the target among the
  candidates at run time. One fault at a time, with quiet gaps between them.
* ``Nemesis`` applies each plan when its time comes, records what it did in the
  history (``{"type": "nemesis", "phase": "start"|"stop", ...}``) and heals it
  after its duration. Targets defined by a role (the controller, a partition's
  leader) are resolved from the cluster map at that moment: roles move, so the
  node chosen may differ between two runs of the same seed, but the schedule,
  the variants and the order among candidates do not.

Faults (``--nemesis`` names) and their variants:

========== ============================================================================
partition  isolate-node, split (minority | majority), isolate-controller,
           leader-followers (a partition leader loses its followers, keeps the controller
           link only if the controller isn't one of them), one-way (a node's outbound or
           inbound traffic to every peer is dropped)
kill       node, controller, partition-leader, shard-leader, all (SIGKILL, restart at heal)
pause      node, controller, partition-leader, shard-leader (SIGSTOP longer than the
           session timeout, SIGCONT at heal)
latency    all-links, node (latency with jitter, both directions)
bandwidth  node (every link of one node limited to a few KB/s)
slicer     all-links (data cut into small, delayed pieces)
reset      node (connections of one node reset, some or all of them)
blackhole  node (``timeout`` toxic: data dropped, connections closed after a delay)
disk       node (the node's data filesystem filled to the last few KB)
cut-kill   partition-leader, shard-leader (a leader loses its followers for a second or two,
           keeps acknowledging what its configuration allows, then is SIGKILLed; the network
           heals at once and the node restarts at the end: what only it had is gone, so a
           configuration that acknowledges before replicating loses acknowledged writes)
========== ============================================================================

Network partitions leave the client links alone: clients still reach every node,
which is what exposes a stale leader on the minority side.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client.chaos.history import History
from client.chaos.topology import AppliedToxic, ChaosTopology, DiskFaultUnavailable, Link
from cluster.slots import key_slot

log = logging.getLogger(__name__)

VARIANTS: dict[str, tuple[str, ...]] = {
    "partition": ("isolate-node", "split", "isolate-controller", "leader-followers", "one-way"),
    "kill": ("node", "controller", "partition-leader", "shard-leader", "all"),
    "pause": ("node", "controller", "partition-leader", "shard-leader"),
    "latency": ("all-links", "node"),
    "bandwidth": ("node",),
    "slicer": ("all-links",),
    "reset": ("node",),
    "blackhole": ("node",),
    "disk": ("node",),
    "cut-kill": ("partition-leader", "shard-leader"),
}
NEMESES = tuple(VARIANTS)
DEFAULT_NEMESES = ("partition", "kill", "pause", "latency")

# How long each fault lasts (seconds). A pause outlasts the session timeout (3 s in chaos
# runs) so the paused node is fenced and its roles move while it sleeps.
DURATION_S: dict[str, tuple[float, float]] = {
    "partition": (4.0, 8.0),
    "kill": (2.0, 6.0),
    "pause": (4.5, 7.0),
    "latency": (3.0, 6.0),
    "bandwidth": (3.0, 6.0),
    "slicer": (3.0, 6.0),
    "reset": (2.0, 4.0),
    "blackhole": (3.0, 6.0),
    "disk": (4.0, 8.0),
    "cut-kill": (6.0, 9.0),
}
WARMUP_S = 3.0  # quiet before the first fault: the workloads establish a baseline
COOLDOWN_S = 5.0  # quiet after the last fault, inside the run: recovery is measured there
GAP_S = (2.0, 4.0)  # quiet between two faults
MAX_FAULTS = 1000  # a schedule never grows beyond this, whatever the duration
VIEW_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class FaultPlan:
    index: int
    kind: str
    variant: str
    at: float  # seconds after the run began
    duration: float
    pick: int  # chooses the target among the sorted candidates at run time
    params: tuple[tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.variant}"

    def param(self, key: str, default: int = 0) -> int:
        return dict(self.params).get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "variant": self.variant,
            "at": self.at,
            "duration": self.duration,
            "pick": self.pick,
            "params": dict(self.params),
        }


def _params(kind: str, rng: random.Random) -> dict[str, int]:
    if kind == "latency":
        latency = rng.choice((50, 100, 200, 400))
        return {"latency": latency, "jitter": latency // 2}
    if kind == "bandwidth":
        return {"rate": rng.choice((8, 32, 128))}  # KB/s
    if kind == "slicer":
        size = rng.choice((16, 64, 256))
        return {"average_size": size, "size_variation": size // 2, "delay": rng.choice((10, 100, 1000))}
    if kind == "reset":
        return {"timeout": rng.choice((0, 100, 500)), "toxicity_pct": rng.choice((50, 100))}
    if kind == "blackhole":
        return {"timeout": rng.choice((500, 1500, 3000))}
    if kind == "partition":
        return {"inbound": rng.randrange(2)}  # one-way: 1 = the node hears nothing, 0 = nobody hears it
    if kind == "cut-kill":
        return {"cut_ms": rng.choice((1500, 2000, 2500))}
    return {}


def plan_schedule(
    seed: int,
    kinds: Sequence[str],
    duration: float,
    *,
    warmup: float = WARMUP_S,
    cooldown: float = COOLDOWN_S,
    gap: tuple[float, float] = GAP_S,
    durations: Mapping[str, tuple[float, float]] | None = None,
) -> list[FaultPlan]:
    """Faults one at a time within [warmup, duration - cooldown], from ``seed`` only."""
    unknown = [k for k in kinds if k not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown nemesis {', '.join(unknown)} (choose from {', '.join(NEMESES)})")
    if not kinds:
        return []
    lengths = {**DURATION_S, **(durations or {})}
    rng = random.Random(f"keystream-chaos-{seed}")
    plans: list[FaultPlan] = []
    now = warmup
    for index in range(MAX_FAULTS):
        kind = rng.choice(list(kinds))
        variant = rng.choice(VARIANTS[kind])
        low, high = lengths[kind]
        length = round(rng.uniform(low, high), 2)
        pick = rng.randrange(2**31)
        params = tuple(sorted(_params(kind, rng).items()))
        if now + length > duration - cooldown:
            break
        plans.append(FaultPlan(index, kind, variant, round(now, 2), length, pick, params))
        now += length + rng.uniform(*gap)
    return plans


# --- the cluster as the nemesis sees it ------------------------------------------------------------------


@dataclass
class ClusterView:
    nodes: list[int]
    controller: int | None = None
    partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shards: list[dict[str, Any]] = field(default_factory=list)
    slots: list[list[int]] = field(default_factory=list)

    def shard_of(self, key: str) -> int | None:
        slot = key_slot(key.encode())
        return next((int(shard) for start, end, shard in self.slots if start <= slot <= end), None)

    def partition_leaders(self, topics: Sequence[str]) -> list[tuple[str, int, int, list[int]]]:
        """(topic, partition, leader, replicas) for partitions of ``topics`` that have a leader."""
        out = []
        for topic in topics:
            for index, p in enumerate(self.partitions.get(topic, [])):
                if p.get("leader", -1) >= 0:
                    out.append((topic, index, int(p["leader"]), [int(r) for r in p["replicas"]]))
        return out

    def shard_leaders(self) -> list[tuple[int, int, list[int]]]:
        return [
            (i, int(s["leader"]), [int(r) for r in s["replicas"]])
            for i, s in enumerate(self.shards)
            if s.get("leader", -1) >= 0
        ]

    def shard_leaders_as_partitions(self) -> list[tuple[str, int, int, list[int]]]:
        return [("shard", shard, leader, replicas) for shard, leader, replicas in self.shard_leaders()]


async def cluster_view(topology: ChaosTopology) -> ClusterView:
    """The map from the first running node that answers (directly, not through a proxy)."""
    cluster = topology.cluster
    nodes = sorted(cluster.nodes)
    for node in nodes:
        state = cluster.nodes[node]
        if not state.alive or state.paused:
            continue
        found = await cluster.node_map(node, timeout=VIEW_TIMEOUT_S)
        if found and found.get("controller") is not None:
            return ClusterView(
                nodes,
                found.get("controller"),
                found.get("partitions", {}),
                found.get("shards", []),
                found.get("slots", []),
            )
    return ClusterView(nodes)


def _choose(candidates: Sequence[int], pick: int) -> int:
    ordered = sorted(set(candidates))
    return ordered[pick % len(ordered)]


# --- applying and healing --------------------------------------------------------------------------------


@dataclass
class ActiveFault:
    plan: FaultPlan
    detail: dict[str, Any]
    toxics: list[AppliedToxic] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)
    disk: list[int] = field(default_factory=list)


class Nemesis:
    """Applies a schedule to a topology, recording every step in the history."""

    def __init__(
        self,
        topology: ChaosTopology,
        history: History,
        schedule: Sequence[FaultPlan],
        topics: Sequence[str] = (),
        keys: Sequence[str] = (),
    ) -> None:
        self.topology = topology
        self.keys = list(keys)  # the workloads' long-lived keys: shard-leader faults target their shards
        self.history = history
        self.schedule = list(schedule)
        self.topics = list(topics)
        self.active: ActiveFault | None = None
        self.applied: list[dict[str, Any]] = []

    async def run(self) -> None:
        """Play the schedule against the history's clock (bounded: it is a finite list)."""
        for plan in self.schedule:
            await asyncio.sleep(max(0.0, plan.at - self.history.now()))
            await self.apply(plan)
            await asyncio.sleep(max(0.0, plan.at + plan.duration - self.history.now()))
            await self.heal_active()

    async def apply(self, plan: FaultPlan) -> ActiveFault:
        began = self.history.now()
        view = await cluster_view(self.topology)
        fault = ActiveFault(plan, {"variant": plan.variant})
        self.active = fault
        try:
            await self._apply(plan, view, fault)
        except (DiskFaultUnavailable, KeyError, ValueError, OSError) as exc:
            fault.detail["error"] = str(exc)
            log.warning("nemesis %s could not be applied: %s", plan.name, exc)
        # Recorded once applied (with the targets it resolved), timed when it began.
        self.history.nemesis(
            "start", plan.kind, index=plan.index, time=began, applied=self.history.now(), **fault.detail
        )
        log.info("nemesis start %s %s", plan.name, fault.detail)
        return fault

    async def heal_active(self) -> None:
        fault, self.active = self.active, None
        if fault is None:
            return
        await self._heal(fault)
        self.history.nemesis("stop", fault.plan.kind, index=fault.plan.index, variant=fault.plan.variant)
        self.applied.append({**fault.plan.to_json(), **fault.detail})
        log.info("nemesis stop %s", fault.plan.name)

    async def heal_all(self) -> None:
        """Whatever is still broken: toxics, paused or dead nodes, full disks."""
        await self.heal_active()
        cluster = self.topology.cluster
        await self.topology.heal()
        for node_id, node in cluster.nodes.items():
            if node.paused:
                cluster.resume(node_id)
            if not node.alive:
                cluster.start_node(node_id)
            if node_id in self._disk_nodes():
                self.topology.free_disk(node_id)
        self.history.nemesis("stop", "heal-all")

    def _disk_nodes(self) -> list[int]:
        return [int(p.name.removeprefix("node")) for p in self.topology.mounted if p.name.startswith("node")]

    # --- target selection ----------------------------------------------------------------------------
    def _role_target(self, variant: str, plan: FaultPlan, view: ClusterView, fault: ActiveFault) -> int:
        if variant == "controller" and view.controller is not None:
            fault.detail["role"] = "controller"
            return int(view.controller)
        if variant == "partition-leader":
            leaders = view.partition_leaders(self.topics) or view.partition_leaders(sorted(view.partitions))
            if leaders:
                topic, index, leader, _ = leaders[plan.pick % len(leaders)]
                fault.detail["role"] = f"leader of {topic}-{index}"
                return leader
        if variant == "shard-leader":
            shards = self._hot_shards(view)
            if shards:
                shard, leader, _ = shards[plan.pick % len(shards)]
                fault.detail["role"] = f"leader of shard {shard}"
                return leader
        return _choose(view.nodes, plan.pick)

    def _hot_shards(self, view: ClusterView) -> list[tuple[int, int, list[int]]]:
        """Shards with a leader, those holding a workload key first (only those, if any)."""
        shards = view.shard_leaders()
        hot = {view.shard_of(k) for k in self.keys}
        return [s for s in shards if s[0] in hot] or shards

    # --- the faults ---------------------------------------------------------------------------------
    async def _apply(self, plan: FaultPlan, view: ClusterView, fault: ActiveFault) -> None:
        topo, cluster = self.topology, self.topology.cluster
        nodes = view.nodes
        if plan.kind == "partition":
            await self._partition(plan, view, fault)
        elif plan.kind == "kill":
            targets = list(nodes) if plan.variant == "all" else [self._role_target(plan.variant, plan, view, fault)]
            for node in targets:
                await asyncio.to_thread(cluster.kill, node)
            fault.killed = targets
            fault.detail["nodes"] = targets
        elif plan.kind == "pause":
            node = self._role_target(plan.variant, plan, view, fault)
            cluster.pause(node)
            fault.paused = [node]
            fault.detail["nodes"] = [node]
        elif plan.kind == "cut-kill":
            await self._cut_kill(plan, view, fault)
        elif plan.kind == "disk":
            node = _choose(nodes, plan.pick)
            fault.detail["nodes"] = [node]
            fault.disk = [node]
            fault.detail["bytes"] = await asyncio.to_thread(topo.fill_disk, node)
        else:
            await self._link_fault(plan, view, fault)

    async def _cut_kill(self, plan: FaultPlan, view: ClusterView, fault: ActiveFault) -> None:
        topo, cluster = self.topology, self.topology.cluster
        if plan.variant == "shard-leader":
            candidates = [("shard", s, leader, replicas) for s, leader, replicas in self._hot_shards(view)]
        else:
            candidates = view.partition_leaders(self.topics) or view.partition_leaders(sorted(view.partitions))
        if not candidates:
            raise ValueError("no partition with a leader to cut")
        topic, index, leader, replicas = candidates[plan.pick % len(candidates)]
        followers = [r for r in replicas if r != leader]
        targets = [
            pair
            for f in followers
            for pair in topo.drop_targets(leader, f) + topo.drop_targets(f, leader)
            if pair[0].kind == "native"
        ]
        fault.detail.update(
            {"role": f"leader of {topic}-{index}", "leader": leader, "followers": followers, "nodes": [leader]}
        )
        toxics = await topo.add_toxics(targets, "timeout", {"timeout": 0})
        try:
            await asyncio.sleep(plan.param("cut_ms", 2000) / 1000)
            await asyncio.to_thread(cluster.kill, leader)
            fault.killed = [leader]
        finally:
            await topo.remove_toxics(toxics)

    async def _partition(self, plan: FaultPlan, view: ClusterView, fault: ActiveFault) -> None:
        topo, nodes = self.topology, view.nodes
        variant = plan.variant
        if variant == "leader-followers":
            leaders = view.partition_leaders(self.topics) + view.shard_leaders_as_partitions()
            if leaders:
                topic, index, leader, replicas = leaders[plan.pick % len(leaders)]
                followers = [r for r in replicas if r != leader]
                targets = [
                    pair
                    for f in followers
                    for pair in topo.drop_targets(leader, f) + topo.drop_targets(f, leader)
                    if pair[0].kind == "native"
                ]
                fault.toxics = await topo.add_toxics(targets, "timeout", {"timeout": 0})
                fault.detail.update({"role": f"leader of {topic}-{index}", "leader": leader, "followers": followers})
                return
            variant = "isolate-node"
        if variant == "one-way":
            node = _choose(nodes, plan.pick)
            inbound = bool(plan.param("inbound"))
            toxics: list[AppliedToxic] = []
            for other in nodes:
                if other != node:
                    toxics += await topo.block(other, node) if inbound else await topo.block(node, other)
            fault.toxics = toxics
            fault.detail.update({"nodes": [node], "direction": "inbound" if inbound else "outbound"})
            return
        if variant == "isolate-controller" and view.controller is not None:
            alone = [int(view.controller)]
            fault.detail["role"] = "controller"
        elif variant == "split" and len(nodes) > 3:
            shuffled = sorted(nodes)
            random.Random(plan.pick).shuffle(shuffled)
            alone = sorted(shuffled[: (len(nodes) - 1) // 2])
        else:
            alone = [_choose(nodes, plan.pick)]
        rest = [n for n in nodes if n not in alone]
        fault.toxics = await topo.partition([alone, rest])
        fault.detail["groups"] = [alone, rest]

    async def _link_fault(self, plan: FaultPlan, view: ClusterView, fault: ActiveFault) -> None:
        topo = self.topology
        if plan.variant == "all-links":
            links: list[Link] = list(topo.links.values())
        else:
            node = _choose(view.nodes, plan.pick)
            links = topo.links_touching(node)
            fault.detail["nodes"] = [node]
        targets = [(lk, stream) for lk in links for stream in ("upstream", "downstream")]
        toxicity = 1.0
        if plan.kind == "latency":
            toxic, attributes = "latency", {"latency": plan.param("latency"), "jitter": plan.param("jitter")}
        elif plan.kind == "bandwidth":
            toxic, attributes = "bandwidth", {"rate": plan.param("rate")}
        elif plan.kind == "slicer":
            toxic = "slicer"
            attributes = {k: plan.param(k) for k in ("average_size", "size_variation", "delay")}
        elif plan.kind == "reset":
            toxic, attributes = "reset_peer", {"timeout": plan.param("timeout")}
            toxicity = plan.param("toxicity_pct", 100) / 100
        elif plan.kind == "blackhole":
            toxic, attributes = "timeout", {"timeout": plan.param("timeout")}
        else:
            raise ValueError(f"unknown fault {plan.kind}")
        fault.toxics = await topo.add_toxics(targets, toxic, attributes, toxicity)
        fault.detail.update({"toxic": toxic, "attributes": attributes, "links": len(links)})

    async def _heal(self, fault: ActiveFault) -> None:
        cluster = self.topology.cluster
        if fault.toxics:
            await self.topology.remove_toxics(fault.toxics)
        for node in fault.paused:
            cluster.resume(node)
        for node in fault.killed:
            cluster.start_node(node)
        for node in fault.disk:
            self.topology.free_disk(node)

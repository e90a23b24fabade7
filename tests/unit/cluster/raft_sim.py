"""A deterministic, in-process network for driving real pysyncobj members by hand.

Each member is a real ``HardenedSyncObj`` (or a variant with one fix undone)
with a real ``DurableJournal`` in a temp dir; only the transport is an
in-memory queue that the test delivers, drops, duplicates or replays at
will. Ticks are driven explicitly with ``doTick(0)``: no sockets, no sleeps.
Messages go through a msgpack round trip, as on the real cluster bus.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from pysyncobj import SyncObjConf
from pysyncobj.transport import Transport

from cluster.raft import HardenedSyncObj, ReplicatedClusterState
from cluster.raft_journal import DurableJournal
from cluster.raft_transport import RaftPeer


class SimNetwork:
    def __init__(self) -> None:
        self.transports: dict[int, SimTransport] = {}
        self.queue: list[tuple[int, int, dict[str, Any]]] = []
        self.sent: list[tuple[int, int, dict[str, Any]]] = []  # every message ever sent, for replays
        self.cut: set[tuple[int, int]] = set()  # (src, dst) links that drop messages
        self.down: set[int] = set()
        self.events: list[tuple[int, str]] = []  # (node, event) in order, for ordering assertions

    def send(self, src: int, dst: int, message: dict[str, Any]) -> bool:
        if src in self.down:
            return False
        wire = msgpack.unpackb(msgpack.packb(message, use_bin_type=True), raw=False, strict_map_key=False)
        self.sent.append((src, dst, wire))
        self.events.append((src, f"send:{message.get('type')}"))
        if (src, dst) in self.cut or dst in self.down:
            return True
        self.queue.append((src, dst, wire))
        return True

    def deliver_all(self, limit: int = 10_000) -> int:
        delivered = 0
        while self.queue and delivered < limit:
            src, dst, msg = self.queue.pop(0)
            self.deliver(src, dst, msg)
            delivered += 1
        return delivered

    def deliver(self, src: int, dst: int, message: dict[str, Any]) -> None:
        if dst in self.down or (src, dst) in self.cut:
            return
        transport = self.transports.get(dst)
        if transport is not None:
            transport.receive(src, message)

    def isolate(self, node_id: int) -> None:
        for other in self.transports:
            if other != node_id:
                self.cut.add((node_id, other))
                self.cut.add((other, node_id))

    def heal(self) -> None:
        self.cut.clear()


class SimTransport(Transport):
    def __init__(
        self, syncObj: Any, selfNode: Any, otherNodes: Any, *, network: SimNetwork, node_id: int
    ) -> None:
        super().__init__(syncObj, selfNode, otherNodes)
        self._network = network
        self._node_id = node_id
        self._peers = {int(n.id): n for n in otherNodes}
        network.transports[node_id] = self
        self._connected = False

    def connect_all(self) -> None:
        if not self._connected:
            self._connected = True
            for peer in self._peers.values():
                self._onNodeConnected(peer)

    def send(self, node: Any, message: Any) -> bool:
        return self._network.send(self._node_id, int(node.id), message)

    def receive(self, src: int, message: dict[str, Any]) -> None:
        self._onMessageReceived(self._peers[src], message)


def fast_conf(**overrides: Any) -> SyncObjConf:
    settings: dict[str, Any] = dict(
        password="sim-secret-for-tests",
        autoTick=False,
        useFork=False,
        appendEntriesUseBatch=True,
        appendEntriesPeriod=0.01,
        raftMinTimeout=0.05,
        raftMaxTimeout=0.1,
        connectionTimeout=3.5,
        leaderFallbackTimeout=30.0,
        dynamicMembershipChange=False,
        logCompactionMinEntries=1_000_000,
        logCompactionMinTime=10_000,
    )
    settings.update(overrides)
    return SyncObjConf(**settings)


class SimMember:
    def __init__(
        self,
        network: SimNetwork,
        node_id: int,
        ids: list[int],
        data_dir: Path,
        cls: type[HardenedSyncObj] = HardenedSyncObj,
        journal_cls: type[DurableJournal] = DurableJournal,
        conf: SyncObjConf | None = None,
    ) -> None:
        self.node_id = node_id
        self.applied = 0
        self.state = ReplicatedClusterState(self._count)
        self.journal = journal_cls(data_dir / f"n{node_id}" / "raft.journal")
        peers = [RaftPeer(i) for i in ids if i != node_id]

        def factory(sync: Any, self_node: Any, other: Any) -> SimTransport:
            return SimTransport(sync, self_node, other, network=network, node_id=node_id)

        self.sync = cls(RaftPeer(node_id), peers, conf or fast_conf(), [self.state], factory, self.journal)
        self.transport: SimTransport = network.transports[node_id]
        self.transport.connect_all()

    def _count(self) -> None:
        self.applied += 1

    def tick(self) -> None:
        self.sync.doTick(0.0)

    def propose(self, command: dict[str, Any], results: list[Any]) -> None:
        packed = msgpack.packb(command, use_bin_type=True)
        self.state.apply_command(packed, callback=lambda res, err: results.append((res, err)))

    def log_entries(self) -> list[tuple[bytes, int, int]]:
        return list(self.journal[:])

    def close(self) -> None:
        self.journal._destroy()


def run_rounds(
    members: list[SimMember], network: SimNetwork, rounds: int = 1, until: Callable[[], bool] | None = None
) -> int:
    """Tick every live member and deliver all messages, ``rounds`` times or until ``until()``."""
    for n in range(rounds):
        for member in members:
            if member.node_id not in network.down:
                member.tick()
        network.deliver_all()
        if until is not None and until():
            return n + 1
    return rounds


def run_until(
    members: list[SimMember], network: SimNetwork, until: Callable[[], bool], timeout_s: float = 10.0
) -> None:
    """Drive rounds until a condition holds; elections need real (monotonic) time to pass."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run_rounds(members, network, 1)
        if until():
            return
    raise AssertionError("simulation did not reach the condition in time")


def leader_of(members: list[SimMember], network: SimNetwork) -> SimMember | None:
    leaders = [m for m in members if m.node_id not in network.down and m.sync._isLeader()]
    return leaders[0] if len(leaders) == 1 else None

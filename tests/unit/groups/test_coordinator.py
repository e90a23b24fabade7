"""The group state machine without sockets: protocol steps, errors, timeouts, static members,
failover from the persisted record, and a seeded simulation of many clients with crashes."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from cluster.errors import ErrorCode
from node.groups.coordinator import Effect, Group, GroupConfig, GroupState, Persist, Reply

SESSION = 3000
REBALANCE = 5000
PROTO = [("range", b"sub")]


class Harness:
    """Feeds a Group, collects replies by token and persists records on request."""

    def __init__(self, config: GroupConfig | None = None, group: Group | None = None) -> None:
        ids = itertools.count(1)
        self.group = group or Group("g", config or GroupConfig(), lambda prefix: f"{prefix}-{next(ids)}")
        self.replies: dict[int, Reply] = {}
        self.persisted: list[Persist] = []
        self.tokens = itertools.count(1)
        self.now = 0
        self.auto_persist = True

    def apply(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Reply):
                assert e.token not in self.replies, f"token {e.token} answered twice"
                self.replies[e.token] = e
            else:
                self.persisted.append(e)
                if e.gate and self.auto_persist:
                    self.apply(self.group.persisted(e.generation, True, self.now))

    def join(
        self,
        member_id: str = "",
        instance_id: str | None = None,
        protocols: list[tuple[str, bytes]] = PROTO,
        session: int = SESSION,
    ) -> int:
        token = next(self.tokens)
        self.apply(
            self.group.join(
                token,
                self.now,
                member_id=member_id,
                instance_id=instance_id,
                client_id="c",
                client_host="h",
                session_timeout_ms=session,
                rebalance_timeout_ms=REBALANCE,
                protocol_type="consumer",
                protocols=protocols,
            )
        )
        return token

    def new_member(self) -> str:
        reply = self.replies[self.join()]
        assert reply.error == ErrorCode.MEMBER_ID_REQUIRED
        return str(reply.detail["member_id"])

    def sync(
        self,
        member_id: str,
        generation: int,
        assignments: dict[str, bytes] | None = None,
        instance_id: str | None = None,
    ) -> int:
        token = next(self.tokens)
        self.apply(
            self.group.sync(
                token,
                self.now,
                member_id=member_id,
                instance_id=instance_id,
                generation=generation,
                assignments=assignments,
            )
        )
        return token

    def tick(self, advance: int) -> None:
        self.now += advance
        self.apply(self.group.tick(self.now))

    def result(self, token: int) -> dict[str, Any]:
        reply = self.replies[token]
        assert reply.error == ErrorCode.NONE, reply
        assert reply.result is not None
        return reply.result


def _stable_pair(h: Harness) -> tuple[str, str, int]:
    """Two members in a Stable group: (leader, follower, generation)."""
    a = h.new_member()
    ja = h.join(a)
    gen = h.result(ja)["generation"]
    h.apply([])
    h.sync(a, gen, {a: b"A"})
    b = h.new_member()
    jb = h.join(b)
    assert jb not in h.replies and h.group.state == GroupState.PREPARING_REBALANCE
    assert h.group.heartbeat(h.now, member_id=a, instance_id=None, generation=gen) == ErrorCode.REBALANCE_IN_PROGRESS
    ja2 = h.join(a)
    leader_view, follower_view = h.result(ja2), h.result(jb)
    gen2 = leader_view["generation"]
    assert gen2 == gen + 1 == follower_view["generation"]
    assert leader_view["leader"] == a and {m[0] for m in leader_view["members"]} == {a, b}
    assert follower_view["members"] == []
    return a, b, gen2


def test_first_join_needs_a_member_id_then_completes_alone() -> None:
    h = Harness()
    member = h.new_member()
    assert h.group.state == GroupState.EMPTY and member in h.group.pending
    token = h.join(member)
    result = h.result(token)
    assert result["leader"] == member and result["generation"] == 1 and result["protocol"] == "range"
    assert h.group.state == GroupState.COMPLETING_REBALANCE
    sync = h.sync(member, 1, {member: b"mine"})
    assert h.result(sync)["assignment"] == b"mine" and h.group.state == GroupState.STABLE
    assert [p.generation for p in h.persisted if p.gate] == [1]


def test_followers_wait_for_the_leaders_sync_which_waits_for_the_record() -> None:
    h = Harness()
    h.auto_persist = False
    a, b, gen = _stable_pair(h)
    follower = h.sync(b, gen)
    assert follower not in h.replies
    leader = h.sync(a, gen, {a: b"0,1", b: b"2,3"})
    assert leader not in h.replies and h.group.state == GroupState.COMPLETING_REBALANCE
    persist = [p for p in h.persisted if p.gate][-1]
    assert persist.generation == gen and {m["id"] for m in persist.record["members"]} == {a, b}
    h.apply(h.group.persisted(gen, True, h.now))
    assert h.result(follower)["assignment"] == b"2,3" and h.result(leader)["assignment"] == b"0,1"
    assert h.group.state == GroupState.STABLE


def test_failed_persist_sends_members_back_to_join() -> None:
    h = Harness()
    h.auto_persist = False
    a, b, gen = _stable_pair(h)
    follower = h.sync(b, gen)
    h.sync(a, gen, {a: b"x", b: b"y"})
    h.apply(h.group.persisted(gen, False, h.now, ErrorCode.NOT_COORDINATOR))
    assert h.replies[follower].error == ErrorCode.NOT_COORDINATOR
    assert h.group.state == GroupState.PREPARING_REBALANCE


def test_commit_rules() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)

    def commit(member: str, generation: int) -> ErrorCode:
        return h.group.validate_commit(h.now, member_id=member, instance_id=None, generation=generation)

    assert commit(a, gen) == ErrorCode.REBALANCE_IN_PROGRESS  # CompletingRebalance
    h.sync(b, gen)
    h.sync(a, gen, {a: b"", b: b""})
    assert commit(a, gen) == ErrorCode.NONE
    assert commit(a, gen - 1) == ErrorCode.ILLEGAL_GENERATION
    assert commit("nobody", gen) == ErrorCode.UNKNOWN_MEMBER_ID
    assert commit("", -1) == ErrorCode.UNKNOWN_MEMBER_ID  # admin commits only into an empty group
    c = h.new_member()
    h.join(c)  # PreparingRebalance: members may still commit what they revoke
    assert commit(a, gen) == ErrorCode.NONE
    empty = Harness()
    assert empty.group.validate_commit(0, member_id="", instance_id=None, generation=-1) == ErrorCode.NONE


def test_a_silent_member_expires_and_the_rest_rebalance() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)
    h.sync(b, gen)
    h.sync(a, gen, {a: b"", b: b""})
    codes = []
    for _ in range(5):  # a heartbeats, b is silent
        h.now += SESSION // 3
        codes.append(h.group.heartbeat(h.now, member_id=a, instance_id=None, generation=gen))
        h.apply(h.group.tick(h.now))
    assert codes == [ErrorCode.NONE] * 3 + [ErrorCode.REBALANCE_IN_PROGRESS] * 2
    assert b not in h.group.members and h.group.state == GroupState.PREPARING_REBALANCE
    assert h.group.heartbeat(h.now, member_id=b, instance_id=None, generation=gen) == ErrorCode.UNKNOWN_MEMBER_ID
    rejoin = h.join(a)
    assert h.result(rejoin)["generation"] == gen + 1


def test_members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)
    h.sync(b, gen)
    h.sync(a, gen, {a: b"", b: b""})
    c = h.new_member()
    jc = h.join(c)
    ja = h.join(a)
    h.now += REBALANCE - 1
    assert h.group.heartbeat(h.now, member_id=b, instance_id=None, generation=gen) == ErrorCode.REBALANCE_IN_PROGRESS
    h.tick(1)
    assert set(h.group.members) == {a, c}
    assert h.result(ja)["generation"] == h.result(jc)["generation"] == gen + 1


def test_leaving_rebalances_and_the_last_one_out_empties_the_group() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)
    h.sync(b, gen)
    h.sync(a, gen, {a: b"", b: b""})
    codes, effects = h.group.leave(h.now, [(b, None)])
    h.apply(effects)
    assert codes == [ErrorCode.NONE] and h.group.state == GroupState.PREPARING_REBALANCE
    codes, effects = h.group.leave(h.now, [(a, None), ("ghost", None)])
    h.apply(effects)
    assert codes == [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]
    assert h.group.state == GroupState.EMPTY and h.group.is_empty
    assert h.persisted[-1].record["members"] == [] and not h.persisted[-1].gate


def test_parked_join_keeps_a_member_alive_until_its_connection_goes() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)
    h.sync(b, gen)
    h.sync(a, gen, {a: b"", b: b""})
    c = h.new_member()
    jc = h.join(c)  # parked: a and b have not rejoined
    h.tick(SESSION * 2 // 3)
    h.group.heartbeat(h.now, member_id=a, instance_id=None, generation=gen)
    h.group.heartbeat(h.now, member_id=b, instance_id=None, generation=gen)
    h.tick(SESSION * 2 // 3)
    assert c in h.group.members
    h.group.cancel(jc, h.now)
    h.tick(SESSION + 1)
    assert c not in h.group.members


def test_static_member_restart_keeps_its_assignment_without_a_rebalance() -> None:
    h = Harness()
    ja = h.join(instance_id="i-a")  # static members join at once
    a = h.result(ja)["member_id"]
    gen = h.result(ja)["generation"]
    h.sync(a, gen, {a: b"all"}, instance_id="i-a")
    jb = h.join(instance_id="i-b")
    b = next(m for m in h.group.members if m != a)
    ja2 = h.join(a, instance_id="i-a")
    gen = h.result(ja2)["generation"]
    assert h.result(jb)["generation"] == gen
    h.sync(b, gen, instance_id="i-b")
    h.sync(a, gen, {a: b"A", b: b"B"}, instance_id="i-a")
    assert h.group.state == GroupState.STABLE
    # b restarts: a join without member id but with its instance id
    restart = h.join(instance_id="i-b")
    view = h.result(restart)
    new_b = view["member_id"]
    assert new_b != b and view["generation"] == gen and h.group.state == GroupState.STABLE
    assert h.result(h.sync(new_b, gen, instance_id="i-b"))["assignment"] == b"B"
    fenced = h.group.heartbeat(h.now, member_id=b, instance_id="i-b", generation=gen)
    assert fenced == ErrorCode.FENCED_INSTANCE_ID
    assert h.group.heartbeat(h.now, member_id=a, instance_id="i-a", generation=gen) == ErrorCode.NONE
    # the leader restarting learns it leads but must not reassign
    leader_view = h.result(h.join(instance_id="i-a"))
    assert leader_view["skip_assignment"] is True and leader_view["leader"] == leader_view["member_id"]
    assert h.group.state == GroupState.STABLE and h.group.generation == gen


def test_a_new_coordinator_loads_the_stable_generation() -> None:
    h = Harness()
    a, b, gen = _stable_pair(h)
    h.sync(b, gen)
    h.sync(a, gen, {a: b"A", b: b"B"})
    record = [p for p in h.persisted if p.gate][-1].record
    loaded = Harness(group=Group.from_record("g", record, 50_000))
    loaded.now = 50_000
    g = loaded.group
    assert g.state == GroupState.STABLE and g.generation == gen and g.leader == a
    assert g.heartbeat(loaded.now, member_id=b, instance_id=None, generation=gen) == ErrorCode.NONE
    assert loaded.result(loaded.sync(b, gen))["assignment"] == b"B"
    assert g.validate_commit(loaded.now, member_id=a, instance_id=None, generation=gen) == ErrorCode.NONE
    loaded.tick(SESSION // 2)
    assert g.heartbeat(loaded.now, member_id=b, instance_id=None, generation=gen) == ErrorCode.NONE
    loaded.tick(SESSION // 2)  # a member that never comes back expires
    assert g.state == GroupState.PREPARING_REBALANCE and set(g.members) == {b}


def test_protocols_must_overlap_and_the_most_preferred_wins() -> None:
    h = Harness()
    a = h.new_member()
    h.join(a, protocols=[("range", b""), ("roundrobin", b"")])
    t = h.join(protocols=[("sticky", b"")])
    assert h.replies[t].error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    b = h.new_member()
    jb = h.join(b, protocols=[("roundrobin", b""), ("range", b"")])
    c = h.new_member()
    jc = h.join(c, protocols=[("roundrobin", b"")])
    h.join(a, protocols=[("range", b""), ("roundrobin", b"")])
    assert h.result(jb)["protocol"] == h.result(jc)["protocol"] == "roundrobin"


def test_session_timeout_bounds_and_group_size() -> None:
    h = Harness(GroupConfig(min_session_timeout_ms=1000, max_size=2))
    assert h.replies[h.join(session=10)].error == ErrorCode.INVALID_SESSION_TIMEOUT
    h.new_member()
    h.new_member()
    assert h.replies[h.join()].error == ErrorCode.GROUP_MAX_SIZE_REACHED


def test_initial_delay_collects_the_first_joiners() -> None:
    h = Harness(GroupConfig(initial_rebalance_delay_ms=300))
    a = h.new_member()
    ja = h.join(a)
    h.now += 200
    b = h.new_member()
    jb = h.join(b)
    h.tick(250)
    assert ja not in h.replies
    h.tick(100)
    assert h.result(ja)["generation"] == h.result(jb)["generation"] == 1


# --- a seeded simulation of many clients --------------------------------------------------------------
PARTITIONS = 12


@dataclass
class SimClient:
    name: str
    member_id: str = ""
    generation: int = -1
    phase: str = "idle"  # idle, joining, syncing, stable, dead
    token: int | None = None
    owned: set[int] = field(default_factory=set)
    next_heartbeat: int = 0


def _round_robin(members: list[str]) -> dict[str, bytes]:
    out: dict[str, list[int]] = {m: [] for m in members}
    for p in range(PARTITIONS):
        out[members[p % len(members)]].append(p)
    return {m: ",".join(map(str, ps)).encode() for m, ps in out.items()}


def _parse(data: bytes) -> set[int]:
    return {int(x) for x in data.decode().split(",") if x}


@pytest.mark.parametrize("seed", range(12))
def test_random_joins_crashes_and_leaves_converge(seed: int) -> None:
    rng = random.Random(seed)
    h = Harness(GroupConfig(initial_rebalance_delay_ms=rng.choice([0, 100])))
    h.auto_persist = False
    clients = [SimClient(f"c{i}") for i in range(rng.randint(2, 6))]
    pending_persists: list[Persist] = []

    def step(client: SimClient, chaos: bool) -> None:
        if client.phase == "dead":
            return
        if client.token is not None and client.token in h.replies:
            reply = h.replies.pop(client.token)
            client.token = None
            if client.phase == "joining":
                if reply.error == ErrorCode.MEMBER_ID_REQUIRED:
                    client.member_id = reply.detail["member_id"]
                    client.phase = "idle"
                elif reply.error == ErrorCode.NONE:
                    assert reply.result is not None
                    client.generation = reply.result["generation"]
                    client.member_id = reply.result["member_id"]
                    members = [m[0] for m in reply.result["members"]]
                    client.phase = "syncing"
                    client.token = h.sync(
                        client.member_id, client.generation, _round_robin(members) if members else None
                    )
                else:
                    if reply.error == ErrorCode.UNKNOWN_MEMBER_ID:
                        client.member_id = ""
                    client.phase = "idle"
            elif client.phase == "syncing":
                if reply.error == ErrorCode.NONE:
                    assert reply.result is not None
                    client.owned = _parse(reply.result["assignment"])
                    client.phase = "stable"
                    client.next_heartbeat = h.now
                else:
                    client.owned = set()
                    if reply.error == ErrorCode.UNKNOWN_MEMBER_ID:
                        client.member_id = ""
                    client.phase = "idle"
        if chaos and rng.random() < 0.01:
            client.phase = "dead"  # crash: no goodbye
            return
        if chaos and client.phase == "stable" and rng.random() < 0.01:
            _, effects = h.group.leave(h.now, [(client.member_id, None)])
            h.apply(effects)
            client.member_id, client.phase, client.owned = "", "idle", set()
            return
        if client.phase == "idle":
            client.owned = set()  # eager: give everything up before rejoining
            client.phase = "joining"
            client.token = h.join(client.member_id)
        elif client.phase == "stable" and h.now >= client.next_heartbeat:
            client.next_heartbeat = h.now + SESSION // 3
            code = h.group.heartbeat(h.now, member_id=client.member_id, instance_id=None, generation=client.generation)
            if code != ErrorCode.NONE:
                client.owned = set()
                if code == ErrorCode.UNKNOWN_MEMBER_ID:
                    client.member_id = ""
                client.phase = "idle"

    def check_ownership() -> None:
        current = [c for c in clients if c.phase == "stable" and c.generation == h.group.generation]
        seen: set[int] = set()
        for c in current:
            assert not (c.owned & seen), "two members of the current generation own one partition"
            seen |= c.owned

    for i in range(3000):
        chaos = i < 2000
        if chaos and rng.random() < 0.005:
            clients.append(SimClient(f"c{len(clients)}"))
        h.now += rng.randint(0, 60)
        for client in rng.sample(clients, len(clients)):
            step(client, chaos)
        h.apply(h.group.tick(h.now))
        pending_persists.extend(p for p in h.persisted if p.gate)
        h.persisted.clear()
        if pending_persists and rng.random() < 0.5:
            p = pending_persists.pop(0)
            h.apply(h.group.persisted(p.generation, True, h.now))
        check_ownership()
    for _ in range(200):  # quiet time: everything settles
        h.now += 100
        for client in clients:
            step(client, False)
        h.apply(h.group.tick(h.now))
        for p in [p for p in h.persisted if p.gate]:
            h.apply(h.group.persisted(p.generation, True, h.now))
        h.persisted.clear()
    alive = [c for c in clients if c.phase != "dead"]
    assert all(c.phase == "stable" for c in alive), [(c.name, c.phase) for c in alive]
    assert h.group.state == (GroupState.STABLE if alive else GroupState.EMPTY)
    assert {c.member_id for c in alive} == set(h.group.members)
    assert {c.generation for c in alive} <= {h.group.generation}
    if alive:
        assert set().union(*(c.owned for c in alive)) == set(range(PARTITIONS))
        check_ownership()

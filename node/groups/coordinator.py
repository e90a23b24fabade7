"""One consumer group's membership state machine (Kafka's classic group protocol), sans-I/O.

Inputs are requests with a caller-chosen ``token`` and the current time in
milliseconds (``now``); outputs are *effects*: :class:`Reply` (answer the
request waiting under that token, possibly an earlier one) and
:class:`Persist` (write the group's record durably). The asyncio shell
(``service.py``) owns sockets, clocks and the keyspace; this class owns every
decision, so tests drive it through thousands of steps without a network.

States (Kafka's names)::

    Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
      ^                    ^                                                    | leader's sync,
      |                    +-------- join / leave / expiry -------+             | record persisted
      +--- last member gone ---------------------------------------+-- Stable <-+
    Dead: deleted (or handed to another coordinator); answers nothing useful.

Rules worth knowing before the code:

* A dynamic member's first join gets ``MEMBER_ID_REQUIRED`` with its new id
  (KIP-394), so a join retried after a lost response can't leave an orphan
  member that the rebalance waits for.
* PreparingRebalance completes when every member (and every member id handed
  out) has a join parked here, or when the longest rebalance timeout runs
  out: then dynamic members that did not rejoin are removed (static ones
  stay, with their last subscription, until their session expires). An
  empty group waits ``initial_rebalance_delay_ms`` for more first joiners.
* The leader computes the assignment (client-side assignors); its sync moves
  the group to Stable only after the record of the new generation is
  persisted (Kafka's storeGroup), so a coordinator elected after a failover
  loads who is in the group and members carry on without rebalancing.
* A member with a join or sync parked here is alive; otherwise its session
  ends ``session_timeout_ms`` after its last heartbeat, join, sync or commit.
* Static membership (KIP-345): a join with a known ``group.instance.id`` and
  no member id replaces the old member (its requests are fenced from then on)
  and, in a Stable group whose protocol would not change, gets the current
  generation back without a rebalance; its sync returns the old assignment.
* Commits (Kafka's doCommitOffsets): from any member of the current
  generation in Stable or PreparingRebalance (members commit what they are
  revoking before they rejoin); ``REBALANCE_IN_PROGRESS`` in
  CompletingRebalance; a generation below zero only into an Empty group
  (admin tools, simple consumers); stale generations ``ILLEGAL_GENERATION``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cluster.errors import ErrorCode


class GroupState(StrEnum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(frozen=True)
class GroupConfig:
    min_session_timeout_ms: int = 500
    max_session_timeout_ms: int = 1_800_000
    max_rebalance_timeout_ms: int = 1_800_000
    initial_rebalance_delay_ms: int = 0
    max_size: int = 1000

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> GroupConfig:
        d = cls()
        return cls(
            min_session_timeout_ms=int(extra.get("group.min.session.timeout.ms", d.min_session_timeout_ms)),
            max_session_timeout_ms=int(extra.get("group.max.session.timeout.ms", d.max_session_timeout_ms)),
            max_rebalance_timeout_ms=int(extra.get("group.max.rebalance.timeout.ms", d.max_rebalance_timeout_ms)),
            initial_rebalance_delay_ms=int(extra.get("group.initial.rebalance.delay.ms", d.initial_rebalance_delay_ms)),
            max_size=int(extra.get("group.max.size", d.max_size)),
        )


@dataclass(frozen=True)
class Reply:
    """Answer the request parked under ``token``."""

    token: int
    error: ErrorCode = ErrorCode.NONE
    result: dict[str, Any] | None = None
    message: str = ""
    detail: Any = None


@dataclass(frozen=True)
class Persist:
    """Write ``record`` as the group's durable state; with ``gate``, call
    :meth:`Group.persisted` with the outcome (syncs of ``generation`` wait for it)."""

    generation: int
    record: dict[str, Any]
    gate: bool


Effect = Reply | Persist
Protocols = list[tuple[str, bytes]]


@dataclass
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: Protocols
    last_heartbeat_ms: int
    assignment: bytes = b""
    join_token: int | None = None
    sync_token: int | None = None

    @property
    def parked(self) -> bool:
        return self.join_token is not None or self.sync_token is not None

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str | None) -> bytes:
        for name, data in self.protocols:
            if name == protocol:
                return data
        return b""

    def session_deadline(self) -> int:
        return self.last_heartbeat_ms + self.session_timeout_ms


def _default_ids(prefix: str) -> str:
    return f"{prefix or 'member'}-{uuid.uuid4().hex}"


@dataclass
class Group:
    group_id: str
    config: GroupConfig = field(default_factory=GroupConfig)
    new_member_id: Callable[[str], str] = _default_ids
    state: GroupState = GroupState.EMPTY
    generation: int = 0
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    static: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    pending: dict[str, int] = field(default_factory=dict)  # member ids handed out, not yet joined -> deadline
    rebalance_reason: str = ""
    rebalance_deadline: int | None = None
    join_not_before: int | None = None
    _persisting: int | None = None
    _pending_assignment: dict[str, bytes] | None = None

    # --- queries -------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return self.state in (GroupState.EMPTY, GroupState.DEAD)

    def next_deadline(self) -> int | None:
        """The earliest time :meth:`tick` has something to do."""
        times = list(self.pending.values())
        times.extend(m.session_deadline() for m in self.members.values() if not m.parked)
        if self.state == GroupState.PREPARING_REBALANCE:
            if self.rebalance_deadline is not None:
                times.append(self.rebalance_deadline)
            if self.join_not_before is not None:
                times.append(self.join_not_before)
        return min(times) if times else None

    def describe(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "state": self.state.value,
            "generation": self.generation,
            "protocol_type": self.protocol_type,
            "protocol": self.protocol,
            "leader": self.leader,
            "rebalance_reason": self.rebalance_reason,
            "members": [
                {
                    "member_id": m.member_id,
                    "group_instance_id": m.instance_id,
                    "client_id": m.client_id,
                    "client_host": m.client_host,
                    "session_timeout_ms": m.session_timeout_ms,
                    "rebalance_timeout_ms": m.rebalance_timeout_ms,
                    "assignment": m.assignment,
                    "metadata": m.metadata(self.protocol),
                }
                for m in self.members.values()
            ],
        }

    # --- durable record --------------------------------------------------------------------------
    def record(self, assignments: dict[str, bytes] | None = None) -> dict[str, Any]:
        return {
            "v": 1,
            "generation": self.generation,
            "protocol_type": self.protocol_type,
            "protocol": self.protocol,
            "leader": self.leader,
            "members": [
                {
                    "id": m.member_id,
                    "instance": m.instance_id,
                    "client_id": m.client_id,
                    "host": m.client_host,
                    "session": m.session_timeout_ms,
                    "rebalance": m.rebalance_timeout_ms,
                    "protocols": [[n, d] for n, d in m.protocols],
                    "assignment": (assignments or {}).get(m.member_id, m.assignment),
                }
                for m in self.members.values()
            ],
        }

    @classmethod
    def from_record(
        cls,
        group_id: str,
        record: dict[str, Any],
        now: int,
        config: GroupConfig | None = None,
        new_member_id: Callable[[str], str] = _default_ids,
    ) -> Group:
        """The group as persisted by a previous coordinator: members get a fresh session."""
        group = cls(group_id, config or GroupConfig(), new_member_id)
        group.generation = int(record.get("generation", 0))
        group.protocol_type = record.get("protocol_type")
        group.protocol = record.get("protocol")
        for raw in record.get("members") or []:
            member = Member(
                member_id=str(raw["id"]),
                instance_id=raw.get("instance"),
                client_id=str(raw.get("client_id", "")),
                client_host=str(raw.get("host", "")),
                session_timeout_ms=int(raw["session"]),
                rebalance_timeout_ms=int(raw["rebalance"]),
                protocols=[(str(n), bytes(d)) for n, d in raw.get("protocols") or []],
                last_heartbeat_ms=now,
                assignment=bytes(raw.get("assignment") or b""),
            )
            group.members[member.member_id] = member
            if member.instance_id is not None:
                group.static[member.instance_id] = member.member_id
        if group.members:
            group.state = GroupState.STABLE
            leader = record.get("leader")
            group.leader = leader if leader in group.members else next(iter(group.members))
        else:
            group.protocol = None
        return group

    # --- join ---------------------------------------------------------------------------------------
    def join(
        self,
        token: int,
        now: int,
        *,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
    ) -> list[Effect]:
        cfg = self.config
        if self.state == GroupState.DEAD:
            return [Reply(token, ErrorCode.COORDINATOR_NOT_AVAILABLE, message="the group is being deleted or moved")]
        if not cfg.min_session_timeout_ms <= session_timeout_ms <= cfg.max_session_timeout_ms:
            return [
                Reply(
                    token,
                    ErrorCode.INVALID_SESSION_TIMEOUT,
                    message=f"session timeout must be within [{cfg.min_session_timeout_ms}, "
                    f"{cfg.max_session_timeout_ms}] ms",
                )
            ]
        if not 0 < rebalance_timeout_ms <= cfg.max_rebalance_timeout_ms:
            return [
                Reply(
                    token,
                    ErrorCode.INVALID_REQUEST,
                    message=f"rebalance timeout must be within [1, {cfg.max_rebalance_timeout_ms}] ms",
                )
            ]
        names = [name for name, _ in protocols]
        if not protocols or not protocol_type or len(set(names)) != len(names):
            return [Reply(token, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, message="no protocols, or one offered twice")]
        if not self._supports(protocol_type, names, excluding=member_id):
            return [
                Reply(
                    token,
                    ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
                    message="none of the member's protocols is supported by every member",
                )
            ]
        args = (client_id, client_host, session_timeout_ms, rebalance_timeout_ms, protocol_type, protocols)
        if not member_id:
            if instance_id is not None and instance_id in self.static:
                return self._replace_static(token, now, instance_id, *args)
            if len(self.members) + len(self.pending) >= cfg.max_size:
                return [Reply(token, ErrorCode.GROUP_MAX_SIZE_REACHED, message=f"the group has {cfg.max_size} members")]
            new_id = self.new_member_id(instance_id or client_id)
            if instance_id is not None:  # static members join at once
                return self._add_member(token, now, new_id, instance_id, *args)
            self.pending[new_id] = now + session_timeout_ms
            return [
                Reply(
                    token,
                    ErrorCode.MEMBER_ID_REQUIRED,
                    message="rejoin with the member id given",
                    detail={"member_id": new_id},
                )
            ]
        if member_id in self.pending:
            del self.pending[member_id]
            return self._add_member(token, now, member_id, instance_id, *args)
        error = self._check_member(member_id, instance_id)
        if error is not None:
            return [Reply(token, error)]
        return self._update_member(token, now, self.members[member_id], *args)

    def _supports(self, protocol_type: str, names: list[str], excluding: str) -> bool:
        others = [m for mid, m in self.members.items() if mid != excluding]
        if not others:
            return True
        if protocol_type != self.protocol_type:
            return False
        common = set(others[0].protocol_names())
        for m in others[1:]:
            common &= set(m.protocol_names())
        return bool(common & set(names))

    def _check_member(self, member_id: str, instance_id: str | None) -> ErrorCode | None:
        if instance_id is not None:
            current = self.static.get(instance_id)
            if current is not None and current != member_id:
                return ErrorCode.FENCED_INSTANCE_ID
        member = self.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if member.instance_id is not None and member.instance_id != instance_id:
            return ErrorCode.FENCED_INSTANCE_ID
        return None

    def _add_member(
        self,
        token: int,
        now: int,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
    ) -> list[Effect]:
        if not self.members:
            self.protocol_type = protocol_type
        member = Member(
            member_id,
            instance_id,
            client_id,
            client_host,
            session_timeout_ms,
            rebalance_timeout_ms,
            list(protocols),
            now,
            join_token=token,
        )
        self.members[member_id] = member
        if instance_id is not None:
            self.static[instance_id] = member_id
        if self.leader is None:
            self.leader = member_id
        effects: list[Effect] = []
        if self.state == GroupState.PREPARING_REBALANCE:
            if self.join_not_before is not None and self.rebalance_deadline is not None:
                # the initial delay: each new member extends it, up to the rebalance timeout
                self.join_not_before = min(now + self.config.initial_rebalance_delay_ms, self.rebalance_deadline)
        else:
            effects += self._prepare_rebalance(now, f"member {member_id} joined")
        return effects + self._maybe_complete_join(now)

    def _update_member(
        self,
        token: int,
        now: int,
        member: Member,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
    ) -> list[Effect]:
        changed = member.protocols != list(protocols)
        member.protocols = list(protocols)
        member.client_id, member.client_host = client_id, client_host
        member.session_timeout_ms, member.rebalance_timeout_ms = session_timeout_ms, rebalance_timeout_ms
        member.last_heartbeat_ms = now
        effects: list[Effect] = []
        if member.join_token is not None and member.join_token != token:
            effects.append(
                Reply(member.join_token, ErrorCode.REBALANCE_IN_PROGRESS, message="superseded by a new join")
            )
            member.join_token = None
        if self.state == GroupState.PREPARING_REBALANCE:
            member.join_token = token
            return effects + self._maybe_complete_join(now)
        if self.state == GroupState.COMPLETING_REBALANCE and not changed:
            # it missed the join response: send the current generation again
            return [*effects, Reply(token, result=self._join_result(member))]
        if self.state == GroupState.STABLE and not changed and member.member_id != self.leader:
            return [*effects, Reply(token, result=self._join_result(member))]
        # Stable with a leader rejoining (it may have seen topic metadata change) or new metadata;
        # CompletingRebalance with new metadata: a new generation is needed.
        member.join_token = token
        effects += self._prepare_rebalance(
            now,
            f"member {member.member_id} rejoined with new metadata"
            if changed
            else f"leader {member.member_id} rejoined",
        )
        return effects + self._maybe_complete_join(now)

    def _replace_static(
        self,
        token: int,
        now: int,
        instance_id: str,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
    ) -> list[Effect]:
        old_id = self.static[instance_id]
        member = self.members.pop(old_id)
        effects: list[Effect] = []
        for parked in (member.join_token, member.sync_token):
            if parked is not None:
                effects.append(Reply(parked, ErrorCode.FENCED_INSTANCE_ID, message=f"{instance_id} joined again"))
        member.join_token = member.sync_token = None
        new_id = self.new_member_id(instance_id)
        member.member_id = new_id
        member.protocols = list(protocols)
        member.client_id, member.client_host = client_id, client_host
        member.session_timeout_ms, member.rebalance_timeout_ms = session_timeout_ms, rebalance_timeout_ms
        member.last_heartbeat_ms = now
        self.members[new_id] = member
        self.static[instance_id] = new_id
        if self.leader == old_id:
            self.leader = new_id
        if self.state == GroupState.STABLE and self._select_protocol() == self.protocol:
            # KIP-345: the restarted instance takes its old place; nobody else notices
            effects.append(Reply(token, result=self._join_result(member, skip_assignment=new_id == self.leader)))
            effects.append(Persist(self.generation, self.record(), gate=False))
            return effects
        member.join_token = token
        if self.state != GroupState.PREPARING_REBALANCE:
            effects += self._prepare_rebalance(now, f"static member {instance_id} rejoined during a rebalance")
        return effects + self._maybe_complete_join(now)

    def _join_result(self, member: Member, skip_assignment: bool = False) -> dict[str, Any]:
        is_leader = member.member_id == self.leader
        return {
            "generation": self.generation,
            "protocol_type": self.protocol_type,
            "protocol": self.protocol,
            "leader": self.leader,
            "member_id": member.member_id,
            "skip_assignment": skip_assignment,
            "members": [[m.member_id, m.instance_id, m.metadata(self.protocol)] for m in self.members.values()]
            if is_leader
            else [],
        }

    # --- rebalance ----------------------------------------------------------------------------------
    def _prepare_rebalance(self, now: int, reason: str) -> list[Effect]:
        effects: list[Effect] = []
        if self.state == GroupState.COMPLETING_REBALANCE:
            for m in self.members.values():
                if m.sync_token is not None:
                    effects.append(Reply(m.sync_token, ErrorCode.REBALANCE_IN_PROGRESS, message=reason))
                    m.sync_token = None
            self._persisting = None
            self._pending_assignment = None
        was_empty = self.state == GroupState.EMPTY
        self.state = GroupState.PREPARING_REBALANCE
        self.rebalance_reason = reason
        timeout = max((m.rebalance_timeout_ms for m in self.members.values()), default=0)
        self.rebalance_deadline = now + timeout
        delay = self.config.initial_rebalance_delay_ms
        self.join_not_before = now + min(delay, timeout) if was_empty and delay > 0 else None
        return effects

    def _all_joined(self) -> bool:
        return not self.pending and all(m.join_token is not None for m in self.members.values())

    def _maybe_complete_join(self, now: int) -> list[Effect]:
        if self.state != GroupState.PREPARING_REBALANCE:
            return []
        if self.rebalance_deadline is not None and now >= self.rebalance_deadline:
            return self._complete_join(now)
        if self._all_joined() and (self.join_not_before is None or now >= self.join_not_before):
            return self._complete_join(now)
        return []

    def _complete_join(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        for member_id, m in list(self.members.items()):
            if m.join_token is None and m.instance_id is None:
                effects += self._remove(member_id, "did not rejoin within the rebalance timeout")
        self.generation += 1
        self.rebalance_deadline = self.join_not_before = None
        if not self.members:
            self.state = GroupState.EMPTY
            self.protocol = None
            self.leader = None
            effects.append(Persist(self.generation, self.record(), gate=False))
            return effects
        self.protocol = self._select_protocol()
        joined = [m for m in self.members.values() if m.join_token is not None]
        if self.leader not in self.members or self.members[self.leader].join_token is None:
            self.leader = joined[0].member_id if joined else next(iter(self.members))
        self.state = GroupState.COMPLETING_REBALANCE
        for m in joined:
            assert m.join_token is not None
            effects.append(Reply(m.join_token, result=self._join_result(m)))
            m.join_token = None
            m.last_heartbeat_ms = now
        return effects

    def _select_protocol(self) -> str | None:
        """Of the protocols every member supports, the one most members prefer (first listed)."""
        members = list(self.members.values())
        if not members:
            return None
        common = set(members[0].protocol_names())
        for m in members[1:]:
            common &= set(m.protocol_names())
        if not common:
            return None
        votes: dict[str, int] = dict.fromkeys(common, 0)
        for m in members:
            votes[next(n for n in m.protocol_names() if n in common)] += 1
        order = {name: i for i, name in enumerate(members[0].protocol_names())}
        return min(common, key=lambda name: (-votes[name], order[name]))

    # --- sync ------------------------------------------------------------------------------------------
    def sync(
        self,
        token: int,
        now: int,
        *,
        member_id: str,
        instance_id: str | None,
        generation: int,
        assignments: dict[str, bytes] | None,
    ) -> list[Effect]:
        if self.state == GroupState.DEAD:
            return [Reply(token, ErrorCode.COORDINATOR_NOT_AVAILABLE)]
        error = self._check_member(member_id, instance_id)
        if error is not None:
            return [Reply(token, error)]
        if generation != self.generation:
            return [Reply(token, ErrorCode.ILLEGAL_GENERATION, message=f"generation is {self.generation}")]
        member = self.members[member_id]
        if self.state == GroupState.PREPARING_REBALANCE:
            return [Reply(token, ErrorCode.REBALANCE_IN_PROGRESS)]
        member.last_heartbeat_ms = now
        if self.state == GroupState.STABLE:
            return [Reply(token, result=self._sync_result(member))]
        # CompletingRebalance
        effects: list[Effect] = []
        if member.sync_token is not None and member.sync_token != token:
            effects.append(Reply(member.sync_token, ErrorCode.REBALANCE_IN_PROGRESS, message="superseded"))
        member.sync_token = token
        if member_id == self.leader and self._persisting is None:
            given = assignments or {}
            self._pending_assignment = {mid: bytes(given.get(mid, b"")) for mid in self.members}
            self._persisting = self.generation
            effects.append(Persist(self.generation, self.record(self._pending_assignment), gate=True))
        return effects

    def _sync_result(self, member: Member) -> dict[str, Any]:
        return {"generation": self.generation, "protocol": self.protocol, "assignment": member.assignment}

    def persisted(self, generation: int, ok: bool, now: int, error: ErrorCode = ErrorCode.NONE) -> list[Effect]:
        """The outcome of a gated :class:`Persist`."""
        if self._persisting != generation or self.state != GroupState.COMPLETING_REBALANCE:
            return []  # a newer rebalance overtook it
        self._persisting = None
        assignment, self._pending_assignment = self._pending_assignment or {}, None
        effects: list[Effect] = []
        if not ok:
            for m in self.members.values():
                if m.sync_token is not None:
                    effects.append(
                        Reply(
                            m.sync_token,
                            error or ErrorCode.COORDINATOR_NOT_AVAILABLE,
                            message="storing the group failed",
                        )
                    )
                    m.sync_token = None
            return effects + self._prepare_rebalance(now, "storing the assignment failed")
        for member_id, data in assignment.items():
            if member_id in self.members:
                self.members[member_id].assignment = data
        self.state = GroupState.STABLE
        for m in self.members.values():
            if m.sync_token is not None:
                effects.append(Reply(m.sync_token, result=self._sync_result(m)))
                m.sync_token = None
                m.last_heartbeat_ms = now
        return effects

    # --- heartbeat, commit, leave ------------------------------------------------------------------------
    def heartbeat(self, now: int, *, member_id: str, instance_id: str | None, generation: int) -> ErrorCode:
        if self.state == GroupState.DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        error = self._check_member(member_id, instance_id)
        if error is not None:
            return error
        self.members[member_id].last_heartbeat_ms = now
        if self.state == GroupState.PREPARING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        if generation != self.generation:
            # CompletingRebalance: a static member that did not rejoin must now
            return (
                ErrorCode.REBALANCE_IN_PROGRESS
                if self.state == GroupState.COMPLETING_REBALANCE
                else (ErrorCode.ILLEGAL_GENERATION)
            )
        return ErrorCode.NONE

    def validate_commit(self, now: int, *, member_id: str, instance_id: str | None, generation: int) -> ErrorCode:
        """May this member commit offsets now? (The shell writes them if so.)"""
        if self.state == GroupState.DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if generation < 0 and self.state == GroupState.EMPTY:
            return ErrorCode.NONE
        if self.state == GroupState.COMPLETING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        error = self._check_member(member_id, instance_id)
        if error is not None:
            return error
        if generation != self.generation:
            return ErrorCode.ILLEGAL_GENERATION
        self.members[member_id].last_heartbeat_ms = now
        return ErrorCode.NONE

    def leave(self, now: int, leaving: Sequence[tuple[str, str | None]]) -> tuple[list[ErrorCode], list[Effect]]:
        """Members leaving (by member id, or by instance id alone for static ones)."""
        codes: list[ErrorCode] = []
        effects: list[Effect] = []
        removed = False
        for member_id, instance_id in leaving:
            if self.state == GroupState.DEAD:
                codes.append(ErrorCode.COORDINATOR_NOT_AVAILABLE)
                continue
            if not member_id and instance_id is not None:
                member_id = self.static.get(instance_id, "")
            if member_id in self.pending:
                del self.pending[member_id]
                codes.append(ErrorCode.NONE)
                continue
            error = self._check_member(member_id, instance_id)
            if error is not None:
                codes.append(error)
                continue
            effects += self._remove(member_id, "left the group")
            removed = True
            codes.append(ErrorCode.NONE)
        if removed:
            if self.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
                effects += self._prepare_rebalance(now, "a member left the group")
            effects += self._maybe_complete_join(now)
        return codes, effects

    def _remove(self, member_id: str, why: str) -> list[Effect]:
        member = self.members.pop(member_id)
        if member.instance_id is not None and self.static.get(member.instance_id) == member_id:
            del self.static[member.instance_id]
        effects: list[Effect] = []
        for parked in (member.join_token, member.sync_token):
            if parked is not None:
                effects.append(Reply(parked, ErrorCode.UNKNOWN_MEMBER_ID, message=f"removed: {why}"))
        if self.leader == member_id:
            self.leader = next(iter(self.members), None)
        return effects

    # --- time and connections ------------------------------------------------------------------------------
    def tick(self, now: int) -> list[Effect]:
        """Expire sessions and handed-out member ids; finish a rebalance whose time is up."""
        effects: list[Effect] = []
        for member_id in [mid for mid, deadline in self.pending.items() if now >= deadline]:
            del self.pending[member_id]
        expired = [mid for mid, m in self.members.items() if not m.parked and now >= m.session_deadline()]
        for member_id in expired:
            effects += self._remove(member_id, "session timed out")
        if expired and self.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            effects += self._prepare_rebalance(now, f"session of {', '.join(expired)} timed out")
        return effects + self._maybe_complete_join(now)

    def cancel(self, token: int, now: int) -> None:
        """The connection a join or sync was parked on is gone: the member's session runs again."""
        for m in self.members.values():
            if token in (m.join_token, m.sync_token):
                if m.join_token == token:
                    m.join_token = None
                else:
                    m.sync_token = None
                m.last_heartbeat_ms = now

    def parked_tokens(self) -> list[int]:
        return [t for m in self.members.values() for t in (m.join_token, m.sync_token) if t is not None]

    def close(self, error: ErrorCode, message: str = "") -> list[Effect]:
        """This coordinator lets go of the group (deleted, or coordination moved): fail what is parked."""
        effects: list[Effect] = [Reply(t, error, message=message) for t in self.parked_tokens()]
        for m in self.members.values():
            m.join_token = m.sync_token = None
        self.state = GroupState.DEAD
        return effects


_tokens = itertools.count(1)


def next_token() -> int:
    return next(_tokens)

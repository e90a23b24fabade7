"""Partition assignors: pure functions the group leader runs (Kafka's client-side assignment).

Every assignor maps ``{topic: partition count}`` and the members'
subscriptions to ``{member_id: [partitions]}`` such that every partition of a
subscribed topic goes to exactly one member subscribed to its topic. They
differ in what else they promise:

* ``range``: per topic, consecutive ranges of partitions to the members in
  order (static members by ``group.instance.id``, then member id): members
  subscribed to the same topics get the same partition numbers of each.
* ``roundrobin``: all partitions, sorted, dealt round the members.
* ``cooperative-sticky``: balanced (member counts differ by at most one when
  everybody subscribes to the same topics) while keeping every partition that
  does not have to move with the member that owns it; and **incremental**: a
  partition moving from A to B is left out of this round's assignment
  altogether. A revokes it and rejoins; the next round gives it to B. So no
  partition has two owners at any moment, and members keep consuming the
  partitions they keep during the whole rebalance. Range and roundrobin are
  *eager*: members give up everything before rejoining.

The sticky algorithm. (1) Every member keeps the partitions it validly owns
(still exist, still subscribed; a partition claimed by two members goes to
the claim from the newer generation). (2) Unowned partitions go one by one to
the least loaded eligible member. (3) While some member has two more
partitions than another member eligible for one of them, move one across,
preferring a partition the giver did not own before this round (moving it
costs no revocation). Step (3) only ever takes from the most loaded members
and gives to the least loaded, so a member never gives up an owned partition
while receiving another, and no more partitions move than balance needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from client.records import TopicPartition
from node.groups.protocol import Subscription, sorted_tps


@dataclass(frozen=True)
class MemberSubscription:
    member_id: str
    subscription: Subscription
    instance_id: str | None = None

    @property
    def sort_key(self) -> tuple[int, str]:
        """Kafka's order: static members (by instance id) first, then dynamic ones by member id."""
        return (0, self.instance_id) if self.instance_id else (1, self.member_id)


Assignments = dict[str, list[TopicPartition]]


class Assignor(ABC):
    name: str = ""
    cooperative: bool = False

    @abstractmethod
    def assign(self, partitions_per_topic: Mapping[str, int], members: Sequence[MemberSubscription]) -> Assignments:
        """``{member_id: sorted partitions}`` with an entry for every member."""


def _ordered(members: Sequence[MemberSubscription]) -> list[MemberSubscription]:
    return sorted(members, key=lambda m: m.sort_key)


class RangeAssignor(Assignor):
    name = "range"

    def assign(self, partitions_per_topic: Mapping[str, int], members: Sequence[MemberSubscription]) -> Assignments:
        out: Assignments = {m.member_id: [] for m in members}
        ordered = _ordered(members)
        topics = sorted({t for m in members for t in m.subscription.topics if t in partitions_per_topic})
        for topic in topics:
            count = partitions_per_topic[topic]
            subscribed = [m for m in ordered if topic in m.subscription.topics]
            per, extra = divmod(count, len(subscribed))
            start = 0
            for i, member in enumerate(subscribed):
                length = per + (1 if i < extra else 0)
                out[member.member_id].extend(TopicPartition(topic, p) for p in range(start, start + length))
                start += length
        return {m: sorted_tps(tps) for m, tps in out.items()}


class RoundRobinAssignor(Assignor):
    name = "roundrobin"

    def assign(self, partitions_per_topic: Mapping[str, int], members: Sequence[MemberSubscription]) -> Assignments:
        out: Assignments = {m.member_id: [] for m in members}
        ordered = _ordered(members)
        if not ordered:
            return out
        topics = sorted({t for m in members for t in m.subscription.topics if t in partitions_per_topic})
        cursor = 0
        for topic in topics:
            for partition in range(partitions_per_topic[topic]):
                for step in range(len(ordered)):  # the next member (circularly) subscribed to the topic
                    member = ordered[(cursor + step) % len(ordered)]
                    if topic in member.subscription.topics:
                        out[member.member_id].append(TopicPartition(topic, partition))
                        cursor = (cursor + step + 1) % len(ordered)
                        break
        return {m: sorted_tps(tps) for m, tps in out.items()}


class CooperativeStickyAssignor(Assignor):
    name = "cooperative-sticky"
    cooperative = True

    def assign(self, partitions_per_topic: Mapping[str, int], members: Sequence[MemberSubscription]) -> Assignments:
        target, previous_owner = sticky_assignment(partitions_per_topic, members)
        # Incremental: a partition changing hands is withheld this round (its owner revokes it first).
        out: Assignments = {}
        for member_id, tps in target.items():
            out[member_id] = sorted_tps(tp for tp in tps if previous_owner.get(tp, member_id) == member_id)
        return out


def _eligible(member: MemberSubscription, tp: TopicPartition, partitions_per_topic: Mapping[str, int]) -> bool:
    return tp.topic in member.subscription.topics and 0 <= tp.partition < partitions_per_topic.get(tp.topic, 0)


def sticky_assignment(
    partitions_per_topic: Mapping[str, int], members: Sequence[MemberSubscription]
) -> tuple[dict[str, set[TopicPartition]], dict[TopicPartition, str]]:
    """The balanced target assignment, and who validly owns each partition now."""
    ordered = _ordered(members)
    rank = {m.member_id: i for i, m in enumerate(ordered)}
    # (1) valid ownership; a partition claimed twice goes to the newest generation's claim
    claims: dict[TopicPartition, tuple[int, int, str]] = {}
    for m in ordered:
        for tp in m.subscription.owned:
            if not _eligible(m, tp, partitions_per_topic):
                continue
            claim = (m.subscription.generation, -rank[m.member_id], m.member_id)
            if tp not in claims or claim > claims[tp]:
                claims[tp] = claim
    owner = {tp: claim[2] for tp, claim in claims.items()}
    assignment: dict[str, set[TopicPartition]] = {m.member_id: set() for m in ordered}
    for tp, member_id in owner.items():
        assignment[member_id].add(tp)
    # (2) unowned partitions to the least loaded eligible member
    topics = sorted({t for m in ordered for t in m.subscription.topics if t in partitions_per_topic})
    for topic in topics:
        for partition in range(partitions_per_topic[topic]):
            tp = TopicPartition(topic, partition)
            if tp in owner:
                continue
            candidates = [m for m in ordered if topic in m.subscription.topics]
            if candidates:
                chosen = min(candidates, key=lambda m: (len(assignment[m.member_id]), rank[m.member_id]))
                assignment[chosen.member_id].add(tp)
    # (3) balance: move from the most loaded to the least loaded while they differ by two or more
    total = sum(len(tps) for tps in assignment.values())
    for _ in range(total * max(1, len(ordered)) + 1):
        move = _find_move(ordered, assignment, owner, partitions_per_topic, rank)
        if move is None:
            break
        giver, taker, tp = move
        assignment[giver].discard(tp)
        assignment[taker].add(tp)
    else:  # pragma: no cover - every move lowers the sum of squared counts
        raise AssertionError("sticky balancing did not converge")
    return assignment, owner


def _find_move(
    ordered: list[MemberSubscription],
    assignment: dict[str, set[TopicPartition]],
    owner: dict[TopicPartition, str],
    partitions_per_topic: Mapping[str, int],
    rank: dict[str, int],
) -> tuple[str, str, TopicPartition] | None:
    givers = sorted(ordered, key=lambda m: (-len(assignment[m.member_id]), rank[m.member_id]))
    takers = sorted(ordered, key=lambda m: (len(assignment[m.member_id]), rank[m.member_id]))
    for giver in givers:
        have = len(assignment[giver.member_id])
        for taker in takers:
            if len(assignment[taker.member_id]) + 1 >= have:
                break
            movable = [tp for tp in assignment[giver.member_id] if _eligible(taker, tp, partitions_per_topic)]
            if not movable:
                continue
            # prefer what the giver got this round (free to move), then the highest partition
            movable.sort(key=lambda tp: (owner.get(tp) == giver.member_id, tp.topic, -tp.partition))
            return giver.member_id, taker.member_id, movable[0]
    return None


ASSIGNORS: dict[str, type[Assignor]] = {
    RangeAssignor.name: RangeAssignor,
    RoundRobinAssignor.name: RoundRobinAssignor,
    CooperativeStickyAssignor.name: CooperativeStickyAssignor,
}


def get_assignor(name: str) -> Assignor:
    try:
        return ASSIGNORS[name]()
    except KeyError:
        raise ValueError(f"unknown assignor {name!r}; known: {', '.join(sorted(ASSIGNORS))}") from None

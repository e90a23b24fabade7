"""Assignors: validity for every assignor, balance, stickiness and two-phase cooperative revocation."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from client.records import TopicPartition
from node.groups.assignors import (
    CooperativeStickyAssignor,
    MemberSubscription,
    RangeAssignor,
    RoundRobinAssignor,
    get_assignor,
    sticky_assignment,
)
from node.groups.protocol import Assignment, Subscription

TOPICS = ["a", "b", "c"]


def _members(
    subs: dict[str, tuple[str, ...]], owned: dict[str, list[TopicPartition]] | None = None, generation: int = 1
) -> list[MemberSubscription]:
    owned = owned or {}
    return [MemberSubscription(m, Subscription(tuple(t), tuple(owned.get(m, ())), generation)) for m, t in subs.items()]


def _check_valid(
    counts: dict[str, int],
    members: list[MemberSubscription],
    out: dict[str, list[TopicPartition]],
    complete: bool = True,
) -> None:
    assert set(out) == {m.member_id for m in members}
    seen = Counter(tp for tps in out.values() for tp in tps)
    assert all(n == 1 for n in seen.values()), "a partition assigned twice"
    by_id = {m.member_id: m for m in members}
    for member_id, tps in out.items():
        for tp in tps:
            assert tp.topic in by_id[member_id].subscription.topics, "assigned outside the subscription"
            assert 0 <= tp.partition < counts[tp.topic]
    if complete:
        wanted = {
            TopicPartition(t, p)
            for m in members
            for t in m.subscription.topics
            if t in counts
            for p in range(counts[t])
        }
        assert set(seen) == wanted, "a subscribed partition is unassigned"


def test_range_matches_kafka() -> None:
    members = _members({"c1": ("t0", "t1"), "c2": ("t0", "t1")})
    out = RangeAssignor().assign({"t0": 3, "t1": 3}, members)
    assert out == {
        "c1": [TopicPartition("t0", 0), TopicPartition("t0", 1), TopicPartition("t1", 0), TopicPartition("t1", 1)],
        "c2": [TopicPartition("t0", 2), TopicPartition("t1", 2)],
    }


def test_roundrobin_matches_kafka() -> None:
    members = _members({"c0": ("t0", "t1"), "c1": ("t0", "t1")})
    out = RoundRobinAssignor().assign({"t0": 3, "t1": 3}, members)
    assert out == {
        "c0": [TopicPartition("t0", 0), TopicPartition("t0", 2), TopicPartition("t1", 1)],
        "c1": [TopicPartition("t0", 1), TopicPartition("t1", 0), TopicPartition("t1", 2)],
    }


def test_range_orders_static_members_by_instance_id() -> None:
    members = [
        MemberSubscription("zzz", Subscription(("t",)), instance_id="a"),
        MemberSubscription("aaa", Subscription(("t",)), instance_id="b"),
    ]
    out = RangeAssignor().assign({"t": 2}, members)
    assert out == {"zzz": [TopicPartition("t", 0)], "aaa": [TopicPartition("t", 1)]}


def test_cooperative_withholds_moving_partitions() -> None:
    tps = [TopicPartition("t", p) for p in range(6)]
    members = _members({"a": ("t",), "b": ("t",)}, {"a": tps})
    out = CooperativeStickyAssignor().assign({"t": 6}, members)
    assert len(out["a"]) == 3 and out["b"] == [], "b gets a's partitions only after a revoked them"
    members = _members({"a": ("t",), "b": ("t",)}, {"a": out["a"]}, generation=2)
    second = CooperativeStickyAssignor().assign({"t": 6}, members)
    assert second["a"] == out["a"] and len(second["b"]) == 3


def test_protocol_codecs_round_trip_and_tolerate_junk() -> None:
    sub = Subscription(("x", "y"), (TopicPartition("x", 1),), 7, "r1")
    assert Subscription.decode(sub.encode()) == sub
    assignment = Assignment((TopicPartition("x", 0), TopicPartition("y", 3)))
    assert Assignment.decode(assignment.encode()) == assignment
    assert Subscription.decode(b"\xc1garbage") == Subscription(())
    assert Assignment.decode(None) == Assignment(())


subscriptions = st.dictionaries(
    st.sampled_from([f"m{i}" for i in range(8)]),
    st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3, unique=True).map(tuple),
    min_size=1,
    max_size=8,
)
counts_st = st.fixed_dictionaries({t: st.integers(0, 12) for t in TOPICS})


@settings(max_examples=300, deadline=None)
@given(counts=counts_st, subs=subscriptions, name=st.sampled_from(["range", "roundrobin", "cooperative-sticky"]))
def test_every_partition_goes_to_exactly_one_subscribed_member(
    counts: dict[str, int], subs: dict[str, tuple[str, ...]], name: str
) -> None:
    members = _members(subs)
    out = get_assignor(name).assign(counts, members)
    _check_valid(counts, members, out)


@st.composite
def homogeneous_with_ownership(draw: st.DrawFn) -> tuple[int, list[str], dict[str, list[TopicPartition]]]:
    partitions = draw(st.integers(0, 40))
    members = [f"m{i}" for i in range(draw(st.integers(1, 7)))]
    owner_pool = [*members, *(f"gone{i}" for i in range(3)), None]  # members that left, and unowned
    owned: dict[str, list[TopicPartition]] = {}
    for p in range(partitions):
        who = draw(st.sampled_from(owner_pool))
        if who is not None:
            owned.setdefault(who, []).append(TopicPartition("t", p))
    return partitions, members, owned


@settings(max_examples=500, deadline=None)
@given(homogeneous_with_ownership())
def test_sticky_keeps_every_partition_that_need_not_move(
    case: tuple[int, list[str], dict[str, list[TopicPartition]]],
) -> None:
    partitions, names, owned = case
    members = _members({m: ("t",) for m in names}, {m: owned.get(m, []) for m in names})
    target, _ = sticky_assignment({"t": partitions}, members)
    _check_valid({"t": partitions}, members, {m: sorted(tps) for m, tps in target.items()})
    sizes = [len(tps) for tps in target.values()]
    assert max(sizes) - min(sizes) <= 1, "not balanced"
    kept = {m: len(target[m] & set(owned.get(m, []))) for m in names}
    for m in names:
        # a member never gives up an owned partition it could have kept with its final count
        assert kept[m] == min(len(owned.get(m, [])), len(target[m])), f"{m} moved a partition it could keep"
    # and the ceiling slots go where they save the most moves: the total kept is the optimum
    floor, extra = divmod(partitions, len(names))
    by_owned = sorted((len(owned.get(m, [])) for m in names), reverse=True)
    best = sum(min(n, floor + (1 if i < extra else 0)) for i, n in enumerate(by_owned))
    assert sum(kept.values()) == best


@settings(max_examples=300, deadline=None)
@given(homogeneous_with_ownership(), st.integers(0, 3))
def test_cooperative_two_phase_revocation_never_has_two_owners(
    case: tuple[int, list[str], dict[str, list[TopicPartition]]], joiners: int
) -> None:
    """Round 1 withholds moving partitions; members revoke; round 2 hands them out and
    nothing else moves. At every step no partition has two owners."""
    partitions, names, owned_raw = case
    names = names + [f"new{i}" for i in range(joiners)]
    owned = {m: set(owned_raw.get(m, [])) for m in names}
    assignor = CooperativeStickyAssignor()
    counts = {"t": partitions}
    members = _members({m: ("t",) for m in names}, {m: sorted(owned[m]) for m in names}, generation=1)
    first = {m: set(tps) for m, tps in assignor.assign(counts, members).items()}
    # members apply round 1: they revoke what they lost and add what they got; the added
    # partitions were nobody's (withheld otherwise), so owners stay disjoint
    for m in names:
        added = first[m] - owned[m]
        others = set().union(*(owned[o] for o in names if o != m))
        assert not added & others, "round 1 gave a partition still owned by another member"
        owned[m] = first[m]
    members = _members({m: ("t",) for m in names}, {m: sorted(owned[m]) for m in names}, generation=2)
    second = {m: set(tps) for m, tps in assignor.assign(counts, members).items()}
    for m in names:
        assert owned[m] <= second[m], "round 2 revoked something: the rebalance did not converge"
    _check_valid(counts, members, {m: sorted(tps) for m, tps in second.items()})
    sizes = [len(tps) for tps in second.values()]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=200, deadline=None)
@given(counts=counts_st, subs=subscriptions, data=st.data())
def test_sticky_with_different_subscriptions_stays_valid(
    counts: dict[str, int], subs: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    names = sorted(subs)
    owned: dict[str, list[TopicPartition]] = {}
    for t in TOPICS:
        for p in range(counts[t]):
            who = data.draw(st.sampled_from([*names, None]))
            if who is not None:
                owned.setdefault(who, []).append(TopicPartition(t, p))
    members = _members(subs, owned)
    target, owners = sticky_assignment(counts, members)
    _check_valid(counts, members, {m: sorted(tps) for m, tps in target.items()})
    for tp, m in owners.items():  # valid ownership is only ever moved to balance
        assert tp.topic in subs[m]
    out = CooperativeStickyAssignor().assign(counts, members)
    _check_valid(counts, members, out, complete=False)


def test_conflicting_claims_go_to_the_newer_generation() -> None:
    tp = TopicPartition("t", 0)
    members = [
        MemberSubscription("old", Subscription(("t",), (tp,), 3)),
        MemberSubscription("new", Subscription(("t",), (tp,), 5)),
    ]
    _, owners = sticky_assignment({"t": 1}, members)
    assert owners[tp] == "new"

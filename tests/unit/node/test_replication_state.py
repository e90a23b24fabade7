"""Leader bookkeeping (HW, ISR shrink/expand), follower truncation, idempotent producers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.errors import ErrorCode, KeystreamError
from node.replication.producer_state import Duplicate, ProducerStateManager
from node.replication.state import PartitionLeaderState, truncation_offset


def _leader(isr: list[int] | None = None, leo: int = 0, hw: int = 0, now: int = 0) -> PartitionLeaderState:
    return PartitionLeaderState(
        leader_id=1, leader_epoch=3, partition_epoch=7, replicas=[1, 2, 3], isr=isr or [1, 2, 3],
        leader_leo=leo, high_watermark=hw, epoch_start_offset=leo, now_ms=now,
    )  # fmt: skip


def test_hw_is_the_smallest_leo_in_the_isr() -> None:
    s = _leader()
    assert not s.on_local_append(10)
    assert not s.on_follower_fetch(2, 10, now_ms=1)  # 3 still at 0
    assert s.on_follower_fetch(3, 6, now_ms=1)
    assert s.high_watermark == 6
    assert s.on_follower_fetch(3, 10, now_ms=2)
    assert s.high_watermark == 10
    s.check_invariants()


def test_single_member_isr_commits_on_append() -> None:
    s = _leader(isr=[1])
    assert s.on_local_append(5) and s.high_watermark == 5


def test_a_follower_that_never_catches_up_is_removed() -> None:
    s = _leader()
    for t in range(0, 20_000, 500):
        s.on_local_append(s.leader_leo + 10)  # the leader keeps moving
        s.on_follower_fetch(2, s.leader_leo, now_ms=t)  # 2 keeps up
        s.on_follower_fetch(3, max(0, s.leader_leo - 20), now_ms=t)  # 3 fetches, always behind
    assert s.isr_after_shrink(now_ms=20_000, lag_max_ms=10_000) == [1, 2]


def test_an_idle_partition_shrinks_nobody() -> None:
    s = _leader(leo=5, hw=5)
    s.on_follower_fetch(2, 5, now_ms=50_000)
    s.on_follower_fetch(3, 5, now_ms=50_000)
    assert s.isr_after_shrink(now_ms=55_000, lag_max_ms=10_000) is None


def test_expansion_needs_the_hw_and_the_epoch_start() -> None:
    s = _leader(isr=[1, 2], leo=10, hw=10)
    s.on_follower_fetch(3, 9, now_ms=1)
    assert s.isr_after_expand({1, 2, 3}) is None
    s.on_follower_fetch(3, 10, now_ms=2)
    assert s.isr_after_expand({1, 2}) is None  # fenced nodes never join
    assert s.isr_after_expand({1, 2, 3}) == [1, 2, 3]


def test_pending_expansion_counts_the_new_member_for_the_hw() -> None:
    s = _leader(isr=[1, 2], leo=10, hw=10)
    s.on_follower_fetch(3, 10, now_ms=1)
    s.begin_isr_change([1, 2, 3])
    s.on_local_append(20)
    s.on_follower_fetch(2, 20, now_ms=2)
    assert s.high_watermark == 10  # 3 is being added and is still at 10
    s.on_follower_fetch(3, 20, now_ms=3)
    assert s.high_watermark == 20


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 2, 3]), st.integers(0, 50)), max_size=60))
def test_hw_never_exceeds_any_isr_member_and_never_goes_back(events: list[tuple[int, int]]) -> None:
    s = _leader()
    held = {2: 0, 3: 0}
    last_hw = 0
    for t, (who, amount) in enumerate(events):
        if who == 0:
            s.on_local_append(s.leader_leo + amount)
        else:
            held[who] = min(s.leader_leo, held[who] + amount)
            s.on_follower_fetch(who, held[who], now_ms=t)
        assert s.high_watermark <= min(s.leader_leo, *held.values())
        assert s.high_watermark >= last_hw
        last_hw = s.high_watermark


def test_truncation_by_leader_epoch() -> None:
    epochs = {0: 0, 2: 100, 5: 150}  # our log: epoch -> start offset; LEO 180

    def end_for(epoch: int) -> tuple[int, int]:
        known = [e for e in epochs if e <= epoch]
        if not known:
            return -1, -1
        e = max(known)
        later = [s for k, s in epochs.items() if k > e]
        return e, min(later) if later else 180

    # the leader has epoch 2 ending at 120 (our epoch-2 records up to 150 diverge after 120)
    assert truncation_offset(end_for, 180, leader_epoch=2, leader_end_offset=120) == (120, None)
    # the leader knows epoch 5 too, and it ends beyond our LEO: nothing to cut
    assert truncation_offset(end_for, 180, leader_epoch=5, leader_end_offset=400) == (180, None)
    # the leader's largest epoch <= ours is 4, which we never had: ask again about our epoch 2
    assert truncation_offset(end_for, 180, leader_epoch=4, leader_end_offset=160) == (None, 2)


def test_idempotent_producer_duplicates_gaps_and_fencing() -> None:
    p = ProducerStateManager()
    assert p.check(7, 0, 0, 10) is None
    p.update(7, 0, 0, 10, 100, 109)
    assert p.check(7, 0, 0, 10) == Duplicate(100, 109)  # a retry
    assert p.check(7, 0, 10, 5) is None
    p.update(7, 0, 10, 5, 110, 114)
    with pytest.raises(KeystreamError) as gap:
        p.check(7, 0, 20, 5)
    assert gap.value.code == ErrorCode.OUT_OF_ORDER_SEQUENCE
    with pytest.raises(KeystreamError) as unknown:
        p.check(8, 0, 5, 1)
    assert unknown.value.code == ErrorCode.UNKNOWN_PRODUCER_ID
    p.update(7, 1, 0, 1, 120, 120)
    with pytest.raises(KeystreamError) as fenced:
        p.check(7, 0, 15, 1)
    assert fenced.value.code == ErrorCode.INVALID_PRODUCER_EPOCH
    rebuilt = ProducerStateManager()
    rebuilt.rebuild([(7, 0, 0, 10, 100, 109), (7, 0, 10, 5, 110, 114)])
    assert rebuilt.check(7, 0, 10, 5) == Duplicate(110, 114)
    assert p.check(-1, -1, -1, 3) is None  # not idempotent: always appended

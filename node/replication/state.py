"""Replication bookkeeping, sans-I/O: what a partition leader knows about its followers.

The leader tracks each follower's log end offset (LEO, learned from the
offset it fetches from) and when it was last *caught up*; from these come
the high watermark (HW = the smallest LEO in the ISR: every in-sync replica
holds everything below it) and the ISR changes to propose:

* **shrink**: an ISR follower not caught up within ``replica.lag.time.max.ms``
  (Kafka's rule: caught up at time t means it fetched from at least the
  leader's LEO as of its previous fetch, so a follower that keeps fetching
  but never catches up under load is removed too);
* **expand**: a follower outside the ISR whose LEO reached the HW and the
  start of the leader's epoch rejoins.

While an ISR change is in flight, the HW is computed over the *maximal* ISR
(the committed ISR plus any follower being added, KIP-497), so the HW never
runs ahead of a replica that some member might still count as in sync.

And for the follower side: :func:`truncation_offset` turns the leader's
answer to OffsetForLeaderEpoch into where to cut a divergent tail (KIP-101,
with KIP-279's extra rounds when the follower lacks the leader's epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


@dataclass
class FollowerProgress:
    leo: int = UNDEFINED_OFFSET
    last_fetch_ms: int = 0
    leader_leo_at_last_fetch: int = 0
    last_caught_up_ms: int = 0


@dataclass
class PartitionLeaderState:
    leader_id: int
    leader_epoch: int
    partition_epoch: int
    replicas: list[int]
    isr: list[int]
    leader_leo: int
    high_watermark: int
    epoch_start_offset: int
    now_ms: int
    followers: dict[int, FollowerProgress] = field(default_factory=dict)
    pending_isr: list[int] | None = None  # an alter_isr in flight

    def __post_init__(self) -> None:
        assert self.leader_id in self.replicas, "leader must be a replica"
        for replica in self.replicas:
            if replica != self.leader_id:
                # A new leader gives every follower a full lag window before it may be removed.
                self.followers[replica] = FollowerProgress(last_caught_up_ms=self.now_ms)
        self.high_watermark = min(self.high_watermark, self.leader_leo)

    # --- inputs -----------------------------------------------------------------------------------
    def on_local_append(self, leader_leo: int) -> bool:
        """The leader appended; returns True if the HW moved (an ISR of one)."""
        assert leader_leo >= self.leader_leo, "leader LEO went backwards"
        self.leader_leo = leader_leo
        return self._advance_hw()

    def on_follower_fetch(self, follower: int, fetch_offset: int, now_ms: int) -> bool:
        """A follower fetched from ``fetch_offset`` (so holds everything below it).
        Returns True if the HW moved."""
        progress = self.followers.get(follower)
        if progress is None:
            return False
        if fetch_offset >= self.leader_leo:
            progress.last_caught_up_ms = now_ms
        elif fetch_offset >= progress.leader_leo_at_last_fetch:
            progress.last_caught_up_ms = max(progress.last_caught_up_ms, progress.last_fetch_ms)
        progress.leo = min(fetch_offset, self.leader_leo)
        progress.leader_leo_at_last_fetch = self.leader_leo
        progress.last_fetch_ms = now_ms
        return self._advance_hw()

    def on_isr_committed(self, isr: list[int], partition_epoch: int) -> bool:
        self.isr = list(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        return self._advance_hw()

    def on_isr_change_failed(self) -> None:
        self.pending_isr = None

    # --- decisions -------------------------------------------------------------------------------
    @property
    def maximal_isr(self) -> list[int]:
        if self.pending_isr is None:
            return self.isr
        return [r for r in self.replicas if r in self.isr or r in self.pending_isr]

    def isr_after_shrink(self, now_ms: int, lag_max_ms: int) -> list[int] | None:
        """The ISR without followers out of sync for longer than ``lag_max_ms``, or None."""
        if self.pending_isr is not None:
            return None
        laggards = [
            r for r in self.isr if r != self.leader_id and now_ms - self.followers[r].last_caught_up_ms > lag_max_ms
        ]
        if not laggards:
            return None
        return [r for r in self.isr if r not in laggards]

    def isr_after_expand(self, live: set[int]) -> list[int] | None:
        """The ISR plus followers that caught up to the HW within this epoch, or None."""
        if self.pending_isr is not None:
            return None
        joining = [
            r
            for r, progress in self.followers.items()
            if r not in self.isr
            and r in live
            and progress.leo >= self.high_watermark
            and progress.leo >= self.epoch_start_offset
        ]
        if not joining:
            return None
        return [r for r in self.replicas if r in self.isr or r in joining]

    def begin_isr_change(self, proposed: list[int]) -> None:
        self.pending_isr = list(proposed)

    def enough_replicas(self, min_insync: int) -> bool:
        return len(self.isr) >= min_insync

    def _advance_hw(self) -> bool:
        leos = [self.leader_leo]
        for replica in self.maximal_isr:
            if replica != self.leader_id:
                leos.append(self.followers[replica].leo)
        candidate = min(leos)
        if candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        return False

    def check_invariants(self) -> None:
        assert self.high_watermark <= self.leader_leo, "HW above the leader's LEO"
        assert self.leader_id in self.isr, "leader not in its ISR"


def truncation_offset(
    local_end_offset_for_epoch: Callable[[int], tuple[int, int]],
    local_leo: int,
    leader_epoch: int,
    leader_end_offset: int,
) -> tuple[int | None, int | None]:
    """Where a follower must cut its log, from the leader's OffsetForLeaderEpoch answer.

    ``leader_epoch``/``leader_end_offset``: the largest epoch on the leader that is
    not newer than the one we asked about, and where it ends there. Returns
    ``(offset, None)`` to truncate to ``offset`` (== local LEO: nothing to cut),
    or ``(None, epoch)`` to ask again about ``epoch`` (we don't hold the leader's
    epoch, so we can't yet tell where our logs diverge: KIP-279).
    """
    if leader_epoch == UNDEFINED_EPOCH:
        # The leader knows no epoch this old: our whole log may be foreign.
        return (min(local_leo, max(0, leader_end_offset)) if leader_end_offset >= 0 else local_leo), None
    local_epoch, local_end = local_end_offset_for_epoch(leader_epoch)
    if local_epoch == leader_epoch:
        return min(local_leo, leader_end_offset, local_end), None
    if local_epoch == UNDEFINED_EPOCH:
        return min(local_leo, leader_end_offset), None
    return None, local_epoch

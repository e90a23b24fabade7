"""Whether this node's storage takes writes: a sans-I/O tracker the replica manager feeds.

Kafka takes a log directory offline after an I/O error and tells the controller,
which moves leadership away and shrinks the ISRs. Keystream does the same for its
one data directory, and also comes back by itself:

* any storage failure (an append the disk refused, a flush, a checkpoint, a log
  taken offline) marks the storage failed at once; the node then says so in every
  heartbeat and the controller fences it, moving its leaderships to in-sync replicas;
* while failed, the node probes every `probe_interval_s` (the shell writes and fsyncs
  a file as large as a batch may be, then removes it) and reopens its offline logs;
* a probe that succeeds, with no log still offline and no new failure since it
  began, ends the failure: the node reports healthy, is unfenced and catches up as
  a follower, and the controller hands its preferred leaderships back later.

A failure recorded while a probe runs (a flush in another thread, say) keeps the
storage failed: only a quiet, successful probe ends it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StorageHealth:
    probe_interval_s: float = 0.5
    failed_since: float | None = None
    reason: str | None = None  # the latest failure, as reported to the controller
    failures: int = 0  # every failure ever recorded; a probe's token
    next_probe: float = 0.0

    @property
    def failed(self) -> bool:
        return self.failed_since is not None

    def record_failure(self, reason: str, now: float) -> bool:
        """A storage operation failed; True if this starts a failure (report it at once)."""
        self.failures += 1
        self.reason = reason
        if self.failed_since is not None:
            return False
        self.failed_since = now
        self.next_probe = now + self.probe_interval_s
        return True

    def probe_due(self, now: float) -> bool:
        return self.failed_since is not None and now >= self.next_probe

    def begin_probe(self, now: float) -> int:
        """The shell starts a probe; pass the returned token to `probe_finished`."""
        self.next_probe = now + self.probe_interval_s
        return self.failures

    def probe_finished(self, token: int, writable: bool, offline_logs: int, now: float) -> float | None:
        """The probe's outcome. Returns how long the storage was failed (seconds) if this
        ends the failure, else None."""
        if self.failed_since is None or not writable or offline_logs or token != self.failures:
            return None
        lasted = now - self.failed_since
        self.failed_since = None
        self.reason = None
        return lasted

"""Idempotent producers, sans-I/O: which batches a partition has already written.

Each idempotent producer has an id (allocated by the controller) and an
epoch, and numbers its records per partition (``base_sequence`` of a batch,
then one per record). For every producer the partition remembers its last
five batches (as Kafka does: a producer keeps at most five in flight), so:

* a batch whose sequence range matches a remembered one is a **duplicate**
  (a retry of something already written): it is acknowledged with the
  original offsets and not written again;
* a batch that does not start right after the last one is **out of order**
  (a gap: something in between was lost) and is rejected;
* a batch from an older epoch is **fenced**.

The state lives on every replica: the leader updates it as it appends,
followers as they replicate, and it is rebuilt from the log's batch headers
when a replica opens or truncates its log, so it survives leader failover.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from cluster.errors import ErrorCode, KeystreamError

NO_PRODUCER_ID = -1
MAX_REMEMBERED_BATCHES = 5
SEQUENCE_MOD = 2**31


class BatchMetadata(NamedTuple):
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int


@dataclass
class ProducerEntry:
    epoch: int
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=MAX_REMEMBERED_BATCHES))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


class Duplicate(NamedTuple):
    first_offset: int
    last_offset: int


def last_sequence(base_sequence: int, record_count: int) -> int:
    return (base_sequence + record_count - 1) % SEQUENCE_MOD


class ProducerStateManager:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

    def check(self, producer_id: int, epoch: int, base_sequence: int, record_count: int) -> Duplicate | None:
        """Validate a batch before appending: None to append, a Duplicate to acknowledge
        with the original offsets, or a KeystreamError for a gap or a fenced epoch."""
        if producer_id == NO_PRODUCER_ID:
            return None
        if base_sequence < 0:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"producer {producer_id} sent a batch without a sequence")
        entry = self.producers.get(producer_id)
        last = last_sequence(base_sequence, record_count)
        if entry is None:
            if base_sequence != 0:
                raise KeystreamError(
                    ErrorCode.UNKNOWN_PRODUCER_ID,
                    f"producer {producer_id} is unknown here and its batch starts at sequence {base_sequence}",
                )
            return None
        if epoch < entry.epoch:
            raise KeystreamError(
                ErrorCode.INVALID_PRODUCER_EPOCH, f"producer {producer_id} epoch {epoch} is fenced by {entry.epoch}"
            )
        if epoch > entry.epoch:
            if base_sequence != 0:
                raise KeystreamError(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE,
                    f"producer {producer_id} new epoch {epoch} must start at sequence 0, not {base_sequence}",
                )
            return None
        for batch in entry.batches:
            if batch.first_seq == base_sequence and batch.last_seq == last:
                return Duplicate(batch.first_offset, batch.last_offset)
        expected = (entry.last_seq + 1) % SEQUENCE_MOD
        if base_sequence != expected:
            raise KeystreamError(
                ErrorCode.OUT_OF_ORDER_SEQUENCE,
                f"producer {producer_id}: expected sequence {expected}, got {base_sequence}",
                {"expected": expected},
            )
        return None

    def update(
        self, producer_id: int, epoch: int, base_sequence: int, record_count: int, first_offset: int, last_offset: int
    ) -> None:
        if producer_id == NO_PRODUCER_ID:
            return
        entry = self.producers.get(producer_id)
        if entry is None or epoch > entry.epoch:
            entry = self.producers[producer_id] = ProducerEntry(epoch)
        entry.batches.append(
            BatchMetadata(base_sequence, last_sequence(base_sequence, record_count), first_offset, last_offset)
        )

    def rebuild(self, batches: Iterable[tuple[int, int, int, int, int, int]]) -> None:
        """From (producer_id, epoch, base_sequence, count, first_offset, last_offset) in log order."""
        self.producers.clear()
        for producer_id, epoch, base_sequence, count, first_offset, last_offset in batches:
            self.update(producer_id, epoch, base_sequence, count, first_offset, last_offset)

"""PartitionLog against a plain in-memory model, driven by hypothesis.

The model is a list of batches (base offset, epoch, records), the log start and
end offsets, and the leader-epoch entries kept by Kafka's rules. Rules append
(as leader and as follower), truncate, move the log start, flush, reopen
cleanly, crash, and crash with a torn last write; after every step the log must
read back exactly the model, hold the model's epoch entries (which must agree
with the epochs stamped in the batches) and answer OffsetForLeaderEpoch alike.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from node.storage.batch import Record, build_batch, stamp
from node.storage.config import LogConfig
from node.storage.leader_epoch import LeaderEpochCache
from node.storage.log import PartitionLog

from .conftest import read_all, segment_files

CONFIG = LogConfig(segment_bytes=400, index_interval_bytes=64, retention_ms=-1)

record_strategy = st.tuples(
    st.sampled_from([b"a", b"b", b"c", None]),
    st.binary(max_size=40) | st.none(),
    st.integers(0, 10_000),
)
batch_strategy = st.lists(record_strategy, min_size=1, max_size=4)


@dataclass
class ModelBatch:
    base: int
    epoch: int
    size: int
    records: list[tuple[bytes | None, bytes | None, int]]

    @property
    def next_offset(self) -> int:
        return self.base + len(self.records)


class PartitionLogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="ks-stateful-")
        self.log = PartitionLog.open(self.directory, CONFIG)
        self.batches: list[ModelBatch] = []
        self.log_start = 0
        self.end = 0
        self.epoch = 0
        self.epochs = LeaderEpochCache("unused")  # the model's cache, never persisted

    def teardown(self) -> None:
        self.log._release_files()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------------ model helpers

    def model_records(self) -> list[Record]:
        out = []
        for batch in self.batches:
            for i, (key, value, ts) in enumerate(batch.records):
                if batch.base + i >= self.log_start:
                    out.append(Record(batch.base + i, ts, key, value, ()))
        return out

    def _model_assign(self, epoch: int, base: int) -> None:
        if epoch > self.epochs.latest_epoch:
            self.epochs.assign(epoch, base, persist=False)

    def _model_recovered(self) -> None:
        """What recovery does to the epoch entries: none may start at or past the end."""
        self.epochs.truncate_from_end(self.end, persist=False)
        self.epochs.truncate_from_start(self.log_start, persist=False)

    def _encode(self, records: list[tuple[bytes | None, bytes | None, int]]) -> bytes:
        return build_batch([(k, v, None, ts) for k, v, ts in records], now_ms=0)

    # ------------------------------------------------------------------ rules

    @rule(records=batch_strategy, bump=st.booleans())
    def append_as_leader(self, records: list, bump: bool) -> None:
        if bump:
            self.epoch += 1
        batch = self._encode(records)
        info = self.log.append_as_leader(batch, self.epoch, 0)
        assert info.first_offset == self.end
        self._model_assign(self.epoch, self.end)
        self.batches.append(ModelBatch(self.end, self.epoch, len(batch), records))
        self.end += len(records)

    @rule(batches=st.lists(batch_strategy, min_size=1, max_size=3), bump=st.booleans())
    def append_as_follower(self, batches: list, bump: bool) -> None:
        if bump:
            self.epoch += 1
        chunk = b""
        new = []
        base = self.end
        for records in batches:
            data = stamp(self._encode(records), base, self.epoch)
            chunk += data
            new.append(ModelBatch(base, self.epoch, len(data), records))
            self._model_assign(self.epoch, base)
            base += len(records)
        assert self.log.append_as_follower(chunk) == base
        self.batches.extend(new)
        self.end = base

    @rule(data=st.data())
    def truncate_to(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(0, self.end + 2), label="offset")
        new_end = self.log.truncate_to(offset)
        if offset >= self.end:
            assert new_end == self.end
            return
        if offset < self.log_start:
            self.batches = []
            self.log_start = self.end = offset
            self.epochs.clear(persist=False)
        else:
            # batches are never split: the one holding `offset` goes entirely
            cut = next((b for b in self.batches if b.next_offset > offset), None)
            self.end = offset if cut is None else max(min(offset, cut.base), self.log_start)
            self.batches = [b for b in self.batches if b.next_offset <= offset]
            self.epochs.truncate_from_end(self.end, persist=False)
        assert new_end == self.end

    @rule(data=st.data())
    def truncate_fully_and_start_at(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(0, self.end + 5), label="offset")
        self.log.truncate_fully_and_start_at(offset)
        self.batches = []
        self.log_start = self.end = offset
        self.epochs.clear(persist=False)

    @rule(data=st.data())
    def advance_log_start(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.log_start, self.end), label="offset")
        self.log.advance_log_start_offset(offset)
        self.log_start = offset
        self.epochs.truncate_from_start(offset, persist=False)
        self.log.enforce_retention(now_ms=0, high_watermark=self.end)

    @rule()
    def flush(self) -> None:
        self.log.flush()
        assert self.log.recovery_point == self.end

    @rule()
    def reopen_cleanly(self) -> None:
        self.log.close()
        self.log = PartitionLog.open(self.directory, CONFIG)
        assert self.log.last_recovery is not None and self.log.last_recovery.clean_shutdown
        self._model_recovered()

    @rule()
    def crash_and_recover(self) -> None:
        self.log._release_files()
        self.log = PartitionLog.open(self.directory, CONFIG)
        assert self.log.last_recovery is not None and not self.log.last_recovery.clean_shutdown
        self._model_recovered()

    @precondition(lambda self: bool(self.batches) and self.batches[-1].next_offset > self.log_start)
    @rule(data=st.data())
    def crash_with_a_torn_last_write(self, data: st.DataObject) -> None:
        self.log._release_files()
        last_file = segment_files(self.directory)[-1]
        size = os.path.getsize(last_file)
        last = self.batches[-1]
        if size >= last.size:  # the last batch is at the end of the last segment file
            cut = data.draw(st.integers(1, last.size), label="cut")
            with open(last_file, "r+b") as f:
                f.truncate(size - cut)
            self.batches.pop()
            self.end = last.base
            if self.end < self.log_start:  # the log start was past the lost data
                self.batches = []
                self.end = self.log_start
                self.epochs.clear(persist=False)
        self.log = PartitionLog.open(self.directory, CONFIG)
        self._model_recovered()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def matches_the_model(self) -> None:
        assert self.log.log_end_offset == self.end
        assert self.log.log_start_offset == self.log_start
        assert read_all(self.log) == self.model_records()
        assert self.log.epoch_entries == self.epochs.entries
        for epoch in range(-1, self.epoch + 2):
            assert self.log.end_offset_for_epoch(epoch) == self.epochs.end_offset_for(epoch, self.end)

    @invariant()
    def epoch_entries_agree_with_the_batches(self) -> None:
        entries = self.epochs.entries
        for i, (epoch, start) in enumerate(entries):
            stop = entries[i + 1][1] if i + 1 < len(entries) else self.end
            for batch in self.batches:
                if batch.base < stop and batch.next_offset > start:
                    assert batch.epoch == epoch, (batch, entries)


PartitionLogMachine.TestCase.settings = settings(
    max_examples=35,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPartitionLogAgainstModel = PartitionLogMachine.TestCase

"""One partition replica on this node: its log, its role, and who waits on it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from enum import Enum
from typing import Any

from cluster.errors import ErrorCode, KeystreamError
from node.replication.producer_state import ProducerStateManager
from node.replication.state import PartitionLeaderState
from node.storage import LogConfig, PartitionLog
from node.storage.batch import iter_batches


class Role(Enum):
    NONE = "none"  # hosted but not serving (e.g. this node is fenced or not yet registered)
    LEADER = "leader"
    FOLLOWER = "follower"


_seq = itertools.count()


class Replica:
    def __init__(self, topic: str, partition: int, topic_id: str, log: PartitionLog, hw: int) -> None:
        self.topic = topic
        self.partition = partition
        self.topic_id = topic_id
        self.log = log
        self.role = Role.NONE
        self.leader_id = -1
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.replicas: list[int] = []
        self.isr: list[int] = []
        self.min_insync = 1
        self.config: LogConfig = log.config
        self.topic_config: dict[str, str] = {}
        self.leader_state: PartitionLeaderState | None = None
        self.high_watermark = min(hw, log.log_end_offset)
        self.needs_truncation = False  # follower: ask the leader where our logs diverge first
        self.dirty = False  # appended since the last flush
        self.producers = ProducerStateManager()
        self._change_waiters: list[asyncio.Future[None]] = []
        self._hw_waiters: list[tuple[int, int, asyncio.Future[None]]] = []

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    # --- idempotent producers ------------------------------------------------------------------------
    def track_batches(self, data: bytes) -> None:
        """Record the producer sequences of batches appended as follower."""
        for header, _ in iter_batches(data, verify=False):
            if header.producer_id >= 0:
                self.producers.update(header.producer_id, header.producer_epoch, header.base_sequence,
                                      header.record_count, header.base_offset, header.last_offset)  # fmt: skip

    def rebuild_producer_state(self, chunk_bytes: int = 4 * 1024 * 1024) -> int:
        """Scan the log's batch headers (at open and after truncation). Returns batches seen."""
        entries = []
        offset = self.log.log_start_offset
        end = self.log.log_end_offset
        while offset < end:
            data = self.log.read(offset, chunk_bytes)
            if not data:
                break
            last_next = offset
            for header, _ in iter_batches(data, verify=False):
                if header.producer_id >= 0:
                    entries.append((header.producer_id, header.producer_epoch, header.base_sequence,
                                    header.record_count, header.base_offset, header.last_offset))  # fmt: skip
                last_next = header.last_offset + 1
            if last_next <= offset:
                break
            offset = last_next
        self.producers.rebuild(entries)
        return len(entries)

    # --- waiting ------------------------------------------------------------------------------------
    def change_waiter(self) -> asyncio.Future[None]:
        """A future resolved at the next append, HW change or role change."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(fut)
        return fut

    def notify_change(self) -> None:
        waiters, self._change_waiters = self._change_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def wait_for_hw(self, offset: int) -> asyncio.Future[None]:
        """Resolved once the high watermark reaches ``offset``."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.high_watermark >= offset:
            fut.set_result(None)
        else:
            heapq.heappush(self._hw_waiters, (offset, next(_seq), fut))
        return fut

    def set_high_watermark(self, hw: int) -> bool:
        if hw <= self.high_watermark:
            return False
        self.high_watermark = hw
        while self._hw_waiters and self._hw_waiters[0][0] <= hw:
            _, _, fut = heapq.heappop(self._hw_waiters)
            if not fut.done():
                fut.set_result(None)
        self.notify_change()
        return True

    def fail_waiters(self, code: ErrorCode, message: str) -> None:
        """Leadership is gone: producers waiting for acks get an error (outcome unknown)."""
        waiters, self._hw_waiters = self._hw_waiters, []
        for _, _, fut in waiters:
            if not fut.done():
                fut.set_exception(KeystreamError(code, message))
        self.notify_change()

    def describe(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "role": self.role.value,
            "leader": self.leader_id,
            "leader_epoch": self.leader_epoch,
            "isr": list(self.isr),
            "log_start_offset": self.log.log_start_offset,
            "log_end_offset": self.log.log_end_offset,
            "high_watermark": self.high_watermark,
            "size_bytes": self.log.size_bytes,
            "offline": self.log.offline_reason,
        }

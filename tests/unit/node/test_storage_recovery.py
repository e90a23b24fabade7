"""The replica manager's storage-failure shell, without sockets: a log that goes offline is
reported, stays offline while this node leads it, and is reopened (recovered from its
segments) once the data directory takes writes again; whatever applies it is told."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cluster.state import ClusterState
from node.replication.manager import ReplicaManager, ReplicationSettings
from node.replication.replica import Replica, Role
from node.storage.batch import build_batch, decode_batches, stamp
from node.storage.errors import LogStorageError

LISTENERS = {"d": {"native": "127.0.0.1:1"}}
QUIET = ReplicationSettings(flush_interval_ms=3_600_000, storage_probe_interval_ms=3_600_000,
                            retention_check_interval_ms=3_600_000, isr_check_interval_ms=3_600_000)  # fmt: skip


def _state(leader: int) -> ClusterState:
    state = ClusterState()
    for i in (1, 2, 3):
        state.apply({"op": "register_node", "node_id": i, "incarnation": f"i{i}", "listeners": LISTENERS})
    replicas = [leader] + [n for n in (1, 2, 3) if n != leader]
    state.apply({"op": "create_topic", "name": "t", "topic_id": "x", "assignment": [replicas]})
    return state


class Harness:
    def __init__(self, manager: ReplicaManager) -> None:
        self.manager = manager
        self.may_lead = True
        self.storage_changes = 0
        self.truncated: list[Replica] = []
        manager.on_storage_change.append(self._changed)
        manager.on_truncated.append(self.truncated.append)

    def _changed(self) -> None:
        self.storage_changes += 1

    @property
    def replica(self) -> Replica:
        return self.manager.replicas[("t", 0)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    holder: list[Harness] = []

    async def propose(command: dict[str, Any]) -> Any:
        raise AssertionError(f"nothing should be proposed: {command}")

    manager = ReplicaManager(1, tmp_path, QUIET, propose, lambda node: None, lambda: holder[0].may_lead)
    holder.append(Harness(manager))
    await manager.start()
    yield holder[0]
    await manager.stop()


def _take_offline(replica: Replica, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed fsync of the segment: its content is unknown, the log goes offline."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".log"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        with pytest.raises(LogStorageError, match="taken offline"):
            replica.log.flush()


async def _settle() -> None:
    """Let callbacks handed over with call_soon_threadsafe run (no time passes)."""
    for _ in range(3):
        await asyncio.sleep(0)


def _append(replica: Replica, count: int) -> None:
    for i in range(count):
        replica.log.append_as_leader(build_batch([(b"k", b"v%d" % i, None, 1_000)]), max(replica.leader_epoch, 0), 0)


async def test_an_offline_log_is_reported_and_reopened_once_the_node_no_longer_leads_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = harness.manager
    state = _state(leader=1)
    manager.reconcile(state)
    replica = harness.replica
    assert replica.role is Role.LEADER
    _append(replica, 5)
    old_log = replica.log

    _take_offline(replica, monkeypatch)
    await _settle()
    problem = manager.storage_problem()
    assert problem is not None and "taken offline" in problem
    assert harness.storage_changes == 1  # the heartbeat goes out at once

    await manager._probe_and_recover()  # the disk takes writes, but this node still leads the partition
    assert replica.log is old_log and manager.storage.failed
    assert replica.describe()["offline"] is not None

    harness.may_lead = False  # the controller fenced this node
    manager.reconcile(state)
    assert replica.role is Role.NONE
    await manager._probe_and_recover()
    assert replica.log is not old_log and replica.log.offline_reason is None
    assert manager.storage_problem() is None and harness.storage_changes == 2
    assert harness.truncated == [replica]  # the keyspace re-reads (and re-applies) the log
    assert replica.log.log_end_offset == 5
    values = [r.value for r in decode_batches(replica.log.read(0, 1 << 20))]
    assert values == [b"v%d" % i for i in range(5)]


async def test_the_storage_stays_failed_while_the_probe_cannot_write(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = harness.manager
    manager.reconcile(_state(leader=2))
    manager._storage_failed("append: No space left on device")
    assert manager.storage_problem() == "append: No space left on device"

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manager, "_probe_writable", full)
    await manager._probe_and_recover()
    assert manager.storage.failed
    monkeypatch.undo()
    await manager._probe_and_recover()
    assert not manager.storage.failed
    assert not (manager.log_dir / ".storage-probe").exists()


async def test_a_follower_append_the_disk_refuses_leaves_the_log_online_and_reports_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = harness.manager
    harness.may_lead = False
    manager.reconcile(_state(leader=1))
    replica = harness.replica

    def enospc(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    batch = stamp(build_batch([(b"k", b"v", None, 1_000)]), 0, 0)
    with monkeypatch.context() as patch:
        patch.setattr(os, "writev", enospc)
        with pytest.raises(LogStorageError, match="No space left"):
            replica.log.append_as_follower(batch)
    await _settle()
    assert replica.log.offline_reason is None
    assert manager.storage.failed and harness.storage_changes == 1
    await manager._probe_and_recover()
    assert not manager.storage.failed and harness.truncated == []  # nothing to reopen
    assert replica.log.append_as_follower(batch) == 1

"""Each pysyncobj hardening in cluster/raft.py, shown by a scenario that breaks without it.

Every test drives real pysyncobj members over the in-memory network of
``raft_sim``. Where a test is parametrised with an ``unfixed`` variant, that
variant undoes exactly one fix and the test asserts the failure it then
produces, so the scenario is proven able to catch the bug.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pysyncobj import SyncObj

from cluster.raft import HardenedSyncObj
from cluster.raft_journal import DurableJournal
from tests.unit.cluster.raft_sim import SimMember, SimNetwork, fast_conf, leader_of, run_rounds, run_until


class OriginalAppendEntries(HardenedSyncObj):
    """pysyncobj 0.3.17's AppendEntries handling (truncates matching entries)."""

    def _SyncObj__onMessageReceived(self, node: Any, message: dict[str, Any]) -> None:
        SyncObj._SyncObj__onMessageReceived(self, node, message)


class NoImmediateSend(HardenedSyncObj):
    """pysyncobj's batching: new entries wait for the next heartbeat period."""

    def _checkCommandsToApply(self) -> None:
        SyncObj._checkCommandsToApply(self)
        self._journal.sync()


class VolatileVoteJournal(DurableJournal):
    """A journal that forgets term and vote on restart (pysyncobj's MemoryJournal)."""

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        self._meta["term"] = term
        self._meta["voted_for"] = votedForNodeId


def _cluster(
    tmp_path: Path, ids: list[int], cls: type[HardenedSyncObj] = HardenedSyncObj, **conf: Any
) -> tuple[SimNetwork, list[SimMember]]:
    network = SimNetwork()
    members = [SimMember(network, i, ids, tmp_path, cls=cls, conf=fast_conf(**conf)) for i in ids]
    return network, members


def _elect(members: list[SimMember], network: SimNetwork) -> SimMember:
    run_until(members, network, lambda: leader_of(members, network) is not None)
    leader = leader_of(members, network)
    assert leader is not None
    # let the leader's no-op commit so later commits are in its term
    run_until(members, network, lambda: leader.sync.raftCommitIndex == leader.sync.last_log_index())
    return leader


def _commit(members: list[SimMember], network: SimNetwork, leader: SimMember, tags: list[str]) -> list[Any]:
    results: list[Any] = []
    for tag in tags:
        leader.propose({"op": "set_cluster_config", "key": tag, "value": 1}, results)
    run_until(members, network, lambda: len(results) == len(tags))
    assert all(err == 0 for _, err in results), results
    return results


def _terms_and_commands(member: SimMember) -> list[tuple[int, int]]:
    return [(idx, term) for _, idx, term in member.log_entries()]


@pytest.mark.parametrize("variant", ["fixed", "unfixed"])
def test_replayed_append_entries_cannot_lose_a_committed_entry(tmp_path: Path, variant: str) -> None:
    """A delayed AppendEntries makes a follower drop acknowledged entries; with a
    leader crash before they are re-sent, pysyncobj loses committed entries."""
    cls = HardenedSyncObj if variant == "fixed" else OriginalAppendEntries
    network, members = _cluster(tmp_path, [1, 2, 3], cls=cls)
    leader = _elect(members, network)
    f1, f2 = [m for m in members if m is not leader]

    # e1 reaches everyone; remember the message that carried it to f1
    _commit(members, network, leader, ["e1"])
    carrying_e1 = [
        msg
        for src, dst, msg in network.sent
        if src == leader.node_id
        and dst == f1.node_id
        and msg.get("type") == "append_entries"
        and msg.get("entries")
    ][-1]

    # e2..e5 are committed with f1's acknowledgement only (f2 is cut off)
    network.isolate(f2.node_id)
    _commit(members, network, leader, ["e2", "e3", "e4", "e5"])
    committed = set(_terms_and_commands(leader))
    assert set(_terms_and_commands(f1)) == committed

    # the old message for e1 arrives again at f1 (a delayed duplicate)
    network.deliver(leader.node_id, f1.node_id, carrying_e1)

    # the leader crashes before re-sending anything; f1 and f2 elect a new leader
    network.down.add(leader.node_id)
    network.heal()
    survivors = [f1, f2]
    run_until(survivors, network, lambda: leader_of(survivors, network) is not None)
    new_leader = leader_of(survivors, network)
    assert new_leader is not None
    run_until(survivors, network, lambda: new_leader.sync.raftCommitIndex == new_leader.sync.last_log_index())
    survived = set(_terms_and_commands(new_leader))
    if variant == "fixed":
        assert committed <= survived, f"committed entries lost: {sorted(committed - survived)}"
    else:
        assert not committed <= survived, "the unfixed variant should lose committed entries here"
    for m in members:
        m.close()


def test_follower_commit_index_never_covers_unverified_entries(tmp_path: Path) -> None:
    """Raft: commitIndex = min(leaderCommit, last new entry), not the end of a log that may
    still hold stale entries beyond what this AppendEntries verified."""
    network, members = _cluster(tmp_path, [1, 2, 3])
    leader = _elect(members, network)
    follower = next(m for m in members if m is not leader)
    _commit(members, network, leader, ["a"])
    end = follower.sync.last_log_index()
    run_until(members, network, lambda: follower.sync.raftCommitIndex == end)
    command, _, term = follower.log_entries()[-1]
    for i in range(1, 4):  # entries this leader never sent (left over from an old term)
        follower.journal.add(command, end + i, term)
    heartbeat = {
        "type": "append_entries",
        "term": leader.sync.raftCurrentTerm,
        "commit_index": end + 3,
        "entries": [],
        "prevLogIdx": end,
        "prevLogTerm": term,
    }
    network.deliver(leader.node_id, follower.node_id, heartbeat)
    assert follower.sync.raftCommitIndex == end
    for m in members:
        m.close()


@pytest.mark.parametrize("variant", ["fixed", "unfixed"])
def test_restarted_member_never_votes_twice_in_one_term(tmp_path: Path, variant: str) -> None:
    journal_cls = DurableJournal if variant == "fixed" else VolatileVoteJournal
    network = SimNetwork()
    ids = [1, 2, 3]
    conf = fast_conf(
        raftMinTimeout=1000, raftMaxTimeout=2000, appendEntriesPeriod=1, connectionTimeout=3000
    )  # no spontaneous elections
    voter = SimMember(network, 1, ids, tmp_path, journal_cls=journal_cls, conf=conf)
    request = {"type": "request_vote", "term": 5, "last_log_index": 1, "last_log_term": 0}

    network.deliver(2, 1, request)
    votes = [(src, dst) for src, dst, m in network.sent if m["type"] == "response_vote" and m["term"] == 5]
    assert votes == [(1, 2)]

    # crash and restart the voter on the same data directory
    voter.close()
    network.transports.clear()
    network.sent.clear()
    restarted = SimMember(network, 1, ids, tmp_path, journal_cls=journal_cls, conf=conf)
    network.deliver(3, 1, request)  # another candidate, same term
    second = [(src, dst) for src, dst, m in network.sent if m["type"] == "response_vote" and m["term"] == 5]
    if variant == "fixed":
        assert second == [], "voted twice in term 5"
        assert restarted.sync.raftCurrentTerm == 5
    else:
        assert second == [(1, 3)], "the unfixed variant should vote again after a restart"
    restarted.close()


def test_candidate_counts_each_voter_once(tmp_path: Path) -> None:
    network = SimNetwork()
    ids = [1, 2, 3, 4, 5]
    conf = fast_conf(raftMinTimeout=1000, raftMaxTimeout=2000, appendEntriesPeriod=1, connectionTimeout=3000)
    candidate = SimMember(network, 1, ids, tmp_path, conf=conf)
    # make it a candidate in term 1 by forcing its election deadline
    candidate.sync._SyncObj__raftElectionDeadline = 0
    candidate.tick()
    term = candidate.sync.raftCurrentTerm
    assert term == 1 and not candidate.sync._isLeader()
    vote = {"type": "response_vote", "term": term}
    for _ in range(3):  # one voter's vote, delivered three times
        network.deliver(2, 1, vote)
    assert not candidate.sync._isLeader(), "became leader with 2 of 5 votes"
    network.deliver(3, 1, vote)
    assert candidate.sync._isLeader()
    candidate.close()


@pytest.mark.parametrize("variant", ["fixed", "unfixed"])
def test_metadata_write_commits_without_waiting_for_the_heartbeat_timer(tmp_path: Path, variant: str) -> None:
    cls = HardenedSyncObj if variant == "fixed" else NoImmediateSend
    network, members = _cluster(tmp_path, [1, 2, 3], cls=cls)
    leader = _elect(members, network)
    for m in members:  # heartbeats now only every 30 s: any commit must come from the fix
        m.sync.conf.appendEntriesPeriod = 30.0
        m.sync.conf.raftMinTimeout = 100.0
        m.sync.conf.raftMaxTimeout = 200.0
    run_rounds(members, network, 2)
    results: list[Any] = []
    leader.propose({"op": "noop", "tag": "latency"}, results)
    rounds = run_rounds(members, network, 6, until=lambda: bool(results))
    if variant == "fixed":
        assert results and results[0][1] == 0, f"not committed after {rounds} rounds"
    else:
        assert not results, "the unfixed variant should wait for the heartbeat timer"
    for m in members:
        m.close()


def test_follower_fsyncs_before_acknowledging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    network, members = _cluster(tmp_path, [1, 2, 3])
    leader = _elect(members, network)
    follower = next(m for m in members if m is not leader)
    real_fsync = os.fsync
    journal_fd = follower.journal._file.fileno()

    def recording_fsync(fd: int) -> None:
        if fd == journal_fd:
            network.events.append((follower.node_id, "fsync"))
        real_fsync(fd)

    real_add = follower.journal.add

    def recording_add(command: bytes, idx: int, term: int) -> None:
        network.events.append((follower.node_id, "add"))
        real_add(command, idx, term)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(follower.journal, "add", recording_add)
    network.events.clear()
    _commit(members, network, leader, ["durable"])
    mine = [e for n, e in network.events if n == follower.node_id]
    assert "add" in mine
    # after every append, the follower's next acknowledgement comes after an fsync
    for i, event in enumerate(mine):
        if event == "add":
            ack = next(j for j in range(i, len(mine)) if mine[j] == "send:next_node_idx")
            assert "fsync" in mine[i:ack], mine
    for m in members:
        m.close()

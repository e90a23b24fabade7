"""DurableJournal: what pysyncobj relies on survives a crash, torn tails are cut."""

from __future__ import annotations

from pathlib import Path

from cluster.raft_journal import DurableJournal


def _journal(tmp_path: Path) -> DurableJournal:
    return DurableJournal(tmp_path / "raft.journal")


def test_entries_term_and_vote_survive_reopen(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    for i in range(1, 6):
        j.add(f"cmd{i}".encode(), i, 1 + i // 3)
    j.sync()
    j.setCurrentTerm(7, "3")
    j.setRaftCommitIndex(4)
    # no close: a crash right after sync()
    again = _journal(tmp_path)
    assert [e[1] for e in again[:]] == [1, 2, 3, 4, 5]
    assert again[2] == (b"cmd3", 3, 2)
    assert again.getCurrentTerm() == 7
    assert again.getVotedForNodeId() == "3"


def test_torn_tail_is_cut_at_every_byte(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.add(b"first", 1, 1)
    j.add(b"second-entry", 2, 1)
    j.sync()
    data = j.path.read_bytes()
    first_len = len(data) - (8 + 16 + len(b"second-entry"))
    for cut in range(first_len, len(data)):
        path = tmp_path / f"cut{cut}" / "raft.journal"
        path.parent.mkdir()
        path.write_bytes(data[:cut])
        recovered = DurableJournal(path)
        assert [e[0] for e in recovered[:]] == [b"first"], cut
        assert path.stat().st_size == first_len
        recovered.add(b"next", 2, 2)  # appends cleanly after the cut
        recovered.sync()
        assert [e[0] for e in DurableJournal(path)[:]] == [b"first", b"next"]


def test_corrupt_record_stops_recovery(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    for i in range(1, 4):
        j.add(b"x" * 10, i, 1)
    j.sync()
    raw = bytearray(j.path.read_bytes())
    raw[-3] ^= 0xFF  # flip a byte in the last record's command
    j.path.write_bytes(bytes(raw))
    assert [e[1] for e in _journal(tmp_path)[:]] == [1, 2]


def test_delete_from_and_to(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    for i in range(1, 11):
        j.add(bytes([i]), i, 1)
    j.deleteEntriesFrom(7)  # keep positions 0..6 (idx 1..7)
    j.add(b"new8", 8, 2)
    j.deleteEntriesTo(3)  # compaction: drop positions 0..2
    j.sync()
    assert [(e[1], e[2]) for e in _journal(tmp_path)[:]] == [(4, 1), (5, 1), (6, 1), (7, 1), (8, 2)]

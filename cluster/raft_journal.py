"""A durable Raft journal for pysyncobj.

pysyncobj's own ``FileJournal`` writes through an mmap that is never
fsynced, and stores ``currentTerm``/``votedFor`` with a plain rename: a
power loss can forget entries a member already acknowledged, or a vote it
already cast, and Raft's safety argument needs both to survive (Raft §5.2,
§5.3; pysyncobj issue #201).

This journal:

* appends records ``[u32 length][u32 crc32c][u64 idx][u64 term][command]``
  to one file, buffered; ``sync()`` makes everything appended so far durable
  (write + fsync). ``HardenedSyncObj`` calls it before a follower
  acknowledges entries and before the leader counts its own log towards a
  commit, so "acknowledged" always means "on disk" (unless durability is
  switched off in the config);
* persists ``currentTerm``/``votedFor`` atomically (temp file, fsync,
  rename, fsync of the directory) *before* returning, so a vote is never
  cast (the reply is sent after this call) without being durable;
* on open, stops at the first torn or corrupt record and cuts the file
  there: a crash mid-append loses only what was never acknowledged.

It implements the informal interface pysyncobj's ``SyncObj`` uses: ``add``,
``clear``, ``deleteEntriesFrom``, ``deleteEntriesTo``, item access and
slicing, ``len``, commit index and term/vote accessors.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any

import crc32c
import msgpack

from cluster.durable_file import atomic_write, fsync_dir

log = logging.getLogger(__name__)

_RECORD_HEADER = struct.Struct(">IIQQ")  # length of (idx, term, command), crc32c of same, idx, term
_MAX_RECORD_BYTES = 256 * 1024 * 1024

Entry = tuple[bytes, int, int]  # (command, idx, term), the shape pysyncobj uses


class DurableJournal:
    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self._path = Path(path)
        self._meta_path = self._path.with_name(self._path.name + ".meta")
        self._durable = durable
        self._entries: list[Entry] = []
        self._positions: list[int] = []  # file offset of each entry's record
        self._dirty = False
        self._meta: dict[str, Any] = self._load_meta()
        self._file = self._open_and_recover()

    # --- recovery -------------------------------------------------------------
    def _load_meta(self) -> dict[str, Any]:
        try:
            raw = self._meta_path.read_bytes()
        except FileNotFoundError:
            return {}
        meta = msgpack.unpackb(raw, raw=False)
        if not isinstance(meta, dict):
            raise ValueError(f"corrupt raft meta file {self._meta_path}")
        return meta

    def _open_and_recover(self) -> Any:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self._path, "a+b")
        fh.seek(0)
        data = fh.read()
        pos = 0
        while pos + _RECORD_HEADER.size <= len(data):
            length, crc, idx, term = _RECORD_HEADER.unpack_from(data, pos)
            body_start = pos + 8
            body_end = body_start + length
            if length < 16 or length > _MAX_RECORD_BYTES or body_end > len(data):
                break
            if crc32c.crc32c(data[body_start:body_end]) != crc:
                break
            command = bytes(data[pos + _RECORD_HEADER.size : body_end])
            self._entries.append((command, idx, term))
            self._positions.append(pos)
            pos = body_end
        if pos != len(data):
            log.warning(
                "raft journal %s: cutting %d bytes of torn or corrupt tail at offset %d",
                self._path,
                len(data) - pos,
                pos,
            )
            fh.truncate(pos)
            self._fsync(fh)
        fh.seek(0, os.SEEK_END)
        return fh

    # --- pysyncobj Journal interface ---------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        command = bytes(command)
        body = struct.pack(">QQ", idx, term) + command
        record = struct.pack(">II", len(body), crc32c.crc32c(body)) + body
        self._positions.append(self._file.tell())
        self._file.write(record)
        self._entries.append((command, idx, term))
        self._dirty = True

    def clear(self) -> None:
        self._entries.clear()
        self._positions.clear()
        self._file.flush()
        self._file.truncate(0)
        self._file.seek(0)
        self._dirty = True

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        if entryFrom >= len(self._entries):
            return
        entryFrom = max(entryFrom, 0)
        cut = self._positions[entryFrom]
        del self._entries[entryFrom:]
        del self._positions[entryFrom:]
        self._file.flush()
        self._file.truncate(cut)
        self._file.seek(cut)
        self._dirty = True

    def deleteEntriesTo(self, entryTo: int) -> None:
        """Drop the prefix before ``entryTo`` (log compaction): rewrite atomically."""
        keep = self._entries[entryTo:]
        tmp = self._path.with_name(self._path.name + ".compact")
        with open(tmp, "wb") as out:
            positions = []
            for command, idx, term in keep:
                body = struct.pack(">QQ", idx, term) + command
                positions.append(out.tell())
                out.write(struct.pack(">II", len(body), crc32c.crc32c(body)) + body)
            out.flush()
            self._fsync(out)
        self._file.close()
        os.replace(tmp, self._path)
        if self._durable:
            fsync_dir(self._path.parent)
        self._entries = list(keep)
        self._positions = positions
        self._file = open(self._path, "a+b")
        self._file.seek(0, os.SEEK_END)
        self._dirty = False

    def __getitem__(self, item: Any) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def _destroy(self) -> None:
        try:
            self.sync()
        finally:
            self._file.close()

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        # The commit index need not be durable (Raft recomputes it); keep it in
        # memory and write it with the next term/vote change or on close.
        self._meta["commit_index"] = raftCommitIndex

    def getRaftCommitIndex(self) -> int:
        return int(self._meta.get("commit_index", 1))

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        if self._meta.get("term") == term and self._meta.get("voted_for") == votedForNodeId:
            return
        self._meta["term"] = term
        self._meta["voted_for"] = votedForNodeId
        # Durable before pysyncobj sends the vote (it calls us first).
        atomic_write(self._meta_path, msgpack.packb(self._meta), durable=self._durable)

    def getCurrentTerm(self) -> int:
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> Any:
        return self._meta.get("voted_for")

    def onOneSecondTimer(self) -> None:
        pass

    # --- durability ---------------------------------------------------------------
    def sync(self) -> None:
        """Make every entry appended so far durable."""
        if not self._dirty:
            return
        self._file.flush()
        self._fsync(self._file)
        self._dirty = False

    def _fsync(self, fh: Any) -> None:
        if self._durable:
            os.fsync(fh.fileno())

    @property
    def path(self) -> Path:
        return self._path

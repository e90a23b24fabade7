"""The change log a shard replica derives from its applied commands (node/change_stream.py)."""

from __future__ import annotations

from pathlib import Path

import msgpack

from node.change_stream import ChangeLog
from node.storage.batch import decode_records, iter_batches

from .harness import Shard, argv_of


def _changes(changes: ChangeLog) -> list[tuple[bytes, dict[str, object]]]:
    out = []
    for _, batch in iter_batches(changes.log.read(0, 1 << 20)):
        for record in decode_records(batch):
            assert record.key is not None and record.value is not None
            out.append((record.key, msgpack.unpackb(record.value, raw=False)))
    return out


def test_user_changes_are_recorded_and_the_clusters_own_keys_are_not(tmp_path: Path) -> None:
    shard = Shard(now_ms=1_000)
    changes = ChangeLog(str(tmp_path / "changes"), retention_ms=60_000)
    try:
        for offset, argv in enumerate(
            [
                argv_of("SET", "user:1", "v", "PX", "5000"),
                argv_of("HSET", "{__group:billing}:offsets", "orders:0", "7"),
                argv_of("DEL", "user:1"),
            ]
        ):
            shard(*argv)
            touched = [argv[1]]
            changes.append(shard.keyspace, offset, argv[0].decode(), touched, shard.now_ms)
        seen = _changes(changes)
        assert [key for key, _ in seen] == [b"user:1", b"user:1"]
        assert seen[0][1]["value"] == b"v" and seen[0][1]["expire_at"] == 6_000
        assert seen[1][1]["deleted"] is True and seen[1][1]["op"] == "DEL"
    finally:
        changes.close()

"""Replicas agree: the same records in the same order give the same replies and digests,
in this process and in a subprocess with a different hash seed (Python randomises the hash of
bytes per process, so any iteration over a set or a hash-ordered structure would show)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.keyspace import Keyspace

from .harness import apply_record, random_records
from .replay import replay

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_replicas_in_process_agree(seed: int) -> None:
    first, second = Keyspace(), Keyspace()
    for record in random_records(seed, 1500):
        assert repr(apply_record(first, record)) == repr(apply_record(second, record))
    assert first.digest() == second.digest()
    assert first.key_count > 0


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_replica_in_another_process_with_another_hash_seed_agrees(hash_seed: str) -> None:
    ours = replay(7, 2500)
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    result = subprocess.run(
        [sys.executable, str(HERE / "replay.py"), "7", "2500"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    theirs = result.stdout.splitlines()
    assert len(theirs) == len(ours)
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == other, f"record {index}: {mine} != {other}"


def test_digest_is_order_independent_but_content_sensitive() -> None:
    first, second = Keyspace(), Keyspace()
    records = random_records(11, 400)
    for record in records:
        apply_record(first, record)
        apply_record(second, record)
    assert first.digest() == second.digest()
    # A replica restored from a snapshot has its keys in another slot-dict order.
    buffer = io.BytesIO()
    first.snapshot(buffer)
    buffer.seek(0)
    assert Keyspace.load(buffer).digest() == first.digest()
    # Changing one value changes the digest.
    key = next(k for k, v in second.db.iter_items() if isinstance(v, bytes))
    second.db.replace_value(key, b"something else")
    assert first.digest() != second.digest()


def test_replaying_a_log_after_a_snapshot_matches_replaying_it_all() -> None:
    """The RDB + AOF pair: snapshot at an offset, replay the tail, same state and replies."""
    records = random_records(21, 2000)
    full = Keyspace()
    replies = [repr(apply_record(full, record)) for record in records]
    partial = Keyspace()
    for record in records[:1200]:
        apply_record(partial, record)
    buffer = io.BytesIO()
    partial.snapshot(buffer)
    buffer.seek(0)
    restored = Keyspace.load(buffer)
    assert restored.applied_offset == records[1199].offset
    tail = [repr(apply_record(restored, record)) for record in records[1200:]]
    assert tail == replies[1200:]
    assert restored.digest() == full.digest()

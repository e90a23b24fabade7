"""Slot math: Redis's reference vectors, hash-tag rules, range helpers, and a real redis-server."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import threading
import time
from binascii import crc_hqx
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.slots import (
    SLOT_COUNT,
    SlotRanges,
    compact_slots,
    even_slot_ranges,
    hash_tag,
    key_slot,
)

# --- CRC16 and hash tags -------------------------------------------------------------------


def test_crc16_xmodem_reference_vector() -> None:
    # The check value of CRC-16/XMODEM, also the vector in Redis's crc16.c.
    assert crc_hqx(b"123456789", 0) == 0x31C3


def test_key_slot_vectors() -> None:
    assert key_slot(b"key") == 12539
    assert key_slot(b"") == 0
    assert key_slot(b"123456789") == 0x31C3 % SLOT_COUNT


@pytest.mark.parametrize(
    ("key", "hashed"),
    [
        (b"foo{}{bar}", b"foo{}{bar}"),  # empty first tag: whole key
        (b"foo{{bar}}zap", b"{bar"),  # first '{', then the first '}' after it
        (b"foo{bar}{zap}", b"bar"),  # only the first tag counts
        (b"{user1}.following", b"user1"),
        (b"{user1}.followers", b"user1"),
        (b"no-tag", b"no-tag"),
        (b"{", b"{"),
        (b"}", b"}"),
        (b"}{", b"}{"),
        (b"{}", b"{}"),
        (b"a{b", b"a{b"),
        (b"a}b{c}", b"c"),
        (b"{a}", b"a"),
    ],
)
def test_hash_tag_rules(key: bytes, hashed: bytes) -> None:
    assert hash_tag(key) == hashed
    assert key_slot(key) == crc_hqx(hashed, 0) % SLOT_COUNT


def test_keys_sharing_a_tag_share_a_slot() -> None:
    assert key_slot(b"{user1}.a") == key_slot(b"{user1}.b") == key_slot(b"user1")


@given(st.binary(max_size=64))
def test_key_slot_in_range_and_matches_hash_tag(key: bytes) -> None:
    slot = key_slot(key)
    assert 0 <= slot < SLOT_COUNT
    assert slot == crc_hqx(hash_tag(key), 0) % SLOT_COUNT


# --- even assignment ----------------------------------------------------------------------


def test_even_ranges_match_redis_cli_cluster_create() -> None:
    # What `redis-cli --cluster create` prints for three masters.
    assert even_slot_ranges(3) == [(0, 5460, 0), (5461, 10922, 1), (10923, 16383, 2)]
    assert even_slot_ranges(1) == [(0, SLOT_COUNT - 1, 0)]


@pytest.mark.parametrize("num_shards", [1, 2, 3, 5, 7, 12, 64, 1000, 16383, 16384])
def test_even_ranges_cover_every_slot_contiguously_and_evenly(num_shards: int) -> None:
    ranges = even_slot_ranges(num_shards)
    assert [shard for _, _, shard in ranges] == list(range(num_shards))
    assert ranges[0][0] == 0 and ranges[-1][1] == SLOT_COUNT - 1
    for (_, end, _), (start, _, _) in pairwise(ranges):
        assert start == end + 1
    sizes = [end - start + 1 for start, end, _ in ranges]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    assert even_slot_ranges(num_shards) == ranges  # deterministic


@pytest.mark.parametrize("num_shards", [0, -1, SLOT_COUNT + 1])
def test_even_ranges_reject_impossible_counts(num_shards: int) -> None:
    with pytest.raises(ValueError):
        even_slot_ranges(num_shards)


# --- SlotRanges ---------------------------------------------------------------------------


def test_slot_ranges_round_trip_and_lookup() -> None:
    table = SlotRanges.evenly(3)
    assert table.is_complete()
    assert table.to_ranges() == [[0, 5460, 0], [5461, 10922, 1], [10923, 16383, 2]]
    assert SlotRanges.from_ranges(table.to_ranges()) == table
    assert SlotRanges.from_table(table.to_table()) == table
    assert table.shard_for_slot(0) == 0
    assert table.shard_for_slot(5461) == 1
    assert table.shard_for_slot(16383) == 2
    assert table.shard_for_key(b"key") == 2  # slot 12539
    assert table.slot_counts() == {0: 5461, 1: 5462, 2: 5461}
    assert table.shards() == [0, 1, 2]


def test_slot_ranges_partial_assignment_and_moves() -> None:
    table = SlotRanges.from_ranges([[0, 99, 4], [200, 299, 4], [100, 199, 7]])
    assert table.to_ranges() == [[0, 99, 4], [100, 199, 7], [200, 299, 4]]
    assert table.slots_of(4) == [(0, 99), (200, 299)]
    assert not table.is_complete()
    assert table.unassigned() == [(300, SLOT_COUNT - 1)]
    assert table.shard_for_slot(300) is None
    moved = table.copy()
    moved.assign(100, 199, 4)
    assert moved.to_ranges() == [[0, 299, 4]]
    assert table.to_ranges() == [[0, 99, 4], [100, 199, 7], [200, 299, 4]]  # copy untouched
    moved.assign(0, 9, None)
    assert moved.to_ranges() == [[10, 299, 4]]


@pytest.mark.parametrize(
    "ranges",
    [
        [[0, 10, 0], [10, 20, 1]],  # overlap
        [[5, 4, 0]],  # reversed
        [[0, SLOT_COUNT, 0]],  # out of range
        [[-1, 3, 0]],
        [[0, 3, -1]],  # bad shard id
        [[0, 3]],  # not a triple
    ],
)
def test_slot_ranges_reject_bad_ranges(ranges: list[list[int]]) -> None:
    with pytest.raises(ValueError):
        SlotRanges.from_ranges(ranges)


def test_shard_for_slot_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        SlotRanges().shard_for_slot(SLOT_COUNT)


def _table_from_runs(runs: list[tuple[int, int | None]]) -> list[int | None]:
    """Expand (run length, shard) pairs into a 16384-entry table (runs cycle to fill it)."""
    table: list[int | None] = []
    while len(table) < SLOT_COUNT:
        for length, shard in runs:
            table.extend([shard] * length)
    return table[:SLOT_COUNT]


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(st.integers(1, 3000), st.one_of(st.none(), st.integers(0, 3))),
        min_size=1,
        max_size=30,
    )
)
def test_ranges_table_round_trip_random(runs: list[tuple[int, int | None]]) -> None:
    table_values = _table_from_runs(runs)
    table = SlotRanges.from_table(table_values)
    ranges = table.to_ranges()
    assert SlotRanges.from_ranges(ranges).to_table() == table_values
    assert table.is_complete() == (None not in table_values)
    for (_, end, shard), (start, _, next_shard) in pairwise(ranges):
        assert start > end + 1 or shard != next_shard  # compact: touching neighbours differ


@given(st.sets(st.integers(0, SLOT_COUNT - 1), max_size=200))
def test_compact_slots(slots: set[int]) -> None:
    ranges = compact_slots(slots)
    expanded = [slot for start, end in ranges for slot in range(start, end + 1)]
    assert expanded == sorted(slots)
    for (_, end), (start, _) in pairwise(ranges):
        assert start > end + 1


# --- against a real redis-server -----------------------------------------------------------


def _free_port(below: int = 65536) -> int:
    """A loopback port the kernel reports free (Redis wants its data port <= 55535)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port < below:
            return port
    raise RuntimeError("no free port found")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A cluster-enabled redis-server on a loopback port, stopped at the end of the module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port(below=55536)
    args = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--cluster-enabled", "yes", "--cluster-port", str(_free_port()),
        "--cluster-config-file", str(workdir / "nodes.conf"), "--dir", str(workdir),
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        # Readiness: the server answers PING on its port (polled with a deadline). Its log
        # is drained by a thread so a chatty server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING within 15 s")
            time.sleep(0.02)  # a short poll interval between readiness probes
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cluster_keyslots(port: int, keys: list[bytes]) -> list[int]:
    """CLUSTER KEYSLOT for every key, pipelined over one raw RESP connection."""
    request = b"".join(
        b"*3\r\n$7\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n$%d\r\n%s\r\n" % (len(key), key) for key in keys
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while data.count(b"\r\n") < len(keys):
            chunk = conn.recv(65536)
            assert chunk, "redis-server closed the connection"
            data += chunk
    lines = data.split(b"\r\n")[: len(keys)]
    assert all(line.startswith(b":") for line in lines), lines[:5]
    return [int(line[1:]) for line in lines]


def test_key_slot_agrees_with_redis_cluster_keyslot(redis_port: int) -> None:
    rng = random.Random(1234)
    alphabet = b"ab{}"  # braces often, so that tag edge cases are common
    keys: list[bytes] = [b"key", b"123456789", b"foo{}{bar}", b"foo{{bar}}zap", b"foo{bar}{zap}"]
    keys += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) for _ in range(2000)]
    keys += [rng.randbytes(rng.randrange(1, 40)) for _ in range(2000)]
    assert _cluster_keyslots(redis_port, keys) == [key_slot(key) for key in keys]

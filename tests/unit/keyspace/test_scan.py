"""SCAN's guarantee (every element present throughout is returned) under concurrent
changes, cursors that name their slot, and glob patterns."""

from __future__ import annotations

import random
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from node.keyspace import key_slot
from node.keyspace.scan import decode_keys_cursor, glob_matcher, scan_batch

from .harness import Shard


def _scan_all(shard: Shard, command: list[str], mutate: object = None) -> list[bytes]:
    cursor = b"0"
    seen: list[bytes] = []
    for step in range(100_000):
        argv = command[:]
        argv[1 if command[0] == "SCAN" else 2] = cursor.decode()
        reply = shard(*argv)
        assert isinstance(reply, list) and isinstance(reply[0], bytes) and isinstance(reply[1], list)
        cursor, items = reply[0], cast(list[bytes], reply[1])
        seen.extend(items if command[0] in ("SCAN", "SSCAN") else items[::2])
        if callable(mutate):
            mutate(step)
        if cursor == b"0":
            return seen
    raise AssertionError("no end")


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.sampled_from(["1", "5", "100"]))
def test_keys_present_throughout_are_returned_despite_changes(seed: int, count: str) -> None:
    rng = random.Random(seed)
    shard = Shard()
    stable = [f"stable{i}{{{i % 7}}}" for i in range(300)]
    for key in stable:
        shard("SET", key, "v")

    def churn(step: int) -> None:
        for _ in range(5):
            shard("SET", f"new{step}-{rng.randrange(1000)}", "v")
            shard("DEL", f"new{rng.randrange(step + 1)}-{rng.randrange(1000)}")

    seen = _scan_all(shard, ["SCAN", "0", "COUNT", count], churn)
    assert set(stable) <= {key.decode() for key in seen}
    assert len(seen) == len(set(seen))  # and, here, never twice


def test_big_collections_scan_in_several_steps_exactly_once() -> None:
    shard = Shard()
    members = [f"m{i}" for i in range(5_000)]
    shard("SADD", "s", *members)
    shard("HSET", "h", *[x for m in members for x in (m, "v")])
    shard("ZADD", "z", *[x for i, m in enumerate(members) for x in (str(i % 10), m)])
    for command in (["SSCAN", "s", "0"], ["HSCAN", "h", "0", "COUNT", "50"], ["ZSCAN", "z", "0"]):
        steps: list[int] = []
        seen = _scan_all(shard, command, steps.append)
        assert sorted(seen) == sorted(m.encode() for m in members)
        assert 2 <= len(steps) <= 60  # bounded passes, whatever COUNT says


def test_keys_cursor_names_the_slot_to_continue_in() -> None:
    shard = Shard()
    for i in range(2_000):
        shard("SET", f"{{tag}}{i}", "v")  # one big slot
    reply = shard("SCAN", "0", "COUNT", "10")
    assert isinstance(reply, list) and isinstance(reply[0], bytes)
    slot, threshold = decode_keys_cursor(int(reply[0]))
    assert slot == key_slot(b"{tag}") and threshold > 0


def test_scan_batch_ties_are_never_split() -> None:
    elements = [b"a", b"b", b"c", b"d"] * 3
    batch, threshold = scan_batch(elements, len(elements), 0, 1, lambda e: e)
    assert len(set(batch)) == 1 and len(batch) == 3 and threshold > 0


def test_glob_matcher_examples() -> None:
    cases = {
        b"*": [b"", b"abc"],
        b"a*": [b"a", b"abc"],
        b"h?llo": [b"hello", b"hallo"],
        b"h[ae]llo": [b"hello", b"hallo"],
        b"h[^e]llo": [b"hallo"],
        b"h[a-b]llo": [b"hallo", b"hbllo"],
        b"h[b-a]llo": [b"hallo"],
        b"\\*": [b"*"],
        b"[abc": [b"a", b"c"],
        b"*a*a*a*a*b": [b"aaaab"],
    }
    for pattern, subjects in cases.items():
        matcher = glob_matcher(pattern)
        for subject in subjects:
            assert matcher(subject), (pattern, subject)
    assert not glob_matcher(b"**")(b"")
    assert not glob_matcher(b"h[^e]llo")(b"hello")
    assert not glob_matcher(b"*a*a*a*a*a*a*a*a*b")(b"a" * 5_000)  # linear, not exponential


def test_scan_method_walks_the_shard() -> None:
    shard = Shard()
    for i in range(300):
        shard("SET", f"k{i}", "v")
        shard("RPUSH", f"l{i}", "v")
    cursor, seen = 0, []
    while True:
        cursor, keys = shard.keyspace.scan(shard.now_ms, cursor, match=b"l*", count=20, type_name=b"list")
        seen += keys
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"l{i}".encode() for i in range(300))

"""``keystream consume --group`` and ``keystream group list|describe|reset-offsets|delete``
against real node processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from client import Keystream
from client.local_cluster import LocalCluster
from tests.conftest import eventually

TOPIC = "clitopic"


def _cli(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KEYSTREAM_BOOTSTRAP"}
    return subprocess.run(
        [sys.executable, "-m", "client.cli.main", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


async def _ok(args: list[str]) -> str:
    done = await asyncio.to_thread(_cli, args)
    assert done.returncode == 0, f"keystream {' '.join(args)}: {done.stderr}"
    return done.stdout


async def _produce(ks: Keystream, start: int, count: int) -> None:
    producer = await ks.producer(acks="all").start()
    for i in range(start, start + count):
        await producer.send(TOPIC, f"v{i}".encode(), key=f"k{i}".encode())
    await producer.flush()
    await producer.close()


async def test_group_cli(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(60)
    boot = ["--bootstrap", ",".join(cluster.bootstrap())]
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic(TOPIC, partitions=3, replication_factor=3)
        await _produce(ks, 0, 30)

        out = await _ok(
            ["consume", TOPIC, "--group", "cg", "--from-beginning", "--max", "30", "--timeout-ms", "30000", *boot]
        )
        assert sorted(out.split()) == sorted(f"v{i}" for i in range(30))
        # the group remembers: a second run prints nothing old
        again = await _ok(["consume", TOPIC, "--group", "cg", "--from-beginning", "--timeout-ms", "3000", *boot])
        assert again.strip() == ""

        listed = json.loads(await _ok(["group", "list", "--json", *boot]))
        assert [(g["group_id"], g["state"], g["members"]) for g in listed] == [("cg", "Empty", 0)]
        await _produce(ks, 30, 10)

        async def describe() -> dict[str, Any]:
            return dict(json.loads(await _ok(["group", "describe", "cg", "--json", *boot])))

        described = await describe()
        assert described["state"] == "Empty" and described["total_lag"] == 10
        assert {r["partition"] for r in described["partitions"]} == {0, 1, 2}
        ends = await ks.admin.list_offsets(TOPIC, "latest")
        assert all(r["high_watermark"] == ends[r["partition"]] for r in described["partitions"])
        text = await _ok(["group", "describe", "cg", *boot])
        assert "total lag=10" in text and "high watermark" in text

        async def reset(*how: str) -> dict[int, int]:
            rows = json.loads(await _ok(["group", "reset-offsets", "cg", "--topic", TOPIC, *how, "--json", *boot]))
            return {r["partition"]: r["new"] for r in rows}

        assert await reset("--to-earliest") == {0: 0, 1: 0, 2: 0}
        assert (await describe())["total_lag"] == 40
        assert await reset("--shift-by", "3") == {0: 3, 1: 3, 2: 3}
        assert await reset("--shift-by", "-10") == {0: 0, 1: 0, 2: 0}  # clamped to the log start
        assert await reset("--to-latest") == ends
        assert await reset("--to-datetime", "2000-01-01T00:00:00+00:00") == {0: 0, 1: 0, 2: 0}
        assert await reset("--to-datetime", "2999-01-01T00:00:00") == ends  # nothing that late: the end
        assert await reset("--to-offset", "2", "--dry-run") == {0: 2, 1: 2, 2: 2}
        assert (await describe())["total_lag"] == 0  # the dry run changed nothing

        # a group with a member: no reset, no delete
        member = ks.group_consumer("cg", topics=[TOPIC], session_timeout_ms=10_000)
        await member.start()
        await eventually(
            lambda: member.getmany(timeout_ms=100),
            lambda _: bool(member.assignment()),
            timeout=30,
            what="the member's assignment",
        )
        refused = await asyncio.to_thread(
            _cli, ["group", "reset-offsets", "cg", "--topic", TOPIC, "--to-earliest", *boot]
        )
        assert refused.returncode != 0 and "member" in refused.stderr
        refused = await asyncio.to_thread(_cli, ["group", "delete", "cg", *boot])
        assert refused.returncode != 0 and "NON_EMPTY_GROUP" in refused.stderr
        described = await describe()
        assert described["state"] == "Stable" and len(described["members"]) == 1
        assert sorted(tuple(tp) for tp in described["members"][0]["assignment"]) == [(TOPIC, p) for p in range(3)]
        await member.close()

        await _ok(["group", "delete", "cg", *boot])
        assert json.loads(await _ok(["group", "list", "--json", *boot])) == []
        missing = await asyncio.to_thread(_cli, ["group", "delete", "cg", *boot])
        assert missing.returncode != 0 and "GROUP_ID_NOT_FOUND" in missing.stderr
        out = await _ok(
            ["consume", TOPIC, "--group", "cg", "--from-beginning", "--max", "40", "--timeout-ms", "30000", *boot]
        )
        assert len(out.split()) == 40  # offsets were deleted with the group

"""Bugs the chaos suite found in Keystream, each reduced to the smallest deterministic scenario.

Each test names the chaos run that found it (``keystream chaos ...``) and states the
expected behaviour; the history excerpts and the diagnosis are in tests/chaos/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.local_cluster import LocalCluster
from tests.conftest import call, eventually


async def _digests(cluster: LocalCluster, shard: int) -> dict[int, tuple[str, int]]:
    out = {}
    for node in sorted(cluster.nodes):
        info = (await call(cluster.address(node, "native"), "keyspace_digest"))[shard]
        out[node] = (info["digest"], info["applied"])
    return out


async def test_restarted_follower_applies_its_committed_log_without_new_writes(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    """Found by ``keystream chaos --nemesis partition,kill --workload log,kv --duration 25 --seed 1``:
    after the controller was killed and restarted, one shard that received no further write
    stayed at applied offset -1 on the restarted node while its log held the committed
    epoch no-op at offset 0 (the other replicas had applied it): the shard replica object
    is created by the role-change hook at start-up, which schedules no apply for a
    follower, and the follower's high watermark, restored from its checkpoint, never
    advances again without a new write."""
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map: dict[str, Any] = await eventually(
        lambda: call(cluster.address(1, "native"), "metadata"),
        lambda m: bool(m["slots"]) and all(s["leader"] >= 0 for s in m["shards"]),
        timeout=30,
        what="keyspace shards with leaders",
    )
    shard = 0
    leader = cluster_map["shards"][shard]["leader"]
    follower = next(n for n in cluster_map["shards"][shard]["replicas"] if n != leader)
    # every replica applied the leader's epoch no-op (offset 0) before the restart
    await eventually(lambda: _digests(cluster, shard), lambda d: len(set(d.values())) == 1 and
                     all(a >= 0 for _, a in d.values()), timeout=20, what="shard applied everywhere")  # fmt: skip
    # ...and checkpointed its high watermark (the flush loop writes it every second)
    checkpoint = cluster.node_dir(follower) / "replication-offset-checkpoint"

    async def checkpointed() -> dict[str, int]:
        lines = checkpoint.read_text().splitlines() if checkpoint.exists() else []
        return {name: int(hw) for name, hw in (line.split() for line in lines if line.strip())}

    await eventually(checkpointed, lambda c: c.get(f"__keyspace-{shard}", 0) >= 1, timeout=10,
                     what="the follower's high-watermark checkpoint")  # fmt: skip
    cluster.kill(follower)
    cluster.start_node(follower)
    await cluster.wait_ready(40, expect_live=[1, 2, 3])
    await eventually(
        lambda: _digests(cluster, shard),
        lambda d: len(set(d.values())) == 1,
        timeout=20,
        what=f"node {follower} re-applying shard {shard}'s committed log after a restart",
    )

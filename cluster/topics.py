"""Topics in the metadata: name rules, config keys, replica placement, leader choice.

Pure functions, shared by the state machine (which must decide identically
on every member) and by the nodes that propose topic changes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cluster import limits
from cluster.errors import ErrorCode, KeystreamError

_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
INTERNAL_PREFIX = "__"

# Kafka's topic config names we accept (values are validated by the node's
# LogConfig before a create is proposed; the state keeps them as strings).
TOPIC_CONFIG_KEYS = frozenset(
    {
        "retention.ms",
        "retention.bytes",
        "segment.bytes",
        "segment.ms",
        "max.message.bytes",
        "index.interval.bytes",
        "cleanup.policy",
        "delete.retention.ms",
        "min.compaction.lag.ms",
        "min.cleanable.dirty.ratio",
        "min.insync.replicas",
        "unclean.leader.election.enable",
    }
)
NO_LEADER = -1


def validate_topic_name(name: Any, *, allow_internal: bool = False) -> str:
    if not isinstance(name, str) or not name:
        raise KeystreamError(ErrorCode.INVALID_TOPIC, "topic name must be a non-empty string")
    if len(name) > limits.MAX_TOPIC_NAME_LEN:
        raise KeystreamError(
            ErrorCode.INVALID_TOPIC,
            f"topic name is {len(name)} chars; the limit is {limits.MAX_TOPIC_NAME_LEN}",
        )
    if name in (".", ".."):
        raise KeystreamError(ErrorCode.INVALID_TOPIC, f"topic name cannot be {name!r}")
    if not _TOPIC_NAME.match(name):
        raise KeystreamError(
            ErrorCode.INVALID_TOPIC,
            f"topic name {name!r} may only contain ASCII letters, digits, '.', '_', '-'",
        )
    if name.startswith(INTERNAL_PREFIX) and not allow_internal:
        raise KeystreamError(ErrorCode.INVALID_TOPIC, f"topic names starting with {INTERNAL_PREFIX} are internal")
    return name


def validate_topic_config(config: Any) -> dict[str, str]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise KeystreamError(ErrorCode.INVALID_CONFIG, "topic config must be a map of name to value")
    out: dict[str, str] = {}
    for key, value in config.items():
        if key not in TOPIC_CONFIG_KEYS:
            raise KeystreamError(ErrorCode.INVALID_CONFIG, f"unknown topic config {key!r}")
        out[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    if "min.insync.replicas" in out:
        try:
            if int(out["min.insync.replicas"]) < 1:
                raise ValueError
        except ValueError:
            raise KeystreamError(
                ErrorCode.INVALID_CONFIG,
                f"min.insync.replicas must be a positive integer, got {out['min.insync.replicas']!r}",
            ) from None
    if out.get("unclean.leader.election.enable", "false") not in ("true", "false"):
        raise KeystreamError(ErrorCode.INVALID_CONFIG, "unclean.leader.election.enable must be true or false")
    return out


def min_insync_replicas(topic: Mapping[str, Any]) -> int:
    return int(topic["config"].get("min.insync.replicas", "1"))


def unclean_election(topic: Mapping[str, Any]) -> bool:
    return topic["config"].get("unclean.leader.election.enable", "false") == "true"


def assign_replicas(
    live_nodes: Mapping[int, str | None],
    partitions: int,
    replication_factor: int,
    existing: Iterable[list[int]] = (),
    start_partition: int = 0,
) -> list[list[int]]:
    """Spread replicas and leaders evenly over live nodes (rack-aware when racks are set).

    The preferred leader (first replica) of each new partition goes to the node
    that currently leads the fewest partitions; followers follow in a rack-
    interleaved ring, shifted per round so that follower sets vary too.
    """
    if partitions < 1 or partitions > limits.MAX_PARTITIONS_PER_TOPIC:
        raise KeystreamError(
            ErrorCode.INVALID_PARTITIONS,
            f"partition count must be between 1 and {limits.MAX_PARTITIONS_PER_TOPIC}, got {partitions}",
        )
    if replication_factor < 1 or replication_factor > limits.MAX_REPLICATION_FACTOR:
        raise KeystreamError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor must be between 1 and {limits.MAX_REPLICATION_FACTOR}, got {replication_factor}",
        )
    if replication_factor > len(live_nodes):
        raise KeystreamError(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor {replication_factor} is larger than the {len(live_nodes)} live node(s)",
        )
    ring = _rack_interleaved(live_nodes)
    leaders = Counter(replicas[0] for replicas in existing if replicas)
    replicas_held = Counter(n for replicas in existing for n in replicas)
    out: list[list[int]] = []
    n = len(ring)
    for p in range(partitions):
        # least-loaded leader first; ties broken by the ring position for this partition
        order = sorted(
            range(n), key=lambda i: (leaders[ring[i]], replicas_held[ring[i]], (i - p - start_partition) % n)
        )
        first = order[0]
        shift = 1 + ((p + start_partition) // n) % max(1, n - 1)
        chosen = [ring[first]]
        racks = {live_nodes[ring[first]]}
        while len(chosen) < replication_factor:
            # walk the ring from first+shift; prefer a rack not used yet by this partition
            walk = [ring[(first + shift + k) % n] for k in range(n)]
            fresh = [c for c in walk if c not in chosen and live_nodes[c] not in racks]
            pick = fresh[0] if fresh else next(c for c in walk if c not in chosen)
            chosen.append(pick)
            racks.add(live_nodes[pick])
        leaders[chosen[0]] += 1
        for node in chosen:
            replicas_held[node] += 1
        out.append(chosen)
    return out


def _rack_interleaved(live_nodes: Mapping[int, str | None]) -> list[int]:
    by_rack: dict[str, list[int]] = {}
    for node_id in sorted(live_nodes):
        by_rack.setdefault(live_nodes[node_id] or "", []).append(node_id)
    ring: list[int] = []
    racks = sorted(by_rack)
    while any(by_rack.values()):
        for rack in racks:
            if by_rack[rack]:
                ring.append(by_rack[rack].pop(0))
    return ring


def choose_leader(replicas: list[int], isr: list[int], live: set[int], allow_unclean: bool) -> tuple[int, bool]:
    """The first replica (preference order) that is in the ISR and live; with unclean
    election allowed and no such replica, the first live replica. Returns (leader, unclean)."""
    for node in replicas:
        if node in isr and node in live:
            return node, False
    if allow_unclean:
        for node in replicas:
            if node in live:
                return node, True
    return NO_LEADER, False

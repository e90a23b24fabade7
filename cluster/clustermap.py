"""The cluster map: what clients and nodes route by, built from the metadata state.

Addresses are those of the listener the asking client connected through
(Kafka's advertised-listener model), so a client outside a container
network gets addresses it can reach.
"""

from __future__ import annotations

from typing import Any

from cluster.state import ClusterState


def node_addresses(node: dict[str, Any], listener: str) -> dict[str, str | None]:
    services = node["listeners"].get(listener)
    if services is None:
        # The node has no listener of that name: fall back to any it has, so
        # a half-configured cluster stays usable (and visibly so).
        services = next(iter(node["listeners"].values()), {})
    return {svc: services.get(svc) for svc in ("native", "http", "resp")}


def build_cluster_map(state: ClusterState, listener: str, controller_id: int | None) -> dict[str, Any]:
    nodes = {}
    for key, node in state.nodes.items():
        nodes[key] = {
            "id": node["id"],
            **node_addresses(node, listener),
            "rack": node.get("rack"),
            "fenced": node["fenced"],
            "voter": node.get("voter", False),
        }
    partitions: dict[str, list[dict[str, Any]]] = {}
    for name, topic in state.topics.items():
        partitions[name] = [
            {
                "partition": index,
                "leader": p["leader"],
                "leader_epoch": p["leader_epoch"],
                "replicas": list(p["replicas"]),
                "isr": list(p["isr"]),
            }
            for index, p in enumerate(topic["partitions"])
        ]
    keyspace = state.data.get("keyspace")
    if keyspace and keyspace.get("changes") and keyspace["topic"] in partitions:
        # the change stream is served by each shard's leader, partition for partition
        partitions[keyspace["topic"] + ".changes"] = [dict(p) for p in partitions[keyspace["topic"]]]
    return {
        "map_epoch": state.map_epoch,
        "cluster_id": state.cluster_id,
        "controller": controller_id,
        "nodes": nodes,
        "partitions": partitions,
        "slots": list(keyspace["slots"]) if keyspace else [],
        "shards": _shards(state, keyspace),
    }


def _shards(state: ClusterState, keyspace: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not keyspace:
        return []
    topic = state.topics.get(keyspace["topic"])
    if topic is None:
        return []
    return [
        {
            "shard": i,
            "leader": p["leader"],
            "leader_epoch": p["leader_epoch"],
            "replicas": list(p["replicas"]),
        }
        for i, p in enumerate(topic["partitions"])
    ]

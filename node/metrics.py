"""Prometheus metrics at ``GET /metrics``, collected when scraped (nothing on the hot path
beyond a per-operation request counter in the native server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from node.protocols.http import principal

if TYPE_CHECKING:
    from node.server import Node


class NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Any]:
        node = self.node
        raft = node.raft.status()
        state = node.raft.snapshot
        yield _gauge("keystream_up", "1 while this node is registered and not fenced",
                     [({}, 1.0 if node.health()[0] else 0.0)])  # fmt: skip
        yield _gauge("keystream_metadata_map_epoch", "cluster map epoch seen by this node", [({}, state.map_epoch)])
        yield _gauge("keystream_metadata_raft_term", "metadata Raft term", [({}, raft.get("term", 0))])
        yield _gauge("keystream_metadata_raft_commit_index", "metadata Raft commit index",
                     [({}, raft.get("commit_index", 0))])  # fmt: skip
        yield _gauge("keystream_controller", "1 on the node that is the controller",
                     [({}, 1.0 if node.raft.is_leader else 0.0)])  # fmt: skip
        yield _gauge("keystream_nodes_fenced", "fenced nodes in the map",
                     [({}, sum(1 for n in state.nodes.values() if n["fenced"]))])  # fmt: skip
        requests = CounterMetricFamily("keystream_native_requests", "native requests handled", labels=["op"])
        totals: dict[str, int] = {}
        for server in node.native_servers:
            for op, count in server.request_counts.items():
                totals[op] = totals.get(op, 0) + count
        for op, count in sorted(totals.items()):
            requests.add_metric([op], count)
        yield requests
        log = node.features.get("log")
        if log is not None:
            replicas = list(log.manager.replicas.values())
            labels = ["topic", "partition"]
            hw = GaugeMetricFamily("keystream_partition_high_watermark", "high watermark", labels=labels)
            leo = GaugeMetricFamily("keystream_partition_log_end_offset", "log end offset", labels=labels)
            size = GaugeMetricFamily("keystream_partition_size_bytes", "bytes on disk", labels=labels)
            isr = GaugeMetricFamily("keystream_partition_isr_size", "in-sync replicas (leader's view)", labels=labels)
            under = 0
            for r in replicas:
                key = [r.topic, str(r.partition)]
                hw.add_metric(key, r.high_watermark)
                leo.add_metric(key, r.log.log_end_offset)
                size.add_metric(key, r.log.size_bytes)
                if r.role.value == "leader":
                    isr.add_metric(key, len(r.isr))
                    under += len(r.isr) < len(r.replicas)
            yield from (hw, leo, size, isr)
            yield _gauge("keystream_under_replicated_partitions", "led here with an ISR smaller than the replicas",
                         [({}, under)])  # fmt: skip
        keyspace = node.features.get("keyspace")
        if keyspace is not None:
            keys = GaugeMetricFamily("keystream_keyspace_keys", "keys per shard replica", labels=["shard", "role"])
            for shard_id, shard in sorted(keyspace.shards.items()):
                keys.add_metric([str(shard_id), shard.replica.role.value], shard.keyspace.key_count)
            yield keys


def _gauge(name: str, doc: str, samples: list[tuple[dict[str, str], float]]) -> GaugeMetricFamily:
    labels = sorted(samples[0][0]) if samples else []
    family = GaugeMetricFamily(name, doc, labels=labels)
    for label_values, value in samples:
        family.add_metric([label_values[k] for k in labels], value)
    return family


def install_metrics(node: Node) -> None:
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))

    def routes(app: web.Application) -> None:
        async def metrics(request: web.Request) -> web.Response:
            principal(request)
            return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

        app.router.add_get("/metrics", metrics)

    node.http.add_routes(routes)

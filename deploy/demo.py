"""The compose demo: `docker compose -f deploy/docker-compose.yml run --rm demo`.

Runs inside the compose network, against the nodes' internal listeners, and
prints what it does. For now it shows the cluster through the HTTP API
(`GET /v1/cluster` on every node: one controller, one map); the log and the
keyspace parts use the SDK once it has landed.

Environment:
  KEYSTREAM_HTTP       comma-separated base URLs of the nodes' HTTP listeners
  KEYSTREAM_BOOTSTRAP  comma-separated native addresses (for the SDK)
  DEMO_DEADLINE_S      how long to wait for the cluster to agree (default 60)
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

POLL_INTERVAL_S = 0.5


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def cluster_maps(bases: list[str]) -> dict[str, Any]:
    maps: dict[str, Any] = {}
    for base in bases:
        try:
            maps[base] = get_json(f"{base}/v1/cluster")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            maps[base] = {"error": str(exc)}
    return maps


def agreed(maps: dict[str, Any]) -> bool:
    """Every node answered, and all name the same controller at the same map epoch."""
    views = {(m.get("map_epoch"), m.get("controller")) for m in maps.values()}
    return all("error" not in m for m in maps.values()) and len(views) == 1


def wait_for_agreement(bases: list[str], deadline_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    maps = cluster_maps(bases)
    while not agreed(maps):
        if time.monotonic() > deadline:
            print("the nodes did not agree on one cluster map in time:", file=sys.stderr)
            print(json.dumps(maps, indent=2, sort_keys=True), file=sys.stderr)
            raise SystemExit(1)
        time.sleep(POLL_INTERVAL_S)
        maps = cluster_maps(bases)
    return maps


def show_cluster(maps: dict[str, Any]) -> None:
    first = next(iter(maps.values()))
    print(f"cluster map epoch {first.get('map_epoch')}, controller node {first.get('controller')}")
    for node_id, node in sorted(first.get("nodes", {}).items()):
        print(f"  node {node_id}: {json.dumps(node, sort_keys=True)}")
    print(f"all {len(maps)} nodes serve the same map ({', '.join(maps)})")


def main() -> int:
    bases = [b.strip().rstrip("/") for b in os.environ.get("KEYSTREAM_HTTP", "").split(",") if b.strip()]
    if not bases:
        print("set KEYSTREAM_HTTP to the nodes' HTTP base URLs", file=sys.stderr)
        return 2
    deadline_s = float(os.environ.get("DEMO_DEADLINE_S", "60"))
    print(f"asking {len(bases)} nodes for their cluster map (GET /v1/cluster)")
    maps = wait_for_agreement(bases, deadline_s)
    show_cluster(maps)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``keystream local``: a cluster of separate node processes on loopback, in the foreground."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client.local_cluster import ClusterNotReady, LocalCluster, voter_count


@click.command(context_settings={"show_default": True})
@click.option("--nodes", "-n", type=click.IntRange(1, 7), default=3, help="Number of nodes.")
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=9100,
    help="First port; node N uses base+10*(N-1)+{0 native,1 http,2 resp,3 raft}.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./data"), help="One sub-directory per node.")
@click.option("--host", default="127.0.0.1", help="Loopback address to bind and advertise.")
@click.option("--timeout", type=float, default=60.0, help="Seconds to wait for the cluster to be ready.")
@click.option("--node-arg", "node_args", multiple=True, help="Extra argument for every node (repeatable).")
def local(nodes: int, base_port: int, data_dir: Path, host: str, timeout: float, node_args: tuple[str, ...]) -> None:
    """Start a local cluster and keep it running until Ctrl-C."""
    console = Console(width=None if sys.stdout.isatty() else 140)
    cluster = LocalCluster(data_dir, nodes=nodes, base_port=base_port, host=host, extra_args=node_args)
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    started = time.monotonic()
    cluster.start_all()
    try:
        with console.status(f"starting {nodes} nodes in {cluster.data_dir} ..."):
            cluster_map = asyncio.run(_wait(cluster, timeout, lambda: stop_requested))
    except ClusterNotReady as exc:
        console.print(f"[red]cluster did not become ready:[/red] {exc}")
        for node_id in cluster.nodes:
            tail = cluster.log_tail(node_id, 5)
            if tail:
                console.print(f"[bold]node {node_id}[/bold] (last log lines):\n{tail}")
        cluster.stop_all()
        sys.exit(1)
    except KeyboardInterrupt:
        cluster.stop_all()
        sys.exit(130)
    if cluster_map is None:  # interrupted while starting
        codes = cluster.stop_all()
        sys.exit(0 if all(c == 0 for c in codes.values()) else 1)
    elapsed = time.monotonic() - started
    path = cluster.write_cluster_json()
    _print_table(console, cluster, cluster_map)
    console.print(
        f"cluster [bold]{cluster_map['cluster_id']}[/bold] ready in {elapsed:.1f}s, map epoch "
        f"{cluster_map['map_epoch']}; addresses in {path}. Logs: {cluster.data_dir}/node*/node.log. "
        "Ctrl-C stops every node."
    )
    reported: set[int] = set()
    while not stop_requested:
        time.sleep(0.2)
        for node_id, code in cluster.exited().items():
            if node_id not in reported:
                reported.add(node_id)
                console.print(f"[yellow]node {node_id} exited with code {code}[/yellow]; the others keep running")
    console.print("stopping ...")
    codes = cluster.stop_all()
    bad = {k: v for k, v in codes.items() if v not in (0, None) and k not in reported}
    if bad:
        console.print(f"[red]nodes did not stop cleanly: {bad}[/red]")
        sys.exit(1)
    console.print("stopped.")


async def _wait(cluster: LocalCluster, timeout: float, stopped: Callable[[], bool]) -> dict[str, Any] | None:
    task = asyncio.create_task(cluster.wait_ready(timeout))
    while not task.done():
        if stopped():
            task.cancel()
            return None
        await asyncio.sleep(0.1)
    return task.result()


def _print_table(console: Console, cluster: LocalCluster, cluster_map: dict[str, Any]) -> None:
    voters = voter_count(cluster.size)
    table = Table(title="Keystream local cluster", title_justify="left")
    for col in ("node", "role", "native", "http", "resp", "raft", "state", "pid"):
        table.add_column(col)
    for node_id, addrs in cluster.addresses().items():
        nid = int(node_id)
        role = "controller" if cluster_map["controller"] == nid else ("voter" if nid <= voters else "broker")
        node = cluster_map["nodes"].get(node_id, {})
        state = "fenced" if node.get("fenced") else "live"
        proc = cluster.nodes[nid].proc
        table.add_row(
            node_id,
            role,
            addrs["native"],
            addrs["http"],
            addrs["resp"],
            addrs["raft"] if nid <= voters else "-",
            state,
            str(proc.pid if proc else "-"),
        )
    console.print(table)

"""``keystream cluster ...``: cluster-wide status and administration."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client.cli.common import bootstrap_option, print_json, resolve_bootstrap, sdk_options
from client.connection import NativeConnection
from cluster.errors import KeystreamError


@click.group()
def cluster() -> None:
    """Cluster status and administration."""


async def _status(bootstrap: list[str], timeout: float) -> dict[str, Any]:
    errors = []
    for address in bootstrap:
        try:
            conn = await NativeConnection.open(address, connect_timeout=timeout, **sdk_options())
        except ConnectionError as exc:
            errors.append(str(exc))
            continue
        try:
            return dict(await conn.request("cluster_status", {}, timeout=timeout))
        except (KeystreamError, ConnectionError) as exc:
            errors.append(f"{address}: {exc}")
        finally:
            await conn.close()
    raise click.ClickException("no bootstrap node answered: " + "; ".join(errors))


@cluster.command("status")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--timeout", type=float, default=5.0, show_default=True)
def status(bootstrap: str | None, as_json: bool, timeout: float) -> None:
    """The controller, every node's state (live or fenced) and the map epoch."""
    result = asyncio.run(_status(resolve_bootstrap(bootstrap), timeout))
    if as_json:
        print_json(result)
        return
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(
        f"cluster [bold]{result['cluster_id']}[/bold]  controller: node {result['controller']}  "
        f"map epoch: {result['map_epoch']}  (answered by node {result['answered_by']})"
    )
    table = Table()
    for col in ("node", "state", "role", "rack", "listeners"):
        table.add_column(col)
    for row in result["nodes"]:
        role = "controller" if row["controller"] else ("voter" if row["voter"] else "broker")
        listeners = "\n".join(
            f"{name}: " + " ".join(f"{svc}={addr}" for svc, addr in sorted(svcs.items()))
            for name, svcs in sorted(row["listeners"].items())
        )
        style = "red" if row["state"] == "fenced" else "green"
        table.add_row(str(row["id"]), f"[{style}]{row['state']}[/{style}]", role, row["rack"] or "-", listeners)
    console.print(table)
    if any(row["state"] == "fenced" for row in result["nodes"]):
        sys.exit(0)

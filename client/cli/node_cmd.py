"""``keystream node``: run one node in the foreground."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.config import ConfigError, load_config


@click.command(context_settings={"show_default": True})
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--id", "node_id", type=int, help="Node id (env KEYSTREAM_NODE_ID).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (env KEYSTREAM_DATA_DIR).")
@click.option("--raft", help="Raft endpoint BIND[@ADVERTISED] (voters only; env KEYSTREAM_RAFT).")
@click.option("--voters", help="Raft voters ID=HOST:PORT,... (env KEYSTREAM_VOTERS).")
@click.option(
    "--listener",
    "listeners",
    multiple=True,
    help="NAME.SERVICE=BIND[@ADVERTISED], SERVICE one of native, http, resp; repeatable "
    "(env KEYSTREAM_LISTENERS, comma-separated).",
)
@click.option("--inter-node-listener", help="Listener name other nodes use (default: the first).")
@click.option("--cluster-name", help="Cluster name; nodes of different clusters refuse each other.")
@click.option(
    "--cluster-secret-file",
    type=click.Path(path_type=Path),
    help="File holding the cluster secret (or env KEYSTREAM_CLUSTER_SECRET; never a flag).",
)
@click.option("--rack", help="Rack or zone of this node, for replica placement.")
@click.option("--session-timeout-ms", type=int, help="Fence a node silent this long (default 3000).")
@click.option("--heartbeat-interval-ms", type=int, help="Heartbeat period (default 500).")
@click.option("--metadata-fsync/--no-metadata-fsync", default=None, help="fsync metadata before acknowledging.")
@click.option(
    "--raft-dial",
    "raft_dial_overrides",
    help="Dial Raft peers at these addresses instead (ID=HOST:PORT,...), e.g. proxies.",
)
@click.option(
    "--peer-dial",
    "peer_dial_overrides",
    help="Dial other nodes' native listener at these addresses instead (ID=HOST:PORT,...).",
)
@click.option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log line format.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other setting, e.g. --set log.flush.interval.ms=1000; repeatable.",
)
def node(config_file: Path | None, settings: tuple[str, ...], **flags: object) -> None:
    """Run one Keystream node (config file < environment < flags)."""
    merged = {k: v for k, v in flags.items() if v is not None}
    if "listeners" in merged:
        merged["listeners"] = list(merged["listeners"])  # type: ignore[call-overload]
    if "cluster_secret_file" in merged:
        merged["cluster_secret_file"] = str(merged["cluster_secret_file"])
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        merged[key.strip()] = value
    try:
        config = load_config(config_file, flags=merged)
    except ConfigError as exc:
        click.echo(f"keystream node: configuration error: {exc}", err=True)
        sys.exit(2)
    from node.main import run_node

    sys.exit(run_node(config))

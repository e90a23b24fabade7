"""What every CLI command that talks to a cluster shares: finding it, and printing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

DEFAULT_DATA_DIR = Path("./data")
BOOTSTRAP_ENV = "KEYSTREAM_BOOTSTRAP"


def resolve_bootstrap(bootstrap: str | None, data_dir: Path = DEFAULT_DATA_DIR) -> list[str]:
    """``--bootstrap`` (comma-separated native addresses), else $KEYSTREAM_BOOTSTRAP, else
    the ``cluster.json`` that ``keystream local`` wrote in its default data directory."""
    raw = bootstrap or os.environ.get(BOOTSTRAP_ENV)
    if raw:
        addresses = [a.strip() for a in raw.split(",") if a.strip()]
        if addresses:
            return addresses
    cluster_json = data_dir / "cluster.json"
    if cluster_json.exists():
        try:
            nodes = json.loads(cluster_json.read_text())
            return [n["native"] for _, n in sorted(nodes.items(), key=lambda kv: int(kv[0]))]
        except (ValueError, KeyError, TypeError) as exc:
            raise click.UsageError(f"{cluster_json} is not a cluster.json written by keystream local: {exc}") from None
    raise click.UsageError(
        "no cluster given: pass --bootstrap HOST:PORT[,HOST:PORT...] (native addresses), "
        f"set ${BOOTSTRAP_ENV}, or run `keystream local` so {cluster_json} exists"
    )


bootstrap_option = click.option(
    "--bootstrap",
    "-b",
    metavar="HOST:PORT[,HOST:PORT...]",
    help="Native addresses of one or more nodes (default: ./data/cluster.json from `keystream local`).",
)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))

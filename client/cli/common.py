"""What every CLI command that talks to a cluster shares: finding it, and printing."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


CREDENTIALS_ENV = ("KEYSTREAM_USER", "KEYSTREAM_PASSWORD")
TLS_CA_ENV = "KEYSTREAM_TLS_CA"
CREDENTIALS_FILE_ENV = "KEYSTREAM_CREDENTIALS_FILE"


def sdk_options() -> dict[str, Any]:
    """Credentials and TLS for the SDK: from ``keystream --user/--password/--tls-ca`` (which set
    the environment), ``$KEYSTREAM_USER``/``$KEYSTREAM_PASSWORD``/``$KEYSTREAM_TLS_CA``, or a TOML
    file (``--credentials-file``/``$KEYSTREAM_CREDENTIALS_FILE``: user, password, tls_ca)."""
    import tomllib

    user = os.environ.get(CREDENTIALS_ENV[0])
    password = os.environ.get(CREDENTIALS_ENV[1])
    tls_ca = os.environ.get(TLS_CA_ENV)
    file = os.environ.get(CREDENTIALS_FILE_ENV)
    if file:
        try:
            data = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise click.UsageError(f"cannot read credentials file {file}: {exc}") from None
        user = user or data.get("user")
        password = password or data.get("password")
        tls_ca = tls_ca or data.get("tls_ca")
    options: dict[str, Any] = {}
    if user:
        if not password:
            raise click.UsageError("a user needs a password (--password or $KEYSTREAM_PASSWORD)")
        options["credentials"] = {"mechanism": "PLAIN", "username": user, "password": password}
    if tls_ca:
        import ssl

        options["ssl"] = ssl.create_default_context(cafile=tls_ca)
    return options


def connect(bootstrap: str | None) -> Any:
    """A Keystream SDK client for the CLI: bootstrap, credentials and TLS resolved."""
    from client import Keystream

    return Keystream(resolve_bootstrap(bootstrap), **sdk_options())


@contextmanager
def bench_cluster(bootstrap: str | None, extra_args: Sequence[str] = ()) -> Iterator[list[str]]:
    """The addresses a benchmark runs against: ``--bootstrap``, or a local three-node cluster
    started for the run (free ports, a temporary directory), stopped and removed afterwards."""
    if bootstrap:
        yield [a.strip() for a in bootstrap.split(",") if a.strip()]
        return
    from client.cli.runner import run
    from client.local_cluster import LocalCluster, free_port_base

    with tempfile.TemporaryDirectory(prefix="keystream-bench-") as tmp:
        cluster = LocalCluster(tmp, nodes=3, base_port=free_port_base(4), extra_args=list(extra_args))
        cluster.start_all()
        try:
            run(cluster.wait_ready(60))
            yield cluster.bootstrap()
        finally:
            cluster.stop_all()

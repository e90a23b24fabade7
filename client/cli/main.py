"""The ``keystream`` command line."""

from __future__ import annotations

import click

from client.cli.bench_cmd import bench
from client.cli.certs_cmd import certs
from client.cli.chaos_cmd import chaos
from client.cli.cluster_cmd import cluster
from client.cli.group_cmd import group
from client.cli.local_cmd import local
from client.cli.log_cmd import consume, produce
from client.cli.node_cmd import node
from client.cli.topic_cmd import topic
from client.cli.user_cmd import user


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="keystream")
@click.option("--user", envvar="KEYSTREAM_USER", help="User to authenticate as (env KEYSTREAM_USER).")
@click.option("--password", envvar="KEYSTREAM_PASSWORD", help="Its password (env KEYSTREAM_PASSWORD).")
@click.option("--credentials-file", envvar="KEYSTREAM_CREDENTIALS_FILE", help="TOML with user, password, tls_ca.")
@click.option("--tls-ca", envvar="KEYSTREAM_TLS_CA", help="CA certificate to trust for TLS listeners.")
def cli(user: str | None, password: str | None, credentials_file: str | None, tls_ca: str | None) -> None:
    """Keystream: a replicated log and a Redis-compatible keyspace in one cluster."""
    import os

    for var, value in (("KEYSTREAM_USER", user), ("KEYSTREAM_PASSWORD", password),
                       ("KEYSTREAM_CREDENTIALS_FILE", credentials_file), ("KEYSTREAM_TLS_CA", tls_ca)):  # fmt: skip
        if value:
            os.environ[var] = value


cli.add_command(node)
cli.add_command(local)
cli.add_command(cluster)
cli.add_command(bench)
cli.add_command(chaos)
cli.add_command(topic)
cli.add_command(user)
cli.add_command(certs)
cli.add_command(produce)
cli.add_command(consume)
cli.add_command(group)


def main() -> None:
    cli(prog_name="keystream")


if __name__ == "__main__":
    main()

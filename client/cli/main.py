"""The ``keystream`` command line."""

from __future__ import annotations

import click

from client.cli.bench_cmd import bench
from client.cli.cluster_cmd import cluster
from client.cli.local_cmd import local
from client.cli.log_cmd import consume, produce
from client.cli.node_cmd import node
from client.cli.topic_cmd import topic


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="keystream")
def cli() -> None:
    """Keystream: a replicated log and a Redis-compatible keyspace in one cluster."""


cli.add_command(node)
cli.add_command(local)
cli.add_command(cluster)
cli.add_command(bench)
cli.add_command(topic)
cli.add_command(produce)
cli.add_command(consume)


def main() -> None:
    cli(prog_name="keystream")


if __name__ == "__main__":
    main()

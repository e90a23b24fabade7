"""``keystream topic ...``: create, list, describe, delete and configure topics."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client.cli.common import bootstrap_option, connect, print_json
from client.cli.runner import run


def _config_pairs(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--config")
        out[key.strip()] = value.strip()
    return out


@click.group()
def topic() -> None:
    """Create, list, describe, delete and configure topics."""


@topic.command("create")
@click.argument("name")
@click.option("--partitions", "-p", type=int, help="Partition count (cluster default: num.partitions).")
@click.option("--replication-factor", "-r", type=int, help="Replicas per partition (default: min(3, live nodes)).")
@click.option("--config", "-c", "configs", multiple=True, metavar="NAME=VALUE", help="Topic config; repeatable.")
@bootstrap_option
def create(name: str, partitions: int | None, replication_factor: int | None, configs: tuple[str, ...],
           bootstrap: str | None) -> None:  # fmt: skip
    """Create topic NAME."""

    async def go() -> dict[str, Any]:
        async with connect(bootstrap) as ks:
            return await ks.admin.create_topic(name, partitions, replication_factor, _config_pairs(configs))

    result = run(go())
    click.echo(f"created topic {result['name']} with {result['partitions']} partition(s)")


@topic.command("list")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def list_(bootstrap: str | None, as_json: bool) -> None:
    """List topics."""

    async def go() -> list[str]:
        async with connect(bootstrap) as ks:
            return await ks.admin.list_topics()

    names = run(go())
    if as_json:
        print_json(names)
    else:
        for name in names:
            click.echo(name)


@topic.command("describe")
@click.argument("names", nargs=-1)
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def describe(names: tuple[str, ...], bootstrap: str | None, as_json: bool) -> None:
    """Leader, epoch, replicas, ISR, log start and high watermark of every partition."""

    async def go() -> list[dict[str, Any]]:
        async with connect(bootstrap) as ks:
            return await ks.admin.describe_topics(list(names) or None)

    topics = run(go())
    if as_json:
        print_json(topics)
        return
    console = Console(width=None if console_is_tty() else 140)
    for t in topics:
        config = ", ".join(f"{k}={v}" for k, v in sorted(t["config"].items())) or "(defaults)"
        table = Table(title=f"{t['name']}  id={t['topic_id'][:12]}  config: {config}", title_justify="left")
        for col in ("partition", "leader", "epoch", "replicas", "isr", "log start", "high watermark"):
            table.add_column(
                col, justify="right" if col in ("partition", "epoch", "log start", "high watermark") else "left"
            )
        for p in t["partitions"]:
            under = len(p["isr"]) < len(p["replicas"])
            isr = ",".join(map(str, p["isr"]))
            table.add_row(str(p["partition"]), str(p["leader"]) if p["leader"] >= 0 else "[red]none[/red]",
                          str(p["leader_epoch"]), ",".join(map(str, p["replicas"])),
                          f"[yellow]{isr}[/yellow]" if under else isr,
                          _num(p["log_start_offset"]), _num(p["high_watermark"]))  # fmt: skip
        console.print(table)


def console_is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


def _num(value: int | None) -> str:
    return "?" if value is None else str(value)


@topic.command("delete")
@click.argument("name")
@bootstrap_option
def delete(name: str, bootstrap: str | None) -> None:
    """Delete topic NAME and all its data."""

    async def go() -> None:
        async with connect(bootstrap) as ks:
            await ks.admin.delete_topic(name)

    run(go())
    click.echo(f"deleted topic {name}")


@topic.command("alter")
@click.argument("name")
@click.option("--config", "-c", "configs", multiple=True, metavar="NAME=VALUE", help="Set a config; repeatable.")
@click.option("--delete-config", "deletes", multiple=True, metavar="NAME", help="Back to the default; repeatable.")
@bootstrap_option
def alter(name: str, configs: tuple[str, ...], deletes: tuple[str, ...], bootstrap: str | None) -> None:
    """Change a topic's configuration."""

    async def go() -> dict[str, str]:
        async with connect(bootstrap) as ks:
            return await ks.admin.alter_topic_config(name, _config_pairs(configs), list(deletes))

    result = run(go())
    click.echo(", ".join(f"{k}={v}" for k, v in sorted(result.items())) or "(defaults)")

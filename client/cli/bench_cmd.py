"""``keystream bench ...``: benchmarks that print tables (never pass/fail on speed)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table


@click.group()
def bench() -> None:
    """Measure throughput and latency on a local cluster."""


@bench.command("metadata")
@click.option("--runs", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option(
    "--writes",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Sequential metadata writes per run and per target node.",
)
def metadata(runs: int, writes: int) -> None:
    """Start-up time, controller failover time and metadata write latency (median and max)."""
    from client.bench.metadata import one_run, summarize

    results = []
    with Progress(transient=True) as progress:
        task = progress.add_task("runs", total=runs)
        for _ in range(runs):
            results.append(one_run(writes))
            progress.advance(task)
    table = Table(title=f"Foundation benchmark: {runs} runs, 3 nodes on loopback")
    for col in ("measure", "median", "max", "samples"):
        table.add_column(col)
    for row in summarize(results):
        table.add_row(*row)
    Console().print(table)

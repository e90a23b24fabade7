"""``keystream bench ...``: benchmarks that print tables (never pass/fail on speed)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from client.cli.bench_groups_cmd import groups as groups_bench
from client.cli.common import bench_cluster


@click.group()
def bench() -> None:
    """Measure throughput and latency on a local cluster."""


bench.add_command(groups_bench)


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


@bench.command("log")
@click.option("--bootstrap", "-b", help="Use this cluster instead of starting a local three-node one.")
@click.option("--records", type=int, default=1_000_000, show_default=True)
@click.option("--record-size", type=int, default=100, show_default=True)
@click.option("--partitions", type=int, default=6, show_default=True)
@click.option("--replication-factor", type=int, default=3, show_default=True)
@click.option("--acks", type=click.Choice(["0", "1", "all"]), default="all", show_default=True)
@click.option("--linger-ms", type=float, default=5.0, show_default=True)
@click.option("--batch-size", type=int, default=512 * 1024, show_default=True)
@click.option("--compression", type=click.Choice(["none", "lz4", "zstd"]), default="none", show_default=True)
@click.option(
    "--e2e-rate", type=int, default=5000, show_default=True, help="Records/s for end-to-end latency (0: skip)."
)
@click.option("--e2e-seconds", type=float, default=10.0, show_default=True)
@click.option("--compare-idempotence/--no-compare-idempotence", default=True, show_default=True,
              help="Produce the records again, idempotence on and off in ABBA rounds; print both rates.")  # fmt: skip
def log_bench(bootstrap: str | None, records: int, record_size: int, partitions: int, replication_factor: int,
              acks: str, linger_ms: float, batch_size: int, compression: str, e2e_rate: int,
              e2e_seconds: float, compare_idempotence: bool) -> None:  # fmt: skip
    """Produce/consume throughput and latency on the log (compare: Kafka 2014, three machines)."""
    from client.bench.log import run_log_bench
    from client.cli.runner import run

    console = Console()
    with bench_cluster(bootstrap) as addresses:
        with Progress(transient=True) as progress:
            task = progress.add_task("producing", total=records)
            result = run(
                run_log_bench(
                    addresses, records=records, record_bytes=record_size, partitions=partitions,
                    replication_factor=replication_factor, acks=acks if acks == "all" else int(acks),  # type: ignore[arg-type]
                    linger_ms=linger_ms, batch_size=batch_size,
                    compression=None if compression == "none" else compression,
                    e2e_rate=e2e_rate, e2e_seconds=e2e_seconds, compare_idempotence=compare_idempotence,
                    progress=lambda n: progress.update(task, completed=n),
                )
            )  # fmt: skip
    table = Table(title=f"Log benchmark: {records:,} records of {record_size} B, {partitions} partitions, "
                        f"RF={replication_factor}, acks={acks}, 3 nodes + client on this machine")  # fmt: skip
    table.add_column("measure")
    table.add_column("Keystream", justify="right")
    table.add_column("Kafka 2014 (3 dedicated machines)", justify="right")
    anchors = {
        "produce records/s (acks=all)": "421,823",
        "produce MB/s": "40.2",
        "consume records/s (one consumer)": "940,521",
    }
    for name, value in result.rows():
        anchor = anchors.get(name, "2 (p50)" if name.startswith("end-to-end") else "")
        table.add_row(name, value, anchor)
    console.print(table)


@bench.command("kv")
@click.option("--bootstrap", "-b", help="Use this cluster instead of starting local three-node ones.")
@click.option("--keys", type=int, default=200_000, show_default=True)
@click.option("--pipeline", type=int, default=100, show_default=True, help="Commands per pipeline.")
@click.option("--workers", type=int, default=4, show_default=True, help="Pipelines in flight.")
@click.option("--value-bytes", type=int, default=3, show_default=True, help="SET value size (redis-benchmark: 3).")
@click.option("--modes", default="all,leader", show_default=True, help="keyspace.acks modes to measure.")
def kv_bench(bootstrap: str | None, keys: int, pipeline: int, workers: int, value_bytes: int, modes: str) -> None:
    """Pipelined SET and GET through the SDK, with keyspace acks=all and acks=leader."""
    from client.bench.kv import run_kv_bench
    from client.cli.runner import run

    table = Table(title=f"Keyspace via the SDK: {keys:,} keys, pipelines of {pipeline}, {workers} in flight")
    for col in ("keyspace.acks", "operation", "ops/s", "seconds"):
        table.add_column(col, justify="right" if col in ("ops/s", "seconds") else "left")
    for mode in [m.strip() for m in modes.split(",") if m.strip()]:
        with bench_cluster(bootstrap, ["--set", f"keyspace.acks={mode}"]) as addresses:
            results = run(run_kv_bench(addresses, keys=keys, pipeline=pipeline, workers=workers,
                                       value_bytes=value_bytes))  # fmt: skip
        for r in results:
            table.add_row(mode if not bootstrap else "(as configured)", r.operation, f"{r.rate:,.0f}",
                          f"{r.seconds:.2f}")  # fmt: skip
        if bootstrap:
            break
    Console().print(table)


@bench.command("security")
@click.option("--modes", default="open,auth,tls,tls+auth", show_default=True, help="Which to measure, in order.")
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True, help="Medians over this many.")
@click.option("--records", type=int, default=500_000, show_default=True, help="Records to produce per round.")
@click.option("--requests", type=int, default=200_000, show_default=True, help="redis-benchmark -n per test.")
@click.option("--clients", type=int, default=50, show_default=True, help="redis-benchmark -c.")
def security_bench(modes: str, rounds: int, records: int, requests: int, clients: int) -> None:
    """The cost of authentication and TLS on produce/consume and RESP SET/GET, side by side."""
    from client.bench.security import MODES, SecurityBenchSettings, measures, run_security_bench

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if unknown:
        raise click.BadParameter(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    console = Console()
    settings = SecurityBenchSettings(records=records, resp_requests=requests, resp_clients=clients, rounds=rounds)
    with console.status("starting") as status:
        results = run_security_bench(chosen, settings, lambda text: status.update(text))
    title = (f"Security cost (median of {rounds} rounds): 3 nodes + client on this machine; "
             f"{records:,} records of 100 B; redis-benchmark --cluster -n {requests:,} -c {clients}")  # fmt: skip
    table = Table(title=title)
    table.add_column("measure")
    for r in results:
        table.add_column(r.mode, justify="right")
    if len(results) > 1 and results[0].mode == "open":
        table.add_column(f"{results[-1].mode} / open", justify="right")
    for name, fmt in measures(settings):
        values = [r.median(name) for r in results]
        cells = ["-" if v is None else fmt.format(v) for v in values]
        if len(results) > 1 and results[0].mode == "open":
            first, last = values[0], values[-1]
            cells.append(f"{last / first:.0%}" if first and last is not None else "-")
        table.add_row(name, *cells)
    console.print(table)
    for r in results:
        if r.note:
            console.print(f"[yellow]{r.mode}: {r.note}[/yellow]")


@bench.command("push")
@click.option("--bootstrap", "-b", help="Use this cluster instead of starting a local three-node one.")
@click.option("--rate", type=click.IntRange(1, 100_000), default=2000, show_default=True, help="Records/s.")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="Per run.")
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True)
def push_bench(bootstrap: str | None, rate: int, seconds: float, rounds: int) -> None:
    """End-to-end latency: push delivery against pull with long-poll, at a fixed rate."""
    from client.bench.push import run_push_bench
    from client.cli.runner import run

    console = Console()
    with bench_cluster(bootstrap) as addresses, console.status("measuring") as status:
        results = run(run_push_bench(addresses, rate=rate, seconds=seconds, rounds=rounds,
                                     say=lambda text: status.update(text)))  # fmt: skip
    table = Table(title=f"End-to-end latency (ms), acks=all RF=3, {rate:,} records/s, {rounds} x {seconds:g} s each")
    for col in ("delivery", "received / sent", "p50", "p99", "p99.9", "max"):
        table.add_column(col, justify="left" if col == "delivery" else "right")
    for r in results:
        table.add_row("pull (long-poll)" if r.kind == "pull" else "push (credit)", *r.rows())
    console.print(table)

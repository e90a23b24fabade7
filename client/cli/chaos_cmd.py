"""``keystream chaos``: Jepsen-style fault injection against a local cluster, with checkers.

    keystream chaos --nemesis partition,kill,pause,latency --workload log,kv,groups --duration 60 --seed 7
    keystream chaos check history.jsonl      # the checkers and the report again, from a saved history

Exit status: 0 when every checker passed (or could not decide), 1 when one found a
violation, 2 for a usage error.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console

from client.chaos.nemesis import DEFAULT_NEMESES, NEMESES, plan_schedule
from client.chaos.runner import DEFAULT_WORKLOADS, ChaosOptions
from client.chaos.workloads import WORKLOADS, WorkloadOptions


def _names(value: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if names == ["all"]:
        return list(allowed)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise click.BadParameter(f"unknown {what} {', '.join(unknown)} (choose from {', '.join(allowed)} or all)")
    return names


@click.group(invoke_without_command=True, context_settings={"show_default": True})
@click.option(
    "--nemesis",
    default=",".join(DEFAULT_NEMESES),
    help=f"Faults, comma-separated: {', '.join(NEMESES)}, or all (none: an empty string).",
)
@click.option("--workload", default=",".join(DEFAULT_WORKLOADS), help=f"Workloads: {', '.join(WORKLOADS)}, or all.")
@click.option("--duration", type=click.FloatRange(5, 24 * 3600), default=60.0, help="Seconds of load and faults.")
@click.option("--seed", type=int, default=0, help="Seeds the fault schedule, the proxies and the workloads.")
@click.option("--nodes", type=click.IntRange(1, 7), default=3, help="Cluster size (3 or 5 voters).")
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the history here (JSON Lines). Default: chaos-<seed>.jsonl in the data directory.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Node data directories, logs and the history (default: a temporary directory, removed unless --keep-data).",
)
@click.option("--keep-data", is_flag=True, help="Keep the data directory (node logs) after the run.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the verdicts, counts and recovery times as JSON.",
)
@click.option("--plan", is_flag=True, help="Print the fault schedule for this seed and exit.")
@click.option(
    "--producer-acks",
    type=click.Choice(["all", "1"]),
    default="all",
    help="Log producers' acks (1 is unsafe: the checkers should catch lost records).",
)
@click.option(
    "--keyspace-acks",
    type=click.Choice(["all", "leader"]),
    default="all",
    help="keyspace.acks on every node (leader is unsafe).",
)
@click.option("--unclean-election", is_flag=True, help="unclean.leader.election.enable=true on the test topics.")
@click.option("--verbose", "-v", count=True, help="Log the run's progress (-vv: debug).")
@click.pass_context
def chaos(
    ctx: click.Context,
    nemesis: str,
    workload: str,
    duration: float,
    seed: int,
    nodes: int,
    history_path: Path | None,
    data_dir: Path | None,
    keep_data: bool,
    json_path: Path | None,
    plan: bool,
    producer_acks: str,
    keyspace_acks: str,
    unclean_election: bool,
    verbose: int,
) -> None:
    """Run workloads against a local cluster whose every link goes through a fault proxy, inject
    faults on a seeded schedule, heal, and check that nothing acknowledged was lost."""
    if ctx.invoked_subcommand is not None:
        return
    nemeses = _names(nemesis, NEMESES, "nemesis")
    workloads = _names(workload, list(WORKLOADS), "workload")
    if plan:
        for item in plan_schedule(seed, nemeses, duration):
            click.echo(json.dumps(item.to_json()))
        return
    logging.basicConfig(
        level=logging.WARNING if not verbose else (logging.INFO if verbose == 1 else logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    extra: list[str] = []
    if keyspace_acks != "all":
        extra += ["--set", f"keyspace.acks={keyspace_acks}"]
    if data_dir is not None and history_path is None:
        history_path = data_dir / f"chaos-{seed}.jsonl"
    options = ChaosOptions(
        nemeses=nemeses,
        workloads=workloads,
        duration=duration,
        seed=seed,
        nodes=nodes,
        history_path=history_path,
        data_dir=data_dir,
        keep_data=keep_data or data_dir is not None,
        workload=WorkloadOptions(producer_acks=producer_acks, unclean_election=unclean_election),
        extra_node_args=extra,
    )
    try:
        options.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(run_and_report(options, json_path))


def run_and_report(options: ChaosOptions, json_path: Path | None = None, console: Console | None = None) -> int:
    """Run, print the report, write the JSON summary; the exit status."""
    from client.chaos.report import render
    from client.chaos.runner import run_chaos
    from client.cli.runner import run

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    result = run(run_chaos(options))
    render(console, result.analysis, result.results, result.meta())
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.phases.items())
    console.print(f"run took {result.elapsed_s:.1f} s ({phases})", highlight=False)
    if options.history_path is not None:
        console.print(f"history: {options.history_path}", highlight=False)
    if options.keep_data:
        console.print(f"node data and logs: {result.data_dir}", highlight=False)
    if json_path is not None:
        summary = {
            "seed": options.seed,
            "nodes": options.nodes,
            "duration": options.duration,
            "nemeses": list(options.nemeses),
            "workloads": list(options.workloads),
            "ok": result.ok,
            "checks": [r.to_json() for r in result.results],
            "analysis": result.analysis.to_json(),
            "phases": result.phases,
            "elapsed_s": result.elapsed_s,
        }
        json_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0 if result.ok else 1


@chaos.command("check")
@click.argument("history_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(history_file: Path) -> None:
    """Run the checkers and print the report again from a saved history."""
    from client.chaos.checkers import check_history
    from client.chaos.history import load_history
    from client.chaos.report import analyse, meta_of, render

    events = load_history(history_file)
    meta = meta_of(events)
    results = check_history(events, meta.get("workloads"))
    console = Console(width=None if sys.stdout.isatty() else 160)
    render(console, analyse(events, run_end=meta.get("duration")), results, meta)
    sys.exit(1 if any(r.failed for r in results) else 0)

"""``keystream group ...`` (list, describe, reset-offsets, delete) and ``keystream consume --group``."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client import Keystream, TopicPartition
from client.cli.common import bootstrap_option, connect, print_json
from client.cli.runner import run
from client.consumer import EARLIEST, LATEST, list_offsets
from client.groups import CommitFailedError, GroupAdmin
from client.records import ConsumerRecord


@click.group()
def group() -> None:
    """Consumer groups: list, describe (with lag), reset offsets, delete."""


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


@group.command("list")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def list_(bootstrap: str | None, as_json: bool) -> None:
    """Every group with members or committed offsets."""

    async def go() -> list[dict[str, Any]]:
        async with connect(bootstrap) as ks:
            return await GroupAdmin(ks.cluster).list_groups()

    groups = run(go())
    if as_json:
        print_json(groups)
        return
    table = Table()
    for col in ("group", "state", "protocol", "members", "coordinator"):
        table.add_column(col, justify="right" if col in ("members", "coordinator") else "left")
    for g in groups:
        table.add_row(g["group_id"], g["state"], g["protocol"] or "", str(g["members"]), str(g["coordinator"]))
    _console().print(table)


@group.command("describe")
@click.argument("group_id")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def describe(group_id: str, bootstrap: str | None, as_json: bool) -> None:
    """Members, assignment, committed offset, high watermark and lag per partition."""

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with connect(bootstrap) as ks:
            admin = GroupAdmin(ks.cluster)
            return await admin.describe_group(group_id), await admin.lag(group_id)

    described, rows = run(go())
    if as_json:
        members = [{**m, "assignment": [list(tp) for tp in m.get("assignment") or []]} for m in described["members"]]
        print_json({**described, "members": members, "partitions": rows, "total_lag": sum(r["lag"] or 0 for r in rows)})
        return
    console = _console()
    console.print(
        f"group [bold]{group_id}[/bold]  state={described['state']}  generation={described['generation']}  "
        f"protocol={described.get('protocol') or '-'}  coordinator={described.get('coordinator', '-')}  "
        f"members={len(described['members'])}  total lag={sum(r['lag'] or 0 for r in rows)}"
    )
    if described["members"]:
        member_table = Table(title="members", title_justify="left")
        for col in ("member", "instance", "client", "host", "partitions"):
            member_table.add_column(col)
        for m in described["members"]:
            member_table.add_row(
                m["member_id"],
                m.get("group_instance_id") or "",
                m.get("client_id") or "",
                m.get("client_host") or "",
                str(len(m.get("assignment") or [])),
            )
        console.print(member_table)
    table = Table(title="partitions", title_justify="left")
    for col in ("topic", "partition", "member", "committed", "high watermark", "lag"):
        table.add_column(col, justify="right" if col in ("partition", "committed", "high watermark", "lag") else "left")
    for r in rows:
        table.add_row(
            r["topic"],
            str(r["partition"]),
            r["member_id"] or "-",
            _num(r["committed"]),
            _num(r["high_watermark"]),
            _num(r["lag"]),
        )
    console.print(table)


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def parse_datetime(text: str) -> int:
    """ISO 8601 to epoch milliseconds; without a UTC offset the time is local (as Kafka's tool)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {text!r}", param_hint="--to-datetime") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return int(when.timestamp() * 1000)


@group.command("reset-offsets")
@click.argument("group_id")
@click.option("--topic", "-t", required=True, help="The topic whose committed offsets to reset.")
@click.option("--partition", "-p", "partitions", type=int, multiple=True, help="Only these partitions (repeatable).")
@click.option("--to-earliest", is_flag=True, help="The earliest retained offset.")
@click.option("--to-latest", is_flag=True, help="The high watermark (skip everything there is).")
@click.option("--to-datetime", metavar="ISO", help="The first offset at or after this time (e.g. 2024-05-01T12:00).")
@click.option("--to-offset", type=int, help="This offset (clamped to what is retained).")
@click.option("--shift-by", type=int, help="Move the committed offsets by N (negative: back).")
@click.option("--dry-run", is_flag=True, help="Print the new offsets without committing them.")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def reset_offsets(
    group_id: str,
    topic: str,
    partitions: tuple[int, ...],
    to_earliest: bool,
    to_latest: bool,
    to_datetime: str | None,
    to_offset: int | None,
    shift_by: int | None,
    dry_run: bool,
    bootstrap: str | None,
    as_json: bool,
) -> None:
    """Set GROUP_ID's committed offsets on TOPIC; only while the group has no members (as in Kafka)."""
    chosen = [to_earliest, to_latest, to_datetime is not None, to_offset is not None, shift_by is not None]
    if sum(chosen) != 1:
        raise click.UsageError("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by")
    timestamp = parse_datetime(to_datetime) if to_datetime is not None else None

    async def go() -> list[dict[str, Any]]:
        async with connect(bootstrap) as ks:
            admin = GroupAdmin(ks.cluster)
            parts = await ks.cluster.partitions_for(topic)
            tps = [
                TopicPartition(topic, p["partition"]) for p in parts if not partitions or p["partition"] in partitions
            ]
            if not tps:
                raise click.UsageError(f"{topic} has no partition {', '.join(map(str, partitions))}")
            described = await admin.describe_group(group_id)
            if described["members"]:
                raise click.ClickException(
                    f"group {group_id} has {len(described['members'])} member(s) (state {described['state']}): "
                    "stop its consumers before resetting offsets"
                )
            current = await admin.committed(group_id, [topic])
            low = await list_offsets(ks.cluster, [(tp, EARLIEST) for tp in tps])
            high = await list_offsets(ks.cluster, [(tp, LATEST) for tp in tps])
            if timestamp is not None:
                found = await list_offsets(ks.cluster, [(tp, timestamp) for tp in tps])
            target: dict[TopicPartition, int] = {}
            for tp in tps:
                if to_earliest:
                    offset = low[tp]
                elif to_latest:
                    offset = high[tp]
                elif timestamp is not None:
                    offset = found[tp] if found[tp] >= 0 else high[tp]
                elif to_offset is not None:
                    offset = to_offset
                else:
                    assert shift_by is not None
                    offset = current.get(tp, low[tp]) + shift_by
                target[tp] = min(max(offset, low[tp]), high[tp])
            if not dry_run:
                await admin.alter_offsets(group_id, target)
            return [
                {"topic": tp.topic, "partition": tp.partition, "previous": current.get(tp), "new": o}
                for tp, o in sorted(target.items())
            ]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{'would reset' if dry_run else 'reset'} {group_id} on {topic}", title_justify="left")
    for col in ("partition", "previous", "new"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["partition"]), _num(r["previous"]), str(r["new"]))
    _console().print(table)


@group.command("delete")
@click.argument("group_id")
@bootstrap_option
def delete(group_id: str, bootstrap: str | None) -> None:
    """Delete GROUP_ID and its committed offsets (only a group without members)."""

    async def go() -> None:
        async with connect(bootstrap) as ks:
            await GroupAdmin(ks.cluster).delete_group(group_id)

    run(go())
    click.echo(f"deleted group {group_id}")


# --- keystream consume TOPIC --group G ------------------------------------------------------------------------
def _json_value(data: bytes | None) -> Any:
    import base64

    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def _format(r: ConsumerRecord, print_key: bool, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "key": _json_value(r.key),
                "value": _json_value(r.value),
                "headers": {k: _json_value(v) for k, v in r.headers},
            }
        )
    value = "" if r.value is None else r.value.decode("utf-8", errors="backslashreplace")
    if print_key:
        key = "" if r.key is None else r.key.decode("utf-8", errors="backslashreplace")
        return f"{key}\t{value}"
    return value


async def consume_group(
    ks: Keystream,
    topic: str,
    group_id: str,
    *,
    from_beginning: bool,
    max_records: int | None,
    timeout_ms: int | None,
    print_key: bool,
    as_json: bool,
) -> int:
    """Join ``group_id``, print the records of the partitions assigned to this member and
    commit after each printed batch; partitions without a committed offset start at the
    earliest offset with ``from_beginning``, else at the latest."""
    consumer = ks.group_consumer(
        group_id,
        topics=[topic],
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        client_id="keystream-cli",
    )
    printed = 0
    last_record = time.monotonic()
    out = sys.stdout
    try:
        while max_records is None or printed < max_records:
            wait = 1000.0
            if timeout_ms is not None:
                wait = max(0.0, timeout_ms - (time.monotonic() - last_record) * 1000)
                if wait <= 0:
                    break
            limit = None if max_records is None else max_records - printed
            batch = await consumer.getmany(timeout_ms=wait, max_records=limit)
            if not batch:
                continue
            for records in batch.values():
                for r in records:
                    out.write(_format(r, print_key, as_json) + "\n")
                    printed += 1
            out.flush()
            last_record = time.monotonic()
            try:
                await consumer.commit()
            except CommitFailedError as exc:  # rebalanced meanwhile: the next owner reprints from the last commit
                click.echo(f"commit failed: {exc.message}", err=True)
    finally:
        await consumer.close()
    return printed

"""``keystream produce`` and ``keystream consume``: the log from the shell."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from typing import Any

import click

from client import TopicPartition
from client.cli.common import bootstrap_option, connect
from client.cli.runner import run
from cluster.errors import KeystreamError


@click.command()
@click.argument("topic")
@bootstrap_option
@click.option("--acks", type=click.Choice(["0", "1", "all"]), default="all", show_default=True)
@click.option("--partition", type=int, help="Send every record to this partition.")
@click.option("--key-separator", default="\t", show_default="TAB",
              help="A line 'key<SEP>value' is keyed; a line without SEP is a value.")  # fmt: skip
@click.option("--no-keys", is_flag=True, help="Every line is a value, even if it contains the separator.")
@click.option("--linger-ms", type=float, default=5.0, show_default=True)
@click.option("--compression", type=click.Choice(["none", "lz4", "zstd"]), default="none", show_default=True)
@click.option("--delivery-timeout-ms", type=int, default=120_000, show_default=True)
def produce(topic: str, bootstrap: str | None, acks: str, partition: int | None, key_separator: str, no_keys: bool,
            linger_ms: float, compression: str, delivery_timeout_ms: int) -> None:  # fmt: skip
    """Produce lines from stdin to TOPIC; exits 0 only once every line is acknowledged."""

    async def go() -> tuple[int, int, list[str]]:
        async with connect(bootstrap) as ks:
            producer = ks.producer(acks=acks if acks == "all" else int(acks), linger_ms=linger_ms,
                                   compression=None if compression == "none" else compression,
                                   delivery_timeout_ms=delivery_timeout_ms)  # fmt: skip
            await producer.start()
            futures = []
            loop = asyncio.get_running_loop()
            reader = sys.stdin.buffer
            sep = key_separator.encode()
            while True:
                line = await loop.run_in_executor(None, reader.readline)
                if not line:
                    break
                line = line.rstrip(b"\r\n")
                key: bytes | None = None
                value = line
                if not no_keys and sep and sep in line:
                    key, value = line.split(sep, 1)
                futures.append(await producer.send(topic, value, key, partition=partition))
            await producer.flush()
            errors = []
            for fut in futures:
                exc = fut.exception()
                if exc is not None:
                    errors.append(str(exc))
            await producer.close()
            return len(futures), len(futures) - len(errors), errors

    started = time.monotonic()
    total, acked, errors = run(go())
    elapsed = time.monotonic() - started
    if errors:
        click.echo(f"{len(errors)} of {total} records failed; first error: {errors[0]}", err=True)
        sys.exit(1)
    click.echo(f"produced {acked} record(s) to {topic} in {elapsed:.2f}s (acks={acks})", err=True)


def _text(data: bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", errors="backslashreplace")


def _json_value(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


@click.command()
@click.argument("topic")
@bootstrap_option
@click.option("--from-beginning", is_flag=True, help="Start at the earliest retained offset.")
@click.option("--offset", type=int, help="Start at this offset (of --partition, or of every partition).")
@click.option("--partition", type=int, help="Read only this partition.")
@click.option("--max", "max_records", type=int, help="Exit after this many records.")
@click.option("--timeout-ms", type=int, help="Exit after this long without a new record.")
@click.option("--print-key", is_flag=True, help="Print key<TAB>value.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record (partition, offset, key, ...).")
@click.option("--group", help="Join this consumer group: print the partitions assigned here, committing as it goes.")
def consume(topic: str, bootstrap: str | None, from_beginning: bool, offset: int | None, partition: int | None,
            max_records: int | None, timeout_ms: int | None, print_key: bool, as_json: bool,
            group: str | None) -> None:  # fmt: skip
    """Print records of TOPIC (from the latest offset unless told otherwise)."""
    if from_beginning and offset is not None:
        raise click.UsageError("--from-beginning and --offset exclude each other")
    if group is not None and (offset is not None or partition is not None):
        raise click.UsageError("--group assigns partitions and starts at committed offsets: no --offset/--partition")

    async def go() -> int:
        async with connect(bootstrap) as ks:
            if group is not None:
                from client.cli.group_cmd import consume_group

                return await consume_group(ks, topic, group, from_beginning=from_beginning, max_records=max_records,
                                           timeout_ms=timeout_ms, print_key=print_key, as_json=as_json)  # fmt: skip
            consumer = ks.consumer(auto_offset_reset="earliest" if from_beginning else "latest")
            if partition is None:
                tps = await consumer.assign_topic(topic)
            else:
                tps = [TopicPartition(topic, partition)]
                await ks.cluster.partitions_for(topic)
                consumer.assign(tps)
            if from_beginning:
                await consumer.seek_to_beginning()
            elif offset is not None:
                for tp in tps:
                    consumer.seek(tp, offset)
            else:
                await consumer.seek_to_end()
            printed = 0
            last_record = time.monotonic()
            out = sys.stdout
            while max_records is None or printed < max_records:
                wait = 1000.0
                if timeout_ms is not None:
                    wait = max(0.0, timeout_ms - (time.monotonic() - last_record) * 1000)
                    if wait <= 0:
                        break
                batch = await consumer.getmany(
                    timeout_ms=wait, max_records=None if max_records is None else max_records - printed
                )
                for records in batch.values():
                    for r in records:
                        if as_json:
                            out.write(
                                json.dumps(
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
                                + "\n"
                            )
                        elif print_key:
                            out.write(f"{_text(r.key)}\t{_text(r.value)}\n")
                        else:
                            out.write(_text(r.value) + "\n")
                        printed += 1
                if batch:
                    out.flush()
                    last_record = time.monotonic()
            return printed

    try:
        count = run(go())
    except KeystreamError as exc:  # pragma: no cover - run() already handles these
        raise click.ClickException(exc.message) from None
    click.echo(f"consumed {count} record(s)", err=True)

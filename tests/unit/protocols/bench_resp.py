"""RESP codec throughput on redis-benchmark-like traffic (not a test; run it by hand).

    python tests/unit/protocols/bench_resp.py [--quick]

Requests are what ``redis-benchmark -t set,get -P N`` sends (keys ``key:%012d``, 3-byte
values), one read per pipeline. Prints commands/s parsed by RespParser (and, for
reference, by hiredis.Reader, which we do not use: see node/protocols/resp.py) and
replies/s encoded for the matching replies (+OK for SET, a bulk string for GET), in RESP2
and RESP3. CPU time, best of several runs, so a busy machine disturbs it less.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import hiredis

from node.protocols.resp import (
    RespParser,
    encode_command,
    encode_replies,
    encode_reply,
)
from node.protocols.resp_types import OK


def best_rate(count: int, run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return count / best


def pipelines(command: str, depth: int, total: int) -> list[bytes]:
    def one(i: int) -> bytes:
        key = b"key:%012d" % (i * 7919 % 100_000)
        if command == "SET":
            return encode_command(b"SET", key, b"xxx")
        return encode_command(b"GET", key)

    return [b"".join(one(p * depth + i) for i in range(depth)) for p in range(total // depth)]


def parse_with_resp_parser(reads: list[bytes]) -> None:
    parser = RespParser()
    for data in reads:
        parser.feed(data)
        parser.read_commands()


def parse_with_hiredis(reads: list[bytes]) -> None:
    reader = hiredis.Reader()
    for data in reads:
        reader.feed(data)
        while reader.gets() is not False:
            pass


def encode_rounds(batch: list[object], rounds: int, protocol: int) -> None:
    """Encode ``batch`` ``rounds`` times: one reply at a time for a batch of one, else the
    whole pipeline's replies in one buffer (what the front end writes per read)."""
    if len(batch) == 1:
        reply = batch[0]
        for _ in range(rounds):
            encode_reply(reply, protocol)
    else:
        for _ in range(rounds):
            encode_replies(batch, protocol)


def main() -> None:
    quick = "--quick" in sys.argv
    total = 32_000 if quick else 320_000
    repeats = 3 if quick else 7
    print(f"{'workload':<34}{'RespParser':>16}{'hiredis (ref.)':>18}")
    for command in ("SET", "GET"):
        for depth in (1, 16):
            reads = pipelines(command, depth, total)
            count = len(reads) * depth
            ours = best_rate(count, partial(parse_with_resp_parser, reads), repeats)
            ref = best_rate(count, partial(parse_with_hiredis, reads), repeats)
            print(f"parse {command} -P {depth:<3}{'':<17}{ours:>16,.0f}{ref:>18,.0f}  commands/s")
    print()
    print(f"{'workload':<34}{'RESP2':>16}{'RESP3':>18}")
    value = b"xxx"
    for label, reply in (("SET -> +OK", OK), ("GET -> bulk", value), ("GET miss -> null", None)):
        for depth in (1, 16):
            batch: list[object] = [reply] * depth
            rounds = total // depth
            rates = [
                best_rate(rounds * depth, partial(encode_rounds, batch, rounds, protocol), repeats)
                for protocol in (2, 3)
            ]
            print(f"encode {label:<20} -P {depth:<3}{rates[0]:>16,.0f}{rates[1]:>18,.0f}  replies/s")


if __name__ == "__main__":
    main()

"""Test helpers: a Keyspace driven like a shard leader, with a clock the test controls, and a
seeded generator of random log records over every data type."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from node.keyspace import (
    ApplyContext,
    CommandKind,
    Keyspace,
    KeyspaceLimits,
    Reply,
    Watch,
)


def argv_of(*args: Any) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


@dataclass
class Shard:
    """One replica whose leader is the test: ``now_ms`` is the clock, offsets count up."""

    now_ms: int = 1_700_000_000_000
    limits: KeyspaceLimits | None = None
    keyspace: Keyspace = field(init=False)
    offset: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        self.keyspace = Keyspace(self.limits)

    def context(self, now_ms: int | None = None) -> ApplyContext:
        self.offset += 1
        self.seed += 1
        return ApplyContext(self.now_ms if now_ms is None else now_ms, self.seed, self.offset)

    def __call__(self, *args: Any) -> Reply:
        """Run a command the way a leader would (classify, prepare, apply | read)."""
        argv = argv_of(*args)
        info = self.keyspace.classify(argv)
        if info.kind is CommandKind.READ:
            return self.keyspace.read(argv, self.now_ms, random.Random(self.seed))
        prepared = self.keyspace.prepare_write(argv, self.now_ms)
        return self.keyspace.apply(prepared, self.context())

    def exec(self, *commands: list[Any], watched: tuple[Watch, ...] = ()) -> Reply:
        prepared = [self.keyspace.prepare_write(argv_of(*c), self.now_ms) for c in commands]
        return self.keyspace.apply_transaction(prepared, self.context(), watched)

    def watch(self, key: str) -> Watch:
        return Watch(key.encode(), self.offset, self.now_ms)


# --- random records ------------------------------------------------------------------------

TYPES = ["string", "hash", "list", "set", "zset"]
KEYS = [b"{s}%s%d" % (kind.encode(), i) for kind in TYPES for i in range(3)] + [b"k0", b"k1"]
MEMBERS = [b"m%d" % i for i in range(12)]
SCORES = [b"0", b"1", b"-2.5", b"3", b"inf", b"-inf", b"7", b"0.1"]


def _record(rng: random.Random) -> list[bytes]:
    """One random write; keys mostly of the command's own type (some collisions on purpose)."""
    kind = rng.choice(TYPES)
    if rng.random() < 0.1:
        k, k2 = rng.choice(KEYS), rng.choice(KEYS)
    else:
        k = b"{s}%s%d" % (kind.encode(), rng.randrange(3))
        k2 = b"{s}%s%d" % (kind.encode(), rng.randrange(3))
    if b"{s}" not in k or b"{s}" not in k2:
        k2 = k
    m = rng.choice(MEMBERS)
    n = str(rng.randint(-5, 20)).encode()
    generic: list[list[bytes]] = [
        [b"DEL", k],
        [b"EXPIRE", k, str(rng.randint(-1, 5)).encode()],
        [b"PERSIST", k],
        [b"RENAME", k, k2],
        [b"COPY", k, k2, b"REPLACE"],
        [b"FLUSHALL"] if rng.random() < 0.05 else [b"EXISTS", k],
    ]
    by_type: dict[str, list[list[bytes]]] = {
        "string": [
            [b"SET", k, rng.choice(MEMBERS)],
            [b"SET", k, m, b"PX", str(rng.randint(1, 5000)).encode()],
            [b"INCRBY", k, n],
            [b"INCRBYFLOAT", k, b"0.1"],
            [b"APPEND", k, m],
            [b"SETRANGE", k, str(rng.randint(0, 6)).encode(), m],
            [b"GETDEL", k],
        ],
        "hash": [
            [b"HSET", k, m, n, rng.choice(MEMBERS), n],
            [b"HDEL", k, m],
            [b"HINCRBY", k, m, n],
            [b"HSETNX", k, m, n],
        ],
        "list": [
            [b"LPUSH", k, m, rng.choice(MEMBERS)],
            [b"RPUSH", k, m],
            [b"LPOP", k, str(rng.randint(1, 3)).encode()],
            [b"LREM", k, b"0", m],
            [b"LINSERT", k, b"BEFORE", m, rng.choice(MEMBERS)],
            [b"LMOVE", k, k2, b"LEFT", b"RIGHT"],
            [b"LTRIM", k, b"1", b"-2"],
            [b"BLPOP", k, k2, b"0"],
        ],
        "set": [
            [b"SADD", k, *rng.sample(MEMBERS, 4)],
            [b"SREM", k, m],
            [b"SPOP", k],
            [b"SPOP", k, str(rng.randint(1, 4)).encode()],
            [b"SMOVE", k, k2, m],
            [b"SUNIONSTORE", k, k, k2],
            [b"SINTERSTORE", k2, k, k2],
            [b"SRANDMEMBER", k, b"-3"],
        ],
        "zset": [
            [b"ZADD", k, rng.choice(SCORES), m, rng.choice(SCORES), rng.choice(MEMBERS)],
            [b"ZINCRBY", k, rng.choice(SCORES), m],
            [b"ZREM", k, m],
            [b"ZPOPMIN", k, b"2"],
            [b"ZREMRANGEBYSCORE", k, b"-1", b"2"],
            [b"ZUNIONSTORE", k, b"2", k, k2, b"WEIGHTS", b"2", b"1"],
            [b"ZINTERSTORE", k2, b"2", k, k2, b"AGGREGATE", b"MAX"],
            [b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"],
        ],
    }
    return rng.choice(by_type[kind] * 3 + generic)


@dataclass(frozen=True)
class Record:
    kind: str  # "command", "transaction" or "expiry"
    commands: list[list[bytes]]
    now_ms: int
    seed: int
    offset: int
    watched: list[tuple[bytes, int, int]]


def random_records(seed: int, count: int, start_ms: int = 1_700_000_000_000) -> list[Record]:
    """A seeded log: commands over all types, transactions with WATCHes, expiry records;
    the clock advances by 0-300 ms per record and jumps back now and then (a failover)."""
    rng = random.Random(seed)
    records: list[Record] = []
    now = start_ms
    for offset in range(1, count + 1):
        now += rng.randint(0, 300)
        if rng.random() < 0.02:
            now -= rng.randint(0, 2000)
        roll = rng.random()
        if roll < 0.08:
            commands = [_record(rng) for _ in range(rng.randint(1, 4))]
            watched = [(rng.choice(KEYS), max(0, offset - rng.randint(1, 50)), now - 100)]
            records.append(Record("transaction", commands, now, rng.getrandbits(63), offset, watched))
        elif roll < 0.12:
            keys = rng.sample(KEYS, 3)
            records.append(Record("expiry", [keys], now, 0, offset, []))
        else:
            records.append(Record("command", [_record(rng)], now, rng.getrandbits(63), offset, []))
    return records


def apply_record(keyspace: Keyspace, record: Record) -> Reply:
    ctx = ApplyContext(record.now_ms, record.seed, record.offset)
    if record.kind == "command":
        return keyspace.apply(keyspace.prepare_write(record.commands[0], record.now_ms), ctx)
    if record.kind == "transaction":
        prepared = [keyspace.prepare_write(argv, record.now_ms) for argv in record.commands]
        watched = [Watch(key, offset, time_ms) for key, offset, time_ms in record.watched]
        return keyspace.apply_transaction(prepared, ctx, watched)
    return keyspace.apply_expiry(record.commands[0], ctx)

"""The SDK's key-value API: Redis commands routed by hash slot to the shard leader.

Every Redis command the keyspace supports is available as a method named
after it (``await kv.zadd("board", 10, "ann")``), through the command table
(``cluster/commands.py``): keys are found where the table says, the slot is
``CRC16(key or {tag}) mod 16384`` exactly as Redis Cluster computes it, and
the request goes to the leader of the shard that owns the slot. A ``MOVED``
reply (the map changed), ``TRYAGAIN``/``CLUSTERDOWN`` (a shard between
leaders) or a dropped connection refreshes the map and retries, with backoff,
within ``retry_timeout``.

Keyless commands act on the whole cluster, as a cluster client would:
``dbsize`` sums every node, ``keys`` and :meth:`scan_iter` cover every node,
``flushall`` flushes every node.

Pipelines send each node its commands in one request (writes to a shard
share one log batch); transactions (``MULTI``/``EXEC`` with ``WATCH``) run
atomically on one slot.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from client.routing import ClusterClient
from cluster import commands as command_table
from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot

Arg = bytes | str | int | float
_KEYLESS_FANOUT = {"dbsize", "keys", "flushall", "flushdb", "randomkey"}


_NOT_EXECUTED = frozenset(
    {ErrorCode.MOVED, ErrorCode.TRYAGAIN, ErrorCode.CLUSTERDOWN, ErrorCode.NOT_LEADER, ErrorCode.CLUSTER_NOT_READY}
)


def _is_write(argv: Sequence[bytes]) -> bool:
    spec = command_table.lookup(argv)
    return spec is None or not spec.is_readonly


class CommandError(KeystreamError):
    """The keyspace refused a command; ``message`` is Redis's error text (``WRONGTYPE ...``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.KEYSPACE_ERROR, message)


def _encode(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):
        raise TypeError("booleans are not Redis arguments; use 0/1 or strings")
    if isinstance(arg, int | float):
        return repr(arg).encode() if isinstance(arg, float) else str(arg).encode()
    raise TypeError(f"unsupported argument type {type(arg).__name__}")


def from_wire(value: Any) -> Any:
    """Wire replies to Python: errors inside arrays become CommandError objects."""
    if isinstance(value, dict):
        if set(value) == {"err"}:
            return CommandError(value["err"])
        return {from_wire(k): from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


class KeyValue:
    def __init__(self, cluster: ClusterClient, *, retry_timeout: float = 30.0) -> None:
        self.cluster = cluster
        self.retry_timeout = retry_timeout
        self._rng = random.Random()

    # --- routing ---------------------------------------------------------------------------------------
    def slot_of(self, argv: Sequence[bytes]) -> int | None:
        keys = command_table.get_keys(argv)
        if not keys:
            return None
        slot = key_slot(keys[0])
        if any(key_slot(k) != slot for k in keys[1:]):
            raise CommandError("CROSSSLOT Keys in request don't hash to the same slot")
        return slot

    def node_for_slot(self, slot: int) -> int:
        for start, end, shard in self.cluster.map.get("slots", []):
            if start <= slot <= end:
                leader = self.cluster.map["shards"][shard]["leader"]
                if leader < 0:
                    raise KeystreamError(ErrorCode.CLUSTERDOWN, f"shard {shard} has no leader right now")
                return int(leader)
        raise KeystreamError(ErrorCode.CLUSTERDOWN, f"slot {slot} is not served (is the keyspace initialised?)")

    def _serving_nodes(self) -> list[int]:
        return sorted({int(s["leader"]) for s in self.cluster.map.get("shards", []) if s["leader"] >= 0})

    async def _request(self, target: Any, op: str, args: dict[str, Any], write: bool) -> Any:
        """Send ``op`` to the node ``target()`` names, retrying what is safe to retry.

        Anything refused before it reached the log (MOVED, TRYAGAIN, CLUSTERDOWN,
        NOT_LEADER, no connection) is retried after a map refresh. A write whose fate is
        unknown (the connection dropped after sending, the leader changed or the commit
        timed out) is *not* retried: re-applying INCR or even SET could act twice, so the
        caller gets OUTCOME_UNKNOWN, as a linearizable client must."""
        deadline = time.monotonic() + self.retry_timeout
        delay = 0.02
        while True:
            try:
                conn = await self.cluster.connection(target())
            except (ConnectionError, OSError, KeystreamError) as exc:
                if isinstance(exc, KeystreamError) and not exc.code.retriable:
                    raise
                error: Exception = exc
            else:
                try:
                    return from_wire(await conn.request(op, args, timeout=self.retry_timeout))
                except KeystreamError as exc:
                    if exc.code == ErrorCode.KEYSPACE_ERROR:
                        raise CommandError(exc.message) from None
                    if exc.code in _NOT_EXECUTED or (not write and exc.code.retriable):
                        error = exc
                    elif write and exc.code in (ErrorCode.OUTCOME_UNKNOWN, ErrorCode.REQUEST_TIMED_OUT):
                        raise KeystreamError(ErrorCode.OUTCOME_UNKNOWN, exc.message) from None
                    else:
                        raise
                except (ConnectionError, OSError) as exc:
                    if write:
                        raise KeystreamError(
                            ErrorCode.OUTCOME_UNKNOWN, f"connection lost after sending a write: {exc}"
                        ) from None
                    error = exc
            if time.monotonic() + delay > deadline:
                raise error
            try:
                await self.cluster.refresh(reason=str(error))
            except (ConnectionError, OSError):
                pass
            await asyncio.sleep(delay * self._rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)

    # --- executing -------------------------------------------------------------------------------------------
    async def execute(self, *args: Arg) -> Any:
        """Run one command (``await kv.execute("SET", "k", "v")``)."""
        argv = [_encode(a) for a in args]
        if not argv:
            raise ValueError("empty command")
        if not self.cluster.map.get("slots"):
            await self.cluster.refresh(reason="no keyspace in the map yet")
        name = argv[0].decode(errors="replace").lower()
        slot = self.slot_of(argv)
        if slot is None:
            if name in _KEYLESS_FANOUT:
                return await self._fan_out(argv, name)
            return await self._on_node(argv, None)
        return await self._request(lambda: self.node_for_slot(slot), "kv", {"argv": argv}, _is_write(argv))

    async def _on_node(self, argv: list[bytes], node: int | None) -> Any:
        def target() -> int:
            if node is not None:
                return node
            serving = self._serving_nodes()
            if not serving:
                raise KeystreamError(ErrorCode.CLUSTERDOWN, "no node serves the keyspace yet")
            return serving[0]

        return await self._request(target, "kv", {"argv": argv}, _is_write(argv))

    async def _fan_out(self, argv: list[bytes], name: str) -> Any:
        results = await asyncio.gather(*(self._on_node(argv, node) for node in self._serving_nodes()))
        if name == "dbsize":
            return sum(int(r) for r in results)
        if name == "keys":
            return [k for r in results for k in r]
        if name == "randomkey":
            found = [r for r in results if r is not None]
            return self._rng.choice(found) if found else None
        return "OK"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        spec = command_table.lookup([name.encode()])
        if spec is None:
            raise AttributeError(f"{name!r} is not a Redis command this keyspace knows")

        async def command(*args: Arg) -> Any:
            return await self.execute(name.upper(), *args)

        command.__name__ = name
        return command

    # --- the common commands, with Python keyword options -----------------------------------------------------
    async def get(self, key: Arg) -> bytes | None:
        reply: bytes | None = await self.execute("GET", key)
        return reply

    async def set(
        self,
        key: Arg,
        value: Arg,
        *,
        ex: float | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> Any:
        args: list[Arg] = ["SET", key, value]
        if ex is not None:
            args += ["EX", int(ex)]
        if px is not None:
            args += ["PX", int(px)]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if keepttl:
            args.append("KEEPTTL")
        if get:
            args.append("GET")
        reply = await self.execute(*args)
        return reply == "OK" if not get and reply in ("OK", None) else reply

    async def delete(self, *keys: Arg) -> int:
        """DEL, one request per slot (multi-key DEL must stay within one slot on a cluster)."""
        by_slot: dict[int, list[Arg]] = {}
        for key in keys:
            by_slot.setdefault(key_slot(_encode(key)), []).append(key)
        counts = await asyncio.gather(*(self.execute("DEL", *ks) for ks in by_slot.values()))
        return sum(int(c) for c in counts)

    async def scan_iter(
        self, match: Arg | None = None, count: int = 100, type: str | None = None
    ) -> AsyncIterator[bytes]:
        """Every key of the cluster (each node's SCAN covers the shards it leads)."""
        for node in self._serving_nodes():
            cursor = b"0"
            for _ in range(10_000_000):  # bounded: a full scan of any real keyspace ends long before
                args: list[Arg] = ["SCAN", cursor, "COUNT", count]
                if match is not None:
                    args += ["MATCH", match]
                if type is not None:
                    args += ["TYPE", type]
                cursor, keys = await self._on_node([_encode(a) for a in args], node)
                for key in keys:
                    yield key
                if cursor in (b"0", 0, "0"):
                    break

    # --- pipelines and transactions -------------------------------------------------------------------
    def pipeline(self) -> Pipeline:
        return Pipeline(self)

    async def watch(self, *keys: Arg) -> list[list[Any]]:
        """WATCH: the keys' versions on their shard leader, to pass to :meth:`multi_exec`."""
        encoded = [_encode(k) for k in keys]
        slot = self.slot_of([b"MGET", *encoded])
        if slot is None:
            return []

        return list(await self._request(lambda: self.node_for_slot(slot), "kv_watch", {"keys": encoded}, False))

    async def multi_exec(self, commands: Sequence[Sequence[Arg]], watched: Sequence[Sequence[Any]] = ()) -> Any:
        """MULTI ... EXEC as one atomic record: a list of replies, or None if a watched key changed."""
        encoded = [[_encode(a) for a in command] for command in commands]
        slots = {s for s in (self.slot_of(argv) for argv in encoded) if s is not None}
        slots.update(key_slot(bytes(w[0])) for w in watched)
        if len(slots) > 1:
            raise CommandError("CROSSSLOT Keys in request don't hash to the same slot")
        slot = slots.pop() if slots else None

        def target() -> int:
            return self.node_for_slot(slot) if slot is not None else self._serving_nodes()[0]

        return await self._request(target, "kv_exec", {"commands": encoded, "watched": list(watched)}, True)


class Pipeline:
    """Queue commands, then ``await pipe.execute()``: one request per node, replies in order.
    Errors are returned in place (CommandError objects), as redis-py does with raise_on_error=False."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._commands: list[list[bytes]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def queue(*args: Arg) -> Pipeline:
            return self.command(name.upper(), *args)

        return queue

    def command(self, *args: Arg) -> Pipeline:
        self._commands.append([_encode(a) for a in args])
        return self

    def __len__(self) -> int:
        return len(self._commands)

    async def execute(self) -> list[Any]:
        commands, self._commands = self._commands, []
        results: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        deadline = time.monotonic() + self._kv.retry_timeout
        while pending:
            by_node: dict[int, list[int]] = {}
            for index in pending:
                slot = self._kv.slot_of(commands[index])
                node = self._kv.node_for_slot(slot) if slot is not None else self._kv._serving_nodes()[0]
                by_node.setdefault(node, []).append(index)
            retry: list[int] = []

            async def send(node: int, indexes: list[int], retry: list[int] = retry) -> None:
                try:
                    conn = await self._kv.cluster.connection(node)
                except (ConnectionError, OSError, KeystreamError):
                    retry.extend(indexes)
                    return
                try:
                    replies = await conn.request("kv_batch", {"commands": [commands[i] for i in indexes]})
                except (ConnectionError, OSError, KeystreamError) as exc:
                    for index in indexes:  # reads are retried; writes may have been applied
                        if _is_write(commands[index]):
                            results[index] = KeystreamError(ErrorCode.OUTCOME_UNKNOWN, str(exc))
                        else:
                            retry.append(index)
                    return
                for index, reply in zip(indexes, replies, strict=True):
                    status, value = reply[0], reply[1]
                    if status == 0:
                        results[index] = from_wire(value)
                    elif status == 1:
                        results[index] = CommandError(value)
                    elif status == 2:  # MOVED: not executed, send again after a refresh
                        retry.append(index)
                    else:
                        code = ErrorCode(reply[2]) if len(reply) > 2 else ErrorCode.UNKNOWN_SERVER_ERROR
                        if code in _NOT_EXECUTED or (code.retriable and not _is_write(commands[index])):
                            retry.append(index)
                        else:
                            results[index] = KeystreamError(code, value)

            await asyncio.gather(*(send(node, idx) for node, idx in by_node.items()))
            pending = sorted(retry)
            if pending:
                if time.monotonic() > deadline:
                    for index in pending:
                        results[index] = KeystreamError(ErrorCode.REQUEST_TIMED_OUT, "pipeline retries exhausted")
                    break
                await self._kv.cluster.refresh(reason="pipeline redirects")
                await asyncio.sleep(0.05)
        return results

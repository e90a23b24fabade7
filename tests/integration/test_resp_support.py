"""Support for the RESP integration tests (no tests here): a raw RESP client that keeps reply types, a
module-scoped cluster with its RESP front ends ready, and bounded waiting."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from client.local_cluster import LocalCluster, free_port_base
from node.protocols.resp import NEED_DATA, RespReplyDecoder, encode_command

T = TypeVar("T")


class Raw:
    """A blocking RESP client over a plain socket; replies decoded with their types kept
    (``SimpleString``, ``ErrorReply``, ``Push``, ``RespSet``, ``Map``/``dict``...)."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.decoder = RespReplyDecoder()

    def close(self) -> None:
        self.sock.close()

    def send(self, *args: bytes | str | int | float) -> None:
        self.sock.sendall(encode_command(*args))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Any:
        while True:
            reply = self.decoder.next_reply()
            if reply is not NEED_DATA:
                return reply
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.decoder.feed(chunk)

    def call(self, *args: bytes | str | int | float) -> Any:
        self.send(*args)
        return self.read()

    def read_until_closed(self, limit: int = 1 << 24) -> bytes:
        """Everything the server sends until it closes the connection (bounded)."""
        data = b""
        while len(data) < limit:
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def wait_until(probe: Callable[[], T], check: Callable[[T], bool], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``probe`` until ``check`` holds, or fail after ``timeout`` with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if check(last):
                return last
        except Exception as exc:  # the condition is not reached yet
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{what or 'condition'} not reached within {timeout}s; last: {last!r}")


def resp_port(cluster: LocalCluster, node: int) -> int:
    return cluster.port(node, "resp")


def start_cluster(
    data_dir: Path, nodes: int = 3, extra_args: tuple[str, ...] = (), password: str | None = None
) -> LocalCluster:
    """Start a cluster and wait until every node's RESP front end serves every slot."""
    cluster = LocalCluster(data_dir, nodes=nodes, base_port=free_port_base(max(nodes, 4)), extra_args=extra_args)
    cluster.start_all()
    try:
        asyncio.run(cluster.wait_ready(timeout=90))
        wait_resp_ready(cluster, password=password)
    except BaseException:
        cluster.stop_all(timeout=15)
        raise
    return cluster


def wait_resp_ready(cluster: LocalCluster, timeout: float = 60.0, password: str | None = None) -> None:
    """Every running node answers CLUSTER INFO with cluster_state:ok, and a write to one
    slot of every shard succeeds through redis-py's cluster client."""
    from redis.cluster import RedisCluster

    running = [n for n, proc in cluster.nodes.items() if proc.alive]

    def states() -> list[bytes]:
        out = []
        for node in running:
            conn = Raw(resp_port(cluster, node), timeout=5)
            try:
                if password is not None:
                    conn.call("AUTH", password)
                out.append(conn.call("CLUSTER", "INFO"))
            finally:
                conn.close()
        return out

    wait_until(states, lambda infos: all(b"cluster_state:ok" in i for i in infos),
               timeout=timeout, what="cluster_state:ok on every node")  # fmt: skip

    def write_every_shard() -> bool:
        client = RedisCluster(
            host="127.0.0.1", port=resp_port(cluster, running[0]), socket_timeout=5, password=password
        )
        try:
            slots = client.execute_command("CLUSTER SLOTS")
            for entry in slots:
                key = key_in_slot(int(entry[0]))
                client.set(key, b"ready")
            return True
        finally:
            client.close()

    wait_until(write_every_shard, bool, timeout=timeout, what="a write on every shard")


_SLOT_KEYS: dict[int, bytes] = {}


def key_in_slot(slot: int) -> bytes:
    """A key that hashes to ``slot`` (found by search, remembered)."""
    from cluster.slots import key_slot

    if not _SLOT_KEYS:
        for i in range(200_000):
            key = b"slotkey:%d" % i
            _SLOT_KEYS.setdefault(key_slot(key), key)
            if len(_SLOT_KEYS) == 16384:
                break
    return _SLOT_KEYS[slot]

"""Shared fixtures: real node processes on loopback, and bounded waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from client.connection import NativeConnection
from client.local_cluster import LocalCluster, free_port_base

T = TypeVar("T")


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """Make LocalClusters on free ports in the test's temp dir; all are stopped afterwards."""
    made: list[LocalCluster] = []

    def make(nodes: int = 3, **kwargs: Any) -> LocalCluster:
        cluster = LocalCluster(
            tmp_path / f"cluster{len(made)}", nodes=nodes, base_port=free_port_base(max(nodes, 4)), **kwargs
        )
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop_all(timeout=15)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``check`` holds; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await probe()
            if check(last):
                return last
        except Exception as exc:  # the probe may fail while the cluster settles: keep the last error
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s; last: {last!r}")


async def call(address: str, op: str, args: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    """One native request on a fresh connection."""
    conn = await NativeConnection.open(address, connect_timeout=timeout)
    try:
        return await conn.request(op, args or {}, timeout=timeout)
    finally:
        await conn.close()

"""A local cluster whose every link goes through a fault proxy of its own.

::

    workload clients --client_nI--> node I's "chaos" listener
    node I --raft_nI_nJ--> node J's Raft port        (the Raft dialer: smaller voter id, or a broker)
    node I --native_nI_nJ--> node J's native port    (replication fetches, heartbeats, forwards)

Node ids are identities, not addresses (``cluster/raft_transport.py``), so each
node is told where to dial each peer (``--raft-dial``, ``--peer-dial``), and
each node's ``chaos`` listener advertises its client proxy: a client that
bootstraps through the client proxies gets a cluster map of proxies, so every
request it routes goes through one too.

Faults are toxics on those proxies, per stream direction (``upstream`` is the
dialer's bytes to the acceptor, ``downstream`` the reply). Dropping everything
``src`` sends to ``dst`` therefore means a ``timeout`` toxic (timeout 0: drop
and hold, Toxiproxy's black hole) upstream on the links ``src`` dials and
downstream on the links ``dst`` dials. The proxies are driven through the
Toxiproxy HTTP API with the ``toxiproxy-python`` client, so a real Toxiproxy
(``TOXIPROXY_URL``) works as well as ours.

The harness itself (readiness checks, final reads of every replica) talks to
each node's default listener directly: the observer is never partitioned.

With ``disk_mb`` each node's data directory is a tmpfs of that size, so the
disk-full fault can fill it (``fill_disk``/``free_disk``); mounts are removed
by ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.chaos.faultproxy.process import host_port_of
from client.local_cluster import PORT_STRIDE, LocalCluster, free_port_base, voter_count

log = logging.getLogger(__name__)

CHAOS_LISTENER = "chaos"
CHAOS_PORT_OFFSET = 4  # LocalCluster uses offsets 0-3 of each node's block of 10 ports
DISK_BALLAST = "chaos-disk-ballast"
DISK_HEADROOM_BYTES = 4096  # what a full disk leaves: less than any record batch
DISK_FILL_ATTEMPTS = 64
API_CALL_TIMEOUT_S = 10.0
NODE_PORTS = (20_000, 32_000)  # node listeners; Linux's ephemeral ports start at 32768

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
STREAMS = (UPSTREAM, DOWNSTREAM)

# Timing that makes faults visible within seconds (the defaults are production-sized).
DEFAULT_NODE_ARGS: tuple[str, ...] = (
    "--session-timeout-ms",
    "3000",
    "--heartbeat-interval-ms",
    "500",
    "--set",
    "replica.lag.time.max.ms=4000",
    "--log-level",
    "INFO",
)


@dataclass(frozen=True)
class Link:
    """One proxied TCP link: ``dialer`` opens connections to ``acceptor`` (None: the clients)."""

    name: str
    kind: str  # "client", "raft" or "native"
    dialer: int | None
    acceptor: int
    listen: str
    upstream: str

    def touches(self, node: int) -> bool:
        return node in (self.dialer, self.acceptor)

    def stream_from(self, sender: int | None) -> str:
        """The stream carrying the bytes ``sender`` writes on this link."""
        return UPSTREAM if sender == self.dialer else DOWNSTREAM


@dataclass(frozen=True)
class AppliedToxic:
    link: str
    name: str


class ToxiproxyApi:
    """The ``toxiproxy-python`` client, called off the event loop (it blocks on HTTP).

    The client keeps its server address in class attributes, so every call sets it
    first, under a lock: two APIs in one process don't mix up their servers."""

    _lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        self.host, self.port = host_port_of(url)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from toxiproxy.api import APIConsumer  # imported here: the keystream CLI loads this module

        with self._lock:
            APIConsumer.host, APIConsumer.port = self.host, self.port
            return fn(*args, **kwargs)

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(asyncio.to_thread(self._call, fn, *args, **kwargs), API_CALL_TIMEOUT_S)

    # The calls (blocking; run them through ``run``), with the toxiproxy-python client.
    @staticmethod
    def create(name: str, upstream: str, listen: str) -> dict[str, str]:
        proxy = _client().create(upstream=upstream, name=name, listen=listen, enabled=True)
        return {"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream}

    @staticmethod
    def destroy(name: str) -> None:
        proxy = _client().get_proxy(name)
        if proxy is not None:
            proxy.destroy()

    @staticmethod
    def proxy_names() -> list[str]:
        return list(_client().proxies())

    @staticmethod
    def add_toxic(
        link: str, name: str, toxic_type: str, stream: str, attributes: dict[str, int], toxicity: float = 1.0
    ) -> None:
        proxy = _client().get_proxy(link)
        if proxy is None:
            raise KeyError(f"no proxy {link!r}")
        proxy.add_toxic(name=name, type=toxic_type, stream=stream, toxicity=toxicity, attributes=attributes)

    @staticmethod
    def remove_toxic(link: str, name: str) -> None:
        proxy = _client().get_proxy(link)
        if proxy is not None and proxy.get_toxic(name) is not None:
            proxy.destroy_toxic(name)

    @staticmethod
    def clear(link: str) -> int:
        """Remove every toxic of a proxy and make sure it is enabled; how many were removed."""
        proxy = _client().get_proxy(link)
        if proxy is None:
            return 0
        toxics = list(proxy.toxics())
        for name in toxics:
            proxy.destroy_toxic(name)
        if not proxy.enabled:
            proxy.enable()
        return len(toxics)


def _client() -> Any:
    from toxiproxy import Toxiproxy

    return Toxiproxy()


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def raft_dialer(a: int, b: int, voters: Iterable[int]) -> tuple[int, int] | None:
    """(dialer, acceptor) of the Raft link between nodes ``a`` and ``b``, or None if they
    have none: voters dial voters with larger ids, brokers dial every voter."""
    voter_set = set(voters)
    lo, hi = min(a, b), max(a, b)
    if lo in voter_set and hi in voter_set:
        return lo, hi
    if lo in voter_set:
        return hi, lo
    if hi in voter_set:
        return lo, hi
    return None


@dataclass
class ChaosTopology:
    url: str
    data_dir: Path
    nodes: int = 3
    run_tag: str = "chaos"
    node_args: Sequence[str] = DEFAULT_NODE_ARGS
    extra_args: Sequence[str] = ()
    disk_mb: int | None = None
    base_port: int | None = None
    api: ToxiproxyApi = field(init=False)
    links: dict[str, Link] = field(init=False, default_factory=dict)
    cluster: LocalCluster = field(init=False)
    mounted: list[Path] = field(init=False, default_factory=list)
    applied: list[AppliedToxic] = field(init=False, default_factory=list)
    _toxic_ids: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.api = ToxiproxyApi(self.url)
        self.data_dir = Path(self.data_dir).resolve()
        # Node ports below the ephemeral range: the proxies listen on ephemeral ports (port 0), and
        # a node port picked inside that range could be taken by a proxy before the node binds it.
        self.port_base: int = self.base_port or free_port_base(
            max(self.nodes, 4), start=NODE_PORTS[0], end=NODE_PORTS[1]
        )

    # --- building --------------------------------------------------------------------------------------
    def _chaos_port(self, node: int) -> int:
        port = self.port_base + PORT_STRIDE * (node - 1) + CHAOS_PORT_OFFSET
        return port if _port_free(port) else _ephemeral_port()

    async def start(self, wait_ready_s: float = 60.0) -> LocalCluster:
        """Create the proxies, mount the data filesystems, start every node, wait until ready."""
        probe = LocalCluster(self.data_dir, nodes=self.nodes, base_port=self.port_base)
        chaos_bind = {n: f"127.0.0.1:{self._chaos_port(n)}" for n in probe.nodes}
        voters = list(probe.voters())
        await self._remove_stale_proxies()
        specs: list[tuple[str, str, int | None, int, str]] = []
        for n in probe.nodes:
            specs.append((f"{self.run_tag}_client_n{n}", "client", None, n, chaos_bind[n]))
        for a in probe.nodes:
            for b in probe.nodes:
                if a == b:
                    continue
                specs.append((f"{self.run_tag}_native_n{a}_n{b}", "native", a, b, probe.address(b, "native")))
                pair = raft_dialer(a, b, voters)
                if a < b and pair is not None:
                    raft_from, raft_to = pair
                    name = f"{self.run_tag}_raft_n{raft_from}_n{raft_to}"
                    specs.append((name, "raft", raft_from, raft_to, probe.address(raft_to, "raft")))
        created = await asyncio.gather(
            *(self.api.run(ToxiproxyApi.create, name, upstream, "127.0.0.1:0") for name, _, _, _, upstream in specs)
        )
        for (name, kind, dialer, acceptor, upstream), info in zip(specs, created, strict=True):
            self.links[name] = Link(name, kind, dialer, acceptor, info["listen"], upstream)
        if self.disk_mb:
            for n in probe.nodes:
                self._mount(probe.node_dir(n), self.disk_mb)
        per_node: dict[int, list[str]] = {}
        for n in probe.nodes:
            client = self.link("client", None, n)
            args = ["--listener", f"{CHAOS_LISTENER}.native={chaos_bind[n]}@{client.listen}"]
            raft = [f"{lk.acceptor}={lk.listen}" for lk in self.links.values() if lk.kind == "raft" and lk.dialer == n]
            native = [
                f"{lk.acceptor}={lk.listen}" for lk in self.links.values() if lk.kind == "native" and lk.dialer == n
            ]
            if raft:
                args += ["--raft-dial", ",".join(raft)]
            args += ["--peer-dial", ",".join(native)]
            per_node[n] = args
        self.cluster = LocalCluster(
            self.data_dir,
            nodes=self.nodes,
            base_port=self.port_base,
            extra_args=[*self.node_args, *self.extra_args],
            per_node_args=per_node,
        )
        self.cluster.start_all()
        await self.cluster.wait_ready(wait_ready_s)
        return self.cluster

    async def _remove_stale_proxies(self) -> None:
        """Proxies of an interrupted earlier run with the same tag (a shared Toxiproxy)."""
        names = await self.api.run(ToxiproxyApi.proxy_names)
        stale = [n for n in names if n.startswith(self.run_tag + "_")]
        await asyncio.gather(*(self.api.run(ToxiproxyApi.destroy, n) for n in stale))

    def _mount(self, path: Path, size_mb: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if os.path.ismount(path):
            return
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise DiskFaultUnavailable(f"cannot mount a {size_mb} MB tmpfs at {path}: {result.stderr.strip()}")
        self.mounted.append(path)

    # --- looking links up ----------------------------------------------------------------------------
    def link(self, kind: str, dialer: int | None, acceptor: int) -> Link:
        for lk in self.links.values():
            if lk.kind == kind and lk.dialer == dialer and lk.acceptor == acceptor:
                return lk
        raise KeyError(f"no {kind} link from {dialer} to {acceptor}")

    def node_links(self, a: int, b: int) -> list[Link]:
        """Every link between nodes ``a`` and ``b`` (Raft and native, both dialers)."""
        return [lk for lk in self.links.values() if lk.kind != "client" and {lk.dialer, lk.acceptor} == {a, b}]

    def links_touching(self, node: int, include_clients: bool = True) -> list[Link]:
        return [lk for lk in self.links.values() if lk.touches(node) and (include_clients or lk.kind != "client")]

    def client_bootstrap(self) -> list[str]:
        return [self.link("client", None, n).listen for n in sorted(self.cluster.nodes)]

    # --- toxics ------------------------------------------------------------------------------------------
    async def add_toxic(
        self, link: Link, toxic_type: str, stream: str, attributes: dict[str, int], toxicity: float = 1.0
    ) -> AppliedToxic:
        self._toxic_ids += 1
        name = f"{toxic_type}_{stream}_{self._toxic_ids}"
        await self.api.run(ToxiproxyApi.add_toxic, link.name, name, toxic_type, stream, attributes, toxicity)
        applied = AppliedToxic(link.name, name)
        self.applied.append(applied)
        return applied

    async def add_toxics(
        self, targets: Iterable[tuple[Link, str]], toxic_type: str, attributes: dict[str, int], toxicity: float = 1.0
    ) -> list[AppliedToxic]:
        """The same toxic on many (link, stream) pairs at once (as close to simultaneous as HTTP allows)."""
        return list(
            await asyncio.gather(
                *(self.add_toxic(lk, toxic_type, stream, attributes, toxicity) for lk, stream in targets)
            )
        )

    async def remove_toxics(self, toxics: Iterable[AppliedToxic]) -> None:
        items = list(toxics)
        await asyncio.gather(*(self.api.run(ToxiproxyApi.remove_toxic, t.link, t.name) for t in items))
        gone = set(items)
        self.applied = [t for t in self.applied if t not in gone]

    def drop_targets(self, src: int, dst: int) -> list[tuple[Link, str]]:
        """(link, stream) pairs that carry bytes from node ``src`` to node ``dst``."""
        return [(lk, lk.stream_from(src)) for lk in self.node_links(src, dst)]

    async def block(self, src: int, dst: int) -> list[AppliedToxic]:
        """Drop everything ``src`` sends to ``dst`` (one way)."""
        return await self.add_toxics(self.drop_targets(src, dst), "timeout", {"timeout": 0})

    async def partition(self, groups: Sequence[Iterable[int]]) -> list[AppliedToxic]:
        """Nodes in different groups can't exchange a byte (clients still reach everyone)."""
        sets = [set(g) for g in groups]
        targets: list[tuple[Link, str]] = []
        for i, left in enumerate(sets):
            for right in sets[i + 1 :]:
                for a in left:
                    for b in right:
                        targets += self.drop_targets(a, b) + self.drop_targets(b, a)
        return await self.add_toxics(targets, "timeout", {"timeout": 0})

    async def heal(self) -> int:
        """Remove every toxic from every proxy of this topology and enable them all."""
        removed = await asyncio.gather(*(self.api.run(ToxiproxyApi.clear, name) for name in self.links))
        self.applied.clear()
        return sum(removed)

    # --- disks ----------------------------------------------------------------------------------------
    def fill_disk(self, node: int) -> int:
        """Fill node's data filesystem but ``DISK_HEADROOM_BYTES``; the bytes taken. The node
        keeps writing meanwhile, so a request that no longer fits is retried smaller."""
        directory = self.cluster.node_dir(node)
        if directory not in self.mounted:
            raise DiskFaultUnavailable(f"node {node}'s data directory is not on a small filesystem")
        fd = os.open(directory / DISK_BALLAST, os.O_WRONLY | os.O_CREAT, 0o600)
        taken = 0
        try:
            for _ in range(DISK_FILL_ATTEMPTS):
                stats = os.statvfs(directory)
                want = stats.f_bavail * stats.f_frsize - DISK_HEADROOM_BYTES
                while want >= stats.f_frsize:
                    size = os.fstat(fd).st_size
                    try:
                        os.posix_fallocate(fd, size, want)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        want //= 2
                        continue
                    taken += want
                    break
                else:
                    return taken
        finally:
            os.close(fd)
        return taken

    def free_disk(self, node: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.cluster.node_dir(node) / DISK_BALLAST).unlink()

    # --- teardown -------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop every node, delete the proxies, unmount the data filesystems (each step runs
        even if an earlier one failed)."""
        try:
            if hasattr(self, "cluster"):
                await asyncio.to_thread(self.cluster.stop_all, 15)
        finally:
            try:
                await asyncio.gather(
                    *(self.api.run(ToxiproxyApi.destroy, name) for name in self.links), return_exceptions=True
                )
            finally:
                self.unmount()

    def unmount(self) -> None:
        """Unmount the data filesystems, keeping each node's log (``logs/nodeN.log``)."""
        for path in reversed(self.mounted):
            with contextlib.suppress(OSError):
                (self.data_dir / "logs").mkdir(exist_ok=True)
                shutil.copyfile(path / "stdout.log", self.data_dir / "logs" / f"{path.name}.log")
            result = subprocess.run(["umount", str(path)], capture_output=True, text=True, timeout=30, check=False)
            if result.returncode != 0:
                subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30, check=False)
                log.warning("umount %s: %s (lazily unmounted)", path, result.stderr.strip())
        self.mounted.clear()


class DiskFaultUnavailable(RuntimeError):
    """The disk-full fault needs root (a tmpfs mount per node)."""


def voters_of(nodes: int) -> list[int]:
    return list(range(1, voter_count(nodes) + 1))


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None

"""The node process: composition root.

Wires the metadata Raft member, the controller shell, the native and HTTP
front ends (one per configured listener) and the feature services, and owns
start-up checks and graceful shutdown.

Start-up fails fast with a clear message (``StartupError``) on a data
directory that is unreadable or used by another process, and on a port that
is already in use.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from client.connection import NativeConnection
from cluster.clustermap import build_cluster_map
from cluster.controller import describe_nodes
from cluster.errors import ErrorCode, KeystreamError
from cluster.raft import MetadataRaft, RaftSettings, secret_fingerprint
from cluster.state import ClusterState
from node.config import NodeConfig
from node.controller_service import ControllerService
from node.protocols.http import LISTENER_KEY, HttpFrontEnd, principal
from node.protocols.native import ConnectionContext, Handler, NativeServer
from node.protocols.native_codec import Request

log = logging.getLogger(__name__)

_MAX_PROBLEM_CHARS = 500  # a storage problem travels in every heartbeat


class StartupError(RuntimeError):
    """The node cannot start; the message says why and what to change."""


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.node_id = config.node_id
        self.incarnation = uuid.uuid4().hex
        self.started_at = time.time()
        self.raft = MetadataRaft(
            RaftSettings(
                node_id=config.node_id,
                voters=config.voters,
                bind=config.raft.bind if config.raft else None,
                data_dir=config.data_dir,
                secret=config.cluster_secret,
                cluster_name=config.cluster_name,
                dial_overrides=config.raft_dial_overrides,
                durable=config.metadata_fsync,
                election_timeout_min_s=config.election_timeout_ms[0] / 1000,
                election_timeout_max_s=config.election_timeout_ms[1] / 1000,
            )
        )
        self.controller = ControllerService(self.raft, config.session_timeout_ms / 1000)
        self.native_handlers: dict[str, Handler] = {}
        self.http = HttpFrontEnd()
        self.native_servers: list[NativeServer] = []
        self.registered = False
        self.fenced: bool | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._lock_fd: int | None = None
        self._controller_conn: NativeConnection | None = None
        self._services: list[Any] = []
        self.features: dict[str, Any] = {}
        self.lease_until = 0.0  # monotonic; see lease_duration_s
        # Features that own storage say here why it failed (None while it works); heartbeats
        # carry the first answer to the controller, which fences the node meanwhile.
        self.storage_checks: list[Callable[[], str | None]] = []
        self._heartbeat_wake = asyncio.Event()
        self.lease_duration_s = self._lease_duration()
        self.stopped = asyncio.Event()
        from node.security import Security

        self.security = Security(self)
        self.http.security = self.security
        self._register_core_handlers()
        self.http.add_routes(self._core_routes)

    # --- registration of handlers by features ---------------------------------------------------
    def add_native_handler(self, op: str, handler: Handler) -> None:
        if op in self.native_handlers:
            raise ValueError(f"native op {op} registered twice")
        self.native_handlers[op] = handler

    def add_service(self, service: Any) -> None:
        """A feature service with async ``start()`` / ``stop()``, started after Raft."""
        self._services.append(service)

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        self._check_data_dir()
        log.info(
            "starting node %d (incarnation %s, cluster %s, secret %s, voters %s)",
            cfg.node_id,
            self.incarnation[:8],
            cfg.cluster_name,
            secret_fingerprint(cfg.cluster_secret),
            ",".join(f"{k}={v}" for k, v in sorted(cfg.voters.items())),
        )
        try:
            raft_socket = self.raft.bind()
        except OSError as exc:
            raise StartupError(f"{exc.strerror} (is another node using this port?)") from None
        try:
            for name, services in cfg.listeners.items():
                tls = self.security.server_ssl(name)
                if "native" in services:
                    ep = services["native"]
                    server = NativeServer(name, self.native_handlers)
                    server.authorize = self.security.authorize_native
                    server.on_disconnect.append(self.security.on_native_disconnect)
                    await _bind(server.start(ep.bind_host, ep.bind_port, ssl=tls), f"{name}.native", ep.bind)
                    self.native_servers.append(server)
                if "http" in services:
                    ep = services["http"]
                    await _bind(self.http.start(name, ep.bind_host, ep.bind_port, ssl=tls), f"{name}.http", ep.bind)
        except StartupError:
            if raft_socket is not None:
                raft_socket.close()
            await self._stop_front_ends()
            raise
        loop = asyncio.get_running_loop()
        self.raft.start(loop, raft_socket)
        self.controller.start()
        self._tasks.append(asyncio.create_task(self._register_loop(), name="register"))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))
        for service in self._services:
            await service.start()
        if self.security.insecure:
            log.warning("SECURITY: --insecure: while no users exist, anyone who can reach this node may use it")
        else:
            log.warning("SECURITY: until users are defined (keystream user add), only loopback clients are "
                        "served, without authentication")  # fmt: skip
        log.info(
            "node %d listening: %s",
            cfg.node_id,
            "; ".join(
                f"{name}.{svc}={ep.bind}@{ep.advertised}"
                for name, services in cfg.listeners.items()
                for svc, ep in services.items()
            ),
        )

    async def stop(self) -> None:
        log.info("node %d shutting down", self.node_id)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self._stop_front_ends()
        for service in reversed(self._services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        await self.controller.stop()
        if self._controller_conn is not None:
            await self._controller_conn.close()
        await asyncio.get_running_loop().run_in_executor(None, self.raft.stop)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.stopped.set()
        log.info("node %d stopped", self.node_id)

    async def _stop_front_ends(self) -> None:
        for server in self.native_servers:
            await server.stop()
        self.native_servers.clear()
        await self.http.stop()

    def _check_data_dir(self) -> None:
        data_dir = self.config.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot create data directory {data_dir}: {exc.strerror}") from None
        if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
            raise StartupError(f"data directory {data_dir} is not readable and writable by this user")
        lock_path = data_dir / ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(f"cannot open {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StartupError(f"data directory {data_dir} is in use by another node process") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        id_file = data_dir / "node.id"
        if id_file.exists():
            stored = id_file.read_text().strip()
            if stored != str(self.node_id):
                raise StartupError(f"data directory {data_dir} belongs to node {stored}, not node {self.node_id}")
        else:
            id_file.write_text(f"{self.node_id}\n")

    # --- registration and heartbeats ----------------------------------------------------------------
    async def _register_loop(self) -> None:
        backoff = 0.05
        while True:
            state = self.raft.snapshot
            mine = state.node(self.node_id)
            up_to_date = (
                mine is not None
                and mine["incarnation"] == self.incarnation
                and mine["listeners"] == self.config.all_advertised()
            )
            if up_to_date:
                self.registered = True
                self.fenced = bool(mine["fenced"]) if mine else None
                backoff = 0.05
                await asyncio.sleep(0.5)
                continue
            if self.raft.leader_id is None:
                await asyncio.sleep(0.05)
                continue
            try:
                await self.raft.propose(
                    {
                        "op": "register_node",
                        "node_id": self.node_id,
                        "incarnation": self.incarnation,
                        "listeners": self.config.all_advertised(),
                        "rack": self.config.rack,
                        "voter": self.config.is_voter,
                    },
                    timeout=5.0,
                )
                backoff = 0.05
            except KeystreamError as exc:
                log.info("registration not committed yet: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    def storage_problem(self) -> str | None:
        for check in self.storage_checks:
            problem = check()
            if problem:
                return problem[:_MAX_PROBLEM_CHARS]
        return None

    def heartbeat_now(self) -> None:
        """Send the next heartbeat at once (e.g. the storage failed or works again)."""
        self._heartbeat_wake.set()

    async def _heartbeat_loop(self) -> None:
        interval = self.config.heartbeat_interval_ms / 1000
        while True:
            self._heartbeat_wake.clear()
            try:
                await self._send_heartbeat(interval)
            except (KeystreamError, ConnectionError, OSError) as exc:
                log.debug("heartbeat failed: %s", exc)
                if self._controller_conn is not None:
                    await self._controller_conn.close()
                    self._controller_conn = None
            try:
                async with asyncio.timeout(interval):
                    await self._heartbeat_wake.wait()
            except TimeoutError:
                pass

    async def _send_heartbeat(self, interval: float) -> None:
        if not self.registered:
            return
        controller_id = self.raft.leader_id
        if controller_id is None:
            return
        sent_at = time.monotonic()
        storage_failed = self.storage_problem()
        if controller_id == self.node_id:
            if self.raft.is_leader:
                reply = self.controller.on_heartbeat(self.node_id, self.incarnation, storage_failed)
                self.fenced = reply["fenced"]
                self._maybe_extend_lease(reply, sent_at)
            return
        address = self.internal_address(controller_id, "native")
        if address is None:
            return
        conn = self._controller_conn
        if conn is None or conn.closed or conn.address != address:
            if conn is not None:
                await conn.close()
            conn = self._controller_conn = await self.internal_connect(address, timeout=interval * 2)
        reply = await conn.request(
            "broker_heartbeat",
            {"node_id": self.node_id, "incarnation": self.incarnation, "storage_failed": storage_failed},
            timeout=interval * 2,
        )
        self.fenced = reply.get("fenced")
        self._maybe_extend_lease(reply, sent_at)

    def _maybe_extend_lease(self, reply: dict[str, Any], sent_at: float) -> None:
        """An acked heartbeat extends the lease, but only once this node has itself seen
        the map epoch the controller had when it answered: then any leadership this node
        lost before that answer is already known here (see lease_duration_s)."""
        if not reply.get("registered") or reply.get("fenced"):
            return
        if self.raft.snapshot.map_epoch >= int(reply.get("map_epoch", 0)):
            self.lease_until = max(self.lease_until, sent_at + self.lease_duration_s)

    async def internal_connect(self, address: str, timeout: float = 3.0) -> NativeConnection:
        """A connection to another node's inter-node listener, authenticated as a node."""
        return await NativeConnection.open(
            address,
            connect_timeout=timeout,
            credentials=self.security.node_credentials(),
            ssl=self.security.internal_client_ssl(),
        )

    def _lease_duration(self) -> float:
        """How long an acknowledged heartbeat lets this node act as sole leader.

        The controller fences a node session_timeout after its last heartbeat (and never
        sooner than session_timeout after it became controller). A stale controller may ack
        heartbeats for up to leader_fallback after losing its quorum; a new controller is
        elected no sooner than election_timeout_min after that loss. So a lease from the
        *send* time of an acked heartbeat must be shorter than
        session_timeout + election_timeout_min - leader_fallback (less a margin for clock
        rate differences and scheduling)."""
        cfg = self.config
        election_min = cfg.election_timeout_ms[0] / 1000
        fallback = cfg.election_timeout_ms[1] / 1000 * 1.25  # MetadataRaft's leaderFallbackTimeout
        return max(0.0, cfg.session_timeout_ms / 1000 + election_min - fallback - 0.5)

    def lease_valid(self) -> bool:
        return time.monotonic() < self.lease_until

    def internal_address(self, node_id: int, service: str) -> str | None:
        if service == "native" and node_id in self.config.peer_dial_overrides:
            return self.config.peer_dial_overrides[node_id]
        node = self.raft.snapshot.node(node_id)
        if node is None:
            return None
        services: dict[str, str] = node["listeners"].get(self.config.inter_node_listener) or next(
            iter(node["listeners"].values()), {}
        )
        address = services.get(service)
        return str(address) if address else None

    # --- views -------------------------------------------------------------------------------------
    def cluster_map(self, listener: str) -> dict[str, Any]:
        return build_cluster_map(self.raft.snapshot, listener, self.raft.leader_id)

    def health(self) -> tuple[bool, dict[str, Any]]:
        state = self.raft.snapshot
        controller = self.raft.leader_id
        me = state.node(self.node_id)
        problems = []
        if controller is None:
            problems.append("no controller elected")
        if state.cluster_id is None:
            problems.append("cluster not initialised")
        if me is None or me["incarnation"] != self.incarnation:
            problems.append("not registered")
        elif me["fenced"]:
            problems.append("fenced")
        storage = self.storage_problem()
        if storage:
            problems.append(f"storage failed: {storage}")
        body = {
            "status": "ok" if not problems else "unavailable",
            "problems": problems,
            "node_id": self.node_id,
            "controller": controller,
            "map_epoch": state.map_epoch,
            "cluster_id": state.cluster_id,
            "uptime_s": round(time.time() - self.started_at, 1),
        }
        return not problems, body

    def status(self) -> dict[str, Any]:
        state: ClusterState = self.raft.snapshot
        controller = self.raft.leader_id
        return {
            "cluster_id": state.cluster_id,
            "map_epoch": state.map_epoch,
            "controller": controller,
            "answered_by": self.node_id,
            "nodes": describe_nodes(state, controller),
            "raft": self.raft.status(),
        }

    # --- core handlers ----------------------------------------------------------------------------
    def _register_core_handlers(self) -> None:
        self.add_native_handler("ping", lambda req, ctx: {"node_id": self.node_id, "time_ms": int(time.time() * 1000)})
        self.add_native_handler("metadata", self._h_metadata)
        self.add_native_handler("cluster_status", lambda req, ctx: self.status())
        self.add_native_handler("broker_heartbeat", self._h_heartbeat)
        self.add_native_handler("metadata_noop", self._h_metadata_noop)
        self.add_native_handler("set_cluster_config", self._h_set_cluster_config)
        self.add_native_handler("health", self._h_health)
        self.add_native_handler("authenticate", self.security.h_authenticate)
        self.security.register_handlers()
        self.add_native_handler(
            "describe_cluster_config", lambda req, ctx: dict(self.raft.snapshot.data.get("config", {}))
        )
        self.add_native_handler(
            "metadata_digest",
            lambda req, ctx: {"digest": self.raft.state_digest(), "raft": self.raft.status()},
        )

    def _h_metadata(self, req: Request, ctx: ConnectionContext) -> Any:
        known = req.args.get("if_newer_than")
        if isinstance(known, int) and known >= self.raft.snapshot.map_epoch:
            return {"map_epoch": self.raft.snapshot.map_epoch, "unchanged": True}
        return self.cluster_map(ctx.listener)

    def _h_heartbeat(self, req: Request, ctx: ConnectionContext) -> Any:
        node_id = req.args.get("node_id")
        incarnation = req.args.get("incarnation")
        if not isinstance(node_id, int) or not isinstance(incarnation, str):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "broker_heartbeat needs node_id and incarnation")
        storage_failed = req.args.get("storage_failed")
        return self.controller.on_heartbeat(node_id, incarnation, str(storage_failed) if storage_failed else None)

    async def _h_metadata_noop(self, req: Request, ctx: ConnectionContext) -> Any:
        """A metadata write that changes nothing: latency probes and failover checks."""
        started = time.perf_counter()
        await self.raft.propose({"op": "noop", "tag": req.args.get("tag")}, timeout=10.0)
        return {"latency_ms": (time.perf_counter() - started) * 1000, "controller": self.raft.leader_id}

    def _h_health(self, req: Request, ctx: ConnectionContext) -> Any:
        ok, body = self.health()
        return {"ok": ok, "health": body}

    async def _h_set_cluster_config(self, req: Request, ctx: ConnectionContext) -> Any:
        command: dict[str, Any] = {
            "op": "set_cluster_config",
            "key": req.args.get("key"),
            "value": req.args.get("value"),
        }
        if "expected" in req.args:
            command["expected"] = req.args["expected"]
        return {"value": await self.raft.propose(command, timeout=10.0)}

    def _core_routes(self, app: web.Application) -> None:
        async def cluster(request: web.Request) -> web.Response:
            principal(request)
            return web.json_response(self.cluster_map(request.app[LISTENER_KEY]))

        async def token(request: web.Request) -> web.Response:
            caller = principal(request)
            if caller is None or caller.name == "anonymous":
                raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "a token needs a user (HTTP Basic)")
            return web.json_response({"token": self.security.issue_token(caller), "expires_in": 3600})

        async def health(request: web.Request) -> web.Response:
            ok, body = self.health()
            return web.json_response(body, status=200 if ok else 503)

        async def status(request: web.Request) -> web.Response:
            principal(request)
            return web.json_response(self.status())

        app.router.add_get("/v1/cluster", cluster)
        app.router.add_get("/v1/health", health)
        app.router.add_get("/v1/cluster/status", status)
        app.router.add_post("/v1/auth/token", token)


async def _bind(coro: Any, what: str, address: str) -> None:
    try:
        await coro
    except OSError as exc:
        raise StartupError(f"cannot listen on {address} for {what}: {exc.strerror or exc}") from None


def data_path(config: NodeConfig, *parts: str) -> Path:
    return config.data_dir.joinpath(*parts)

"""The RESP feature of a node: a Redis Cluster front end on every ``resp`` listener.

Wiring only (the protocol lives in ``node/protocols``): the servers, one per listener
that has a ``resp`` endpoint; the pub/sub registry and its cross-node fan-out (native ops
``resp_publish`` and ``resp_pubsub_query``); the per-slot routing table the fast path
consults; authentication; the counters INFO reports; and the per-second housekeeping
(instantaneous ops/sec, writes that were never committed, shard channels whose shard
moved away).

Settings (``--set key=value``):

* ``resp.requirepass`` -- a password for the ``default`` user (AUTH / HELLO AUTH). Unset:
  no password, as a fresh Redis. The security feature replaces :class:`PasswordAuth`
  with its users through :attr:`RespService.auth` (any object with ``required`` and
  ``authenticate(username, password) -> principal | None``).
* ``resp.maxclients`` (10000), ``resp.client.query.buffer.limit`` (Redis's 1gb),
  ``resp.proto.max.bulk.len`` (512mb),
* ``resp.pubsub.output.buffer.hard.bytes`` / ``.soft.bytes`` / ``.soft.seconds``
  (Redis's ``client-output-buffer-limit pubsub 32mb 8mb 60``).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import platform
import random
import resource
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from cluster import limits
from cluster.state import KEYSPACE_TOPIC, ClusterState
from node.keyspace import Keyspace
from node.keyspace_service import KeyspaceService, ShardReplica
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request
from node.protocols.pubsub import PubSubFanout, PubSubRegistry
from node.protocols.resp_commands import (
    KEYSTREAM_VERSION,
    REDIS_VERSION,
    command_info,
    human_bytes,
    node_hex_id,
    resp_address,
    split_host_port,
)
from node.protocols.resp_server import RespConnection, RespServer
from node.protocols.resp_types import ErrorReply
from node.replication.replica import Role
from node.server import Node, StartupError

log = logging.getLogger(__name__)

DEFAULT_MAX_CLIENTS = 10_000
PUBSUB_OUTPUT_BUFFER_SOFT_BYTES = 8 * limits.MIB
PUBSUB_OUTPUT_BUFFER_SOFT_SECONDS = 60.0
NORMAL_OUTPUT_BUFFER_BYTES = limits.MAX_OUTPUT_BUFFER_BYTES


class Authenticator(Protocol):
    """The AUTH hook: the security feature plugs its users in here."""

    @property
    def required(self) -> bool: ...

    def authenticate(self, username: str, password: bytes) -> str | None: ...


class PasswordAuth:
    """Redis's ``default`` user: no password (anything goes) or ``requirepass``."""

    def __init__(self, password: bytes | None) -> None:
        self._password = password

    @property
    def required(self) -> bool:
        return self._password is not None

    def authenticate(self, username: str, password: bytes) -> str | None:
        if username != "default":
            return None
        if self._password is None or hmac.compare_digest(password, self._password):
            return "default"
        return None


class SecurityAuth:
    """RESP authentication on the cluster's users (node/security.py), plus Redis's
    ``requirepass`` for the ``default`` user when it is configured.

    ``AUTH password`` is ``AUTH default password``. With no users and no requirepass, a
    connection from loopback (or any, with ``--insecure``) is authenticated from the start."""

    def __init__(self, security: Any, requirepass: bytes | None) -> None:
        self.security = security
        self.requirepass = requirepass

    @property
    def required(self) -> bool:
        return self.requirepass is not None or not self.security.open_mode

    def anonymous(self, peer: str) -> Any:
        if self.requirepass is not None:
            return None
        return self.security.anonymous(peer)

    def authenticate(self, username: str, password: bytes, peer: str = "") -> Any:
        from cluster.auth import Principal
        from cluster.errors import KeystreamError

        if username == "default" and self.requirepass is not None:
            if hmac.compare_digest(password, self.requirepass):
                return Principal("default", [], superuser=True)
            return None
        if username == "default" and self.security.open_mode:
            return self.security.anonymous(peer)  # Redis's default user is "nopass" until configured
        try:
            return self.security.authenticate_cached(username, password.decode("utf-8", "replace"), peer)
        except KeystreamError:
            return None


@dataclass
class RespStats:
    connections_received: int = 0
    rejected_connections: int = 0
    commands: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    protocol_errors: int = 0
    output_limit_disconnections: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


class RespService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.keyspace: KeyspaceService = node.features["keyspace"]
        extra = node.config.extra
        password = extra.get("resp.requirepass")
        self.auth = SecurityAuth(node.security, str(password).encode() if password else None)
        self.max_clients = int(extra.get("resp.maxclients", DEFAULT_MAX_CLIENTS))
        self.query_buffer_limit = int(extra.get("resp.client.query.buffer.limit", limits.RESP_MAX_QUERY_BUFFER_BYTES))
        self.max_bulk_bytes = int(extra.get("resp.proto.max.bulk.len", limits.RESP_MAX_BULK_BYTES))
        self.pubsub_hard_limit = int(
            extra.get("resp.pubsub.output.buffer.hard.bytes", limits.PUBSUB_OUTPUT_BUFFER_HARD_BYTES)
        )
        self.pubsub_soft_limit = int(extra.get("resp.pubsub.output.buffer.soft.bytes", PUBSUB_OUTPUT_BUFFER_SOFT_BYTES))
        self.pubsub_soft_seconds = float(
            extra.get("resp.pubsub.output.buffer.soft.seconds", PUBSUB_OUTPUT_BUFFER_SOFT_SECONDS)
        )
        self.normal_output_limit = NORMAL_OUTPUT_BUFFER_BYTES
        self.stats = RespStats()
        self.rng = random.Random()  # SRANDMEMBER & co. on the read fast path (seeding one per read costs ~10us)
        self.ops_per_sec = 0
        self.servers: list[RespServer] = []
        self.registry = PubSubRegistry()
        self.fanout = PubSubFanout(self.registry, self)
        self._client_ids = itertools.count(1)
        self._tasks: list[asyncio.Task[Any]] = []
        self._routing_state: ClusterState | None = None
        self._slot_shard = array("i", [-1] * 16384)
        self._shard_leader: list[int] = []
        self._cache_state: ClusterState | None = None
        self._cache: dict[Any, Any] = {}
        self._command_tables: dict[int, list[Any]] = {}
        self._last_save = int(time.time())
        node.add_native_handler("resp_publish", self._h_publish)
        node.add_native_handler("resp_pubsub_query", self._h_pubsub_query)
        node.add_service(self)

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        for name, services in self.node.config.listeners.items():
            endpoint = services.get("resp")
            if endpoint is None:
                continue
            server = RespServer(self, name, endpoint.bind)
            try:
                await server.start(endpoint.bind_host, endpoint.bind_port, ssl=self.node.security.server_ssl(name))
            except OSError as exc:
                raise StartupError(f"cannot listen on {endpoint.bind} for {name}.resp: {exc.strerror or exc}") from None
            self.servers.append(server)
        self.keyspace.manager.on_role_change.append(lambda replica: self._check_shard_channels())
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="resp-housekeeping"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        for server in self.servers:
            await server.stop()
        await self.fanout.close()

    async def _housekeeping(self) -> None:
        last = self.stats.commands
        live: set[int] = set()
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            self.ops_per_sec = self.stats.commands - last
            last = self.stats.commands
            for conn in self.all_connections():
                conn.expire_stalled(now)
            self._check_shard_channels()
            peers = set(self.live_peers())
            if peers != live:
                self.fanout.forget_peers(peers)
                live = peers

    # --- connections ----------------------------------------------------------------------------------
    def next_client_id(self) -> int:
        return next(self._client_ids)

    def all_connections(self) -> list[RespConnection]:
        return [c for server in self.servers for c in server.connections.values()]

    def connection_count(self) -> int:
        return sum(len(server.connections) for server in self.servers)

    # --- routing ----------------------------------------------------------------------------------------
    def _routing(self) -> None:
        state = self.node.raft.snapshot
        if state is self._routing_state:
            return
        table = array("i", [-1] * 16384)
        keyspace = state.data.get("keyspace")
        leaders: list[int] = []
        if keyspace:
            for start, end, shard in keyspace["slots"]:
                table[start : end + 1] = array("i", [int(shard)] * (end - start + 1))
            topic = state.topics.get(keyspace.get("topic", KEYSPACE_TOPIC))
            if topic is not None:
                leaders = [int(p["leader"]) for p in topic["partitions"]]
        self._slot_shard = table
        self._shard_leader = leaders
        self._routing_state = state

    def leader_shard(self, slot: int) -> ShardReplica | None:
        """The shard replica serving ``slot`` if this node is its leader (fast path)."""
        if self.node.raft.snapshot is not self._routing_state:
            self._routing()
        shard = self.keyspace.shards.get(self._slot_shard[slot])
        if shard is not None and shard.replica.role is Role.LEADER:
            return shard
        return None

    def redirect_unless_leader(self, slot: int, listener: str) -> ErrorReply | None:
        """``None`` if this node leads ``slot``'s shard; else the MOVED (or CLUSTERDOWN,
        TRYAGAIN) reply a Redis Cluster node would give."""
        if self.leader_shard(slot) is not None:
            return None
        shard_id = self._slot_shard[slot]
        if shard_id < 0:
            return ErrorReply("CLUSTERDOWN Hash slot not served")
        leader = self._shard_leader[shard_id] if shard_id < len(self._shard_leader) else -1
        if leader == self.node.node_id:
            return ErrorReply(f"TRYAGAIN shard {shard_id} is becoming leader on this node")
        return self.moved_reply(slot, leader, listener)

    def moved_reply(self, slot: int, leader: int, listener: str) -> ErrorReply:
        if leader < 0:
            return ErrorReply(f"CLUSTERDOWN The cluster is down (hash slot {slot} has no leader right now)")
        address = resp_address(self.node.raft.snapshot, leader, listener)
        if address is None:
            return ErrorReply(f"CLUSTERDOWN The cluster is down (no address for node {leader})")
        return ErrorReply(f"MOVED {slot} {address}")

    def local_keyspace(self, slot: int) -> Keyspace | None:
        """This node's replica of ``slot``'s shard, leader or follower (CLUSTER COUNTKEYSINSLOT)."""
        self._routing()
        shard = self.keyspace.shards.get(self._slot_shard[slot])
        return shard.keyspace if shard is not None else None

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """A reply built from the cluster state, rebuilt when the state changes."""
        state = self.node.raft.snapshot
        if state is not self._cache_state:
            self._cache = {}
            self._cache_state = state
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def cached_command_table(self, protocol: int) -> list[Any]:
        table = self._command_tables.get(protocol)
        if table is None:
            from cluster import commands as command_table

            table = self._command_tables[protocol] = [command_info(s, protocol) for s in command_table.all_commands()]
        return table

    def replication_offsets(self) -> dict[tuple[int, int], int]:
        """(shard, node) -> log end offset, as far as this node knows (CLUSTER SHARDS)."""
        out: dict[tuple[int, int], int] = {}
        for shard_id, shard in self.keyspace.shards.items():
            replica = shard.replica
            out[(shard_id, self.node.node_id)] = replica.log.log_end_offset
            state = replica.leader_state
            if state is not None:
                for follower, progress in state.followers.items():
                    out[(shard_id, follower)] = max(progress.leo, 0)
        return out

    # --- pub/sub peers (PeerConnector) ---------------------------------------------------------------------
    def address_of(self, node_id: int) -> str | None:
        return self.node.internal_address(node_id, "native")

    async def internal_connect(self, address: str, timeout: float = 3.0) -> Any:
        return await self.node.internal_connect(address, timeout=timeout)

    def live_peers(self) -> list[int]:
        state = self.node.raft.snapshot
        me = self.node.node_id
        return [int(n["id"]) for n in state.nodes.values() if not n["fenced"] and int(n["id"]) != me]

    def _h_publish(self, req: Request, ctx: ConnectionContext) -> Any:
        messages = req.args.get("messages")
        if not isinstance(messages, list) or len(messages) > 100_000:
            return []
        return self.fanout.deliver_from_peer(messages)

    def _h_pubsub_query(self, req: Request, ctx: ConnectionContext) -> Any:
        what = req.args.get("what")
        args = [bytes(a) if isinstance(a, bytes | bytearray) else str(a).encode() for a in req.args.get("args") or []]
        if what not in ("channels", "numsub", "numpat", "shardchannels", "shardnumsub"):
            return None
        return self.registry.query(str(what), args)

    def _check_shard_channels(self) -> None:
        """Shard channels whose slot this node no longer leads: unsubscribe their clients."""
        if not self.registry.shard_channels:
            return
        from cluster.slots import key_slot

        lost = [c for c in self.registry.shard_channels if self.leader_shard(key_slot(c)) is None]
        for channel in lost:
            for sub in list(self.registry.shard_channels.get(channel, {})):
                if isinstance(sub, RespConnection):
                    sub.drop_shard_channels([channel])

    # --- WAIT ------------------------------------------------------------------------------------------------
    async def wait_replicas(
        self, conn: RespConnection, earlier: list[asyncio.Future[Any]], wanted: int, timeout_ms: int
    ) -> int:
        """How many in-sync followers of the shard of this client's last write hold it,
        waiting up to ``timeout_ms`` (0: forever) for ``wanted`` of them. ``earlier``: the
        client's commands before WAIT, whose outcome comes first."""
        earlier = [f for f in earlier if not f.done()]
        if earlier:
            await asyncio.wait(earlier)
        shard = conn.last_write_shard
        if shard is None:
            counts = [self._in_sync_followers(s) for s in self.keyspace.leader_shards()]
            return min(counts) if counts else 0
        target = shard.keyspace.applied_offset + 1
        deadline = None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000
        while True:
            state = shard.replica.leader_state
            if state is None:
                return 0
            followers = state.followers
            acked = sum(1 for r in state.isr if r in followers and followers[r].leo >= target)
            if acked >= wanted or (deadline is not None and time.monotonic() >= deadline):
                return acked
            await asyncio.sleep(0.005 if deadline is None else max(0.0, min(0.005, deadline - time.monotonic())))

    @staticmethod
    def _in_sync_followers(shard: ShardReplica) -> int:
        return max(0, len(shard.replica.isr) - 1)

    # --- BGSAVE / LASTSAVE ----------------------------------------------------------------------------------
    def background_save(self) -> None:
        async def save() -> None:
            for shard in list(self.keyspace.shards.values()):
                await self.keyspace.snapshot(shard)
            self._last_save = int(time.time())

        task = asyncio.create_task(save())
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    def last_save(self) -> int:
        return self._last_save

    # --- INFO ---------------------------------------------------------------------------------------------
    def info_facts(self, sections: Sequence[str], conn: RespConnection) -> dict[str, list[tuple[str, Any]]]:
        facts: dict[str, list[tuple[str, Any]]] = {}
        node = self.node
        state = node.raft.snapshot
        uptime = int(time.time() - node.started_at)
        if "server" in sections:
            host, port = split_host_port(conn.server.bind)
            facts["server"] = [
                ("redis_version", REDIS_VERSION),
                ("redis_git_sha1", "00000000"),
                ("redis_git_dirty", 0),
                ("redis_build_id", "keystream"),
                ("redis_mode", "cluster"),
                ("keystream_version", KEYSTREAM_VERSION),
                ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                ("arch_bits", 64),
                ("multiplexing_api", "epoll"),
                ("python_version", platform.python_version()),
                ("process_id", os.getpid()),
                ("run_id", (node.incarnation * 2)[:40]),
                ("node_id", node.node_id),
                ("tcp_port", port),
                ("server_time_usec", time.time_ns() // 1000),
                ("uptime_in_seconds", uptime),
                ("uptime_in_days", uptime // 86400),
                ("hz", 10),
                ("configured_hz", 10),
                ("executable", ""),
                ("config_file", ""),
            ]
        if "clients" in sections:
            connections = self.all_connections()
            facts["clients"] = [
                ("connected_clients", len(connections)),
                ("cluster_connections", 0),
                ("maxclients", self.max_clients),
                ("client_recent_max_input_buffer", max((c.parser.buffered_bytes for c in connections), default=0)),
                ("client_recent_max_output_buffer", 0),
                ("blocked_clients", sum(1 for c in connections if c.describe()["flags"].find("b") >= 0)),
                ("tracking_clients", 0),
                ("clients_in_timeout_table", 0),
                ("pubsub_clients", sum(1 for c in connections if c.channels or c.patterns or c.shard_channels)),
            ]
        if "memory" in sections:
            from node.protocols.resp_commands import _rss_bytes

            rss = _rss_bytes()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            facts["memory"] = [
                ("used_memory", rss),
                ("used_memory_human", human_bytes(rss)),
                ("used_memory_rss", rss),
                ("used_memory_rss_human", human_bytes(rss)),
                ("used_memory_peak", peak),
                ("used_memory_peak_human", human_bytes(peak)),
                ("maxmemory", 0),
                ("maxmemory_human", "0B"),
                ("maxmemory_policy", "noeviction"),
                ("mem_fragmentation_ratio", "1.00"),
                ("mem_allocator", "pymalloc"),
            ]
        if "persistence" in sections:
            facts["persistence"] = [
                ("loading", 0),
                ("async_loading", 0),
                ("rdb_changes_since_last_save", 0),
                ("rdb_bgsave_in_progress", 0),
                ("rdb_last_save_time", self._last_save),
                ("aof_enabled", 0),
                ("keystream_persistence", "replicated log + shard snapshots"),
            ]
        if "stats" in sections:
            stats = self.stats
            facts["stats"] = [
                ("total_connections_received", stats.connections_received),
                ("total_commands_processed", stats.commands),
                ("instantaneous_ops_per_sec", self.ops_per_sec),
                ("total_net_input_bytes", stats.net_input_bytes),
                ("total_net_output_bytes", stats.net_output_bytes),
                ("rejected_connections", stats.rejected_connections),
                ("expired_keys", 0),
                ("evicted_keys", 0),
                ("keyspace_hits", 0),
                ("keyspace_misses", 0),
                ("pubsub_channels", len(self.registry.channels)),
                ("pubsub_patterns", len(self.registry.patterns)),
                ("pubsubshard_channels", len(self.registry.shard_channels)),
                ("total_error_replies", 0),
                ("total_protocol_errors", stats.protocol_errors),
                ("client_output_buffer_limit_disconnections", stats.output_limit_disconnections),
            ]
        if "replication" in sections:
            leading = self.keyspace.leader_shards()
            followers = sorted({f for s in leading for f in s.replica.replicas if f != node.node_id})
            rows: list[tuple[str, Any]] = [
                ("role", "master"),
                ("connected_slaves", len(followers)),
            ]
            for i, follower in enumerate(followers):
                host, port = split_host_port(resp_address(state, follower, conn.server.listener))
                rows.append((f"slave{i}", f"ip={host},port={port},state=online,offset=0,lag=0"))
            rows += [
                ("master_failover_state", "no-failover"),
                ("master_replid", node_hex_id(state.cluster_id, node.node_id)),
                ("master_repl_offset", sum(s.replica.log.log_end_offset for s in leading)),
            ]
            for shard_id, shard in sorted(self.keyspace.shards.items()):
                replica = shard.replica
                rows.append(
                    (
                        f"keystream_shard{shard_id}",
                        f"role={replica.role.value},leader={replica.leader_id},epoch={replica.leader_epoch},"
                        f"isr={'|'.join(map(str, replica.isr))},hw={replica.high_watermark},"
                        f"leo={replica.log.log_end_offset},applied={shard.keyspace.applied_offset}",
                    )
                )
            facts["replication"] = rows
        if "cpu" in sections:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            facts["cpu"] = [
                ("used_cpu_sys", f"{usage.ru_stime:.6f}"),
                ("used_cpu_user", f"{usage.ru_utime:.6f}"),
            ]
        if "modules" in sections:
            facts["modules"] = []
        if "errorstats" in sections:
            facts["errorstats"] = []
        if "cluster" in sections:
            facts["cluster"] = [("cluster_enabled", 1)]
        if "keyspace" in sections:
            shards = self.keyspace.leader_shards()
            keys = sum(s.keyspace.user_key_count for s in shards)
            expires = sum(
                len(s.keyspace.db.expires_in_slot(slot))
                for s in shards
                for start, end in _ranges_of(state, s.shard)
                for slot in range(start, end + 1)
            )
            facts["keyspace"] = [("db0", f"keys={keys},expires={expires},avg_ttl=0")] if keys else []
        return facts


def _ranges_of(state: ClusterState, shard: int) -> list[tuple[int, int]]:
    keyspace = state.data.get("keyspace") or {}
    return [(int(s), int(e)) for s, e, sh in keyspace.get("slots", []) if int(sh) == shard]

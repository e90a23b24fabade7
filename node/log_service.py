"""The log feature: topics (admin), produce and fetch, wired into a Node.

Topic administration can be sent to any node: it computes a placement from
its view of the live nodes and proposes the change to the metadata Raft
group, which validates it again on apply (so a stale view can't place a
replica on a fenced node).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from typing import Any

import msgpack
from aiohttp import web

from cluster.auth import Principal
from cluster.errors import ErrorCode, KeystreamError
from cluster.state import ClusterState
from cluster.topics import assign_replicas, validate_topic_config, validate_topic_name
from node.peers import PeerConnections
from node.protocols.http import principal, require
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request
from node.replication.manager import ReplicaManager, ReplicationSettings, log_config_for
from node.server import Node
from node.storage.errors import InvalidLogConfigError

log = logging.getLogger(__name__)


class LogService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.settings = ReplicationSettings.from_extra(node.config.extra)
        extra = node.config.extra
        self.default_partitions = int(extra.get("num.partitions", 1))
        self.default_replication_factor = int(extra.get("default.replication.factor", 3))
        self.peers = PeerConnections(
            lambda nid: node.internal_address(nid, "native"),
            credentials=node.security.node_credentials(),
            ssl=node.security.internal_client_ssl(),
        )
        self.manager = ReplicaManager(
            node.node_id,
            node.config.data_dir,
            self.settings,
            propose=lambda cmd: node.raft.propose(cmd, timeout=10.0),
            internal_address=lambda nid: node.internal_address(nid, "native"),
            can_lead=self._can_lead,
            connect=node.internal_connect,
        )
        for op, handler in {
            "produce": lambda req, ctx: self.manager.produce(req.args),
            "fetch": lambda req, ctx: self.manager.fetch(req.args),
            "replica_fetch": lambda req, ctx: self.manager.replica_fetch(req.args),
            "offset_for_leader_epoch": lambda req, ctx: self.manager.offset_for_leader_epoch(req.args),
            "list_offsets": lambda req, ctx: self.manager.list_offsets(req.args),
            "create_topic": self._h_create_topic,
            "delete_topic": self._h_delete_topic,
            "alter_topic_config": self._h_alter_topic_config,
            "list_topics": lambda req, ctx: self._visible_topics(self.node.security.principal(ctx)),
            "describe_topics": self._h_describe_topics,
            "describe_replicas": lambda req, ctx: self.manager.describe_local(),
            "replica_read": self._h_replica_read,
            "init_producer_id": self._h_init_producer_id,
        }.items():
            node.add_native_handler(op, handler)
        node.http.add_routes(self._routes)
        node.add_service(self)
        node.storage_checks.append(self.manager.storage_problem)
        self.manager.on_storage_change.append(node.heartbeat_now)
        self._client: Any = None
        self._producer_ids: list[int] = []
        self._producers: dict[str, Any] = {}

    def _can_lead(self) -> bool:
        me = self.node.raft.snapshot.node(self.node.node_id)
        return me is not None and me["incarnation"] == self.node.incarnation and not me["fenced"]

    async def start(self) -> None:
        await self.manager.start()
        self.node.raft.add_listener(self.manager.reconcile)
        self.manager.reconcile(self.node.raft.snapshot)

    async def stop(self) -> None:
        if self._client is not None:
            for producer in self._producers.values():
                await producer.close(timeout=5)
            await self._client.close()
        await self.manager.stop()
        await self.peers.close()

    # --- topic administration ---------------------------------------------------------------------------
    async def create_topic(
        self,
        name: Any,
        partitions: Any = None,
        replication_factor: Any = None,
        config: Any = None,
        internal: bool = False,
    ) -> dict[str, Any]:
        name = validate_topic_name(name, allow_internal=internal)
        config = validate_topic_config(config)
        try:
            log_config_for(config)
        except InvalidLogConfigError as exc:
            raise KeystreamError(ErrorCode.INVALID_CONFIG, exc.message) from None
        state = self.node.raft.snapshot
        if name in state.topics:
            raise KeystreamError(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
        live = {n["id"]: n.get("rack") for n in state.nodes.values() if not n["fenced"]}
        count = _positive_int(partitions, self.default_partitions, "partitions")
        rf = _positive_int(replication_factor, min(self.default_replication_factor, max(1, len(live))),
                           "replication_factor")  # fmt: skip
        existing = [p["replicas"] for t in state.topics.values() for p in t["partitions"]]
        assignment = assign_replicas(live, count, rf, existing)
        return dict(
            await self.node.raft.propose(
                {
                    "op": "create_topic",
                    "name": name,
                    "topic_id": uuid.uuid4().hex,
                    "config": config,
                    "assignment": assignment,
                    "internal": internal,
                    "created_ms": int(time.time() * 1000),
                },
                timeout=10.0,
            )
        )

    async def _h_create_topic(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        return await self.create_topic(a.get("name"), a.get("partitions"), a.get("replication_factor"), a.get("config"))

    async def _h_delete_topic(self, req: Request, ctx: ConnectionContext) -> Any:
        name = req.args.get("name")
        await self.node.raft.propose({"op": "delete_topic", "name": name}, timeout=10.0)
        return {"deleted": name}

    async def _h_alter_topic_config(self, req: Request, ctx: ConnectionContext) -> Any:
        updates = validate_topic_config(req.args.get("set") or {})
        state = self.node.raft.snapshot
        topic = state.topics.get(str(req.args.get("name")))
        if topic is None:
            raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {req.args.get('name')!r} does not exist")
        try:
            log_config_for({**topic["config"], **updates})
        except InvalidLogConfigError as exc:
            raise KeystreamError(ErrorCode.INVALID_CONFIG, exc.message) from None
        return await self.node.raft.propose(
            {"op": "alter_topic_config", "name": req.args.get("name"), "set": updates,
             "delete": req.args.get("delete") or []},
            timeout=10.0,
        )  # fmt: skip

    async def describe_topics(self, names: list[str] | None) -> list[dict[str, Any]]:
        state: ClusterState = self.node.raft.snapshot
        wanted = sorted(state.topics) if not names else names
        out = []
        for name in wanted:
            topic = state.topics.get(name)
            if topic is None:
                raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
            offsets = await self._leader_offsets(name, topic)
            out.append(
                {
                    "name": name,
                    "topic_id": topic["topic_id"],
                    "internal": topic["internal"],
                    "config": topic["config"],
                    "partitions": [
                        {
                            "partition": i,
                            "leader": p["leader"],
                            "leader_epoch": p["leader_epoch"],
                            "replicas": p["replicas"],
                            "isr": p["isr"],
                            "log_start_offset": offsets.get(i, (None, None))[0],
                            "high_watermark": offsets.get(i, (None, None))[1],
                        }
                        for i, p in enumerate(topic["partitions"])
                    ],
                }
            )
        return out

    async def _leader_offsets(self, name: str, topic: dict[str, Any]) -> dict[int, tuple[int | None, int | None]]:
        by_leader: dict[int, list[int]] = {}
        for i, p in enumerate(topic["partitions"]):
            if p["leader"] >= 0:
                by_leader.setdefault(p["leader"], []).append(i)

        async def ask(leader: int, parts: list[int]) -> dict[int, tuple[int | None, int | None]]:
            request = {"partitions": [[name, i, spec] for i in parts for spec in (-2, -1)]}
            try:
                if leader == self.node.node_id:
                    reply = self.manager.list_offsets(request)
                else:
                    reply = await self.peers.request(leader, "list_offsets", request, timeout=3.0)
            except (KeystreamError, ConnectionError, OSError, TimeoutError):
                return {}
            got: dict[int, list[int | None]] = {}
            for entry in reply["partitions"]:
                _t, i, err, offset = entry[:4]
                got.setdefault(i, []).append(None if err else offset)
            return {i: (v[0], v[1]) for i, v in got.items() if len(v) == 2}

        results = await asyncio.gather(*(ask(leader, parts) for leader, parts in by_leader.items()))
        merged: dict[int, tuple[int | None, int | None]] = {}
        for r in results:
            merged.update(r)
        return merged

    async def _h_describe_topics(self, req: Request, ctx: ConnectionContext) -> Any:
        names = req.args.get("names")  # named topics were checked by node/security.py
        return await self.describe_topics(
            list(names) if names else self._visible_topics(self.node.security.principal(ctx))
        )

    def _visible_topics(self, who: Principal) -> list[str]:
        """The topics ``who`` may read (as Kafka lists only the topics one may describe)."""
        return [t for t in sorted(self.node.raft.snapshot.topics) if who.can("read", "topic", t)]

    async def _h_init_producer_id(self, req: Request, ctx: ConnectionContext) -> Any:
        """A fresh producer id for an idempotent producer; nodes take ids from the
        controller in blocks so that most producers cost no metadata write."""
        if not self._producer_ids:
            block = await self.node.raft.propose({"op": "allocate_producer_ids", "count": 1000}, timeout=10.0)
            self._producer_ids.extend(range(block["first"], block["first"] + block["count"]))
        return {"producer_id": self._producer_ids.pop(0), "producer_epoch": 0}

    def _h_replica_read(self, req: Request, ctx: ConnectionContext) -> Any:
        """Read this node's copy of a partition, whatever its role (checkers compare replicas)."""
        a = req.args
        replica = self.manager.replicas.get((str(a.get("topic")), int(a.get("partition", -1))))
        if replica is None:
            raise KeystreamError(
                ErrorCode.REPLICA_NOT_AVAILABLE, f"no replica of {a.get('topic')}-{a.get('partition')}"
            )
        offset = int(a.get("offset", replica.log.log_start_offset))
        data = replica.log.read(offset, int(a.get("max_bytes", 1 << 20)), a.get("max_offset"))
        return {"data": data, **replica.describe()}

    # --- HTTP produce and fetch (a REST proxy built on the SDK) ---------------------------------------------
    async def _sdk(self) -> Any:
        if self._client is None:
            from client import Keystream

            own = self.node.internal_address(self.node.node_id, "native")
            if own is None:
                raise KeystreamError(ErrorCode.CLUSTER_NOT_READY, "this node is not registered yet")
            self._client = await Keystream(
                own, credentials=self.node.security.node_credentials(), ssl=self.node.security.internal_client_ssl()
            ).start()
            self._producers = {}
        return self._client

    async def _http_produce(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        require(request, "write", "topic", name)
        if request.content_type == _MSGPACK:
            body = msgpack.unpackb(await request.read(), raw=False)
        else:
            body = await request.json()
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, 'body must be {"records": [{"key": ..., "value": ...}]}')
        if len(records) > _MAX_HTTP_RECORDS:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"at most {_MAX_HTTP_RECORDS} records per request")
        acks = str(body.get("acks", "all"))
        if acks not in ("0", "1", "all", "-1"):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"acks must be 0, 1 or all, got {acks}")
        ks = await self._sdk()
        producer = self._producers.get(acks)
        if producer is None:
            producer = self._producers[acks] = await ks.producer(acks="all" if acks in ("all", "-1") else int(acks),
                                                                linger_ms=1).start()  # fmt: skip
        futures = []
        for record in records:
            if not isinstance(record, dict):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "each record must be an object")
            headers = record.get("headers") or {}
            futures.append(
                await producer.send(
                    name,
                    _field_bytes(record, "value"),
                    _field_bytes(record, "key"),
                    partition=record.get("partition"),
                    headers=[(str(k), v.encode() if isinstance(v, str) else bytes(v)) for k, v in headers.items()],
                )
            )
        results = []
        for fut in futures:
            try:
                meta = await fut
                results.append({"partition": meta.partition, "offset": meta.offset})
            except KeystreamError as exc:
                results.append({"error": exc.code.name, "message": exc.message})
        failed = sum(1 for r in results if "error" in r)
        return _respond(request, {"offsets": results, "failed": failed}, status=200 if not failed else 207)

    async def _http_fetch(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        require(request, "read", "topic", name)
        try:
            partition = int(request.match_info["partition"])
            offset = int(request.query.get("offset", "0"))
            max_records = min(int(request.query.get("max_records", "500")), _MAX_HTTP_RECORDS)
            timeout_ms = min(int(request.query.get("timeout_ms", "0")), 60_000)
        except ValueError as exc:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"bad query parameter: {exc}") from None
        state = self.node.raft.snapshot
        topic = state.topics.get(name)
        if topic is None or not 0 <= partition < len(topic["partitions"]):
            raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{name}-{partition} does not exist")
        leader = topic["partitions"][partition]["leader"]
        args = {"max_wait_ms": timeout_ms, "min_bytes": 1, "partitions": [[name, partition, offset]]}
        if leader == self.node.node_id:
            reply = await self.manager.fetch(args)
        elif leader >= 0:
            reply = await self.peers.request(leader, "fetch", args, timeout=timeout_ms / 1000 + 10)
        else:
            raise KeystreamError(ErrorCode.NOT_LEADER, f"{name}-{partition} has no leader right now")
        _t, _p, code, hw, log_start, data = reply["partitions"][0][:6]
        if code:
            entry = reply["partitions"][0]
            raise KeystreamError(
                ErrorCode(code),
                entry[6] if len(entry) > 6 else "",
                {"high_watermark": hw, "log_start_offset": log_start},
            )
        from client.records import decode_fetched

        records = decode_fetched(data, name, partition, offset)[:max_records] if data else []
        body = {
            "records": [
                {"offset": r.offset, "timestamp": r.timestamp, "key": r.key, "value": r.value,
                 "headers": {k: v for k, v in r.headers}}
                for r in records
            ],
            "next_offset": records[-1].offset + 1 if records else offset,
            "high_watermark": hw,
            "log_start_offset": log_start,
        }  # fmt: skip
        return _respond(request, body)

    # --- HTTP -----------------------------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        async def list_topics(request: web.Request) -> web.Response:
            return web.json_response({"topics": self._visible_topics(principal(request))})

        async def create(request: web.Request) -> web.Response:
            body = await request.json()
            if not isinstance(body, dict):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "body must be a JSON object")
            require(request, "admin", "topic", str(body.get("name", "")))
            result = await self.create_topic(
                body.get("name"), body.get("partitions"), body.get("replication_factor"), body.get("config")
            )
            return web.json_response(result, status=201)

        async def describe(request: web.Request) -> web.Response:
            require(request, "read", "topic", request.match_info["name"])
            return web.json_response((await self.describe_topics([request.match_info["name"]]))[0])

        async def delete(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            require(request, "admin", "topic", name)
            await self.node.raft.propose({"op": "delete_topic", "name": name}, timeout=10.0)
            return web.json_response({"deleted": name})

        async def produce_records(request: web.Request) -> web.Response:
            return await self._http_produce(request)

        async def fetch_records(request: web.Request) -> web.Response:
            return await self._http_fetch(request)

        app.router.add_post("/v1/topics/{name}/records", produce_records)
        app.router.add_get("/v1/topics/{name}/partitions/{partition}/records", fetch_records)
        app.router.add_get("/v1/topics", list_topics)
        app.router.add_post("/v1/topics", create)
        app.router.add_get("/v1/topics/{name}", describe)
        app.router.add_delete("/v1/topics/{name}", delete)


_MSGPACK = "application/msgpack"
_MAX_HTTP_RECORDS = 100_000


def _wants_msgpack(request: web.Request) -> bool:
    return _MSGPACK in request.headers.get("Accept", "")


def _respond(request: web.Request, body: Any, status: int = 200) -> web.Response:
    if _wants_msgpack(request):
        return web.Response(body=msgpack.packb(body, use_bin_type=True), status=status, content_type=_MSGPACK)
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode()}
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _field_bytes(record: dict[str, Any], name: str) -> bytes | None:
    """A key or value from a JSON record: a string (UTF-8), {"base64": ...}, or null."""
    raw = record.get(name)
    if raw is None:
        b64 = record.get(name + "_base64")
        return base64.b64decode(b64) if isinstance(b64, str) else None
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode()
    if isinstance(raw, dict) and isinstance(raw.get("base64"), str):
        return base64.b64decode(raw["base64"])
    raise KeystreamError(ErrorCode.INVALID_REQUEST, f"record {name} must be a string, base64 object or null")


def _positive_int(value: Any, default: int, what: str) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"{what} must be an integer, got {value!r}") from None
    if number < 1:
        code = ErrorCode.INVALID_PARTITIONS if what == "partitions" else ErrorCode.INVALID_REPLICATION_FACTOR
        raise KeystreamError(code, f"{what} must be at least 1, got {number}")
    return number

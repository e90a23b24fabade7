"""Authentication, authorization, TLS and the audit log of one node.

Every front end asks the same two questions here: *who is this connection*
(:meth:`Security.authenticate`, :meth:`Security.principal`) and *may it do
this* (:class:`cluster.auth.Principal`'s ``require``, and
:meth:`Security.authorize_native` for the native protocol's operations).

Open mode. With no users defined, a cluster accepts anonymous requests, as a
fresh Redis or Kafka does, but only from loopback peers unless the node runs
with ``--insecure``; it says so loudly at start-up and on every anonymous
remote attempt. Once a user exists, everything except ``ping``, ``health`` and
``authenticate`` needs credentials. Other nodes authenticate with a token
derived from the cluster secret and may do anything.

TLS (Python's ``ssl``): ``--set tls.cert=... --set tls.key=... [--set tls.ca=...]
[--set tls.client.auth=required] --set tls.listeners=external,internal`` turns
on TLS for the named listeners (all services on them); nodes dial each other
over TLS when the inter-node listener uses it.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from cluster import commands as command_table
from cluster.auth import NODE_PRINCIPAL, Principal, node_token, verify_password
from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import is_internal_key
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request

if TYPE_CHECKING:
    from node.server import Node

log = logging.getLogger(__name__)
audit = logging.getLogger("keystream.audit")

ANONYMOUS = "anonymous"
_PRINCIPAL_KEY = "principal"


def is_loopback(peer: str) -> bool:
    host = peer.rpartition(":")[0].strip("[]") if ":" in peer else peer
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "")


class Security:
    def __init__(self, node: Node) -> None:
        self.node = node
        extra = node.config.extra
        self.insecure = str(extra.get("insecure", "false")).lower() in ("1", "true", "yes", "on")
        self.token = node_token(node.config.cluster_secret)
        self.tls_listeners = {x.strip() for x in str(extra.get("tls.listeners", "")).split(",") if x.strip()}
        self.tls_cert = extra.get("tls.cert")
        self.tls_key = extra.get("tls.key")
        self.tls_ca = extra.get("tls.ca")
        self.tls_client_auth = str(extra.get("tls.client.auth", "none"))
        if self.tls_listeners and not (self.tls_cert and self.tls_key):
            raise KeystreamError(ErrorCode.INVALID_CONFIG, "tls.listeners needs tls.cert and tls.key")
        if self.tls_client_auth not in ("none", "optional", "required"):
            raise KeystreamError(ErrorCode.INVALID_CONFIG, "tls.client.auth must be none, optional or required")
        import hashlib
        import hmac

        self._token_key = hmac.new(node.config.cluster_secret.encode(), b"keystream http tokens v1",
                                   hashlib.sha256).digest()  # fmt: skip
        self._basic_cache: dict[str, tuple[Principal, float]] = {}
        self._refused_logged: dict[str, float] = {}
        self.max_connections_per_user = int(extra.get("max.connections.per.user", 1000))
        self._connections_by_user: dict[str, set[tuple[str, int]]] = {}
        self._principals: dict[str, Principal] = {}

    # --- TLS ----------------------------------------------------------------------------------------
    def server_ssl(self, listener: str) -> ssl.SSLContext | None:
        if listener not in self.tls_listeners:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        if self.tls_ca:
            ctx.load_verify_locations(str(self.tls_ca))
        ctx.verify_mode = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}[
            self.tls_client_auth
        ]
        return ctx

    def internal_client_ssl(self) -> ssl.SSLContext | None:
        """For this node's connections to other nodes (their inter-node listener)."""
        if self.node.config.inter_node_listener not in self.tls_listeners:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.tls_ca) if self.tls_ca else None)
        ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        return ctx

    def node_credentials(self) -> dict[str, Any]:
        return {"mechanism": "NODE", "token": self.token}

    # --- who ------------------------------------------------------------------------------------------
    @property
    def users(self) -> dict[str, Any]:
        return dict(self._users())

    def _users(self) -> Mapping[str, Any]:
        """The cluster state's users, not copied (read on every request; never modified here)."""
        return self.node.raft.snapshot.data.get("users") or {}

    @property
    def open_mode(self) -> bool:
        return not self._users()

    def authenticate(self, mechanism: Any, username: Any, secret: Any, peer: str) -> Principal:
        if mechanism == "NODE":
            if not (isinstance(secret, str) and _same(secret, self.token)):
                self._refuse("node token", peer, str(username))
            return Principal(NODE_PRINCIPAL, [], superuser=True)
        if mechanism not in ("PLAIN", None):
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, f"unsupported mechanism {mechanism!r}; use PLAIN")
        user = self.users.get(username) if isinstance(username, str) else None
        if user is None or not verify_password(secret if isinstance(secret, str) else "", user["password"]):
            self._refuse("password", peer, str(username))
        audit.info("authentication succeeded: user=%s peer=%s", username, peer)
        return Principal(str(username), list(user["grants"]))

    def _refuse(self, what: str, peer: str, username: str) -> NoReturn:
        audit.warning("authentication failed (%s): user=%r peer=%s", what, username, peer)
        raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "invalid username-password pair or user is disabled")

    def refresh(self, principal: Principal) -> Principal:
        """The principal with its current grants (role changes apply at once, everywhere)."""
        if principal.superuser:
            return principal
        user = self._users().get(principal.name)
        if user is None:
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, f"user {principal.name!r} no longer exists")
        # Called for every request: reuse the principal (its compiled grants) while the
        # user's grants in the cluster state are unchanged.
        cached = self._principals.get(principal.name)
        if cached is not None and cached.grants == user["grants"]:
            return cached
        fresh = Principal(principal.name, [dict(grant) for grant in user["grants"]])
        self._principals[principal.name] = fresh
        return fresh

    def anonymous(self, peer: str) -> Principal | None:
        """The principal of an unauthenticated connection, if open mode allows one."""
        if not self.open_mode:
            return None
        if self.insecure or is_loopback(peer):
            return Principal(ANONYMOUS, [], superuser=True)
        host = peer.rpartition(":")[0] or peer
        import time

        now = time.monotonic()
        if now - self._refused_logged.get(host, -1e9) > 10:  # one line per peer per 10 s
            self._refused_logged[host] = now
            audit.warning("refused anonymous access from %s: no users are defined and the node is not "
                          "--insecure", peer)  # fmt: skip
        return None

    def principal(self, ctx: ConnectionContext) -> Principal:
        principal = ctx.attributes.get(_PRINCIPAL_KEY)
        if principal is not None:
            return self.refresh(principal)
        anonymous = self.anonymous(ctx.peer)
        if anonymous is None:
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "authentication required (op authenticate first)")
        return anonymous

    # --- HTTP ------------------------------------------------------------------------------------------
    async def http_principal(self, header: str, peer: str) -> Principal:
        """``Basic base64(user:password)`` or ``Bearer <token from POST /v1/auth/token>``."""
        import asyncio
        import base64
        import hashlib

        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.refresh(self.verify_token(value.strip(), peer))
        if scheme.lower() != "basic":
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "use HTTP Basic or a Bearer token")
        try:
            username, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "malformed Basic credentials") from None
        # scrypt costs ~50 ms on purpose: remember good credentials briefly, per node
        cache_key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        import time

        cached = self._basic_cache.get(cache_key)
        if cached is not None and cached[1] > time.monotonic():
            return self.refresh(cached[0])
        found = await asyncio.to_thread(self.authenticate, "PLAIN", username, password, peer)
        self._basic_cache[cache_key] = (found, time.monotonic() + 60)
        if len(self._basic_cache) > 10_000:
            self._basic_cache.clear()
        return found

    def authenticate_cached(self, username: str, password: str, peer: str) -> Principal:
        """authenticate() with good credentials remembered for 60 s (scrypt is slow on purpose)."""
        import hashlib
        import time

        cache_key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        cached = self._basic_cache.get(cache_key)
        if cached is not None and cached[1] > time.monotonic():
            return self.refresh(cached[0])
        found = self.authenticate("PLAIN", username, password, peer)
        self._basic_cache[cache_key] = (found, time.monotonic() + 60)
        if len(self._basic_cache) > 10_000:
            self._basic_cache.clear()
        return found

    def issue_token(self, principal: Principal, ttl_s: int = 3600) -> str:
        import base64
        import hashlib
        import hmac
        import time

        import msgpack

        payload = base64.urlsafe_b64encode(msgpack.packb({"u": principal.name, "exp": int(time.time()) + ttl_s}))
        mac = hmac.new(self._token_key, payload, hashlib.sha256).hexdigest()
        return f"{payload.decode()}.{mac}"

    def verify_token(self, token: str, peer: str) -> Principal:
        import base64
        import hashlib
        import hmac
        import time

        import msgpack

        payload, _, mac = token.partition(".")
        expected = hmac.new(self._token_key, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            self._refuse("bearer token", peer, "?")
        claims = msgpack.unpackb(base64.urlsafe_b64decode(payload))
        if claims["exp"] < time.time():
            raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "the token has expired")
        return Principal(str(claims["u"]), [])

    # --- user administration (native ops; cluster admins only) ------------------------------------------
    def register_handlers(self) -> None:
        node = self.node
        node.add_native_handler("create_user", self._h_create_user)
        node.add_native_handler("delete_user", self._h_user_op("delete_user"))
        node.add_native_handler("grant", self._h_user_op("grant"))
        node.add_native_handler("revoke", self._h_user_op("revoke"))
        node.add_native_handler("list_users", lambda req, ctx: [
            {"name": name, "grants": user["grants"]} for name, user in sorted(self.users.items())
        ])  # fmt: skip

    async def _h_create_user(self, req: Request, ctx: ConnectionContext) -> Any:
        import asyncio

        from cluster.auth import hash_password, validate_grant, validate_username

        name = validate_username(req.args.get("name"))
        grants = [validate_grant(g.get("role"), g.get("resource")) for g in req.args.get("grants") or []]
        record = await asyncio.to_thread(hash_password, str(req.args.get("password", "")))
        result = await self.node.raft.propose(
            {"op": "create_user", "name": name, "password": record, "grants": grants,
             "replace": bool(req.args.get("replace", False))},
            timeout=10.0,
        )  # fmt: skip
        audit.info(
            "user %s %s by %s", name, "updated" if req.args.get("replace") else "created", ctx.principal or ANONYMOUS
        )
        return result

    def _h_user_op(self, op: str) -> Callable[[Request, ConnectionContext], Any]:
        async def handler(req: Request, ctx: ConnectionContext) -> Any:
            command = {"op": op, "name": req.args.get("name"), "role": req.args.get("role"),
                       "resource": req.args.get("resource")}  # fmt: skip
            result = await self.node.raft.propose(command, timeout=10.0)
            audit.info("%s %s %s %s by %s", op, req.args.get("name"), req.args.get("role") or "",
                       req.args.get("resource") or "", ctx.principal or ANONYMOUS)  # fmt: skip
            return result

        return handler

    # --- native protocol --------------------------------------------------------------------------------
    def h_authenticate(self, req: Request, ctx: ConnectionContext) -> Any:
        principal = self.authenticate(
            req.args.get("mechanism", "PLAIN"), req.args.get("username"),
            req.args.get("password", req.args.get("token")), ctx.peer,
        )  # fmt: skip
        previous = ctx.attributes.get(_PRINCIPAL_KEY)
        if previous is not None:
            self.release(previous.name, ("native", ctx.connection_id))
        if not self.acquire(principal.name, ("native", ctx.connection_id)):
            ctx.attributes.pop(_PRINCIPAL_KEY, None)
            raise KeystreamError(
                ErrorCode.TOO_MANY_CONNECTIONS,
                f"user {principal.name!r} already has {self.max_connections_per_user} connections to this node",
            )
        ctx.attributes[_PRINCIPAL_KEY] = principal
        ctx.principal = principal.name
        return {"user": principal.name}

    # --- per-user connection limits (nodes are exempt) -------------------------------------------------
    def acquire(self, user: str, connection: tuple[str, int]) -> bool:
        if user in (NODE_PRINCIPAL, ANONYMOUS):
            return True
        held = self._connections_by_user.setdefault(user, set())
        if connection not in held and len(held) >= self.max_connections_per_user:
            return False
        held.add(connection)
        return True

    def release(self, user: str, connection: tuple[str, int]) -> None:
        held = self._connections_by_user.get(user)
        if held is not None:
            held.discard(connection)
            if not held:
                del self._connections_by_user[user]

    def on_native_disconnect(self, ctx: ConnectionContext) -> None:
        principal = ctx.attributes.get(_PRINCIPAL_KEY)
        if principal is not None:
            self.release(principal.name, ("native", ctx.connection_id))

    def authorize_native(self, req: Request, ctx: ConnectionContext) -> None:
        """Raise AUTHENTICATION_FAILED / AUTHORIZATION_FAILED unless the request is allowed."""
        rule = _RULES.get(req.op, _node_or_cluster_admin)
        if rule is None:
            return
        principal = self.principal(ctx)
        if principal.superuser:
            return
        rule(principal, req.args)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


Rule = Callable[[Principal, dict[str, Any]], None] | None


def _node_or_cluster_admin(principal: Principal, args: dict[str, Any]) -> None:
    principal.require("admin", "cluster")


def _authenticated(principal: Principal, args: dict[str, Any]) -> None:
    return None


def _topics_in(args: dict[str, Any], key: str = "partitions") -> Iterable[str]:
    for part in args.get(key) or []:
        if isinstance(part, list) and part:
            yield str(part[0])


def _produce(principal: Principal, args: dict[str, Any]) -> None:
    for entry in args.get("topics") or []:
        if isinstance(entry, list) and entry:
            principal.require("write", "topic", str(entry[0]))


def _read_topics(principal: Principal, args: dict[str, Any]) -> None:
    for topic in _topics_in(args):
        principal.require("read", "topic", topic)


def _describe_topics(principal: Principal, args: dict[str, Any]) -> None:
    """Named topics need read; without names the handler lists only the readable ones."""
    for name in args.get("names") or []:
        principal.require("read", "topic", str(name))


def _topic_admin(principal: Principal, args: dict[str, Any]) -> None:
    principal.require("admin", "topic", str(args.get("name", "")))


def _kv_argv(principal: Principal, argv: Any, force_write: bool = False) -> None:
    if not isinstance(argv, list) or not argv:
        return
    raw = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
    spec = command_table.lookup(raw)
    role = "read" if spec is not None and spec.is_readonly and not force_write else "write"
    keys = command_table.get_keys(raw) if spec is not None else []
    if not keys:  # keyless: DBSIZE/SCAN/KEYS read everything; FLUSHALL writes everything
        principal.require("admin" if role == "write" else "read", "key", "*")
        pattern = _listing_pattern(raw)
        if pattern is not None and is_internal_key(pattern):  # lists the cluster's own keys
            principal.require("read", "key", pattern)
        return
    for key in keys:
        principal.require(role, "key", key)


def _listing_pattern(argv: list[bytes]) -> bytes | None:
    """The pattern of KEYS or SCAN ... MATCH, which decides whether internal keys are listed."""
    name = argv[0].lower()
    if name == b"keys" and len(argv) == 2:
        return argv[1]
    pattern = None
    if name == b"scan":  # options come in pairs after the cursor; the last MATCH counts
        for i in range(2, len(argv) - 1, 2):
            if argv[i].lower() == b"match":
                pattern = argv[i + 1]
    return pattern


def _kv(principal: Principal, args: dict[str, Any]) -> None:
    _kv_argv(principal, args.get("argv"))


def _kv_batch(principal: Principal, args: dict[str, Any]) -> None:
    for argv in args.get("commands") or []:
        _kv_argv(principal, argv)


def _kv_exec(principal: Principal, args: dict[str, Any]) -> None:
    for argv in args.get("commands") or []:
        _kv_argv(principal, argv)


def _kv_watch(principal: Principal, args: dict[str, Any]) -> None:
    for key in args.get("keys") or []:
        principal.require("read", "key", key)


def _group(principal: Principal, args: dict[str, Any]) -> None:
    group = args.get("group_id", args.get("group", ""))
    principal.require("read", "group", str(group))


def _offset_topics(args: dict[str, Any]) -> Iterable[str]:
    for item in args.get("offsets") or []:
        if isinstance(item, list) and item:
            yield str(item[0])


def _offset_commit(principal: Principal, args: dict[str, Any]) -> None:
    """As Kafka: read on the group and on every topic whose offset is committed."""
    _group(principal, args)
    for topic in _offset_topics(args):
        principal.require("read", "topic", topic)


def _group_ids(args: dict[str, Any]) -> list[str]:
    ids = args.get("group_ids")
    return [str(g) for g in ids] if isinstance(ids, list) else [str(args.get("group_id", ""))]


def _describe_groups(principal: Principal, args: dict[str, Any]) -> None:
    for group in _group_ids(args):
        principal.require("read", "group", group)


def _group_admin(principal: Principal, args: dict[str, Any]) -> None:
    """Deleting a group or rewriting its offsets: admin on the group (and read on the topics)."""
    for group in _group_ids(args):
        principal.require("admin", "group", group)
    for topic in _offset_topics(args):
        principal.require("read", "topic", topic)


_RULES: dict[str, Rule] = {
    "authenticate": None,
    "ping": None,
    "health": None,
    "metadata": _authenticated,
    "cluster_status": _authenticated,
    "list_topics": _authenticated,
    "describe_topics": _describe_topics,
    "init_producer_id": _authenticated,
    "produce": _produce,
    "fetch": _read_topics,
    "list_offsets": _read_topics,
    "push_subscribe": _read_topics,
    "push_credit": _authenticated,
    "push_unsubscribe": _authenticated,
    "create_topic": _topic_admin,
    "delete_topic": _topic_admin,
    "alter_topic_config": _topic_admin,
    "kv": _kv,
    "kv_batch": _kv_batch,
    "kv_exec": _kv_exec,
    "kv_watch": _kv_watch,
    "find_coordinator": _group,
    "join_group": _group,
    "sync_group": _group,
    "heartbeat": _group,
    "leave_group": _group,
    "offset_commit": _offset_commit,
    "offset_fetch": _group,
    "list_groups": _authenticated,
    "describe_groups": _describe_groups,
    "delete_groups": _group_admin,
    "alter_group_offsets": _group_admin,
    # everything else (replication, node-to-node, users, cluster config): nodes and cluster admins
}

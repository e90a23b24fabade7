"""The RESP front end's own commands: connection, server, cluster, COMMAND and pub/sub.

Keyspace commands (GET, SET, ... the ones ``node.keyspace`` executes) are dispatched by
``resp_server`` itself, on its fast path. Everything else a Redis client sends lands here:
``COMMANDS`` maps a lower-case command name to a handler ``(conn, argv) -> None`` that
answers through the connection (``conn.reply(value)`` now, ``conn.reply_later(future)``
in order once done, ``conn.block_on(awaitable)`` to hold the commands after it).
Argument counts are checked from the command table before a handler runs.

The reply builders (``cluster_slots``, ``cluster_nodes``, ``cluster_shards``,
``cluster_info``, ``info_text``, ``client_line``, ``command_info``, ``command_docs``) are
plain functions of the cluster state and of snapshots of the node's counters, so they
are tested without sockets.

How Keystream maps onto Redis Cluster's model. A Redis Cluster node is the master of
some slots and at most a replica of one master. A Keystream node leads some shards and
follows others, so: every live node is reported as a ``master`` owning the slots of the
shards it leads (CLUSTER NODES), and each shard is a Redis shard whose master is its
leader and whose replicas are its in-sync followers (CLUSTER SLOTS, CLUSTER SHARDS).
Node ids are 40 hex characters, ``sha1("keystream:<cluster id>:<node id>")``: stable for
a node across restarts, distinct between clusters.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cluster import commands as command_table
from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot
from cluster.state import KEYSPACE_TOPIC, ClusterState
from node.keyspace.replies import CROSSSLOT, unknown_command, wrong_arity
from node.keyspace.scan import glob_matcher
from node.protocols.resp import RESP2
from node.protocols.resp_types import (
    OK,
    PONG,
    ErrorReply,
    Map,
    RespSet,
    SimpleString,
    Verbatim,
)

if TYPE_CHECKING:
    from node.protocols.resp_server import RespConnection

REDIS_VERSION = "7.0.15"  # the Redis release whose behaviour the front end reproduces
KEYSTREAM_VERSION = "0.1.0"

Handler = Callable[["RespConnection", list[bytes]], None]


# --- node ids and addresses -------------------------------------------------------------------


def node_hex_id(cluster_id: str | None, node_id: int) -> str:
    """A node's Redis Cluster id: 40 hex characters, stable for the node in this cluster."""
    return hashlib.sha1(f"keystream:{cluster_id}:{node_id}".encode()).hexdigest()


def split_host_port(address: str | None) -> tuple[str, int]:
    if not address:
        return "", 0
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else 0


def resp_address(state: ClusterState, node_id: int, listener: str) -> str | None:
    """The RESP address ``node_id`` advertises on ``listener`` (any listener as a fallback)."""
    node = state.node(node_id)
    if node is None:
        return None
    listeners: dict[str, dict[str, str]] = node["listeners"]
    services = listeners.get(listener)
    if services is None or "resp" not in services:
        services = next((s for s in listeners.values() if "resp" in s), {})
    address = services.get("resp")
    return str(address) if address else None


def _native_port(state: ClusterState, node_id: int, listener: str) -> int:
    node = state.node(node_id)
    if node is None:
        return 0
    services: dict[str, str] = node["listeners"].get(listener) or next(iter(node["listeners"].values()), {})
    return split_host_port(services.get("native"))[1]


# --- the cluster as Redis Cluster sees it -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardView:
    shard: int
    leader: int  # -1: none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    ranges: tuple[tuple[int, int], ...]  # slot ranges, merged, in slot order


def shard_views(state: ClusterState) -> list[ShardView]:
    keyspace = state.data.get("keyspace")
    if not keyspace:
        return []
    topic = state.topics.get(keyspace.get("topic", KEYSPACE_TOPIC))
    if topic is None:
        return []
    ranges: dict[int, list[tuple[int, int]]] = {}
    for start, end, shard in sorted(keyspace["slots"]):
        merged = ranges.setdefault(int(shard), [])
        if merged and merged[-1][1] + 1 == start:
            merged[-1] = (merged[-1][0], int(end))
        else:
            merged.append((int(start), int(end)))
    out = []
    for index, partition in enumerate(topic["partitions"]):
        out.append(
            ShardView(
                index,
                int(partition["leader"]),
                tuple(partition["replicas"]),
                tuple(partition["isr"]),
                tuple(ranges.get(index, [])),
            )
        )
    return out


def _live(state: ClusterState, node_id: int) -> bool:
    node = state.node(node_id)
    return node is not None and not node["fenced"]


def cluster_slots(state: ClusterState, listener: str) -> list[Any]:
    """CLUSTER SLOTS: ``[start, end, [host, port, id, {}]]`` per range, in slot order;
    ranges of a shard without a live leader are left out (as Redis leaves out slots no
    node serves).

    Followers are not listed as replicas: a Keystream node follows some shards while it
    leads others, and cluster clients (redis-py) keep one role per node, so a node named
    as a replica of one range would stop being a primary for the others (and followers
    do not serve reads: the leader does, under its lease). CLUSTER SHARDS lists them."""
    entries: list[list[Any]] = []
    for view in shard_views(state):
        if view.leader < 0 or not _live(state, view.leader):
            continue
        host, port = split_host_port(resp_address(state, view.leader, listener))
        leader = [host.encode(), port, node_hex_id(state.cluster_id, view.leader).encode(), Map(())]
        for start, end in view.ranges:
            entries.append([start, end, leader])
    entries.sort(key=lambda e: int(e[0]))
    return entries


def cluster_shards(
    state: ClusterState, listener: str, offsets: Mapping[tuple[int, int], int] | None = None
) -> list[Any]:
    """CLUSTER SHARDS: one map per shard with its slots and nodes (leader = master)."""
    offsets = offsets or {}
    out = []
    for view in shard_views(state):
        slots: list[int] = []
        for start, end in view.ranges:
            slots += [start, end]
        nodes = []
        ordered = ([view.leader] if view.leader >= 0 else []) + [r for r in view.replicas if r != view.leader]
        for node_id in ordered:
            host, port = split_host_port(resp_address(state, node_id, listener))
            if not _live(state, node_id):
                health = "fail"
            elif node_id == view.leader or node_id in view.isr:
                health = "online"
            else:
                health = "loading"
            nodes.append(
                {
                    b"id": node_hex_id(state.cluster_id, node_id).encode(),
                    b"port": port,
                    b"ip": host.encode(),
                    b"endpoint": host.encode(),
                    b"role": b"master" if node_id == view.leader else b"replica",
                    b"replication-offset": int(offsets.get((view.shard, node_id), 0)),
                    b"health": health.encode(),
                }
            )
        out.append({b"slots": slots, b"nodes": nodes})
    return out


def cluster_nodes(state: ClusterState, listener: str, me: int, now_ms: int | None = None) -> str:
    """CLUSTER NODES: one line per node, each node a master of the shards it leads."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    owned: dict[int, list[tuple[int, int]]] = {}
    for view in shard_views(state):
        if view.leader >= 0:
            owned.setdefault(view.leader, []).extend(view.ranges)
    lines = []
    for key in sorted(state.nodes, key=int):
        node = state.nodes[key]
        node_id = int(node["id"])
        host, port = split_host_port(resp_address(state, node_id, listener))
        flags = ["myself", "master"] if node_id == me else ["master"]
        if node["fenced"]:
            flags.append("fail")
        ranges = sorted(owned.get(node_id, [])) if not node["fenced"] else []
        slots = " ".join(f"{s}-{e}" if s != e else f"{s}" for s, e in _merge_ranges(ranges))
        line = (
            f"{node_hex_id(state.cluster_id, node_id)} {host}:{port}@{_native_port(state, node_id, listener)} "
            f"{','.join(flags)} - 0 {0 if node_id == me else now_ms} {node_id} "
            f"{'disconnected' if node['fenced'] else 'connected'}"
        )
        lines.append(f"{line} {slots}" if slots else line)
    return "".join(line + "\n" for line in lines)


def _merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and out[-1][1] + 1 >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def cluster_info(state: ClusterState) -> str:
    views = shard_views(state)
    ok = sum(e - s + 1 for v in views if v.leader >= 0 and _live(state, v.leader) for s, e in v.ranges)
    assigned = sum(e - s + 1 for v in views for s, e in v.ranges)
    leaders = {v.leader for v in views if v.leader >= 0 and _live(state, v.leader)}
    fields = [
        ("cluster_state", "ok" if assigned == 16384 and ok == assigned else "fail"),
        ("cluster_slots_assigned", assigned),
        ("cluster_slots_ok", ok),
        ("cluster_slots_pfail", 0),
        ("cluster_slots_fail", assigned - ok),
        ("cluster_known_nodes", len(state.nodes)),
        ("cluster_size", len(leaders)),
        ("cluster_current_epoch", state.map_epoch),
        ("cluster_my_epoch", state.map_epoch),
        ("cluster_stats_messages_sent", 0),
        ("cluster_stats_messages_received", 0),
        ("total_cluster_links_buffer_limit_exceeded", 0),
    ]
    return "".join(f"{k}:{v}\r\n" for k, v in fields)


# --- INFO ------------------------------------------------------------------------------------------

DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
)
ALL_SECTIONS = (*DEFAULT_SECTIONS, "commandstats", "latencystats")


def info_sections(argv: Sequence[bytes]) -> list[str]:
    """Which sections ``INFO [section ...]`` asks for, in Redis's order."""
    wanted = {a.decode("utf-8", "replace").lower() for a in argv[1:]} or {"default"}
    chosen: set[str] = set()
    for name in wanted:
        if name == "default":
            chosen.update(DEFAULT_SECTIONS)
        elif name in ("all", "everything"):
            chosen.update(ALL_SECTIONS)
        else:
            chosen.add(name)
    return [s for s in ALL_SECTIONS if s in chosen]


def info_text(sections: Sequence[str], facts: Mapping[str, Sequence[tuple[str, Any]]]) -> str:
    """INFO's text: ``# Title`` and ``field:value`` lines, a blank line between sections."""
    parts = []
    for section in sections:
        fields = facts.get(section)
        if fields is None:
            continue
        title = "CPU" if section == "cpu" else section.capitalize()
        parts.append(f"# {title}\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields))
    return "\r\n".join(parts)


def human_bytes(n: int) -> str:
    """Redis's bytesToHuman: ``1.50K``, ``2.00M``..."""
    value = float(n)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if value < 1024 or unit == "P":
            return f"{int(value)}B" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1024
    return f"{n}B"  # pragma: no cover


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- CLIENT --------------------------------------------------------------------------------------


def client_line(fields: Mapping[str, Any]) -> str:
    """One CLIENT LIST / CLIENT INFO line (no newline), fields in Redis 7.2's order."""
    order = (
        "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi",
        "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem",
        "events", "cmd", "user", "redir", "resp", "lib-name", "lib-ver",
    )  # fmt: skip
    return " ".join(f"{key}={fields.get(key, '')}" for key in order)


def valid_client_name(name: bytes) -> bool:
    """Redis allows printable ASCII without spaces (``!`` to ``~``)."""
    return all(33 <= c <= 126 for c in name)


# --- COMMAND -----------------------------------------------------------------------------------------


def _status_set(values: Iterable[Any], protocol: int) -> Any:
    items = [SimpleString(v.decode() if isinstance(v, bytes) else str(v)) for v in values]
    return items if protocol == RESP2 else RespSet(items)


def command_info(spec: command_table.CommandSpec, protocol: int) -> list[Any]:
    """One COMMAND INFO entry in Redis's exact types: flags and categories are status
    strings (sets in RESP3), tips, key specs and subcommands are sets in RESP3."""
    raw = command_table.command_info_reply(spec)
    as_set: Callable[[list[Any]], Any] = (lambda items: items) if protocol == RESP2 else RespSet
    key_specs = []
    for key_spec in raw[8]:
        converted = dict(key_spec)
        converted[b"flags"] = _status_set(key_spec[b"flags"], protocol)
        key_specs.append(converted)
    return [
        raw[0],
        raw[1],
        _status_set(raw[2], protocol),
        raw[3],
        raw[4],
        raw[5],
        _status_set(raw[6], protocol),
        as_set(raw[7]),
        as_set(key_specs),
        as_set([command_info(sub, protocol) for sub in spec.subcommands]),
    ]


def command_docs(spec: command_table.CommandSpec, protocol: int) -> Map:
    return _docs_value(command_table.command_docs_reply(spec), protocol)


def _docs_value(doc: Mapping[str, Any], protocol: int) -> Map:
    pairs: list[tuple[Any, Any]] = []
    for key, value in doc.items():
        if key in ("flags", "doc_flags"):
            converted: Any = _status_set(value, protocol)
        elif key == "history":
            history = [[_b(v) for v in entry] for entry in value]
            converted = history if protocol == RESP2 else RespSet(history)
        elif key == "arguments":
            converted = [_docs_value(arg, protocol) for arg in value]
        elif key == "subcommands":
            converted = Map([(_b(name), _docs_value(sub, protocol)) for name, sub in value.items()])
        elif isinstance(value, str):
            converted = value.encode()
        else:
            converted = value
        pairs.append((key.encode(), converted))
    return Map(pairs)


def _b(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


def _spec_by_name(name: bytes) -> command_table.CommandSpec | None:
    """A command or ``container|sub`` by its full name (COMMAND INFO/DOCS accept both)."""
    text = name.decode("utf-8", "surrogateescape").lower()
    parent, _, sub = text.partition("|")
    spec = command_table.COMMANDS.get(parent)
    if spec is None or not sub:
        return spec
    return spec.subcommand(sub)


def _all_specs() -> Iterable[command_table.CommandSpec]:
    for spec in command_table.all_commands():
        yield spec
        yield from spec.subcommands


# --- CONFIG -----------------------------------------------------------------------------------------


def config_values(conn: RespConnection) -> dict[str, str]:
    """What CONFIG GET answers: the fields clients and tools ask, with this node's values."""
    service = conn.service
    node_cfg = service.node.config
    host, port = split_host_port(conn.server.bind)
    return {
        "save": "",
        "appendonly": "no",
        "appendfsync": "everysec",
        "databases": "1",
        "maxmemory": "0",
        "maxmemory-policy": "noeviction",
        "maxclients": str(service.max_clients),
        "timeout": "0",
        "tcp-keepalive": "300",
        "port": str(port),
        "bind": host,
        "cluster-enabled": "yes",
        "cluster-node-timeout": str(node_cfg.session_timeout_ms),
        "cluster-require-full-coverage": "yes",
        "cluster-allow-reads-when-down": "no",
        "cluster-announce-hostname": "",
        "cluster-preferred-endpoint-type": "ip",
        "proto-max-bulk-len": str(service.max_bulk_bytes),
        "client-query-buffer-limit": str(service.query_buffer_limit),
        "client-output-buffer-limit": (
            f"normal 0 0 0 slave 268435456 67108864 60 "
            f"pubsub {service.pubsub_hard_limit} {service.pubsub_soft_limit} {int(service.pubsub_soft_seconds)}"
        ),
        "notify-keyspace-events": "",
        "hz": "10",
        "requirepass": "",
        "lua-time-limit": "5000",
        "busy-reply-threshold": "5000",
        "slowlog-log-slower-than": "10000",
        "slowlog-max-len": "128",
        "latency-tracking": "no",
        "min-replicas-to-write": "0",
        "replica-read-only": "yes",
        "keyspace-acks": service.keyspace.acks,
    }


# --- replies shared by handlers ------------------------------------------------------------------------

SYNTAX_ERROR = ErrorReply("ERR syntax error")


def _unknown_subcommand(argv: Sequence[bytes]) -> ErrorReply:
    sub = argv[1].decode("utf-8", "replace")[:128]
    return ErrorReply(f"ERR unknown subcommand '{sub}'. Try {argv[0].decode('utf-8', 'replace').upper()} HELP.")


def _int_arg(raw: bytes) -> int | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text or text.strip() != text or (text[0] == "+"):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _help(lines: Sequence[str], name: str) -> list[SimpleString]:
    head = f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [SimpleString(head), *(SimpleString(line) for line in lines), SimpleString("HELP"),
            SimpleString("    Print this help.")]  # fmt: skip


def check_arity(argv: list[bytes]) -> ErrorReply | None:
    """The dispatch-time checks Redis makes: unknown command, unknown subcommand, arity."""
    spec = command_table.lookup(argv)
    if spec is None:
        return ErrorReply(unknown_command(argv))
    if spec.subcommands and len(argv) >= 2 and "|" not in spec.name:
        return _unknown_subcommand(argv)
    if not spec.arity_ok(len(argv)):
        return ErrorReply(wrong_arity(spec.name))
    return None


# --- connection commands -------------------------------------------------------------------------------


def cmd_ping(conn: RespConnection, argv: list[bytes]) -> None:
    if len(argv) > 2:
        conn.reply(ErrorReply(wrong_arity("ping")))
    elif conn.protocol == RESP2 and conn.subscription_count():
        conn.reply([b"pong", argv[1] if len(argv) > 1 else b""])
    else:
        conn.reply(argv[1] if len(argv) > 1 else PONG)


def cmd_echo(conn: RespConnection, argv: list[bytes]) -> None:
    conn.reply(argv[1])


def cmd_select(conn: RespConnection, argv: list[bytes]) -> None:
    index = _int_arg(argv[1])
    if index is None:
        conn.reply(ErrorReply("ERR value is not an integer or out of range"))
    elif index != 0:
        conn.reply(ErrorReply("ERR SELECT is not allowed in cluster mode"))
    else:
        conn.reply(OK)


def cmd_quit(conn: RespConnection, argv: list[bytes]) -> None:
    conn.reply(OK)
    conn.close_after_reply()


def cmd_reset(conn: RespConnection, argv: list[bytes]) -> None:
    conn.reset()
    conn.reply(SimpleString("RESET"))


_NO_PASSWORD = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
WRONGPASS = ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")


def cmd_auth(conn: RespConnection, argv: list[bytes]) -> None:
    if len(argv) > 3:
        conn.reply(SYNTAX_ERROR)
        return
    auth = conn.service.auth
    if len(argv) == 2 and not auth.required:
        conn.reply(ErrorReply(_NO_PASSWORD))
        return
    username = argv[1].decode("utf-8", "replace") if len(argv) == 3 else "default"
    principal = auth.authenticate(username, argv[-1], conn.peer)
    if principal is None:
        conn.reply(WRONGPASS)
        return
    if not conn.set_user(principal):
        conn.reply(ErrorReply("ERR max number of connections reached for this user"))
        return
    conn.reply(OK)


def cmd_hello(conn: RespConnection, argv: list[bytes]) -> None:
    protocol = conn.protocol
    i = 1
    if len(argv) > 1:
        version = _int_arg(argv[1])
        if version is None:
            conn.reply(ErrorReply("ERR Protocol version is not an integer or out of range"))
            return
        if version not in (2, 3):
            conn.reply(ErrorReply("NOPROTO unsupported protocol version"))
            return
        protocol = version
        i = 2
    user: str | None = None
    name: bytes | None = None
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - i - 1
        if option == b"auth" and more >= 2:
            username = argv[i + 1].decode("utf-8", "replace")
            principal = conn.service.auth.authenticate(username, argv[i + 2], conn.peer)
            if principal is None:
                conn.reply(WRONGPASS)
                return
            user = principal
            i += 3
        elif option == b"setname" and more >= 1:
            name = argv[i + 1]
            if not valid_client_name(name):
                conn.reply(ErrorReply("ERR Client names cannot contain spaces, newlines or special characters."))
                return
            i += 2
        else:
            conn.reply(ErrorReply(f"ERR Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'"))
            return
    if user is None and not conn.authenticated:
        conn.reply(
            ErrorReply(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
                "version at the same time"
            )
        )
        return
    if user is not None and not conn.set_user(user):
        conn.reply(ErrorReply("ERR max number of connections reached for this user"))
        return
    if name is not None:
        conn.name = name
    conn.protocol = protocol
    conn.reply(
        Map(
            [
                (b"server", b"redis"),
                (b"version", REDIS_VERSION.encode()),
                (b"proto", protocol),
                (b"id", conn.id),
                (b"mode", b"cluster"),
                (b"role", b"master"),
                (b"modules", []),
            ]
        )
    )


def cmd_client(conn: RespConnection, argv: list[bytes]) -> None:
    sub = argv[1].lower()
    if sub == b"id":
        conn.reply(conn.id)
    elif sub == b"getname":
        conn.reply(conn.name or None)
    elif sub == b"setname":
        if not valid_client_name(argv[2]):
            conn.reply(ErrorReply("ERR Client names cannot contain spaces, newlines or special characters."))
        else:
            conn.name = argv[2]
            conn.reply(OK)
    elif sub == b"setinfo":
        attr = argv[2].lower()
        if attr not in (b"lib-name", b"lib-ver"):
            conn.reply(ErrorReply(f"ERR Unrecognized option '{argv[2].decode('utf-8', 'replace')}'"))
        elif not valid_client_name(argv[3]):
            conn.reply(
                ErrorReply(
                    f"ERR {argv[2].decode('utf-8', 'replace')} cannot contain spaces, newlines or special characters."
                )
            )
        else:
            conn.lib_info[attr.decode()] = argv[3].decode("ascii")
            conn.reply(OK)
    elif sub == b"info":
        conn.reply(Verbatim(client_line(conn.describe()) + "\n"))
    elif sub == b"list":
        conn.reply(Verbatim(_client_list(conn, argv[2:])))
    elif sub == b"kill":
        _client_kill(conn, argv)
    elif sub == b"reply":
        mode = argv[2].lower()
        if mode not in (b"on", b"off", b"skip"):
            conn.reply(SYNTAX_ERROR)
        else:
            conn.set_reply_mode(mode.decode())
    elif sub == b"no-evict":
        if argv[2].lower() not in (b"on", b"off"):
            conn.reply(SYNTAX_ERROR)
        else:
            conn.reply(OK)
    elif sub == b"help":
        conn.reply(
            _help(
                [
                    "GETNAME", "    Return the name of the current connection.",
                    "ID", "    Return the ID of the current connection.",
                    "INFO", "    Return information about the current client connection.",
                    "KILL <ip:port> | <option> <value> [<option> <value> [...]]", "    Kill connections.",
                    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
                    "    Return information about client connections.",
                    "NO-EVICT (ON|OFF)", "    Accepted; clients are never evicted.",
                    "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
                    "SETNAME <name>", "    Assign the name <name> to the current connection.",
                    "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library information.",
                ],
                "CLIENT",
            )
        )  # fmt: skip
    else:
        conn.reply(_unknown_subcommand(argv))


def _client_list(conn: RespConnection, args: list[bytes]) -> str:
    connections = conn.service.all_connections()
    i = 0
    while i < len(args):
        option = args[i].lower()
        if option == b"type" and i + 1 < len(args):
            kind = args[i + 1].lower()
            if kind == b"pubsub":
                connections = [c for c in connections if c.subscription_count()]
            elif kind == b"normal":
                connections = [c for c in connections if not c.subscription_count()]
            elif kind in (b"master", b"replica", b"slave"):
                connections = []
            else:
                return ""
            i += 2
        elif option == b"id" and i + 1 < len(args):
            ids = {_int_arg(a) for a in args[i + 1 :]}
            connections = [c for c in connections if c.id in ids]
            break
        else:
            i += 1
    return "".join(client_line(c.describe()) + "\n" for c in sorted(connections, key=lambda c: c.id))


def _client_kill(conn: RespConnection, argv: list[bytes]) -> None:
    connections = conn.service.all_connections()
    if len(argv) == 3:  # the old form: CLIENT KILL addr:port
        address = argv[2].decode("utf-8", "replace")
        victims = [c for c in connections if c.peer == address]
        if not victims:
            conn.reply(ErrorReply("ERR No such client"))
            return
        for victim in victims:
            victim.kill()
        conn.reply(OK)
        return
    filters: list[Callable[[RespConnection], bool]] = []
    skip_me = True
    args = argv[2:]
    if len(args) % 2:
        conn.reply(SYNTAX_ERROR)
        return
    for option, value in zip(args[::2], args[1::2], strict=True):
        option = option.lower()
        text = value.decode("utf-8", "replace")
        if option == b"id":
            wanted = _int_arg(value)
            if wanted is None:
                conn.reply(ErrorReply("ERR client-id should be greater than 0"))
                return
            filters.append(lambda c, wanted=wanted: c.id == wanted)  # type: ignore[misc]
        elif option == b"addr":
            filters.append(lambda c, text=text: c.peer == text)  # type: ignore[misc]
        elif option == b"laddr":
            filters.append(lambda c, text=text: c.local == text)  # type: ignore[misc]
        elif option == b"type":
            kind = value.lower()
            if kind == b"pubsub":
                filters.append(lambda c: bool(c.subscription_count()))
            elif kind == b"normal":
                filters.append(lambda c: not c.subscription_count())
            else:
                filters.append(lambda c: False)
        elif option == b"user":
            filters.append(lambda c, text=text: c.user == text)  # type: ignore[misc]
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                conn.reply(SYNTAX_ERROR)
                return
            skip_me = value.lower() == b"yes"
        else:
            conn.reply(SYNTAX_ERROR)
            return
    killed = 0
    for victim in connections:
        if skip_me and victim is conn:
            continue
        if all(f(victim) for f in filters):
            victim.kill()
            killed += 1
    conn.reply(killed)


# --- server commands ---------------------------------------------------------------------------------


def cmd_time(conn: RespConnection, argv: list[bytes]) -> None:
    now_us = time.time_ns() // 1000
    conn.reply([b"%d" % (now_us // 1_000_000), b"%d" % (now_us % 1_000_000)])


def cmd_info(conn: RespConnection, argv: list[bytes]) -> None:
    sections = info_sections(argv)
    conn.reply(Verbatim(info_text(sections, conn.service.info_facts(sections, conn))))


def cmd_config(conn: RespConnection, argv: list[bytes]) -> None:
    sub = argv[1].lower()
    if sub == b"get":
        values = config_values(conn)
        found: dict[str, str] = {}
        for raw in argv[2:]:
            pattern = raw.lower()
            if b"*" in pattern or b"?" in pattern or b"[" in pattern:
                matches = glob_matcher(pattern)
                for key, value in values.items():
                    if matches(key.encode()):
                        found[key] = value
            elif pattern.decode("utf-8", "replace") in values:
                key = pattern.decode()
                found[key] = values[key]
        conn.reply(Map([(k.encode(), v.encode()) for k, v in found.items()]))
    elif sub == b"set":
        if len(argv) % 2:
            conn.reply(ErrorReply("ERR wrong number of arguments for 'config|set' command"))
            return
        name = argv[2].decode("utf-8", "replace")
        conn.reply(ErrorReply(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'"))
    elif sub == b"resetstat":
        conn.service.stats.reset()
        conn.reply(OK)
    elif sub == b"help":
        conn.reply(
            _help(
                ["GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                 "RESETSTAT", "    Reset statistics reported by the INFO command."],
                "CONFIG",
            )
        )  # fmt: skip
    else:
        conn.reply(_unknown_subcommand(argv))


def cmd_wait(conn: RespConnection, argv: list[bytes]) -> None:
    replicas = _int_arg(argv[1])
    timeout = _int_arg(argv[2])
    if replicas is None or timeout is None:
        conn.reply(ErrorReply("ERR value is not an integer or out of range"))
        return
    if timeout < 0:
        conn.reply(ErrorReply("ERR timeout is negative"))
        return
    earlier = conn.pending_futures()  # the replies before WAIT: their writes are what it waits for
    conn.block_on(conn.service.wait_replicas(conn, earlier, replicas, timeout))


def cmd_lastsave(conn: RespConnection, argv: list[bytes]) -> None:
    conn.reply(conn.service.last_save())


def cmd_bgsave(conn: RespConnection, argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        conn.reply(SYNTAX_ERROR)
        return
    conn.service.background_save()
    conn.reply(SimpleString("Background saving started"))


# --- COMMAND -------------------------------------------------------------------------------------------


def cmd_command(conn: RespConnection, argv: list[bytes]) -> None:
    protocol = conn.protocol
    if len(argv) == 1:
        conn.reply(conn.service.cached_command_table(protocol))
        return
    sub = argv[1].lower()
    if sub == b"count":
        conn.reply(len(command_table.all_commands()))
    elif sub == b"info":
        if len(argv) == 2:
            conn.reply(conn.service.cached_command_table(protocol))
            return
        out: list[Any] = []
        for name in argv[2:]:
            spec = _spec_by_name(name)
            out.append(command_info(spec, protocol) if spec is not None else None)
        conn.reply(out)
    elif sub == b"docs":
        names = argv[2:]
        specs = [_spec_by_name(n) for n in names] if names else list(command_table.all_commands())
        conn.reply(Map([(s.name.encode(), command_docs(s, protocol)) for s in specs if s is not None]))
    elif sub == b"list":
        conn.reply(_command_list(argv))
    elif sub in (b"getkeys", b"getkeysandflags"):
        _command_getkeys(conn, argv, with_flags=sub == b"getkeysandflags")
    elif sub == b"help":
        conn.reply(
            _help(
                ["(no subcommand)", "    Return details about all commands.",
                 "COUNT", "    Return the total number of commands in this server.",
                 "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
                 "    Return a list of all commands in this server.",
                 "INFO [<command-name> ...]", "    Return details about multiple commands.",
                 "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
                 "GETKEYS <full-command>", "    Return the keys from a full command.",
                 "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full command."],
                "COMMAND",
            )
        )  # fmt: skip
    else:
        conn.reply(_unknown_subcommand(argv))


def _command_list(argv: list[bytes]) -> Any:
    names = [spec.name.encode() for spec in _all_specs()]
    if len(argv) == 2:
        return names
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        return SYNTAX_ERROR
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return []
    if kind == b"aclcat":
        category = "@" + value.decode("utf-8", "replace").lower()
        return [s.name.encode() for s in _all_specs() if category in s.acl_categories]
    if kind == b"pattern":
        matches = glob_matcher(value.lower())
        return [name for name in names if matches(name)]
    return SYNTAX_ERROR


def _command_getkeys(conn: RespConnection, argv: list[bytes], with_flags: bool) -> None:
    target = argv[2:]
    spec = command_table.lookup(target)
    if spec is None or (spec.subcommands and "|" not in spec.name and len(target) > 1):
        conn.reply(ErrorReply("ERR Invalid command specified"))
        return
    if not spec.arity_ok(len(target)):
        conn.reply(ErrorReply("ERR Invalid number of arguments specified for command"))
        return
    if not spec.key_specs:
        conn.reply(ErrorReply("ERR The command has no key arguments"))
        return
    try:
        positions = command_table.key_positions(spec, target)
    except command_table.KeyExtractionError:
        conn.reply(ErrorReply("ERR Invalid arguments specified for command"))
        return
    if not positions:
        conn.reply(ErrorReply("ERR Invalid arguments specified for command"))
        return
    if not with_flags:
        conn.reply([target[i] for i in positions])
        return
    # Which key spec each position came from, for its flags.
    out = []
    for i in positions:
        flags: tuple[str, ...] = ()
        for key_spec in spec.key_specs:
            try:
                if i in command_table.key_positions(
                    command_table.CommandSpec(spec.name, spec.arity, spec.flags, 0, 0, 0, (), (), (key_spec,)), target
                ):
                    flags = key_spec.flags
                    break
            except command_table.KeyExtractionError:
                continue
        if spec.name == "set" and "variable_flags" in flags:
            # Redis's setGetKeys: only SET ... GET reads the old value
            has_get = any(a.lower() == b"get" for a in target[3:])
            flags = ("RW", "access", "update") if has_get else ("OW", "update")
        out.append([target[i], _status_set(flags, conn.protocol)])
    conn.reply(out)


# --- CLUSTER, READONLY, READWRITE, ASKING ------------------------------------------------------------


def cmd_cluster(conn: RespConnection, argv: list[bytes]) -> None:
    sub = argv[1].lower()
    service = conn.service
    state = service.node.raft.snapshot
    listener = conn.server.listener
    if sub == b"slots":
        conn.reply(service.cached(("slots", listener), lambda: cluster_slots(state, listener)))
    elif sub == b"shards":
        conn.reply(cluster_shards(state, listener, service.replication_offsets()))
    elif sub == b"nodes":
        conn.reply(Verbatim(cluster_nodes(state, listener, service.node.node_id)))
    elif sub == b"info":
        conn.reply(Verbatim(cluster_info(state)))
    elif sub == b"myid":
        conn.reply(node_hex_id(state.cluster_id, service.node.node_id).encode())
    elif sub == b"keyslot":
        conn.reply(key_slot(argv[2]))
    elif sub == b"countkeysinslot":
        slot = _int_arg(argv[2])
        if slot is None or not 0 <= slot < 16384:
            conn.reply(ErrorReply("ERR Invalid slot"))
            return
        keyspace = service.local_keyspace(slot)
        conn.reply(keyspace.count_keys_in_slot(slot) if keyspace is not None else 0)
    elif sub == b"getkeysinslot":
        slot = _int_arg(argv[2])
        count = _int_arg(argv[3])
        if slot is None or count is None or count < 0 or not 0 <= slot < 16384:
            conn.reply(ErrorReply("ERR Invalid slot or number of keys"))
            return
        keyspace = service.local_keyspace(slot)
        conn.reply(keyspace.keys_in_slot(slot, count) if keyspace is not None else [])
    elif sub == b"help":
        conn.reply(
            _help(
                ["COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>.",
                 "GETKEYSINSLOT <slot> <count>", "    Return key names stored by this node in a slot.",
                 "INFO", "    Return information about the cluster.",
                 "KEYSLOT <key>", "    Return the hash slot for <key>.",
                 "MYID", "    Return the node id.",
                 "NODES", "    Return cluster configuration seen by node.",
                 "SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
                 "SLOTS", "    Return information about slots range mappings."],
                "CLUSTER",
            )
        )  # fmt: skip
    else:
        conn.reply(_unknown_subcommand(argv))


def cmd_readonly(conn: RespConnection, argv: list[bytes]) -> None:
    conn.readonly = True
    conn.reply(OK)


def cmd_readwrite(conn: RespConnection, argv: list[bytes]) -> None:
    conn.readonly = False
    conn.reply(OK)


def cmd_asking(conn: RespConnection, argv: list[bytes]) -> None:
    conn.asking = True
    conn.reply(OK)


# --- pub/sub ----------------------------------------------------------------------------------------------


def cmd_subscribe(conn: RespConnection, argv: list[bytes]) -> None:
    registry = conn.service.registry
    for channel in argv[1:]:
        if channel not in conn.channels:
            conn.channels[channel] = None
            registry.subscribe(conn, channel)
        conn.reply_push([b"subscribe", channel, conn.subscription_count()])


def cmd_unsubscribe(conn: RespConnection, argv: list[bytes]) -> None:
    registry = conn.service.registry
    channels = argv[1:] or list(conn.channels)
    if not channels:
        conn.reply_push([b"unsubscribe", None, conn.subscription_count()])
    for channel in channels:
        if conn.channels.pop(channel, 0) is None:
            registry.unsubscribe(conn, channel)
        conn.reply_push([b"unsubscribe", channel, conn.subscription_count()])


def cmd_psubscribe(conn: RespConnection, argv: list[bytes]) -> None:
    registry = conn.service.registry
    for pattern in argv[1:]:
        if pattern not in conn.patterns:
            conn.patterns[pattern] = None
            registry.psubscribe(conn, pattern)
        conn.reply_push([b"psubscribe", pattern, conn.subscription_count()])


def cmd_punsubscribe(conn: RespConnection, argv: list[bytes]) -> None:
    registry = conn.service.registry
    patterns = argv[1:] or list(conn.patterns)
    if not patterns:
        conn.reply_push([b"punsubscribe", None, conn.subscription_count()])
    for pattern in patterns:
        if conn.patterns.pop(pattern, 0) is None:
            registry.punsubscribe(conn, pattern)
        conn.reply_push([b"punsubscribe", pattern, conn.subscription_count()])


def _shard_channel_slot(conn: RespConnection, channels: list[bytes]) -> int | None:
    """The slot of the channels if this node leads it; else reply CROSSSLOT/MOVED."""
    slots = {key_slot(c) for c in channels}
    if len(slots) > 1:
        conn.reply(ErrorReply(CROSSSLOT))
        return None
    slot = slots.pop()
    error = conn.service.redirect_unless_leader(slot, conn.server.listener)
    if error is not None:
        conn.reply(error)
        return None
    return slot


def cmd_ssubscribe(conn: RespConnection, argv: list[bytes]) -> None:
    channels = argv[1:]
    slot = _shard_channel_slot(conn, channels)
    if slot is None:
        return
    registry = conn.service.registry
    for channel in channels:
        if channel not in conn.shard_channels:
            conn.shard_channels[channel] = None
            registry.ssubscribe(conn, channel)
        conn.reply_push([b"ssubscribe", channel, len(conn.shard_channels)])


def cmd_sunsubscribe(conn: RespConnection, argv: list[bytes]) -> None:
    registry = conn.service.registry
    channels = argv[1:] or list(conn.shard_channels)
    if not channels:
        conn.reply_push([b"sunsubscribe", None, 0])
    for channel in channels:
        if conn.shard_channels.pop(channel, 0) is None:
            registry.sunsubscribe(conn, channel)
        conn.reply_push([b"sunsubscribe", channel, len(conn.shard_channels)])


def cmd_publish(conn: RespConnection, argv: list[bytes]) -> None:
    result = conn.service.fanout.publish(argv[1], argv[2])
    if isinstance(result, int):
        conn.reply(result)
    else:
        conn.reply_later(result)


def cmd_spublish(conn: RespConnection, argv: list[bytes]) -> None:
    slot = _shard_channel_slot(conn, [argv[1]])
    if slot is not None:
        conn.reply(conn.service.registry.spublish(argv[1], argv[2]))


def cmd_pubsub(conn: RespConnection, argv: list[bytes]) -> None:
    sub = argv[1].lower()
    if sub == b"help":
        conn.reply(
            _help(
                ["CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern>.",
                 "NUMPAT", "    Return number of subscriptions to patterns.",
                 "NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels.",
                 "SHARDCHANNELS [<pattern>]", "    Return the currently active shard level channels.",
                 "SHARDNUMSUB [<shardchannel> ...]", "    Return the number of subscribers for the shard channels."],
                "PUBSUB",
            )
        )  # fmt: skip
        return
    what = sub.decode()
    if what not in ("channels", "numsub", "numpat", "shardchannels", "shardnumsub"):
        conn.reply(_unknown_subcommand(argv))
        return
    conn.reply_later(asyncio.ensure_future(conn.service.fanout.query(what, argv[2:])))


# --- transactions (the queueing side; EXEC runs in resp_server) ------------------------------------------


def cmd_multi(conn: RespConnection, argv: list[bytes]) -> None:
    if conn.multi is not None:
        conn.reply(ErrorReply("ERR MULTI calls can not be nested"))
        return
    conn.multi = []
    conn.multi_error = False
    conn.reply(OK)


def cmd_discard(conn: RespConnection, argv: list[bytes]) -> None:
    if conn.multi is None:
        conn.reply(ErrorReply("ERR DISCARD without MULTI"))
        return
    conn.multi = None
    conn.watched = []
    conn.reply(OK)


def cmd_unwatch(conn: RespConnection, argv: list[bytes]) -> None:
    conn.watched = []
    conn.reply(OK)


COMMANDS: dict[str, Handler] = {
    "ping": cmd_ping,
    "echo": cmd_echo,
    "select": cmd_select,
    "quit": cmd_quit,
    "reset": cmd_reset,
    "auth": cmd_auth,
    "hello": cmd_hello,
    "client": cmd_client,
    "time": cmd_time,
    "info": cmd_info,
    "config": cmd_config,
    "wait": cmd_wait,
    "lastsave": cmd_lastsave,
    "bgsave": cmd_bgsave,
    "command": cmd_command,
    "cluster": cmd_cluster,
    "readonly": cmd_readonly,
    "readwrite": cmd_readwrite,
    "asking": cmd_asking,
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "psubscribe": cmd_psubscribe,
    "punsubscribe": cmd_punsubscribe,
    "ssubscribe": cmd_ssubscribe,
    "sunsubscribe": cmd_sunsubscribe,
    "publish": cmd_publish,
    "spublish": cmd_spublish,
    "pubsub": cmd_pubsub,
    "multi": cmd_multi,
    "discard": cmd_discard,
    "unwatch": cmd_unwatch,
}

# Commands a RESP2 client may send while subscribed (anything else is refused).
SUBSCRIBED_ALLOWED = frozenset(
    {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset"}
)
# Commands that work before AUTH when a password is required.
NO_AUTH_ALLOWED = frozenset({"auth", "hello", "quit", "reset"})
# Commands executed at once even inside MULTI (not queued).
MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})


def keystream_error_reply(exc: KeystreamError) -> ErrorReply:
    """A node error as the Redis error a cluster client knows how to handle."""
    code = exc.code
    if code == ErrorCode.TRYAGAIN:
        return ErrorReply(f"TRYAGAIN {exc.message}")
    if code == ErrorCode.CLUSTERDOWN:
        return ErrorReply(f"CLUSTERDOWN {exc.message}")
    if code in (ErrorCode.NOT_LEADER, ErrorCode.FENCED_LEADER_EPOCH):
        # Refused before it reached the log: a cluster client retries after TRYAGAIN and
        # follows the MOVED it then gets.
        return ErrorReply(f"TRYAGAIN {exc.message}")
    if code in (ErrorCode.OUTCOME_UNKNOWN, ErrorCode.REQUEST_TIMED_OUT):
        # In the log, fate unknown (leadership moved, or not committed in time): an error
        # clients do not retry on their own, since INCR or LPUSH could then act twice.
        return ErrorReply(f"OUTCOME_UNKNOWN {exc.message} (the write may or may not have been applied)")
    if code in (ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND):
        return ErrorReply(f"NOREPLICAS Not enough good replicas to write. ({exc.message})")
    if code == ErrorCode.KEYSPACE_ERROR:
        return ErrorReply(exc.message)
    return ErrorReply(f"ERR {exc.message}")


__all__ = [
    "COMMANDS",
    "MULTI_IMMEDIATE",
    "NO_AUTH_ALLOWED",
    "REDIS_VERSION",
    "SUBSCRIBED_ALLOWED",
    "check_arity",
    "client_line",
    "cluster_info",
    "cluster_nodes",
    "cluster_shards",
    "cluster_slots",
    "command_docs",
    "command_info",
    "human_bytes",
    "info_text",
    "keystream_error_reply",
    "node_hex_id",
]

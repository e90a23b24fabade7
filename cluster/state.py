"""The Raft-replicated cluster metadata, as a pure deterministic state machine.

Every change is a *command*: a small msgpack-able dict ``{"op": name, ...}``
that :meth:`ClusterState.apply` turns into a new state and a result. Apply
never reads the clock, randomness or anything outside the command and the
state, so every Raft member that applies the same log holds the same state
(checked by :meth:`ClusterState.digest`). Commands are compare-and-set style:
they carry what the proposer expected (an incarnation, a partition epoch) and
fail with ``STALE_EPOCH`` when the state moved on, instead of silently
overwriting a newer decision.

Every effective change bumps ``map_epoch``; clients and nodes order cluster
maps by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgpack

from cluster.errors import ErrorCode, KeystreamError
from cluster.topics import (
    NO_LEADER,
    choose_leader,
    unclean_election,
    validate_topic_config,
    validate_topic_name,
)

Command = dict[str, Any]
Result = dict[str, Any]
KEYSPACE_TOPIC = "__keyspace"


def _fail(code: ErrorCode, message: str) -> KeystreamError:
    return KeystreamError(code, message)


class ClusterState:
    """Nodes, liveness, topics, partitions, keyspace shards and slots, users."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = data if data is not None else self.empty()

    @staticmethod
    def empty() -> dict[str, Any]:
        return {
            "cluster_id": None,
            "map_epoch": 0,
            "nodes": {},  # str(node id) -> node record
            "topics": {},  # name -> topic record
            "keyspace": None,  # {"topic": "__keyspace", "slots": [[start, end, shard]]}
            "next_producer_id": 1,
            "users": {},
            "config": {},  # cluster-wide dynamic settings (Kafka's dynamic broker configs)
            "applied": 0,  # count of applied commands, for digests and debugging
        }

    # --- reading -------------------------------------------------------------------
    @property
    def map_epoch(self) -> int:
        return int(self.data["map_epoch"])

    @property
    def cluster_id(self) -> str | None:
        return self.data["cluster_id"]

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.data["nodes"]

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return self.data["topics"]

    def node(self, node_id: int) -> dict[str, Any] | None:
        return self.data["nodes"].get(str(node_id))

    def live_node_ids(self) -> list[int]:
        return sorted(n["id"] for n in self.nodes.values() if not n["fenced"])

    def copy(self) -> ClusterState:
        return ClusterState(self.load_bytes(self.to_bytes()).data)

    def to_bytes(self) -> bytes:
        return msgpack.packb(self.data, use_bin_type=True)

    @classmethod
    def load_bytes(cls, raw: bytes) -> ClusterState:
        data = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        if not isinstance(data, dict) or "map_epoch" not in data:
            raise ValueError("not a cluster state snapshot")
        return cls(data)

    def digest(self) -> str:
        """A hash of the canonical encoding, equal on members holding equal state."""
        canonical = msgpack.packb(_canonical(self.data), use_bin_type=True)
        return hashlib.sha256(canonical).hexdigest()

    # --- applying --------------------------------------------------------------------
    def apply(self, command: Command) -> Result:
        """Apply one command; returns ``{"ok": ...}`` or ``{"error": code, "message": ...}``.

        Errors are results, not exceptions: a rejected compare-and-set is a
        normal, replicated outcome that every member computes identically.
        """
        self.data["applied"] += 1
        op = command.get("op") if isinstance(command, dict) else None
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"error": int(ErrorCode.INVALID_REQUEST), "message": f"unknown metadata op {op!r}"}
        try:
            before = self.data["map_epoch"]
            ok = handler(self, command)
            return {
                "ok": ok,
                "map_epoch": self.data["map_epoch"],
                "changed": self.data["map_epoch"] != before,
            }
        except KeystreamError as exc:
            return {"error": int(exc.code), "message": exc.message}
        except (KeyError, TypeError, ValueError) as exc:
            # A malformed command must not crash every member in lock-step.
            return {"error": int(ErrorCode.INVALID_REQUEST), "message": f"malformed {op}: {exc!r}"}

    def _bump(self) -> int:
        self.data["map_epoch"] += 1
        return int(self.data["map_epoch"])

    # --- commands: cluster and nodes -------------------------------------------------------
    def _init_cluster(self, cmd: Command) -> Any:
        if self.data["cluster_id"] is None:
            self.data["cluster_id"] = str(cmd["cluster_id"])
            self._bump()
        return self.data["cluster_id"]

    def _register_node(self, cmd: Command) -> Any:
        node_id = int(cmd["node_id"])
        if node_id < 0:
            raise _fail(ErrorCode.INVALID_REQUEST, f"node id must be >= 0, got {node_id}")
        key = str(node_id)
        listeners = _validate_listeners(cmd["listeners"])
        incarnation = str(cmd["incarnation"])
        rack = cmd.get("rack")
        existing = self.nodes.get(key)
        if existing is None:
            self.nodes[key] = {
                "id": node_id,
                "listeners": listeners,
                "rack": rack,
                "incarnation": incarnation,
                "fenced": False,
                "voter": bool(cmd.get("voter", False)),
                "registered_epoch": self._bump(),
            }
            return {"fenced": False}
        if existing["incarnation"] == incarnation:
            if existing["listeners"] != listeners or existing["rack"] != rack:
                existing["listeners"] = listeners
                existing["rack"] = rack
                self._bump()
            return {"fenced": existing["fenced"]}
        # A new incarnation means the process restarted: whatever the old one
        # held in memory is gone. Fence it until the controller has moved
        # leaderships and ISR memberships away and then unfences it.
        existing.update(
            listeners=listeners,
            rack=rack,
            incarnation=incarnation,
            fenced=True,
            registered_epoch=self._bump(),
        )
        self._on_fenced(node_id)
        return {"fenced": True}

    def _fence_node(self, cmd: Command) -> Any:
        node = self._existing_node(cmd["node_id"])
        if "incarnation" in cmd and cmd["incarnation"] != node["incarnation"]:
            raise _fail(ErrorCode.STALE_EPOCH, "node re-registered since the fence was decided")
        if not node["fenced"]:
            node["fenced"] = True
            self._bump()
            self._on_fenced(node["id"])
        return True

    def _unfence_node(self, cmd: Command) -> Any:
        node = self._existing_node(cmd["node_id"])
        if cmd["incarnation"] != node["incarnation"]:
            raise _fail(ErrorCode.STALE_EPOCH, "unfence for an older incarnation")
        if node["fenced"]:
            node["fenced"] = False
            self._bump()
            self._on_unfenced(node["id"])
        return True

    def _existing_node(self, node_id: Any) -> dict[str, Any]:
        node = self.nodes.get(str(int(node_id)))
        if node is None:
            raise _fail(ErrorCode.INVALID_REQUEST, f"unknown node {node_id}")
        return node

    # --- partition leadership when nodes come and go ----------------------------------------
    def _live(self) -> set[int]:
        return {n["id"] for n in self.nodes.values() if not n["fenced"]}

    def _on_fenced(self, node_id: int) -> None:
        """A fenced node leaves every ISR (unless it is the last member: then the
        partition waits leaderless for it, as Kafka's KRaft controller does) and
        its leaderships move to the next in-sync replica."""
        live = self._live()
        for topic in self.topics.values():
            for p in topic["partitions"]:
                if node_id not in p["isr"] and p["leader"] != node_id:
                    continue
                remaining = [r for r in p["isr"] if r != node_id]
                if p["leader"] == node_id or p["leader"] == NO_LEADER:
                    self._elect(topic, p, remaining or p["isr"], live)
                elif remaining:
                    p["isr"] = remaining
                    p["partition_epoch"] += 1

    def _on_unfenced(self, node_id: int) -> None:
        live = self._live()
        for topic in self.topics.values():
            for p in topic["partitions"]:
                if p["leader"] == NO_LEADER and node_id in p["replicas"]:
                    self._elect(topic, p, p["isr"], live)

    def _elect(self, topic: dict[str, Any], p: dict[str, Any], isr: list[int], live: set[int]) -> None:
        leader, unclean = choose_leader(p["replicas"], isr, live, unclean_election(topic))
        if leader == NO_LEADER:
            # Keep the last in-sync replica(s) on record so only they can lead again.
            changed = p["leader"] != NO_LEADER or p["isr"] != isr
            p["isr"] = list(isr)
            if changed:
                p["leader"] = NO_LEADER
                p["leader_epoch"] += 1
                p["partition_epoch"] += 1
            return
        p["leader"] = leader
        p["isr"] = [leader] if unclean else [r for r in p["replicas"] if r in isr and r in live]
        p["leader_epoch"] += 1
        p["partition_epoch"] += 1
        if unclean:
            p["unclean_elections"] = p.get("unclean_elections", 0) + 1

    # --- commands: topics ------------------------------------------------------------------
    def _create_topic(self, cmd: Command) -> Any:
        name = validate_topic_name(cmd["name"], allow_internal=bool(cmd.get("internal", False)))
        if name in self.topics:
            raise _fail(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
        config = validate_topic_config(cmd.get("config"))
        assignment = cmd["assignment"]
        if not isinstance(assignment, list) or not assignment:
            raise _fail(ErrorCode.INVALID_PARTITIONS, "a topic needs at least one partition")
        live = self._live()
        rf = len(assignment[0])
        partitions = []
        for index, replicas in enumerate(assignment):
            if not isinstance(replicas, list) or len(replicas) != rf or len(set(replicas)) != rf or rf == 0:
                raise _fail(ErrorCode.INVALID_REPLICATION_FACTOR, f"partition {index}: bad replica list {replicas!r}")
            dead = [r for r in replicas if r not in live]
            if dead:
                raise _fail(ErrorCode.INVALID_REPLICATION_FACTOR, f"partition {index}: nodes {dead} are not live")
            partitions.append(
                {"replicas": list(replicas), "leader": replicas[0], "leader_epoch": 0,
                 "isr": list(replicas), "partition_epoch": 0}
            )  # fmt: skip
        min_isr = int(config.get("min.insync.replicas", "1"))
        if min_isr > rf:
            raise _fail(ErrorCode.INVALID_CONFIG, f"min.insync.replicas={min_isr} exceeds the replication factor {rf}")
        self.topics[name] = {
            "name": name,
            "topic_id": str(cmd["topic_id"]),
            "config": config,
            "partitions": partitions,
            "internal": bool(cmd.get("internal", False)),
            "created_ms": int(cmd.get("created_ms", 0)),
        }
        self._bump()
        return {"name": name, "topic_id": self.topics[name]["topic_id"], "partitions": len(partitions)}

    def _delete_topic(self, cmd: Command) -> Any:
        name = cmd["name"]
        topic = self.topics.get(name)
        if topic is None:
            raise _fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
        if "topic_id" in cmd and cmd["topic_id"] != topic["topic_id"]:
            raise _fail(ErrorCode.STALE_EPOCH, f"topic {name!r} was re-created")
        if topic["internal"] and not cmd.get("internal", False):
            raise _fail(ErrorCode.INVALID_TOPIC, f"{name!r} is an internal topic")
        del self.topics[name]
        self._bump()
        return True

    def _alter_topic_config(self, cmd: Command) -> Any:
        topic = self._topic(cmd["name"])
        updates = validate_topic_config(cmd.get("set") or {})
        config = dict(topic["config"])
        config.update(updates)
        for key in cmd.get("delete") or []:
            config.pop(key, None)
        rf = len(topic["partitions"][0]["replicas"])
        if int(config.get("min.insync.replicas", "1")) > rf:
            raise _fail(ErrorCode.INVALID_CONFIG, f"min.insync.replicas exceeds the replication factor {rf}")
        if config != topic["config"]:
            topic["config"] = config
            self._bump()
        return config

    def _topic(self, name: Any) -> dict[str, Any]:
        topic = self.topics.get(name)
        if topic is None:
            raise _fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
        return topic

    def _partition(self, cmd: Command) -> tuple[dict[str, Any], dict[str, Any]]:
        topic = self._topic(cmd["topic"])
        index = cmd["partition"]
        if not isinstance(index, int) or not 0 <= index < len(topic["partitions"]):
            raise _fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{cmd['topic']}-{index} does not exist")
        return topic, topic["partitions"][index]

    def _alter_isr(self, cmd: Command) -> Any:
        """A partition leader changes its ISR: compare-and-set on (leader, leader_epoch,
        partition_epoch), so a deposed leader or a stale view can never win."""
        _topic, p = self._partition(cmd)
        if p["leader"] != cmd["leader"] or p["leader_epoch"] != cmd["leader_epoch"]:
            raise _fail(
                ErrorCode.FENCED_LEADER_EPOCH,
                f"leader {cmd['leader']} epoch {cmd['leader_epoch']} is not the current "
                f"leader {p['leader']} epoch {p['leader_epoch']}",
            )
        if p["partition_epoch"] != cmd["partition_epoch"]:
            raise _fail(
                ErrorCode.STALE_EPOCH,
                f"partition epoch is {p['partition_epoch']}, not {cmd['partition_epoch']}",
            )
        isr = cmd["isr"]
        if not isinstance(isr, list) or p["leader"] not in isr or not set(isr) <= set(p["replicas"]):
            raise _fail(ErrorCode.INVALID_REQUEST, f"ISR {isr!r} must contain the leader and only replicas")
        live = self._live()
        joining = [r for r in isr if r not in p["isr"] and r not in live]
        if joining:
            raise _fail(ErrorCode.INVALID_REQUEST, f"fenced nodes {joining} cannot join the ISR")
        p["isr"] = [r for r in p["replicas"] if r in isr]
        p["partition_epoch"] += 1
        self._bump()
        return {"isr": p["isr"], "partition_epoch": p["partition_epoch"], "leader_epoch": p["leader_epoch"]}

    def _elect_leader(self, cmd: Command) -> Any:
        """Move leadership to a given in-sync replica (preferred-leader election)."""
        _topic, p = self._partition(cmd)
        if p["leader_epoch"] != cmd["leader_epoch"]:
            raise _fail(ErrorCode.STALE_EPOCH, "leadership changed since this election was decided")
        leader = cmd["leader"]
        if leader not in p["isr"] or leader not in self._live():
            raise _fail(ErrorCode.INVALID_REQUEST, f"node {leader} is not a live in-sync replica")
        if p["leader"] != leader:
            p["leader"] = leader
            p["leader_epoch"] += 1
            p["partition_epoch"] += 1
            self._bump()
        return {"leader": leader, "leader_epoch": p["leader_epoch"]}

    def _init_keyspace(self, cmd: Command) -> Any:
        """Create the keyspace once: the internal topic whose partitions are its shards,
        and the slot -> shard table (contiguous ranges, as redis-cli --cluster create)."""
        if self.data.get("keyspace"):
            raise _fail(ErrorCode.TOPIC_ALREADY_EXISTS, "the keyspace already exists")
        from cluster.slots import even_slot_ranges

        topic = KEYSPACE_TOPIC
        created = self._create_topic(
            {
                "name": topic,
                "topic_id": cmd["topic_id"],
                "assignment": cmd["assignment"],
                "internal": True,
                "created_ms": cmd.get("created_ms", 0),
                # the shards' own snapshots bound the log; never delete by age or size
                "config": {
                    "retention.ms": "-1",
                    "retention.bytes": "-1",
                    "min.insync.replicas": str(min(2, len(cmd["assignment"][0]))),
                },
            }
        )
        shards = len(cmd["assignment"])
        self.data["keyspace"] = {
            "topic": topic,
            "shards": shards,
            "slots": [list(r) for r in even_slot_ranges(shards)],
            "acks": cmd.get("acks", "all"),
            "changes": bool(cmd.get("changes", False)),
        }
        return {"topic": topic, "shards": shards, "partitions": created["partitions"]}

    # --- commands: users ---------------------------------------------------------------------
    def _create_user(self, cmd: Command) -> Any:
        from cluster.auth import validate_grant, validate_username

        name = validate_username(cmd["name"])
        password = cmd["password"]
        if not isinstance(password, dict) or password.get("alg") != "scrypt":
            raise _fail(ErrorCode.INVALID_REQUEST, "the password must arrive hashed (never in clear)")
        users = self.data.setdefault("users", {})
        if name in users and not cmd.get("replace", False):
            raise _fail(ErrorCode.INVALID_REQUEST, f"user {name!r} already exists")
        grants = [validate_grant(g["role"], g["resource"]) for g in cmd.get("grants") or []]
        if name in users and cmd.get("replace", False):
            users[name]["password"] = password
        else:
            users[name] = {"password": password, "grants": grants}
        self._bump()
        return {"name": name}

    def _delete_user(self, cmd: Command) -> Any:
        users = self.data.setdefault("users", {})
        if users.pop(cmd["name"], None) is None:
            raise _fail(ErrorCode.INVALID_REQUEST, f"no user {cmd['name']!r}")
        self._bump()
        return True

    def _grant(self, cmd: Command) -> Any:
        from cluster.auth import validate_grant

        user = self.data.setdefault("users", {}).get(cmd["name"])
        if user is None:
            raise _fail(ErrorCode.INVALID_REQUEST, f"no user {cmd['name']!r}")
        grant = validate_grant(cmd["role"], cmd["resource"])
        if grant not in user["grants"]:
            user["grants"].append(grant)
            self._bump()
        return user["grants"]

    def _revoke(self, cmd: Command) -> Any:
        from cluster.auth import validate_grant

        user = self.data.setdefault("users", {}).get(cmd["name"])
        if user is None:
            raise _fail(ErrorCode.INVALID_REQUEST, f"no user {cmd['name']!r}")
        grant = validate_grant(cmd["role"], cmd["resource"])
        if grant in user["grants"]:
            user["grants"].remove(grant)
            self._bump()
        return user["grants"]

    def _allocate_producer_ids(self, cmd: Command) -> Any:
        count = int(cmd.get("count", 1))
        if not 1 <= count <= 1_000_000:
            raise _fail(ErrorCode.INVALID_REQUEST, "count must be between 1 and 1,000,000")
        first = int(self.data["next_producer_id"])
        self.data["next_producer_id"] = first + count
        return {"first": first, "count": count}

    def _set_cluster_config(self, cmd: Command) -> Any:
        """Set (or, with value None, delete) one cluster-wide setting."""
        key = cmd["key"]
        value = cmd.get("value")
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise _fail(ErrorCode.INVALID_CONFIG, f"config key must be a string of 1-255 chars, got {key!r}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _fail(ErrorCode.INVALID_CONFIG, f"config {key}: value must be a scalar, got {type(value).__name__}")
        config = self.data.setdefault("config", {})
        if "expected" in cmd and config.get(key) != cmd["expected"]:
            raise _fail(ErrorCode.STALE_EPOCH, f"config {key} is {config.get(key)!r}, not {cmd['expected']!r}")
        if value is None:
            if config.pop(key, None) is not None:
                self._bump()
        elif config.get(key) != value:
            config[key] = value
            self._bump()
        return config.get(key)

    def _noop(self, cmd: Command) -> Any:
        """A write that changes nothing: used to measure metadata write latency and
        to check that a new controller can commit."""
        return cmd.get("tag")


_SERVICES = ("native", "http", "resp")


def _validate_listeners(raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(ErrorCode.INVALID_REQUEST, "listeners must be a non-empty map")
    out: dict[str, dict[str, str]] = {}
    for name, services in raw.items():
        if not isinstance(name, str) or not isinstance(services, dict):
            raise _fail(ErrorCode.INVALID_REQUEST, f"bad listener {name!r}")
        clean: dict[str, str] = {}
        for service, addr in services.items():
            if service not in _SERVICES or not isinstance(addr, str) or ":" not in addr:
                raise _fail(ErrorCode.INVALID_REQUEST, f"bad address {service}={addr!r} on {name}")
            clean[service] = addr
        out[name] = clean
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return [[k, _canonical(value[k])] for k in sorted(value, key=str)]
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


_HANDLERS: dict[str, Callable[[ClusterState, Command], Any]] = {
    "init_cluster": ClusterState._init_cluster,
    "register_node": ClusterState._register_node,
    "fence_node": ClusterState._fence_node,
    "unfence_node": ClusterState._unfence_node,
    "set_cluster_config": ClusterState._set_cluster_config,
    "create_topic": ClusterState._create_topic,
    "delete_topic": ClusterState._delete_topic,
    "alter_topic_config": ClusterState._alter_topic_config,
    "alter_isr": ClusterState._alter_isr,
    "elect_leader": ClusterState._elect_leader,
    "allocate_producer_ids": ClusterState._allocate_producer_ids,
    "init_keyspace": ClusterState._init_keyspace,
    "create_user": ClusterState._create_user,
    "delete_user": ClusterState._delete_user,
    "grant": ClusterState._grant,
    "revoke": ClusterState._revoke,
    "noop": ClusterState._noop,
}


def register_handler(op: str) -> Callable[[Callable[[ClusterState, Command], Any]], Any]:
    """Let feature modules (topics, keyspace, groups) add their commands."""

    def deco(fn: Callable[[ClusterState, Command], Any]) -> Any:
        if op in _HANDLERS:
            raise ValueError(f"metadata op {op} registered twice")
        _HANDLERS[op] = fn
        return fn

    return deco

"""A node's configuration: from a TOML file, then environment variables, then flags.

Listeners follow Kafka's model of advertised listeners: a node can expose the
same service (native, http, resp) on several named listeners, each bound to
its own port and advertising its own address. Other nodes use the listener
named by ``inter_node_listener``; a client gets, in its cluster map, the
addresses of the listener it connected through. So containers advertise
their container names to each other and ``127.0.0.1:<published port>`` to a
client on the host.

A listener is written ``NAME.SERVICE=BIND_HOST:PORT[@ADVERTISED_HOST:PORT]``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICES = ("native", "http", "resp")
WILDCARDS = ("0.0.0.0", "::", "")


class ConfigError(ValueError):
    """A configuration problem, with a message that names the setting."""


@dataclass(frozen=True)
class Endpoint:
    bind: str
    advertised: str

    @property
    def bind_host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        return int(self.bind.rpartition(":")[2])


@dataclass
class NodeConfig:
    node_id: int
    data_dir: Path
    cluster_secret: str = field(repr=False)
    raft: Endpoint | None
    voters: dict[int, str]
    listeners: dict[str, dict[str, Endpoint]]
    inter_node_listener: str
    cluster_name: str = "keystream"
    rack: str | None = None
    session_timeout_ms: int = 3000
    heartbeat_interval_ms: int = 500
    metadata_fsync: bool = True
    log_level: str = "INFO"
    log_format: str = "text"
    raft_dial_overrides: dict[int, str] = field(default_factory=dict)
    # Dial other nodes' native (inter-node) listener at these addresses instead of the ones
    # in the map: chaos tests route every pair of nodes through its own fault proxy.
    peer_dial_overrides: dict[int, str] = field(default_factory=dict)
    election_timeout_ms: tuple[int, int] = (1000, 2000)
    extra: dict[str, Any] = field(default_factory=dict)  # settings owned by feature modules

    @property
    def is_voter(self) -> bool:
        return self.node_id in self.voters

    def advertised(self, listener: str) -> dict[str, str]:
        return {svc: ep.advertised for svc, ep in self.listeners.get(listener, {}).items()}

    def all_advertised(self) -> dict[str, dict[str, str]]:
        return {name: self.advertised(name) for name in self.listeners}

    def endpoint(self, listener: str, service: str) -> Endpoint | None:
        return self.listeners.get(listener, {}).get(service)


def parse_address(value: str, what: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what}: expected HOST:PORT, got {value!r}")
    return f"{host}:{int(port)}"


def parse_endpoint(value: str, what: str) -> Endpoint:
    bind_raw, _, adv_raw = value.strip().partition("@")
    bind = parse_address(bind_raw, what)
    if adv_raw:
        advertised = parse_address(adv_raw, what + " (advertised)")
    else:
        host = bind.rpartition(":")[0].strip("[]")
        if host in WILDCARDS:
            raise ConfigError(f"{what}: binding {bind} needs an advertised address (BIND@ADVERTISED)")
        advertised = bind
    return Endpoint(bind, advertised)


def parse_listener(spec: str) -> tuple[str, str, Endpoint]:
    name_service, sep, rest = spec.strip().partition("=")
    name, dot, service = name_service.partition(".")
    if not sep or not dot or not name:
        raise ConfigError(f"listener {spec!r}: expected NAME.SERVICE=BIND[@ADVERTISED]")
    if service not in SERVICES:
        raise ConfigError(f"listener {spec!r}: service must be one of {', '.join(SERVICES)}")
    return name, service, parse_endpoint(rest, f"listener {name}.{service}")


def parse_voters(value: str | Mapping[Any, Any]) -> dict[int, str]:
    items: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        items = []
        for part in str(value).split(","):
            if not part.strip():
                continue
            key, sep, addr = part.partition("=")
            if not sep:
                raise ConfigError(f"voters: expected ID=HOST:PORT, got {part!r}")
            items.append((key, addr))
    voters: dict[int, str] = {}
    for key, addr in items:
        try:
            vid = int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"voters: node id must be an integer, got {key!r}") from None
        voters[vid] = parse_address(str(addr), f"voter {vid}")
    if not voters:
        raise ConfigError("voters: at least one voter (ID=HOST:PORT) is required")
    if len(voters) > 7:
        raise ConfigError(f"voters: at most 7 voters, got {len(voters)} (further nodes join as brokers)")
    return voters


_ENV = {
    "node_id": "KEYSTREAM_NODE_ID",
    "data_dir": "KEYSTREAM_DATA_DIR",
    "raft": "KEYSTREAM_RAFT",
    "voters": "KEYSTREAM_VOTERS",
    "listeners": "KEYSTREAM_LISTENERS",
    "inter_node_listener": "KEYSTREAM_INTER_NODE_LISTENER",
    "cluster_name": "KEYSTREAM_CLUSTER_NAME",
    "cluster_secret_file": "KEYSTREAM_CLUSTER_SECRET_FILE",
    "rack": "KEYSTREAM_RACK",
    "session_timeout_ms": "KEYSTREAM_SESSION_TIMEOUT_MS",
    "heartbeat_interval_ms": "KEYSTREAM_HEARTBEAT_INTERVAL_MS",
    "metadata_fsync": "KEYSTREAM_METADATA_FSYNC",
    "log_level": "KEYSTREAM_LOG_LEVEL",
    "log_format": "KEYSTREAM_LOG_FORMAT",
    "raft_dial_overrides": "KEYSTREAM_RAFT_DIAL",
    "peer_dial_overrides": "KEYSTREAM_PEER_DIAL",
    "insecure": "KEYSTREAM_INSECURE",
}
SECRET_ENV = "KEYSTREAM_CLUSTER_SECRET"


def load_config(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> NodeConfig:
    """Merge file < environment < flags and validate. Raises ConfigError."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if config_file is not None:
        try:
            raw.update(tomllib.loads(Path(config_file).read_text()))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
    for key, var in _ENV.items():
        if env.get(var):
            raw[key] = env[var]
    for key, value in (flags or {}).items():
        if value is not None and value != () and value != []:
            raw[key] = value
    return _build(raw, env)


def _as_int(raw: dict[str, Any], key: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"{key} is required (flag --{key.replace('_', '-')} or ${_ENV.get(key, key)})")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _read_secret(raw: dict[str, Any], env: Mapping[str, str]) -> str:
    secret = raw.get("cluster_secret") or env.get(SECRET_ENV)
    if not secret and raw.get("cluster_secret_file"):
        path = Path(str(raw["cluster_secret_file"]))
        try:
            secret = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read cluster secret file {path}: {exc.strerror}") from None
    if not secret:
        raise ConfigError(
            f"the cluster secret is required: set ${SECRET_ENV} or --cluster-secret-file "
            "(the metadata Raft port never runs unauthenticated)"
        )
    if len(secret) < 16:
        raise ConfigError("the cluster secret must be at least 16 characters")
    return str(secret)


def _build(raw: dict[str, Any], env: Mapping[str, str]) -> NodeConfig:
    node_id = _as_int(raw, "node_id")
    if not 0 <= node_id < 2**31:
        raise ConfigError(f"node_id must be between 0 and 2^31-1, got {node_id}")
    if not raw.get("data_dir"):
        raise ConfigError("data_dir is required (--data-dir or $KEYSTREAM_DATA_DIR)")
    data_dir = Path(str(raw["data_dir"])).expanduser()

    listener_specs = raw.get("listeners", [])
    if isinstance(listener_specs, str):
        listener_specs = [s for s in listener_specs.split(",") if s.strip()]
    listeners: dict[str, dict[str, Endpoint]] = {}
    if isinstance(listener_specs, Mapping):  # TOML table form: [listeners.internal] native = "..."
        for name, services in listener_specs.items():
            for service, value in dict(services).items():
                _, _, ep = parse_listener(f"{name}.{service}={value}")
                listeners.setdefault(name, {})[service] = ep
    else:
        for spec in listener_specs:
            name, service, ep = parse_listener(str(spec))
            if service in listeners.get(name, {}):
                raise ConfigError(f"listener {name}.{service} given twice")
            listeners.setdefault(name, {})[service] = ep
    if not listeners:
        raise ConfigError("at least one listener is required (--listener NAME.SERVICE=BIND[@ADVERTISED])")
    inter = str(raw.get("inter_node_listener") or next(iter(listeners)))
    if inter not in listeners:
        raise ConfigError(f"inter_node_listener {inter!r} is not a configured listener ({', '.join(listeners)})")
    if "native" not in listeners[inter]:
        raise ConfigError(f"the inter-node listener {inter!r} needs a native service")
    binds = [ep.bind for services in listeners.values() for ep in services.values()]
    if len(set(binds)) != len(binds):
        raise ConfigError("two listeners bind the same address")

    voters = parse_voters(raw.get("voters", ""))
    raft: Endpoint | None = None
    if node_id in voters:
        raft_spec = raw.get("raft") or voters[node_id]
        raft = parse_endpoint(str(raft_spec), "raft")
        if raft.advertised != voters[node_id]:
            raise ConfigError(f"raft advertises {raft.advertised} but voters lists node {node_id} at {voters[node_id]}")

    dial: dict[int, str] = {}
    if raw.get("raft_dial_overrides"):
        dial = parse_voters(raw["raft_dial_overrides"])
    peer_dial: dict[int, str] = {}
    if raw.get("peer_dial_overrides"):
        peer_dial = (
            parse_voters(raw["peer_dial_overrides"])
            if isinstance(raw["peer_dial_overrides"], str)
            else {int(k): parse_address(str(v), f"peer dial {k}") for k, v in dict(raw["peer_dial_overrides"]).items()}
        )

    session_timeout = _as_int(raw, "session_timeout_ms", 3000)
    heartbeat = _as_int(raw, "heartbeat_interval_ms", 500)
    if heartbeat <= 0 or session_timeout < 2 * heartbeat:
        raise ConfigError("session_timeout_ms must be at least twice heartbeat_interval_ms")
    log_format = str(raw.get("log_format", "text"))
    if log_format not in ("text", "json"):
        raise ConfigError("log_format must be text or json")
    return NodeConfig(
        node_id=node_id,
        data_dir=data_dir,
        cluster_secret=_read_secret(raw, env),
        raft=raft,
        voters=voters,
        listeners=listeners,
        inter_node_listener=inter,
        cluster_name=str(raw.get("cluster_name", "keystream")),
        rack=str(raw["rack"]) if raw.get("rack") else None,
        session_timeout_ms=session_timeout,
        heartbeat_interval_ms=heartbeat,
        metadata_fsync=_as_bool(raw.get("metadata_fsync", True)),
        log_level=str(raw.get("log_level", "INFO")).upper(),
        log_format=log_format,
        raft_dial_overrides=dial,
        peer_dial_overrides=peer_dial,
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
    )


_KNOWN = (set(_ENV) | {"cluster_secret", "config"}) - {"insecure"}

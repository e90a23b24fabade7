"""Node configuration: precedence, listeners, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import ConfigError, load_config

SECRET = {"KEYSTREAM_CLUSTER_SECRET": "0123456789abcdef-secret"}
BASE = {
    "node_id": 1,
    "data_dir": "/tmp/x",
    "voters": "1=node1:7000,2=node2:7000,3=node3:7000",
    "raft": "0.0.0.0:7000@node1:7000",
    "listeners": [
        "internal.native=0.0.0.0:9092@node1:9092",
        "external.native=0.0.0.0:19092@127.0.0.1:19092",
        "internal.http=0.0.0.0:8080@node1:8080",
    ],
    "inter_node_listener": "internal",
}


def test_two_advertised_listeners_for_one_service() -> None:
    cfg = load_config(env=SECRET, flags=BASE)
    assert cfg.advertised("internal") == {"native": "node1:9092", "http": "node1:8080"}
    assert cfg.advertised("external") == {"native": "127.0.0.1:19092"}
    assert cfg.endpoint("external", "native").bind_port == 19092  # type: ignore[union-attr]
    assert cfg.is_voter and cfg.raft is not None and cfg.raft.advertised == "node1:7000"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "node.toml"
    file.write_text(
        'node_id = 1\ndata_dir = "/from/file"\nvoters = "1=127.0.0.1:7000"\n'
        'listeners = ["d.native=127.0.0.1:9000"]\nsession_timeout_ms = 4000\n'
    )
    env = {**SECRET, "KEYSTREAM_DATA_DIR": "/from/env", "KEYSTREAM_SESSION_TIMEOUT_MS": "5000"}
    cfg = load_config(file, env=env, flags={"session_timeout_ms": 6000})
    assert str(cfg.data_dir) == "/from/env"
    assert cfg.session_timeout_ms == 6000


@pytest.mark.parametrize(
    "change, env, fragment",
    [
        ({}, {}, "cluster secret is required"),
        ({"node_id": None}, SECRET, "node_id is required"),
        ({"listeners": ["internal.native=0.0.0.0:9092"]}, SECRET, "needs an advertised address"),
        ({"listeners": ["internal.grpc=127.0.0.1:1"]}, SECRET, "service must be one of"),
        ({"voters": "1=node1"}, SECRET, "expected HOST:PORT"),
        ({"raft": "0.0.0.0:7000@elsewhere:7000"}, SECRET, "voters lists node 1"),
        ({"inter_node_listener": "nope"}, SECRET, "not a configured listener"),
        ({}, {"KEYSTREAM_CLUSTER_SECRET": "short"}, "at least 16"),
    ],
)
def test_bad_config_names_the_setting(change: dict, env: dict, fragment: str) -> None:
    flags = {**BASE, **change}
    flags = {k: v for k, v in flags.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        load_config(env=env, flags=flags)
    assert fragment in str(info.value)

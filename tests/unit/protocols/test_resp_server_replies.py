"""The RESP front end's reply builders, from a cluster state built by the metadata
commands themselves: CLUSTER SLOTS/NODES/SHARDS/INFO in Redis's formats, per listener;
INFO and CLIENT LIST text; COMMAND INFO/DOCS types in RESP2 and RESP3; error mapping."""

from __future__ import annotations

import itertools
import re

import pytest

from cluster import commands as command_table
from cluster.errors import ErrorCode, KeystreamError
from cluster.state import ClusterState
from cluster.topics import assign_replicas
from node.protocols.resp import encode_reply
from node.protocols.resp_commands import (
    check_arity,
    client_line,
    cluster_info,
    cluster_nodes,
    cluster_shards,
    cluster_slots,
    command_docs,
    command_info,
    human_bytes,
    info_sections,
    info_text,
    keystream_error_reply,
    node_hex_id,
)
from node.protocols.resp_types import ErrorReply, Map, RespSet, SimpleString


def _state(fence: int | None = None) -> ClusterState:
    state = ClusterState()
    assert "ok" in state.apply({"op": "init_cluster", "cluster_id": "c-1"})
    for n in (1, 2, 3):
        listeners = {
            "default": {"native": f"127.0.0.1:{9000 + 10 * n}", "resp": f"127.0.0.1:{9002 + 10 * n}"},
            "outside": {"native": f"ks{n}.example:7000", "resp": f"ks{n}.example:6379"},
        }
        assert "ok" in state.apply(
            {"op": "register_node", "node_id": n, "incarnation": f"i{n}", "listeners": listeners, "voter": True}
        )
    assignment = assign_replicas({1: None, 2: None, 3: None}, 9, 3)
    assert "ok" in state.apply({"op": "init_keyspace", "topic_id": "t", "assignment": assignment, "acks": "all"})
    if fence is not None:
        assert "ok" in state.apply({"op": "fence_node", "node_id": fence})
    return state


def test_node_ids_are_40_hex_stable_and_per_cluster() -> None:
    a = node_hex_id("c-1", 1)
    assert re.fullmatch(r"[0-9a-f]{40}", a)
    assert a == node_hex_id("c-1", 1) != node_hex_id("c-1", 2) != node_hex_id("c-2", 1)


def test_cluster_slots_cover_every_slot_once_with_the_leader_address_of_the_listener() -> None:
    state = _state()
    slots = cluster_slots(state, "default")
    ranges = sorted((e[0], e[1]) for e in slots)
    assert ranges[0][0] == 0 and ranges[-1][1] == 16383
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert len(slots) == 9
    for entry in slots:
        assert len(entry) == 3  # the leader only; see cluster_slots
        host, port, node_id, extra = entry[2]
        assert host == b"127.0.0.1" and port in (9012, 9022, 9032) and len(node_id) == 40 and extra == Map(())
    outside = cluster_slots(state, "outside")
    assert {e[2][0] for e in outside} == {b"ks1.example", b"ks2.example", b"ks3.example"}
    assert {e[2][1] for e in outside} == {6379}
    # RESP2 encoding of one entry is Redis's: start, end, [ip, port, id, []]
    encoded = encode_reply(slots[0], 2)
    assert encoded.startswith(b"*3\r\n:0\r\n:") and encoded.endswith(b"*0\r\n")


def test_a_fenced_leader_is_left_out_until_a_new_leader_is_elected() -> None:
    state = _state(fence=3)
    slots = cluster_slots(state, "default")
    assert all(e[2][1] != 9032 for e in slots)
    assert sum(e[1] - e[0] + 1 for e in slots) == 16384  # every shard of node 3 got a new leader
    nodes = cluster_nodes(state, "default", me=1, now_ms=5)
    line3 = next(line for line in nodes.splitlines() if ":9032@" in line)
    assert "master,fail" in line3 and line3.endswith("disconnected")


def test_cluster_nodes_format() -> None:
    state = _state()
    text = cluster_nodes(state, "default", me=2, now_ms=123)
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == 3
    for line in lines:
        fields = line.split(" ")
        assert re.fullmatch(r"[0-9a-f]{40}", fields[0])
        assert re.fullmatch(r"127\.0\.0\.1:90[123]2@90[123]0", fields[1])
        assert fields[2] in ("master", "myself,master") and fields[3] == "-"
        assert fields[7] == "connected"
        assert all(re.fullmatch(r"\d+(-\d+)?", s) for s in fields[8:])
    mine = [line for line in lines if "myself" in line]
    assert len(mine) == 1 and ":9022@" in mine[0] and mine[0].split()[5] == "0"
    owned = sum(int(b) - int(a) + 1 for line in lines for a, _, b in (s.partition("-") for s in line.split()[8:]))
    assert owned == 16384


def test_cluster_shards_and_info() -> None:
    state = _state()
    shards = cluster_shards(state, "default", {(0, 1): 42})
    assert len(shards) == 9
    for shard in shards:
        assert list(shard) == [b"slots", b"nodes"]
        roles = [n[b"role"] for n in shard[b"nodes"]]
        assert roles.count(b"master") == 1 and roles.count(b"replica") == 2
        assert list(shard[b"nodes"][0]) == [b"id", b"port", b"ip", b"endpoint", b"role", b"replication-offset",
                                            b"health"]  # fmt: skip
    assert any(n[b"replication-offset"] == 42 for n in shards[0][b"nodes"])
    info = cluster_info(state)
    assert info.startswith("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n")
    assert "cluster_known_nodes:3\r\ncluster_size:3\r\n" in info and info.endswith("\r\n")
    empty = ClusterState()
    assert cluster_slots(empty, "default") == [] and cluster_shards(empty, "default") == []
    assert cluster_info(empty).startswith("cluster_state:fail\r\n")


def test_info_sections_and_text() -> None:
    assert info_sections([b"INFO"])[:3] == ["server", "clients", "memory"]
    assert info_sections([b"INFO", b"keyspace", b"SERVER"]) == ["server", "keyspace"]
    assert "commandstats" in info_sections([b"INFO", b"all"])
    text = info_text(
        ["server", "cpu", "keyspace"], {"server": [("redis_version", "7.0.15")], "cpu": [], "keyspace": []}
    )
    assert text == "# Server\r\nredis_version:7.0.15\r\n\r\n# CPU\r\n\r\n# Keyspace\r\n"
    assert human_bytes(100) == "100B" and human_bytes(1536) == "1.50K" and human_bytes(3 << 20) == "3.00M"


def test_client_line_order() -> None:
    line = client_line({"id": 7, "addr": "1.2.3.4:5", "name": "x", "resp": 3, "lib-name": "redis-py"})
    assert line.startswith("id=7 addr=1.2.3.4:5 laddr= fd= name=x age=")
    assert " resp=3 lib-name=redis-py lib-ver=" in line and "\n" not in line


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_info_types(protocol: int) -> None:
    get = command_info(command_table.COMMANDS["get"], protocol)
    flags_type = list if protocol == 2 else RespSet
    assert get[0] == b"get" and get[1] == 2 and isinstance(get[2], flags_type)
    flags = get[2].items if isinstance(get[2], RespSet) else get[2]
    assert list(flags) == [SimpleString("readonly"), SimpleString("fast")]
    assert get[3:6] == [1, 1, 1]
    expected = (
        b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n"
        b"+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
    )
    if protocol == 2:
        assert encode_reply(get, 2).startswith(expected)
    else:
        assert encode_reply(get, 3).startswith(b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
    docs = command_docs(command_table.COMMANDS["getset"], protocol)
    pairs = dict(docs.pairs())
    assert pairs[b"summary"].startswith(b"Set the string value") and b"doc_flags" in pairs


def test_arity_and_unknown_commands() -> None:
    assert check_arity([b"PING"]) is None
    assert check_arity([b"COMMAND"]) is None
    assert check_arity([b"CLIENT"]) == ErrorReply("ERR wrong number of arguments for 'client' command")
    assert check_arity([b"client", b"nosuch"]) == ErrorReply("ERR unknown subcommand 'nosuch'. Try CLIENT HELP.")
    assert check_arity([b"CLUSTER", b"KEYSLOT"]) == ErrorReply(
        "ERR wrong number of arguments for 'cluster|keyslot' command"
    )
    assert check_arity([b"nope", b"x"]) == ErrorReply("ERR unknown command 'nope', with args beginning with: 'x' ")


def test_node_errors_map_to_what_cluster_clients_handle() -> None:
    def reply(code: ErrorCode) -> str:
        return keystream_error_reply(KeystreamError(code, "why")).text

    assert reply(ErrorCode.TRYAGAIN) == "TRYAGAIN why"
    assert reply(ErrorCode.CLUSTERDOWN) == "CLUSTERDOWN why"
    assert reply(ErrorCode.NOT_LEADER) == "TRYAGAIN why"  # never written: safe to retry
    assert reply(ErrorCode.OUTCOME_UNKNOWN).startswith("OUTCOME_UNKNOWN why")  # not retried by clients
    assert reply(ErrorCode.NOT_ENOUGH_REPLICAS).startswith("NOREPLICAS ")
    assert reply(ErrorCode.INVALID_REQUEST) == "ERR why"

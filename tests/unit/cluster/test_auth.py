"""The one authorization check (cluster/auth.py) and the per-operation rules that use it
(node/security.py), without any socket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.auth import (
    Principal,
    allowed,
    hash_password,
    parse_resource,
    validate_grant,
    validate_username,
    verify_password,
)
from cluster.errors import ErrorCode, KeystreamError
from node.security import _RULES, _node_or_cluster_admin


def grant(role: str, resource: str) -> dict[str, str]:
    return validate_grant(role, resource)


READER = [grant("read", "topic:orders.*"), grant("read", "key:session:*")]
WRITER = [grant("write", "topic:orders"), grant("write", "key:session:*"), grant("read", "group:billing")]
ADMIN = [grant("admin", "cluster"), grant("admin", "topic:*"), grant("admin", "key:*"), grant("admin", "group:*")]


@pytest.mark.parametrize(
    ("grants", "role", "kind", "name", "expected"),
    [
        (READER, "read", "topic", "orders.eu", True),
        (READER, "read", "topic", "orders", False),  # the prefix is "orders.", not "orders"
        (READER, "write", "topic", "orders.eu", False),  # read does not include write
        (READER, "read", "topic", "payments", False),
        (READER, "read", "key", b"session:42", True),
        (READER, "read", "key", "user:1", False),
        (WRITER, "read", "topic", "orders", True),  # write includes read
        (WRITER, "write", "topic", "orders", True),
        (WRITER, "write", "topic", "orders.eu", False),  # exact name, not a prefix
        (WRITER, "admin", "topic", "orders", False),
        (WRITER, "read", "group", "billing", True),
        (WRITER, "read", "group", "billing2", False),
        (WRITER, "admin", "cluster", "", False),
        (ADMIN, "admin", "cluster", "", True),
        (ADMIN, "write", "key", "anything", True),
        ([grant("admin", "topic:*")], "admin", "cluster", "", False),  # topic admin is not cluster admin
        ([grant("admin", "cluster")], "read", "topic", "orders", False),  # nor the other way round
    ],
)
def test_allowed(grants: list[dict[str, str]], role: str, kind: str, name: str | bytes, expected: bool) -> None:
    assert allowed(grants, role, kind, name) is expected


def test_internal_keys_need_cluster_admin() -> None:
    everything_on_keys = [grant("admin", "key:*")]
    assert allowed(everything_on_keys, "write", "key", "{user}:1")
    assert not allowed(everything_on_keys, "read", "key", "{__group:billing}:offsets")
    assert not allowed(everything_on_keys, "write", "key", b"{__group:billing}:meta")
    assert allowed([grant("admin", "cluster")], "write", "key", "{__group:billing}:meta")


def test_principal_require_names_what_was_refused() -> None:
    reader = Principal("alice", READER)
    reader.require("read", "topic", "orders.eu")
    with pytest.raises(KeystreamError) as info:
        reader.require("write", "topic", "orders.eu")
    assert info.value.code == ErrorCode.AUTHORIZATION_FAILED
    assert "alice" in str(info.value) and "write" in str(info.value) and "orders.eu" in str(info.value)
    assert Principal("__node", [], superuser=True).can("admin", "cluster")


@pytest.mark.parametrize("resource", ["", "topic", "topic:", "queue:x", "cluster:x", "topic:a*b", 7, None, "key:**"])
def test_bad_resources_are_refused_with_a_reason(resource: object) -> None:
    with pytest.raises(KeystreamError) as info:
        parse_resource(resource)
    assert info.value.code == ErrorCode.INVALID_REQUEST


def test_grants_validate_the_role() -> None:
    assert validate_grant("write", "key:session:*") == {"role": "write", "resource": "key:session:*"}
    assert validate_grant("admin", "cluster") == {"role": "admin", "resource": "cluster"}
    with pytest.raises(KeystreamError, match="role must be one of"):
        validate_grant("owner", "topic:x")


@pytest.mark.parametrize("name", ["", "a" * 65, "__node", "has space", "semi;colon", 3])
def test_bad_user_names(name: object) -> None:
    with pytest.raises(KeystreamError):
        validate_username(name)


def test_passwords_are_salted_slow_hashes() -> None:
    one, two = hash_password("correct horse"), hash_password("correct horse")
    assert one["alg"] == "scrypt" and one["salt"] != two["salt"] and one["hash"] != two["hash"]
    assert b"correct horse" not in one["hash"]
    assert verify_password("correct horse", one) and verify_password("correct horse", two)
    assert not verify_password("correct horsf", one)
    assert not verify_password("x" * 2000, one)  # over the maximum: refused before hashing
    with pytest.raises(KeystreamError, match="a password is"):
        hash_password("short")


@given(pattern=st.text(st.characters(blacklist_characters="*"), min_size=1, max_size=12),
       name=st.text(max_size=16))  # fmt: skip
def test_prefix_patterns_match_exactly_their_prefix(pattern: str, name: str) -> None:
    grants = [grant("read", f"topic:{pattern}*")]
    assert allowed(grants, "read", "topic", name) is name.startswith(pattern)
    assert allowed([grant("read", f"topic:{pattern}")], "read", "topic", name) is (name == pattern)


# --- the per-operation rules of the native protocol ------------------------------------------


def _check(op: str, principal: Principal, args: dict[str, object]) -> bool:
    rule = _RULES.get(op, _node_or_cluster_admin)
    if rule is None:
        return True
    try:
        rule(principal, args)
    except KeystreamError as exc:
        assert exc.code == ErrorCode.AUTHORIZATION_FAILED
        return False
    return True


def test_operation_rules() -> None:
    reader, writer, admin = Principal("r", READER), Principal("w", WRITER), Principal("a", ADMIN)
    anyone = Principal("nobody", [])
    # reachable without any grant
    assert _check("ping", anyone, {}) and _check("authenticate", anyone, {}) and _check("metadata", anyone, {})
    # the log
    assert _check("fetch", reader, {"partitions": [["orders.eu", 0, 0]]})
    assert not _check("fetch", reader, {"partitions": [["orders.eu", 0, 0], ["payments", 0, 0]]})
    assert not _check("produce", reader, {"topics": [["orders.eu", []]]})
    assert _check("produce", writer, {"topics": [["orders", []]]})
    assert not _check("create_topic", writer, {"name": "orders"})
    assert _check("describe_topics", reader, {"names": ["orders.eu"]}) and _check("describe_topics", reader, {})
    assert not _check("describe_topics", reader, {"names": ["orders.eu", "payments"]})
    assert _check("create_topic", admin, {"name": "orders"})
    # the keyspace: read-only commands need read, the others write
    assert _check("kv", reader, {"argv": ["GET", "session:1"]})
    assert not _check("kv", reader, {"argv": ["SET", "session:1", "x"]})
    assert _check("kv", writer, {"argv": ["SET", "session:1", "x"]})
    assert not _check("kv_batch", writer, {"commands": [["SET", "session:1", "x"], ["SET", "user:1", "x"]]})
    assert not _check("kv", writer, {"argv": ["FLUSHALL"]})  # keyless write: admin on key:*
    assert not _check("kv", writer, {"argv": ["HSET", "{__group:billing}:offsets", "t:0", "9"]})
    # listing the cluster's own keys by name needs cluster admin, even with read on key:*
    all_keys_reader = Principal("k", [grant("read", "key:*")])
    assert _check("kv", all_keys_reader, {"argv": ["KEYS", "*"]})
    assert _check("kv", all_keys_reader, {"argv": ["SCAN", "0", "MATCH", "user:*"]})
    assert not _check("kv", all_keys_reader, {"argv": ["KEYS", "{__group:*}:*"]})
    assert not _check("kv", all_keys_reader, {"argv": ["SCAN", "0", "MATCH", "x", "MATCH", "{__*"]})
    assert _check("kv", admin, {"argv": ["SCAN", "0", "MATCH", "{__group:*}:*"]})
    # consumer groups
    assert _check("join_group", writer, {"group_id": "billing"})
    assert not _check("join_group", writer, {"group_id": "payroll"})
    assert _check("offset_commit", writer, {"group_id": "billing", "offsets": [["orders", 0, 5]]})
    assert not _check("offset_commit", writer, {"group_id": "billing", "offsets": [["payments", 0, 5]]})
    assert not _check("delete_groups", writer, {"group_ids": ["billing"]})
    assert _check("delete_groups", admin, {"group_ids": ["billing", "payroll"]})
    assert not _check("alter_group_offsets", writer, {"group_id": "billing", "offsets": [["orders", 0, 0]]})
    assert not _check("describe_groups", writer, {"group_ids": ["billing", "payroll"]})
    # anything not listed (replication, users, cluster config) is for nodes and cluster admins
    for op in ("replica_fetch", "create_user", "set_cluster_config", "some_future_op"):
        assert not _check(op, writer, {}) and _check(op, admin, {})

"""AUTH and HELLO ... AUTH on a node with a password for the ``default`` user
(``--set resp.requirepass=...``): what Redis does with ``requirepass``, and the tools that
take ``-a`` work against it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from client.local_cluster import LocalCluster
from node.protocols.resp_types import ErrorReply, SimpleString
from tests.integration.test_resp_support import Raw, resp_port, start_cluster

PASSWORD = "s3cret-for-tests"
NOAUTH = ErrorReply("NOAUTH Authentication required.")
WRONGPASS = ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_cluster(
        tmp_path_factory.mktemp("resp-auth"), nodes=1, extra_args=("--set", f"resp.requirepass={PASSWORD}"),
        password=PASSWORD,
    )  # fmt: skip
    yield c
    c.stop_all(timeout=15)


def test_commands_need_auth(cluster: LocalCluster) -> None:
    conn = Raw(resp_port(cluster, 1))
    try:
        assert conn.call("PING") == NOAUTH
        assert conn.call("GET", "k") == NOAUTH
        assert conn.call("CLUSTER", "SLOTS") == NOAUTH
        assert conn.call("HELLO", "3").code == "NOAUTH"
        assert conn.call("AUTH", "wrong") == WRONGPASS
        assert conn.call("AUTH", "someone", PASSWORD) == WRONGPASS
        assert conn.call("AUTH", PASSWORD) == SimpleString("OK")
        assert conn.call("PING") == SimpleString("PONG")
        assert conn.call("SET", "auth:k", "v") == SimpleString("OK")
        assert b"user=default" in conn.call("CLIENT", "INFO")
        assert conn.call("RESET") == SimpleString("RESET")  # back to unauthenticated
        assert conn.call("GET", "auth:k") == NOAUTH
        hello = conn.call("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "h")
        assert hello[b"proto"] == 3
        assert conn.call("GET", "auth:k") == b"v"
        assert conn.call("CLIENT", "GETNAME") == b"h"
    finally:
        conn.close()


def test_unauthenticated_clients_cannot_send_big_requests(cluster: LocalCluster) -> None:
    """As Redis: before AUTH, at most 10 arguments and 16 KiB bulks."""
    conn = Raw(resp_port(cluster, 1))
    try:
        conn.send_raw(b"*11\r\n")
        assert conn.read_until_closed() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    finally:
        conn.close()
    conn = Raw(resp_port(cluster, 1))
    try:
        conn.send_raw(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
        assert conn.read_until_closed() == b"-ERR Protocol error: unauthenticated bulk length\r\n"
    finally:
        conn.close()


def test_clients_with_a_password(cluster: LocalCluster) -> None:
    port = resp_port(cluster, 1)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, password="wrong").ping()
    client = RedisCluster(host="127.0.0.1", port=port, password=PASSWORD)
    try:
        client.set("auth:rc", "1")
        assert client.get("auth:rc") == b"1"
    finally:
        client.close()
    out = subprocess.run(["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", "-c", "GET", "auth:rc"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.stdout.strip() == "1", out
    # one node leads every slot: no --cluster (redis-benchmark wants three masters for that)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-a", PASSWORD, "-t", "set,get", "-n", "2000", "-q"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and "requests per second" in out.stdout, out.stdout[-500:] + out.stderr[-500:]

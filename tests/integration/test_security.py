"""Authentication and authorization on every listener, role changes everywhere at once, TLS."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from client import Keystream, TopicPartition
from client.cli.certs_cmd import make_dev_certs
from client.connection import NativeConnection
from client.local_cluster import LocalCluster
from cluster.errors import ErrorCode, KeystreamError
from node.storage.batch import build_batch
from tests.conftest import eventually

ADMIN = {"mechanism": "PLAIN", "username": "root", "password": "root-password"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def _expect(code: ErrorCode, coro: object) -> None:
    with pytest.raises(KeystreamError) as info:
        await coro  # type: ignore[misc]
    assert info.value.code == code, info.value


async def test_users_roles_on_native_and_http(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    # open mode (no users yet), from loopback: the first admin is created anonymously
    anon = await NativeConnection.open(cluster.address(1, "native"))
    await anon.request("create_user", {"name": "root", "password": "root-password",
                                       "grants": [{"role": "admin", "resource": "cluster"},
                                                  {"role": "admin", "resource": "topic:*"},
                                                  {"role": "admin", "resource": "key:*"}]})  # fmt: skip
    # from now on, credentials are required
    await _expect(ErrorCode.AUTHENTICATION_FAILED, anon.request("metadata", {}))
    assert (await anon.request("ping"))["node_id"] == 1  # liveness stays open
    await anon.close()
    await _expect(ErrorCode.AUTHENTICATION_FAILED, NativeConnection.open(
        cluster.address(2, "native"), credentials={**ADMIN, "password": "wrong-password"}))  # fmt: skip

    async with Keystream(cluster.bootstrap(), credentials=ADMIN) as admin:
        await admin.admin.create_topic("orders.eu", partitions=1, replication_factor=3)
        await admin.admin.create_topic("payments", partitions=1, replication_factor=3)
        for name, password, grants in (
            ("reader", "reader-password", [{"role": "read", "resource": "topic:orders.*"},
                                           {"role": "read", "resource": "key:session:*"}]),
            ("writer", "writer-password", [{"role": "write", "resource": "key:session:*"}]),
        ):  # fmt: skip
            await admin.cluster.request_any("create_user", {"name": name, "password": password, "grants": grants})
        await admin.kv.set("session:1", "alice")
        producer = await admin.producer().start()
        await producer.send_and_wait("orders.eu", b"order-1")
        await producer.close()

    reader_creds = {"mechanism": "PLAIN", "username": "reader", "password": "reader-password"}
    async with Keystream(cluster.bootstrap(), credentials=reader_creds) as reader:
        assert await reader.kv.get("session:1") == b"alice"
        await _expect(ErrorCode.AUTHORIZATION_FAILED, reader.kv.set("session:1", "mallory"))
        await _expect(ErrorCode.AUTHORIZATION_FAILED, reader.kv.get("other:1"))
        leader = reader.cluster.leader("orders.eu", 0)[0]
        conn = await reader.cluster.connection(leader)
        await _expect(
            ErrorCode.AUTHORIZATION_FAILED,
            conn.request(
                "produce", {"acks": 1, "topics": [["orders.eu", [[0, build_batch([(None, b"x", None, None)])]]]]}
            ),
        )
        fetched = await conn.request("fetch", {"partitions": [["orders.eu", 0, 0]], "max_wait_ms": 0})
        assert fetched["partitions"][0][2] == 0
        pay_leader = reader.cluster.leader("payments", 0)[0]
        await _expect(ErrorCode.AUTHORIZATION_FAILED, (await reader.cluster.connection(pay_leader)).request(
            "fetch", {"partitions": [["payments", 0, 0]], "max_wait_ms": 0}))  # fmt: skip
        await _expect(ErrorCode.AUTHORIZATION_FAILED, reader.admin.create_topic("orders.us", partitions=1))
        # listings show only what one may read, as Kafka's; naming a topic one may not read is refused
        assert await reader.admin.list_topics() == ["orders.eu"]
        assert [t["name"] for t in await reader.admin.describe_topics()] == ["orders.eu"]
        await _expect(ErrorCode.AUTHORIZATION_FAILED, reader.admin.describe_topics(["payments"]))
        async with Keystream(cluster.bootstrap(), credentials=ADMIN) as admin:
            await admin.cluster.request_any("grant", {"name": "root", "role": "admin", "resource": "group:*"})
            await eventually(lambda: admin.groups.alter_offsets("billing", {TopicPartition("orders.eu", 0): 1}),
                             lambda _: True, timeout=10, what="root's group grant")  # fmt: skip
            assert [g["group_id"] for g in await admin.groups.list_groups()] == ["billing"]
        assert await reader.groups.list_groups() == []  # no grant on group:billing

        # a grant made through node 3 applies on every node, without restarts
        async with Keystream([cluster.address(3, "native")], credentials=ADMIN) as admin:
            await admin.cluster.request_any("grant", {"name": "reader", "role": "write", "resource": "key:session:*"})
        await eventually(lambda: reader.kv.set("session:2", "bob"), lambda ok: ok is True, timeout=10,
                         what="the new grant taking effect")  # fmt: skip

    async with aiohttp.ClientSession() as http:
        base = f"http://{cluster.address(2, 'http')}"
        async with http.get(f"{base}/v1/topics") as resp:
            assert resp.status == 401 and "Basic" in resp.headers["WWW-Authenticate"]
        async with http.get(f"{base}/v1/health") as resp:
            assert resp.status == 200
        async with http.get(f"{base}/v1/topics", headers=_basic("reader", "nope-nope")) as resp:
            assert resp.status == 401
        async with http.get(f"{base}/v1/topics/orders.eu/partitions/0/records?offset=0",
                            headers=_basic("reader", "reader-password")) as resp:  # fmt: skip
            assert resp.status == 200 and (await resp.json())["records"][0]["value"] == "order-1"
        async with http.get(f"{base}/v1/topics/payments/partitions/0/records?offset=0",
                            headers=_basic("reader", "reader-password")) as resp:  # fmt: skip
            assert resp.status == 403
        async with http.get(f"{base}/v1/topics", headers=_basic("reader", "reader-password")) as resp:
            assert (await resp.json())["topics"] == ["orders.eu"]
        async with http.get(f"{base}/v1/topics/payments", headers=_basic("reader", "reader-password")) as resp:
            assert resp.status == 403
        async with http.post(f"{base}/v1/auth/token", headers=_basic("root", "root-password")) as resp:
            token = (await resp.json())["token"]
        async with http.post(f"{base}/v1/topics", json={"name": "by-token", "partitions": 1},
                             headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
            assert resp.status == 201
        async with http.get(f"{base}/v1/topics", headers={"Authorization": "Bearer forged.token"}) as resp:
            assert resp.status == 401


async def _tls_cluster(
    cluster_factory: Callable[..., LocalCluster], tmp_path: Path
) -> tuple[LocalCluster, Path, ssl.SSLContext]:
    """Three nodes with TLS on every listener and between nodes, certificates from
    ``keystream certs dev``; started, not yet ready. Returns the cluster, the certificate
    directory and a client context trusting the dev CA."""
    certs = tmp_path / "certs"
    await asyncio.to_thread(make_dev_certs, certs, ["localhost", "127.0.0.1"], 0, 1)
    trust = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    cluster = cluster_factory(
        3,
        extra_args=["--set", "tls.listeners=default", "--set", f"tls.cert={certs}/node.pem",
                    "--set", f"tls.key={certs}/node-key.pem", "--set", f"tls.ca={certs}/ca.pem"],
        client_options={"ssl": trust},
    )  # fmt: skip
    cluster.start_all()
    return cluster, certs, trust


async def test_tls_on_every_client_listener_and_between_nodes(
    cluster_factory: Callable[..., LocalCluster], tmp_path: Path
) -> None:
    cluster, _, trust = await _tls_cluster(cluster_factory, tmp_path)
    await cluster.wait_ready(40)  # replication, heartbeats and readiness all go over TLS
    async with Keystream(cluster.bootstrap(), ssl=trust) as ks:
        await ks.admin.create_topic("secret", partitions=1, replication_factor=3)
        producer = await ks.producer().start()
        meta = await producer.send_and_wait("secret", b"over tls")
        await producer.close()
        assert meta.offset == 0
        await ks.kv.set("k", "v")
        assert await ks.kv.get("k") == b"v"
    untrusting = ssl.create_default_context()  # the system CAs do not include our dev CA
    with pytest.raises(ConnectionError):
        await NativeConnection.open(cluster.address(1, "native"), ssl=untrusting)
    with pytest.raises(ConnectionError):  # and a plaintext client cannot talk to it either
        conn = await NativeConnection.open(cluster.address(1, "native"))
        await conn.request("ping", timeout=5)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"https://{cluster.address(1, 'http')}/v1/health", ssl=trust) as resp:
            assert resp.status == 200


async def test_resp_users_roles_and_tls(cluster_factory: Callable[..., LocalCluster], tmp_path: Path) -> None:
    import shutil
    import subprocess

    import redis

    cluster, certs, trust = await _tls_cluster(cluster_factory, tmp_path)
    await cluster.wait_ready(40)
    anon = await NativeConnection.open(cluster.address(1, "native"), ssl=trust)
    await anon.request("create_user", {"name": "root", "password": "root-password",
                                       "grants": [{"role": "admin", "resource": "cluster"},
                                                  {"role": "admin", "resource": "key:*"}]})  # fmt: skip
    await anon.close()
    anon = await NativeConnection.open(cluster.address(1, "native"), ssl=trust, credentials=ADMIN)
    await anon.request("create_user", {"name": "app", "password": "app-password",
                                       "grants": [{"role": "write", "resource": "key:session:*"},
                                                  {"role": "read", "resource": "key:config:*"}]})  # fmt: skip
    await anon.close()
    host, port = cluster.address(1, "resp").rsplit(":", 1)

    def redis_checks() -> None:
        ca_certs = str(certs / "ca.pem")
        plain = redis.Redis(host=host, port=int(port), ssl=True, ssl_ca_certs=ca_certs)
        try:
            plain.get("session:1")
            raise AssertionError("an unauthenticated command was served")
        except redis.AuthenticationError as exc:
            assert "authenticat" in str(exc).lower()  # NOAUTH (redis-py 8 opens with HELLO)
        except redis.ResponseError as exc:
            assert str(exc).startswith("NOAUTH")
        plain.close()
        try:
            redis.Redis(
                host=host, port=int(port), username="app", password="nope", ssl=True, ssl_ca_certs=ca_certs
            ).ping()
            raise AssertionError("a wrong password was accepted")
        except redis.AuthenticationError as exc:
            assert "invalid username-password pair" in str(exc)
        app = redis.RedisCluster(
            host=host, port=int(port), username="app", password="app-password", ssl=True, ssl_ca_certs=ca_certs
        )
        assert app.set("session:1", "alice") is True
        assert app.get("session:1") == b"alice"
        for forbidden in (lambda: app.set("config:x", "1"), lambda: app.get("other:1")):
            try:
                forbidden()
                raise AssertionError("a command outside the user's roles was served")
            except redis.exceptions.NoPermissionError as exc:
                assert "no permissions" in str(exc)
        app.close()
        root = redis.RedisCluster(
            host=host, port=int(port), username="root", password="root-password", ssl=True, ssl_ca_certs=ca_certs
        )
        assert root.set("config:x", "1") is True
        root.close()
        # a client that does not trust our CA is refused
        try:
            redis.Redis(host=host, port=int(port), ssl=True, socket_timeout=5).ping()
            raise AssertionError("TLS without the CA was accepted")
        except redis.ConnectionError:
            pass

    await asyncio.to_thread(redis_checks)
    if shutil.which("redis-cli"):
        result = await asyncio.to_thread(
            subprocess.run,
            ["redis-cli", "--tls", "--cacert", str(certs / "ca.pem"), "-h", host, "-p", port, "--user", "app",
             "--pass", "app-password", "--no-auth-warning", "GET", "session:1"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.stdout.strip() in ("alice", "") or "MOVED" in result.stdout, result
        assert result.returncode == 0, result.stderr


async def test_per_user_connection_limit_and_handshake_fuzz(cluster_factory: Callable[..., LocalCluster]) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cluster = cluster_factory(1, extra_args=["--set", "max.connections.per.user=3"])
    cluster.start_all()
    await cluster.wait_ready(30)
    anon = await NativeConnection.open(cluster.address(1, "native"))
    await anon.request("create_user", {"name": "root", "password": "root-password",
                                       "grants": [{"role": "admin", "resource": "cluster"}]})  # fmt: skip
    await anon.close()
    held = [await NativeConnection.open(cluster.address(1, "native"), credentials=ADMIN) for _ in range(3)]
    await _expect(ErrorCode.TOO_MANY_CONNECTIONS,
                  NativeConnection.open(cluster.address(1, "native"), credentials=ADMIN))  # fmt: skip
    await held[0].close()
    await eventually(lambda: NativeConnection.open(cluster.address(1, "native"), credentials=ADMIN),
                     lambda conn: not conn.closed, timeout=10, what="a slot freed by a closed connection")  # fmt: skip

    # the handshake takes hostile input: typed refusals, the connection stays usable, the node stays up
    conn = await NativeConnection.open(cluster.address(1, "native"))
    weird = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.binary(max_size=64),
        st.text(max_size=64),
        st.lists(st.integers(-5, 5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(-5, 5), max_size=3),
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(mechanism=weird, username=weird, password=weird)
    def fuzz(mechanism: object, username: object, password: object) -> None:
        async def attempt() -> None:
            try:
                await conn.request("authenticate", {"mechanism": mechanism, "username": username,
                                                    "password": password, "token": password})  # fmt: skip
            except KeystreamError as exc:
                assert exc.code in (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.INVALID_REQUEST), exc

        asyncio.run_coroutine_threadsafe(attempt(), loop).result(30)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(fuzz)
    assert (await conn.request("ping"))["node_id"] == 1
    for c in held[1:]:
        await c.close()
    await conn.close()

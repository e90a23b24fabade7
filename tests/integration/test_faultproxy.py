"""The fault proxy driven by the real ``toxiproxy-python`` client and plain HTTP,
against TCP servers on loopback, asserting measured behaviour.

Which server: if ``TOXIPROXY_URL`` is set, these tests run unchanged against
that (real) Toxiproxy; otherwise the session starts our fault proxy as a child
process (``python -m client.chaos.faultproxy``). Tests of things only our server
has (the embedded API, the loopback guard) are skipped against a real one.

Timing: nothing sleeps waiting for a condition. Blocking socket calls carry
deadlines; timing is asserted only where the toxic *is* time, with a lower
bound at the configured delay (minus a little clock slack) and generous upper
bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import NotFound, ProxyExists
from toxiproxy.proxy import Proxy

from client.chaos.faultproxy import FaultProxyProcess, FaultProxyServer, host_port_of
from client.chaos.faultproxy.process import TOXIPROXY_URL_ENV, toxiproxy_endpoint

ours_only = pytest.mark.skipif(bool(os.environ.get(TOXIPROXY_URL_ENV)), reason="tests our fault proxy specifically")

LOOPBACK = "127.0.0.1"
IO_DEADLINE_S = 5.0  # upper bound on any single wait for data that should arrive
SLACK_S = 0.02  # timer granularity allowed below a configured delay
FAST_S = 0.5  # "unaffected": far below the delays the toxics under test add


# --- servers on loopback ------------------------------------------------------------


class LoopbackServer:
    """A TCP server on 127.0.0.1 that either echoes or hands accepted sockets to the test."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)  # how often the accept loop notices close()
        self._accepted: queue.Queue[socket.socket] = queue.Queue()
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()
        return f"{host}:{port}"

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(IO_DEADLINE_S)
            self._sockets.append(conn)
            if self.echo:
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()
            else:
                self._accepted.put(conn)

    def _echo(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._stopped.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                conn.sendall(data)
        with contextlib.suppress(OSError):
            conn.close()

    def accept(self, timeout_s: float = IO_DEADLINE_S) -> socket.socket:
        """The server side of the next connection the proxy opens."""
        return self._accepted.get(timeout=timeout_s)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(IO_DEADLINE_S)
        self._listener.close()
        for conn in self._sockets:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def echo_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer(echo=True)
    yield server
    server.close()


@pytest.fixture
def peer_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer(echo=False)
    yield server
    server.close()


# --- the Toxiproxy under test ----------------------------------------------------------


@pytest.fixture(scope="session")
def toxiproxy_url() -> Iterator[str]:
    """$TOXIPROXY_URL (a real Toxiproxy) or our fault proxy in a child process."""
    with toxiproxy_endpoint(seed=11) as url:
        yield url


class ToxiproxyHarness:
    """The toxiproxy-python client plus the names this test created, for cleanup."""

    _names = itertools.count()

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.client = Toxiproxy()
        self.client.update_api_consumer(*host_port_of(url))
        self.prefix = prefix

    def name(self) -> str:
        return f"{self.prefix}_{next(self._names)}"

    def create(self, upstream: str, listen: str = f"{LOOPBACK}:0") -> Proxy:
        return self.client.create(upstream=upstream, name=self.name(), listen=listen)

    def cleanup(self) -> None:
        for name, proxy in self.client.proxies().items():
            if name.startswith(self.prefix):
                proxy.destroy()


@pytest.fixture
def toxiproxy(toxiproxy_url: str, request: pytest.FixtureRequest) -> Iterator[ToxiproxyHarness]:
    prefix = "ks_" + re.sub(r"\W", "_", request.node.name)[:80]
    harness = ToxiproxyHarness(toxiproxy_url, prefix)
    harness.cleanup()  # leftovers of an interrupted earlier run on a shared server
    yield harness
    harness.cleanup()


# --- socket helpers (every wait bounded) ------------------------------------------------


def connect(proxy: Proxy) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=IO_DEADLINE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int, deadline_s: float = IO_DEADLINE_S) -> bytes:
    deadline = time.monotonic() + deadline_s
    data = bytearray()
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(data)} of {size} bytes")
        sock.settimeout(remaining)
        piece = sock.recv(size - len(data))
        if not piece:
            raise EOFError(f"EOF after {len(data)} of {size} bytes")
        data += piece
    return bytes(data)


def recv_pieces_until_eof(sock: socket.socket, deadline_s: float = IO_DEADLINE_S) -> list[bytes]:
    deadline = time.monotonic() + deadline_s
    pieces: list[bytes] = []
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        piece = sock.recv(65536)
        if not piece:
            return pieces
        pieces.append(piece)
    raise TimeoutError(f"no EOF after {sum(map(len, pieces))} bytes")


def round_trip_s(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start


def assert_closed_by_peer(sock: socket.socket) -> None:
    """The proxy closed this connection (EOF, or a reset if data was in flight)."""
    sock.settimeout(IO_DEADLINE_S)
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


# --- API shape ------------------------------------------------------------------------------


def test_version_listing_and_proxy_fields(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    assert toxiproxy.client.running()
    assert toxiproxy.client.version()
    proxy = toxiproxy.create(echo_server.address)
    assert proxy.enabled is True
    assert not proxy.listen.endswith(":0")  # the chosen port is reported back
    listed = requests.get(f"{toxiproxy.url}/proxies", timeout=IO_DEADLINE_S).json()[proxy.name]
    assert listed == {
        "name": proxy.name,
        "listen": proxy.listen,
        "upstream": echo_server.address,
        "enabled": True,
        "toxics": [],
    }
    shown = requests.get(f"{toxiproxy.url}/proxies/{proxy.name}", timeout=IO_DEADLINE_S)
    assert shown.status_code == 200 and shown.json() == listed
    with connect(proxy) as sock:
        assert round_trip_s(sock) < FAST_S


def test_error_statuses_and_bodies(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    with pytest.raises(ProxyExists):
        toxiproxy.client.create(upstream=echo_server.address, name=proxy.name)
    api = toxiproxy.url

    def expect(response: requests.Response, status: int, message: str) -> None:
        assert response.status_code == status, response.text
        assert response.json() == {"error": message, "status": status}

    duplicate = {"name": proxy.name, "upstream": echo_server.address, "listen": f"{LOOPBACK}:0"}
    expect(requests.post(f"{api}/proxies", json=duplicate, timeout=5), 409, "proxy already exists")
    expect(requests.get(f"{api}/proxies/{proxy.name}_nope", timeout=5), 404, "proxy not found")
    expect(
        requests.post(f"{api}/proxies", json={"name": toxiproxy.name()}, timeout=5),
        400,
        "missing required field: upstream",
    )
    toxics = f"{api}/proxies/{proxy.name}/toxics"
    expect(requests.get(f"{toxics}/missing", timeout=5), 404, "toxic not found")
    expect(requests.delete(f"{toxics}/missing", timeout=5), 404, "toxic not found")
    expect(
        requests.post(toxics, json={"type": "latency", "stream": "sideways"}, timeout=5),
        400,
        "stream was invalid, can be either upstream or downstream",
    )
    expect(requests.post(toxics, json={"type": "no_such_toxic"}, timeout=5), 400, "invalid toxic type")
    created = requests.post(toxics, json={"type": "latency", "attributes": {"latency": 1}}, timeout=5)
    assert created.status_code == 200
    assert created.json()["name"] == "latency_downstream"
    expect(requests.post(toxics, json={"type": "latency"}, timeout=5), 409, "toxic already exists")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("missing")


def test_toxic_listing_update_and_delete(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 1000, "jitter": 0})
    proxy.add_toxic(name="cap", type="limit_data", attributes={"bytes": 1000}, toxicity=0.5)
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_upstream", "cap"}
    assert toxics["cap"].stream == "downstream" and toxics["cap"].toxicity == 0.5
    assert toxics["latency_upstream"].attributes == {"latency": 1000, "jitter": 0}
    url = f"{toxiproxy.url}/proxies/{proxy.name}/toxics/latency_upstream"
    updated = requests.post(url, json={"attributes": {"latency": 0}}, timeout=IO_DEADLINE_S)
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 0, "jitter": 0}
    assert updated.json()["toxicity"] == 1.0
    with connect(proxy) as sock:
        assert round_trip_s(sock) < FAST_S  # the update took effect
    assert proxy.destroy_toxic("cap") and proxy.destroy_toxic("latency_upstream")
    assert proxy.toxics() == {}


# --- toxics, measured -------------------------------------------------------------------------


def test_latency_adds_at_least_the_configured_delay(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    with connect(proxy) as sock:
        assert round_trip_s(sock) < FAST_S
        # Applies to an existing connection...
        proxy.add_toxic(type="latency", attributes={"latency": 300})
        assert 0.3 - SLACK_S <= round_trip_s(sock) < 0.3 + IO_DEADLINE_S
        # ...and stacks with a second toxic in the other direction.
        proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 200})
        assert 0.5 - SLACK_S <= round_trip_s(sock) < 0.5 + IO_DEADLINE_S
        proxy.destroy_toxic("latency_downstream")
        proxy.destroy_toxic("latency_upstream")
        assert round_trip_s(sock) < FAST_S
    with connect(proxy) as fresh:
        assert round_trip_s(fresh) < FAST_S


def test_removing_latency_releases_data_in_flight(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="latency", attributes={"latency": 30_000})
    with connect(proxy) as sock:
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            recv_exactly(sock, 4, deadline_s=0.3)  # held by the toxic
        start = time.monotonic()
        proxy.destroy_toxic("latency_downstream")
        assert recv_exactly(sock, 4) == b"held"
        assert time.monotonic() - start < 2.0  # not the 30 s the toxic asked for


def test_upstream_toxic_leaves_downstream_alone(toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(peer_server.address)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 1000})
    with connect(proxy) as client:
        server = peer_server.accept()
        with server:
            start = time.monotonic()
            server.sendall(b"down")
            assert recv_exactly(client, 4) == b"down"
            down_s = time.monotonic() - start
            assert down_s < FAST_S
            client.sendall(b"up")
            got, up_s = timed(lambda: recv_exactly(server, 2))
            assert got == b"up" and 1.0 - SLACK_S - down_s <= up_s < 1.0 + IO_DEADLINE_S


def test_downstream_timeout_black_holes_only_downstream(
    toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer
) -> None:
    proxy = toxiproxy.create(peer_server.address)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with connect(proxy) as client:
        server = peer_server.accept()
        with server:
            client.sendall(b"request")
            assert recv_exactly(server, 7) == b"request"  # upstream still flows
            server.sendall(b"reply")
            with pytest.raises(TimeoutError):
                recv_exactly(client, 1, deadline_s=0.5)  # dropped, and no EOF: held open
            client.sendall(b"more")
            assert recv_exactly(server, 4) == b"more"


def test_timeout_zero_holds_until_removed_then_closes(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    with connect(proxy) as sock:
        proxy.add_toxic(name="blackhole", type="timeout", attributes={"timeout": 0})
        sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            recv_exactly(sock, 1, deadline_s=0.5)
        # Removal closes the connections whose bytes were dropped (as Toxiproxy does)...
        proxy.destroy_toxic("blackhole")
        assert_closed_by_peer(sock)
    with connect(proxy) as fresh:  # ...and new connections flow normally at once.
        assert round_trip_s(fresh) < FAST_S


def test_timeout_closes_the_connection_after_the_delay(
    toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer
) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 300})
    start = time.monotonic()
    with connect(proxy) as sock:
        sock.sendall(b"dropped")
        assert recv_pieces_until_eof(sock) == []
        assert 0.3 - SLACK_S <= time.monotonic() - start < 0.3 + IO_DEADLINE_S


def test_reset_peer_yields_econnreset(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        sock.settimeout(IO_DEADLINE_S)
        with pytest.raises(ConnectionResetError):
            sock.recv(16)


def test_reset_peer_waits_for_its_timeout(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 400})
    with connect(proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"hello")
        sock.settimeout(IO_DEADLINE_S)
        with pytest.raises(ConnectionResetError):
            sock.recv(16)
        assert 0.4 - SLACK_S <= time.monotonic() - start < 0.4 + IO_DEADLINE_S


def test_bandwidth_limits_throughput(toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(peer_server.address)
    payload = bytes(range(256)) * 400  # 102_400 bytes
    with connect(proxy) as client, peer_server.accept() as server:
        server.sendall(payload)
        assert recv_exactly(client, len(payload)) == payload
        proxy.add_toxic(type="bandwidth", attributes={"rate": 200})  # 200 KB/s -> ~0.51 s
        server.sendall(payload)
        got, elapsed = timed(lambda: recv_exactly(client, len(payload), deadline_s=10))
        assert got == payload
        assert 0.4 <= elapsed < 0.51 + IO_DEADLINE_S
        client.sendall(payload)  # the other direction is not throttled
        _, upstream_s = timed(lambda: recv_exactly(server, len(payload)))
        assert upstream_s < FAST_S


def test_slicer_cuts_data_into_delayed_pieces(toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(peer_server.address)
    proxy.add_toxic(type="slicer", attributes={"average_size": 20, "size_variation": 5, "delay": 20_000})
    payload = bytes(range(200))
    with connect(proxy) as client, peer_server.accept() as server:
        server.sendall(payload)
        server.shutdown(socket.SHUT_WR)
        pieces, elapsed = timed(lambda: recv_pieces_until_eof(client))
        assert b"".join(pieces) == payload
        assert len(pieces) >= 3
        assert elapsed >= 0.1  # at least ~7 slices x 20 ms apart


def test_slow_close_delays_the_close(toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(peer_server.address)
    proxy.add_toxic(type="slow_close", stream="upstream", attributes={"delay": 400})
    with connect(proxy) as client, peer_server.accept() as server:
        client.sendall(b"bye")
        assert recv_exactly(server, 3) == b"bye"
        start = time.monotonic()
        client.shutdown(socket.SHUT_WR)
        assert recv_pieces_until_eof(server) == []
        assert 0.4 - SLACK_S <= time.monotonic() - start < 0.4 + IO_DEADLINE_S


def test_limit_data_closes_after_n_bytes(toxiproxy: ToxiproxyHarness, peer_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(peer_server.address)
    proxy.add_toxic(type="limit_data", attributes={"bytes": 100})
    with connect(proxy) as client, peer_server.accept() as server:
        server.sendall(bytes(300))
        assert b"".join(recv_pieces_until_eof(client)) == bytes(100)


def test_toxicity_zero_never_applies(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    proxy = toxiproxy.create(echo_server.address)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0}, toxicity=0.0)
    for _ in range(3):
        with connect(proxy) as sock:
            assert round_trip_s(sock) < FAST_S


# --- proxy lifecycle --------------------------------------------------------------------------


def test_disable_closes_connections_and_refuses_new_ones(
    toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer
) -> None:
    proxy = toxiproxy.create(echo_server.address)
    sock = connect(proxy)
    with sock:
        assert round_trip_s(sock) < FAST_S
        with proxy.down():
            assert_closed_by_peer(sock)
            with pytest.raises(ConnectionRefusedError):
                connect(proxy)
            shown = requests.get(f"{toxiproxy.url}/proxies/{proxy.name}", timeout=5).json()
            assert shown["enabled"] is False
    with connect(proxy) as again:
        assert round_trip_s(again) < FAST_S


def test_reset_enables_proxies_and_removes_toxics(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    first = toxiproxy.create(echo_server.address)
    second = toxiproxy.create(echo_server.address)
    first.add_toxic(type="timeout", attributes={"timeout": 0})
    second.add_toxic(type="latency", stream="upstream", attributes={"latency": 5000})
    second.disable()
    assert toxiproxy.client.reset()
    for proxy in (first, second):
        shown = requests.get(f"{toxiproxy.url}/proxies/{proxy.name}", timeout=5).json()
        assert shown["enabled"] is True and shown["toxics"] == []
        with connect(proxy) as sock:
            assert round_trip_s(sock) < FAST_S


def test_update_upstream_and_listen(
    toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer, peer_server: LoopbackServer
) -> None:
    proxy = toxiproxy.create(echo_server.address)
    url = f"{toxiproxy.url}/proxies/{proxy.name}"
    reply = requests.post(url, json={"upstream": peer_server.address}, timeout=5)
    assert reply.status_code == 200 and reply.json()["upstream"] == peer_server.address
    with connect(proxy) as client, peer_server.accept() as server:
        client.sendall(b"to peer")
        assert recv_exactly(server, 7) == b"to peer"
    new_listen = f"{LOOPBACK}:{free_port()}"
    reply = requests.post(url, json={"listen": new_listen}, timeout=5)
    assert reply.status_code == 200 and reply.json()["listen"] == new_listen
    proxy.listen = new_listen
    with connect(proxy) as client, peer_server.accept() as server:
        server.sendall(b"moved")
        assert recv_exactly(client, 5) == b"moved"


def test_populate_creates_keeps_and_replaces(
    toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer, peer_server: LoopbackServer
) -> None:
    names = [toxiproxy.name(), toxiproxy.name()]
    wanted = [
        {"name": names[0], "listen": f"{LOOPBACK}:{free_port()}", "upstream": echo_server.address},
        {"name": names[1], "listen": f"{LOOPBACK}:{free_port()}", "upstream": echo_server.address},
    ]
    reply = requests.post(f"{toxiproxy.url}/populate", json=wanted, timeout=5)
    assert reply.status_code == 201
    assert [p["name"] for p in reply.json()["proxies"]] == names
    proxies = toxiproxy.client.proxies()
    proxies[names[0]].add_toxic(type="latency", attributes={"latency": 1})
    proxies[names[1]].add_toxic(type="latency", attributes={"latency": 1})
    # Unchanged entries are left alone (toxics kept); a changed upstream replaces the proxy.
    wanted[1]["upstream"] = peer_server.address
    reply = requests.post(f"{toxiproxy.url}/populate", json=wanted, timeout=5)
    assert reply.status_code == 201
    kept, replaced = reply.json()["proxies"]
    assert len(kept["toxics"]) == 1
    assert replaced["upstream"] == peer_server.address and replaced["toxics"] == []
    # The client library's populate helper works too.
    extra = {"name": toxiproxy.name(), "listen": f"{LOOPBACK}:{free_port()}", "upstream": echo_server.address}
    created = toxiproxy.client.populate([extra])
    assert [p.name for p in created] == [extra["name"]]
    assert toxiproxy.client.populate([extra]) == []  # already present and identical
    with connect(created[0]) as sock:
        assert round_trip_s(sock) < FAST_S


# --- our server only --------------------------------------------------------------------------


@ours_only
def test_proxies_may_only_listen_on_loopback(toxiproxy: ToxiproxyHarness, echo_server: LoopbackServer) -> None:
    reply = requests.post(
        f"{toxiproxy.url}/proxies",
        json={"name": toxiproxy.name(), "listen": "0.0.0.0:0", "upstream": echo_server.address},
        timeout=5,
    )
    assert reply.status_code == 400 and "loopback" in reply.json()["error"]


@ours_only
def test_browsers_are_refused(toxiproxy: ToxiproxyHarness) -> None:
    reply = requests.get(f"{toxiproxy.url}/proxies", headers={"User-Agent": "Mozilla/5.0"}, timeout=5)
    assert reply.status_code == 403


@ours_only
def test_process_helper_starts_and_stops_cleanly() -> None:
    process = FaultProxyProcess(seed=1)
    url = process.start()
    try:
        assert requests.get(f"{url}/version", timeout=5).json()["version"].startswith("2.")
    finally:
        assert process.stop() == 0


@ours_only
async def test_embedded_server_on_the_running_loop() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    loop = asyncio.get_running_loop()
    upstream = await asyncio.start_server(echo, LOOPBACK, 0)
    upstream_port = upstream.sockets[0].getsockname()[1]
    async with FaultProxyServer(f"{LOOPBACK}:0", seed=5) as server, aiohttp.ClientSession(server.url) as http:
        created = await http.post("/proxies", json={"name": "e", "upstream": f"{LOOPBACK}:{upstream_port}"})
        assert created.status == 201
        host, port = (await created.json())["listen"].rsplit(":", 1)
        toxic = await http.post("/proxies/e/toxics", json={"type": "latency", "attributes": {"latency": 200}})
        assert toxic.status == 200
        reader, writer = await asyncio.open_connection(host, int(port))
        start = loop.time()
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), IO_DEADLINE_S) == b"ping"
        assert loop.time() - start >= 0.2 - SLACK_S
        assert (await http.delete("/proxies/e/toxics/latency_downstream")).status == 204
        start = loop.time()
        writer.write(b"pong")
        assert await asyncio.wait_for(reader.readexactly(4), IO_DEADLINE_S) == b"pong"
        assert loop.time() - start < FAST_S
        assert (await http.delete("/proxies/e")).status == 204
        assert await asyncio.wait_for(reader.read(), IO_DEADLINE_S) == b""  # closed with the proxy
        writer.close()
    upstream.close()
    await upstream.wait_closed()


@ours_only
async def test_toxicity_draws_replay_from_the_seed() -> None:
    """A toxic with toxicity 0.5 hits the same connections under the same seed."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def affected_connections(seed: int, upstream_port: int) -> list[bool]:
        async with FaultProxyServer(f"{LOOPBACK}:0", seed=seed) as server, aiohttp.ClientSession(server.url) as http:
            upstream = f"{LOOPBACK}:{upstream_port}"
            created = await http.post("/proxies", json={"name": "p", "upstream": upstream})
            host, port = (await created.json())["listen"].rsplit(":", 1)
            # limit_data 1 on half the connections: those echo one byte, then close.
            toxic = {"type": "limit_data", "toxicity": 0.5, "attributes": {"bytes": 1}}
            assert (await http.post("/proxies/p/toxics", json=toxic)).status == 200
            pattern = []
            for _ in range(16):  # one connection at a time: serials are deterministic
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(b"ab")
                writer.write_eof()  # the echo server closes once it sees the end
                got = await asyncio.wait_for(reader.read(), IO_DEADLINE_S)
                assert got in (b"a", b"ab")
                pattern.append(got == b"a")
                writer.close()
            return pattern

    upstream = await asyncio.start_server(echo, LOOPBACK, 0)
    upstream_port = upstream.sockets[0].getsockname()[1]
    try:
        first = await affected_connections(seed=21, upstream_port=upstream_port)
        again = await affected_connections(seed=21, upstream_port=upstream_port)
        other = await affected_connections(seed=22, upstream_port=upstream_port)
    finally:
        upstream.close()
        await upstream.wait_closed()
    assert first == again
    assert 0 < sum(first) < len(first)  # a mix, as toxicity 0.5 should give
    assert other != first

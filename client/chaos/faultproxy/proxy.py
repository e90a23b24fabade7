"""Proxies (a listener, its upstream, its toxics and live connections) and the
registry of all proxies that the HTTP API edits.

The registry methods take the decoded JSON bodies of the API and return the
JSON it answers with, raising ``ApiError`` for the error replies; ``api.py``
only maps routes onto them. All of it runs on one event loop, and mutations are
serialised by one lock because starting or stopping a listener awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
from collections.abc import Mapping
from typing import Any

from client.chaos.faultproxy import limits
from client.chaos.faultproxy.link import Connection, abort_with_rst
from client.chaos.faultproxy.toxics import (
    ApiError,
    Stream,
    ToxicSet,
    ToxicSpec,
    apply_toxic_update,
    bad_request_body,
    missing_field,
    parse_new_toxic,
    proxy_already_exists,
    proxy_not_found,
)

log = logging.getLogger(__name__)

DEFAULT_PROXY_LISTEN = "127.0.0.1:0"  # Toxiproxy would listen on all interfaces for ""


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port), as Go's net.SplitHostPort."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"address {address}: invalid port") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"address {address}: invalid port")
    return host, port


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Proxy:
    """One named proxy: listens on ``listen`` and forwards to ``upstream`` through toxics."""

    def __init__(self, name: str, listen: str, upstream: str, seed: int, allow_remote_listen: bool):
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.seed = seed
        self.allow_remote_listen = allow_remote_listen
        self.toxics = ToxicSet()
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._serials = itertools.count()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [spec.to_json() for spec in self.toxics.listing()],
        }

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- listener ----------------------------------------------------------------
    async def start(self) -> None:
        """Bind and accept. Raises ApiError (500, as Toxiproxy) if the bind fails."""
        if self.enabled:
            return
        sock = await self._bind()
        self._server = await asyncio.start_server(self._accept, sock=sock, backlog=limits.LISTEN_BACKLOG)
        bound_host, bound_port = sock.getsockname()[:2]
        self.listen = join_host_port(bound_host, bound_port)
        self.enabled = True
        log.info("proxy %s listening on %s -> %s", self.name, self.listen, self.upstream)

    async def _bind(self) -> socket.socket:
        try:
            host, port = split_host_port(self.listen)
        except ValueError as exc:
            raise ApiError(f"listen tcp {exc}", 500) from None
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except OSError as exc:
            raise ApiError(f"listen tcp {self.listen}: {exc}", 500) from None
        family, sock_type, proto, _canon, sockaddr = infos[0]
        if not self.allow_remote_listen and not is_loopback_host(str(sockaddr[0])):
            raise bad_request_body(
                f"listen address {self.listen} is not a loopback address "
                "(start the fault proxy with --allow-remote-listen to permit it)"
            )
        sock = socket.socket(family, sock_type, proto)
        try:
            # As Go's listeners: a re-enabled proxy can rebind its port at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            raise ApiError(f"listen tcp {self.listen}: bind: {exc.strerror or exc}", 500) from None
        return sock

    async def stop(self) -> None:
        """Stop listening and close every connection (Toxiproxy's "down")."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self._connections):
            connection.close()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), limits.CLOSE_FLUSH_TIMEOUT_S)
        log.info("proxy %s stopped", self.name)

    def forget(self, connection: Connection) -> None:
        self._connections.discard(connection)

    async def _accept(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if not self.enabled or len(self._connections) >= limits.MAX_CONNECTIONS_PER_PROXY:
            abort_with_rst(client)
            return
        connection = Connection(self, next(self._serials), client)
        connection.setup_task = asyncio.current_task()
        self._connections.add(connection)
        try:
            host, port = split_host_port(self.upstream)
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), limits.UPSTREAM_CONNECT_TIMEOUT_S
            )
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("proxy %s: cannot reach upstream %s: %s", self.name, self.upstream, exc)
            connection.close()
            return
        if connection.closed:  # the proxy was disabled while we dialled
            upstream_writer.close()
            return
        connection.setup_task = None
        connection.join(
            client_reader,
            upstream_reader,
            upstream_writer,
            {stream: self.toxics.chain(stream) for stream in Stream},
        )

    # -- toxics --------------------------------------------------------------------
    def add_toxic(self, spec: ToxicSpec) -> None:
        order = self.toxics.add(spec)
        for connection in list(self._connections):
            link = connection.links.get(spec.stream)
            if link is not None and not connection.closed:
                link.attach(spec, order)

    def update_toxic(self, spec: ToxicSpec) -> None:
        self.toxics.replace(spec)
        for connection in list(self._connections):
            link = connection.links.get(spec.stream)
            if link is not None:
                link.update(spec)

    def remove_toxic(self, name: str) -> None:
        spec = self.toxics.remove(name)
        for connection in list(self._connections):
            link = connection.links.get(spec.stream)
            if link is not None:
                link.detach(name)

    def remove_all_toxics(self) -> None:
        for spec in self.toxics.listing():
            self.remove_toxic(spec.name)


def _decode_proxy_fields(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request_body("expected a JSON object")
    for key in ("name", "listen", "upstream"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise bad_request_body(f"field {key!r} must be a string")
    name = body.get("name")
    if isinstance(name, str) and len(name) > limits.MAX_NAME_LEN:
        raise bad_request_body(f"proxy name longer than {limits.MAX_NAME_LEN} characters")
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad_request_body("field 'enabled' must be a boolean")
    return body


def _validate_upstream(upstream: str) -> None:
    try:
        split_host_port(upstream)
    except ValueError as exc:
        raise bad_request_body(f"upstream: {exc}") from None


class ProxyRegistry:
    """All proxies of one fault proxy server, edited through the API's operations."""

    def __init__(self, seed: int = 0, allow_remote_listen: bool = False) -> None:
        self.seed = seed
        self.allow_remote_listen = allow_remote_listen
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise proxy_not_found()
        return proxy

    def _new_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        return Proxy(name, listen, upstream, self.seed, self.allow_remote_listen)

    def listing(self) -> dict[str, Any]:
        return {name: proxy.to_json() for name, proxy in self.proxies.items()}

    async def create(self, body: object) -> dict[str, Any]:
        fields = _decode_proxy_fields(body)
        name = fields.get("name") or ""
        upstream = fields.get("upstream") or ""
        if not name:
            raise missing_field("name")
        if not upstream:
            raise missing_field("upstream")
        _validate_upstream(upstream)
        enabled = fields.get("enabled", True)
        async with self.lock:
            if name in self.proxies:
                raise proxy_already_exists()
            if len(self.proxies) >= limits.MAX_PROXIES:
                raise bad_request_body(f"at most {limits.MAX_PROXIES} proxies")
            proxy = self._new_proxy(name, fields.get("listen") or DEFAULT_PROXY_LISTEN, upstream)
            if enabled:
                await proxy.start()
            self.proxies[name] = proxy
            return proxy.to_json()

    async def populate(self, body: object) -> tuple[int, dict[str, Any]]:
        """Create or replace each listed proxy; (status, reply) as Toxiproxy's /populate.

        A proxy whose listen and upstream are unchanged is left alone (toxics and
        connections included); one that differs is stopped and replaced.
        """
        if not isinstance(body, list):
            raise bad_request_body("expected a JSON array of proxies")
        wanted: list[tuple[str, str, str, bool]] = []
        seen: set[str] = set()
        for index, item in enumerate(body, start=1):
            fields = _decode_proxy_fields(item)
            name = fields.get("name") or ""
            upstream = fields.get("upstream") or ""
            if not name:
                raise missing_field(f"name at proxy {index}")
            if not upstream:
                raise missing_field(f"upstream at proxy {index}")
            _validate_upstream(upstream)
            if name in seen:
                raise bad_request_body(f"duplicate proxy name {name!r}")
            seen.add(name)
            listen = fields.get("listen") or DEFAULT_PROXY_LISTEN
            wanted.append((name, listen, upstream, fields.get("enabled", True)))

        applied: list[dict[str, Any]] = []
        async with self.lock:
            for name, listen, upstream, enabled in wanted:
                existing = self.proxies.get(name)
                if existing is not None and existing.listen == listen and existing.upstream == upstream:
                    applied.append(existing.to_json())
                    continue
                if existing is None and len(self.proxies) >= limits.MAX_PROXIES:
                    error = bad_request_body(f"at most {limits.MAX_PROXIES} proxies")
                    return error.status, {**error.to_json(), "proxies": applied}
                if existing is not None:
                    await existing.stop()
                    del self.proxies[name]
                proxy = self._new_proxy(name, listen, upstream)
                try:
                    if enabled:
                        await proxy.start()
                except ApiError as error:
                    return error.status, {**error.to_json(), "proxies": applied}
                self.proxies[name] = proxy
                applied.append(proxy.to_json())
        return 201, {"proxies": applied}

    async def update(self, name: str, body: object) -> dict[str, Any]:
        """Change listen, upstream and/or enabled; a new address restarts the proxy."""
        proxy = self.get(name)
        fields = _decode_proxy_fields(body)
        async with self.lock:
            listen = fields.get("listen") or proxy.listen
            upstream = fields.get("upstream") or proxy.upstream
            enabled = fields.get("enabled", proxy.enabled)
            if upstream != proxy.upstream:
                _validate_upstream(upstream)
            if listen != proxy.listen or upstream != proxy.upstream:
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
            return proxy.to_json()

    async def delete(self, name: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            await proxy.stop()
            proxy.remove_all_toxics()
            del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (``POST /reset``)."""
        async with self.lock:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                proxy.remove_all_toxics()

    async def stop_all(self) -> None:
        async with self.lock:
            for proxy in list(self.proxies.values()):
                await proxy.stop()

    # -- toxics ----------------------------------------------------------------------
    def list_toxics(self, proxy_name: str) -> list[dict[str, Any]]:
        return [spec.to_json() for spec in self.get(proxy_name).toxics.listing()]

    def show_toxic(self, proxy_name: str, toxic_name: str) -> dict[str, Any]:
        return self.get(proxy_name).toxics.get(toxic_name).to_json()

    async def add_toxic(self, proxy_name: str, body: object) -> dict[str, Any]:
        proxy = self.get(proxy_name)
        spec = parse_new_toxic(body)
        async with self.lock:
            proxy.add_toxic(spec)
        return spec.to_json()

    async def update_toxic(self, proxy_name: str, toxic_name: str, body: object) -> dict[str, Any]:
        proxy = self.get(proxy_name)
        async with self.lock:
            spec = apply_toxic_update(proxy.toxics.get(toxic_name), body)
            proxy.update_toxic(spec)
        return spec.to_json()

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        proxy = self.get(proxy_name)
        async with self.lock:
            proxy.remove_toxic(toxic_name)

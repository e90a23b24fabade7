"""One pipelined native-protocol connection (asyncio), used by the SDK and by nodes.

Requests carry ids, so many can be in flight on one connection; responses
are matched by id. When the connection drops, every pending request fails
with ``ConnectionError`` so callers can refresh their map and retry.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl as ssl_module
from collections.abc import Callable
from functools import partial
from typing import Any

from cluster import limits
from cluster.errors import ErrorCode, KeystreamError
from node.protocols.native_codec import (
    FrameDecoder,
    FrameTooLarge,
    decode_response,
    encode_request,
)


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, owner: NativeConnection) -> None:
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._owner._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._on_lost(exc)

    def pause_writing(self) -> None:
        self._owner._can_write.clear()

    def resume_writing(self) -> None:
        self._owner._can_write.set()


class NativeConnection:
    def __init__(self, address: str, max_frame_bytes: int = limits.MAX_FRAME_BYTES) -> None:
        self.address = address
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder(max_frame_bytes)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._closed = False
        self._close_reason: str = ""
        # server-initiated frames (push delivery) carry a negative request id
        self.push_handlers: dict[int, Callable[[int, Any], None]] = {}

    @classmethod
    async def open(
        cls,
        address: str,
        *,
        connect_timeout: float = 5.0,
        ssl: ssl_module.SSLContext | None = None,
        max_frame_bytes: int = limits.MAX_FRAME_BYTES,
        credentials: dict[str, Any] | None = None,
    ) -> NativeConnection:
        """Connect; with ``credentials`` ({"mechanism": "PLAIN", "username", "password"} or
        {"mechanism": "NODE", "token"}), authenticate before returning."""
        host, port = split_address(address)
        conn = cls(address, max_frame_bytes)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _ClientProtocol(conn), host, port, ssl=ssl),
                connect_timeout,
            )
        except TimeoutError:
            raise ConnectionError(f"connect to {address} timed out after {connect_timeout}s") from None
        except OSError as exc:
            raise ConnectionError(f"cannot connect to {address}: {exc.strerror or exc}") from None
        if credentials is not None:
            try:
                await conn.request("authenticate", dict(credentials), timeout=connect_timeout + 5)
            except BaseException:
                await conn.close()
                raise
        return conn  # asyncio and uvloop set TCP_NODELAY on TCP transports

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def request(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = 30.0) -> Any:
        """Send one request and wait for its result (raises KeystreamError or ConnectionError)."""
        fut = self.send(op, args)
        try:
            if timeout is None:
                return await fut
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise KeystreamError(ErrorCode.REQUEST_TIMED_OUT, f"{op} to {self.address} timed out") from None

    def send(self, op: str, args: dict[str, Any] | None = None) -> asyncio.Future[Any]:
        """Queue a request without waiting; the future resolves to its result."""
        if self._closed or self._transport is None:
            raise ConnectionError(f"connection to {self.address} is closed {self._close_reason}".strip())
        request_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        fut.add_done_callback(partial(self._forget, request_id))
        self._transport.write(encode_request(request_id, op, args))
        return fut

    def _forget(self, request_id: int, _fut: asyncio.Future[Any]) -> None:
        self._pending.pop(request_id, None)

    def send_noreply(self, op: str, args: dict[str, Any] | None = None) -> None:
        """Send a request whose handler answers nothing (produce with acks=0)."""
        if self._closed or self._transport is None:
            raise ConnectionError(f"connection to {self.address} is closed {self._close_reason}".strip())
        self._transport.write(encode_request(next(self._ids), op, args))

    async def wait_writable(self) -> None:
        await self._can_write.wait()

    def _on_data(self, data: bytes) -> None:
        self._decoder.feed(data)
        while True:
            try:
                body = self._decoder.next_frame()
            except FrameTooLarge as exc:
                self._fail_all(ConnectionError(f"{self.address} sent an oversized frame: {exc.message}"))
                self.abort()
                return
            if body is None:
                return
            try:
                response = decode_response(body)
            except KeystreamError as exc:
                self._fail_all(ConnectionError(f"{self.address} sent a malformed response: {exc.message}"))
                self.abort()
                return
            if response.request_id < 0:
                handler = self.push_handlers.get(-response.request_id)
                if handler is not None:
                    handler(response.code, response.payload)
                continue
            fut = self._pending.pop(response.request_id, None)
            if fut is None or fut.done():
                continue
            try:
                fut.set_result(response.result())
            except KeystreamError as exc:
                fut.set_exception(exc)

    def _on_lost(self, exc: Exception | None) -> None:
        self._closed = True
        for handler in list(self.push_handlers.values()):
            handler(int(ErrorCode.REQUEST_TIMED_OUT), {"message": "connection lost"})
        self._close_reason = f"({exc})" if exc else ""
        self._can_write.set()
        self._fail_all(ConnectionError(f"connection to {self.address} lost {self._close_reason}".strip()))

    def _fail_all(self, exc: Exception) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)

    def abort(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.abort()
        self._closed = True

    async def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()
        self._closed = True
        self._fail_all(ConnectionError(f"connection to {self.address} closed"))

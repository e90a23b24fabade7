"""The native protocol server: msgpack frames over TCP, pipelined, typed errors.

A handler gets the decoded request and the connection's context and returns
either a result or an awaitable of one. The synchronous part of every
handler runs in arrival order (so appends from one connection keep their
order); what it awaits (replication, long polls) runs concurrently, and each
response is written when ready, matched by request id.

Bad input never takes the node down: an oversized length prefix gets a
``FRAME_TOO_LARGE`` error and the connection is closed (the stream can't be
resynchronised); a frame that is not a valid request gets
``INVALID_REQUEST`` and the connection stays usable; an unknown operation
gets ``UNSUPPORTED_OPERATION``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import ssl as ssl_module
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cluster import limits
from cluster.errors import ErrorCode, KeystreamError
from node.protocols.native_codec import (
    FrameDecoder,
    FrameTooLarge,
    Request,
    decode_request,
    encode_error,
    encode_response,
)

log = logging.getLogger(__name__)

_connection_ids = itertools.count(1)


@dataclass
class ConnectionContext:
    listener: str
    peer: str
    connection_id: int
    principal: str | None = None  # authenticated user (security issue)
    attributes: dict[str, Any] = field(default_factory=dict)
    # Set by handlers that keep pushing to this connection (push delivery).
    push: Callable[[bytes], None] | None = None


Handler = Callable[[Request, ConnectionContext], Any]

# A handler returns this when the client asked for no response (produce with acks=0).
NO_REPLY: Any = object()


class _NativeProtocol(asyncio.Protocol):
    def __init__(self, server: NativeServer) -> None:
        self._server = server
        self._decoder = FrameDecoder(server.max_frame_bytes)
        self._transport: asyncio.Transport | None = None
        self._ctx: ConnectionContext | None = None
        self._in_flight = 0
        self._reading_paused = False
        self._closing = False
        self.last_activity = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        peer_str = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._ctx = ConnectionContext(self._server.listener, peer_str, next(_connection_ids))
        self._ctx.push = self._write
        if len(self._server.connections) >= self._server.max_connections:
            self._write(
                encode_error(0, KeystreamError(ErrorCode.TOO_MANY_CONNECTIONS, "node connection limit reached"))
            )
            transport.close()
            self._closing = True
            return
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._server.connections.discard(self)
        if self._ctx is not None:
            for cb in self._server.on_disconnect:
                try:
                    cb(self._ctx)
                except Exception:
                    log.exception("disconnect callback failed")

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_activity = time.monotonic()
        self._decoder.feed(data)
        while not self._closing:
            try:
                body = self._decoder.next_frame()
            except FrameTooLarge as exc:
                log.warning("native: %s from %s; closing", exc.message, self._ctx and self._ctx.peer)
                self._write(encode_error(0, exc))
                self._close()
                return
            if body is None:
                return
            self._handle(body)

    def _handle(self, body: bytes) -> None:
        try:
            request = decode_request(body)
        except KeystreamError as exc:
            self._write(encode_error(0, exc))
            return
        handler = self._server.handlers.get(request.op)
        if handler is None:
            self._write(
                encode_error(
                    request.request_id,
                    KeystreamError(ErrorCode.UNSUPPORTED_OPERATION, f"unknown operation {request.op!r}"),
                )
            )
            return
        assert self._ctx is not None
        counts = self._server.request_counts  # known ops only: an attacker can't grow it
        counts[request.op] = counts.get(request.op, 0) + 1
        try:
            if self._server.authorize is not None:
                self._server.authorize(request, self._ctx)
            result = handler(request, self._ctx)
        except KeystreamError as exc:
            self._write(encode_error(request.request_id, exc))
            return
        except Exception as exc:
            log.exception("native: %s failed", request.op)
            self._write(encode_error(request.request_id, _internal(exc)))
            return
        if inspect.isawaitable(result):
            self._in_flight += 1
            if self._in_flight >= self._server.max_in_flight and not self._reading_paused:
                self._reading_paused = True
                assert self._transport is not None
                self._transport.pause_reading()
            task = asyncio.ensure_future(result)
            task.add_done_callback(partial(self._finish, request_id=request.request_id, op=request.op))
        elif result is not NO_REPLY:
            self._write(_encode_result(request.request_id, result))

    def _finish(self, task: asyncio.Future[Any], *, request_id: int, op: str) -> None:
        self._in_flight -= 1
        if self._reading_paused and self._in_flight < self._server.max_in_flight // 2 and not self._closing:
            self._reading_paused = False
            assert self._transport is not None
            self._transport.resume_reading()
        if task.cancelled():
            self._write(encode_error(request_id, KeystreamError(ErrorCode.REQUEST_TIMED_OUT, f"{op} was cancelled")))
            return
        exc = task.exception()
        if exc is None:
            result = task.result()
            if result is not NO_REPLY:
                self._write(_encode_result(request_id, result))
        elif isinstance(exc, KeystreamError):
            self._write(encode_error(request_id, exc))
        else:
            log.error("native: %s failed", op, exc_info=exc)
            self._write(encode_error(request_id, _internal(exc)))

    def _write(self, frame: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > self._server.max_output_buffer_bytes:
            log.warning(
                "native: %s exceeded the output buffer limit (%d bytes); closing",
                self._ctx and self._ctx.peer,
                self._server.max_output_buffer_bytes,
            )
            transport.abort()
            self._closing = True

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def idle_for(self, now: float) -> float:
        return 0.0 if self._in_flight else now - self.last_activity


def _encode_result(request_id: int, result: Any) -> bytes:
    try:
        return encode_response(request_id, result)
    except (TypeError, ValueError) as exc:
        log.error("native: cannot encode result: %s", exc)
        return encode_error(request_id, _internal(exc))


def _internal(exc: BaseException) -> KeystreamError:
    return KeystreamError(ErrorCode.UNKNOWN_SERVER_ERROR, f"{type(exc).__name__}: {exc}")


class NativeServer:
    def __init__(
        self,
        listener: str,
        handlers: Mapping[str, Handler],
        *,
        max_frame_bytes: int = limits.MAX_FRAME_BYTES,
        max_in_flight: int = limits.MAX_PIPELINED_REQUESTS,
        max_connections: int = limits.MAX_CONNECTIONS_PER_NODE,
        max_output_buffer_bytes: int = limits.MAX_OUTPUT_BUFFER_BYTES,
        idle_timeout_s: float = limits.CONNECTION_IDLE_TIMEOUT_S,
    ) -> None:
        self.listener = listener
        self.handlers = handlers
        self.max_frame_bytes = max_frame_bytes
        self.max_in_flight = max_in_flight
        self.max_connections = max_connections
        self.max_output_buffer_bytes = max_output_buffer_bytes
        self.idle_timeout_s = idle_timeout_s
        self.connections: set[_NativeProtocol] = set()
        self.on_disconnect: list[Callable[[ConnectionContext], None]] = []
        self.request_counts: dict[str, int] = {}
        # Called before every handler; raises KeystreamError to refuse (node/security.py).
        self.authorize: Callable[[Request, ConnectionContext], None] | None = None
        self._server: asyncio.base_events.Server | None = None
        self._reaper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _NativeProtocol(self), host or None, port, ssl=ssl, reuse_address=True, backlog=1024
        )
        self._reaper = asyncio.create_task(self._reap_idle())

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.idle_timeout_s / 4))
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.idle_for(now) > self.idle_timeout_s:
                    conn._close()

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn._close()
            await self._server.wait_closed()

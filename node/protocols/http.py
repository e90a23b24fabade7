"""The HTTP front end (aiohttp): admin and REST API, health, metrics.

One aiohttp application per listener, so ``/v1/cluster`` answers with the
addresses of the listener the client came through. Feature modules add
their routes with :meth:`HttpFrontEnd.add_routes`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cluster.errors import ErrorCode, KeystreamError

log = logging.getLogger(__name__)

LISTENER_KEY = web.AppKey("listener", str)
SECURITY_KEY = web.AppKey("security", object)
_PRINCIPAL = "principal"

_STATUS = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.INVALID_CONFIG: 400,
    ErrorCode.INVALID_TOPIC: 400,
    ErrorCode.INVALID_PARTITIONS: 400,
    ErrorCode.INVALID_REPLICATION_FACTOR: 400,
    ErrorCode.MESSAGE_TOO_LARGE: 413,
    ErrorCode.FRAME_TOO_LARGE: 413,
    ErrorCode.CORRUPT_MESSAGE: 400,
    ErrorCode.OFFSET_OUT_OF_RANGE: 416,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: 404,
    ErrorCode.GROUP_ID_NOT_FOUND: 404,
    ErrorCode.TOPIC_ALREADY_EXISTS: 409,
    ErrorCode.NON_EMPTY_GROUP: 409,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.AUTHORIZATION_FAILED: 403,
    ErrorCode.UNSUPPORTED_OPERATION: 405,
    ErrorCode.REQUEST_TIMED_OUT: 504,
}


def error_response(exc: KeystreamError) -> web.Response:
    status = _STATUS.get(exc.code, 503 if exc.code.retriable else 500)
    body: dict[str, Any] = {"error": exc.code.name, "message": exc.message}
    if exc.detail is not None:
        body["detail"] = exc.detail
    return web.json_response(body, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except KeystreamError as exc:
        response = error_response(exc)
        if exc.code == ErrorCode.AUTHENTICATION_FAILED:
            response.headers["WWW-Authenticate"] = 'Basic realm="keystream"'
        return response
    except json.JSONDecodeError as exc:
        return error_response(KeystreamError(ErrorCode.INVALID_REQUEST, f"body is not valid JSON: {exc}"))


@web.middleware
async def _authenticate(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """Resolve the caller from ``Authorization`` (Basic or Bearer) before any route runs."""
    security: Any = request.app.get(SECURITY_KEY)
    if security is not None:
        peer = request.remote or ""
        header = request.headers.get("Authorization")
        request[_PRINCIPAL] = await security.http_principal(header, peer) if header else security.anonymous(peer)
    response: web.StreamResponse = await handler(request)
    return response


def principal(request: web.Request) -> Any:
    """The authenticated caller of ``request`` (401 if there is none)."""
    if request.app.get(SECURITY_KEY) is None:
        return None
    found = request.get(_PRINCIPAL)
    if found is None:
        raise KeystreamError(ErrorCode.AUTHENTICATION_FAILED, "authentication required (HTTP Basic or Bearer)")
    return found


def require(request: web.Request, role: str, kind: str, name: str = "") -> None:
    caller = principal(request)
    if caller is not None:
        caller.require(role, kind, name)


RouteAdder = Callable[[web.Application], None]


class HttpFrontEnd:
    def __init__(self) -> None:
        self._route_adders: list[RouteAdder] = []
        self._runners: list[web.AppRunner] = []
        self.security: Any = None

    def add_routes(self, adder: RouteAdder) -> None:
        self._route_adders.append(adder)

    async def start(self, listener: str, host: str, port: int, ssl: Any = None) -> None:
        app = web.Application(middlewares=[_errors, _authenticate], client_max_size=64 * 1024 * 1024)
        app[LISTENER_KEY] = listener
        if self.security is not None:
            app[SECURITY_KEY] = self.security
        for adder in self._route_adders:
            adder(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host or None, port, ssl_context=ssl, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runners.append(runner)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

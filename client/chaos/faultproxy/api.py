"""Toxiproxy's HTTP API (v2) on aiohttp, mapped onto ``ProxyRegistry``.

Routes, status codes and JSON shapes follow Toxiproxy's ``api.go``: creating a
proxy answers 201, creating a toxic 200, deletions and ``/reset`` 204, errors
``{"error": "...", "status": N}`` with N as the HTTP status. Updates accept
POST (what the clients send) and PATCH (what Toxiproxy >= 2.6 prefers).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from client.chaos.faultproxy import limits
from client.chaos.faultproxy.proxy import ProxyRegistry
from client.chaos.faultproxy.toxics import ApiError, bad_request_body

# Toxiproxy >= 2.x API level we implement; "+keystream" tells the two servers apart.
TOXIPROXY_API_VERSION = "2.6.0+keystream"

REGISTRY_KEY = web.AppKey("registry", ProxyRegistry)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data) + "\n", status=status, content_type="application/json")


def _error(error: ApiError) -> web.Response:
    return _json(error.to_json(), status=error.status)


@web.middleware
async def _toxiproxy_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Toxiproxy refuses browsers so a web page cannot drive the proxy (CSRF).
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403)
    try:
        return await handler(request)
    except ApiError as error:
        return _error(error)


async def _body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > limits.API_MAX_BODY_BYTES:
        raise ApiError("request body too large", 413)
    raw = await request.content.read(limits.API_MAX_BODY_BYTES + 1)
    if len(raw) > limits.API_MAX_BODY_BYTES:
        raise ApiError("request body too large", 413)
    if not raw.strip():
        raise bad_request_body("EOF")  # what Go's JSON decoder reports for an empty body
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request_body(str(exc)) from None


def _registry(request: web.Request) -> ProxyRegistry:
    return request.app[REGISTRY_KEY]


async def version(request: web.Request) -> web.Response:
    return web.Response(
        text=json.dumps({"version": TOXIPROXY_API_VERSION}) + "\n",
        content_type="application/json",
        charset="utf-8",
    )


async def proxy_index(request: web.Request) -> web.Response:
    return _json(_registry(request).listing())


async def proxy_create(request: web.Request) -> web.Response:
    return _json(await _registry(request).create(await _body(request)), status=201)


async def populate(request: web.Request) -> web.Response:
    status, reply = await _registry(request).populate(await _body(request))
    return _json(reply, status=status)


async def reset(request: web.Request) -> web.Response:
    await _registry(request).reset()
    return web.Response(status=204)


async def proxy_show(request: web.Request) -> web.Response:
    return _json(_registry(request).get(request.match_info["proxy"]).to_json())


async def proxy_update(request: web.Request) -> web.Response:
    registry = _registry(request)
    name = request.match_info["proxy"]
    registry.get(name)  # 404 before a body error, as Toxiproxy
    return _json(await registry.update(name, await _body(request)))


async def proxy_delete(request: web.Request) -> web.Response:
    await _registry(request).delete(request.match_info["proxy"])
    return web.Response(status=204)


async def toxic_index(request: web.Request) -> web.Response:
    return _json(_registry(request).list_toxics(request.match_info["proxy"]))


async def toxic_create(request: web.Request) -> web.Response:
    registry = _registry(request)
    name = request.match_info["proxy"]
    registry.get(name)
    return _json(await registry.add_toxic(name, await _body(request)))


async def toxic_show(request: web.Request) -> web.Response:
    return _json(_registry(request).show_toxic(request.match_info["proxy"], request.match_info["toxic"]))


async def toxic_update(request: web.Request) -> web.Response:
    registry = _registry(request)
    proxy, toxic = request.match_info["proxy"], request.match_info["toxic"]
    registry.get(proxy).toxics.get(toxic)
    return _json(await registry.update_toxic(proxy, toxic, await _body(request)))


async def toxic_delete(request: web.Request) -> web.Response:
    await _registry(request).remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.Response(status=204)


def build_app(registry: ProxyRegistry) -> web.Application:
    app = web.Application(middlewares=[_toxiproxy_errors], client_max_size=limits.API_MAX_BODY_BYTES)
    app[REGISTRY_KEY] = registry
    app.router.add_get("/version", version)
    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", proxy_index)
    app.router.add_post("/proxies", proxy_create)
    app.router.add_post("/populate", populate)
    app.router.add_get("/proxies/{proxy}", proxy_show)
    app.router.add_post("/proxies/{proxy}", proxy_update)
    app.router.add_patch("/proxies/{proxy}", proxy_update)
    app.router.add_delete("/proxies/{proxy}", proxy_delete)
    app.router.add_get("/proxies/{proxy}/toxics", toxic_index)
    app.router.add_post("/proxies/{proxy}/toxics", toxic_create)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show)
    app.router.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    return app

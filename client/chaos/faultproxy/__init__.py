"""A TCP fault proxy that speaks Toxiproxy's HTTP API (v2).

No Toxiproxy server can be installed where Keystream's chaos tests run, so this
package provides one: the same endpoints, JSON and status codes, so the
``toxiproxy-python`` client (or plain HTTP) drives it unchanged, and the same
tests run against a real Toxiproxy when ``TOXIPROXY_URL`` is set.

- ``FaultProxyServer``: embedded in a running asyncio loop (server.py).
- ``FaultProxyProcess``: in a child process; ``toxiproxy_endpoint()`` picks
  ``$TOXIPROXY_URL`` or starts one (process.py).
- ``python -m client.chaos.faultproxy --listen 127.0.0.1:8474``: the CLI.

Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data
(toxics.py holds their pure arithmetic, link.py the data path).
"""

from client.chaos.faultproxy.process import FaultProxyProcess, host_port_of, toxiproxy_endpoint
from client.chaos.faultproxy.server import FaultProxyServer
from client.chaos.faultproxy.toxics import TOXIC_ATTRIBUTES, ApiError, Stream, ToxicSpec

__all__ = [
    "TOXIC_ATTRIBUTES",
    "ApiError",
    "FaultProxyProcess",
    "FaultProxyServer",
    "Stream",
    "ToxicSpec",
    "host_port_of",
    "toxiproxy_endpoint",
]

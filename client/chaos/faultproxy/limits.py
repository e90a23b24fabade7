"""Named limits of the fault proxy (TigerBeetle style: every bound has a name).

The fault proxy is test tooling, but it still runs unattended for the length of
a chaos run, so every buffer, queue and wait it owns is bounded here.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# --- HTTP API ------------------------------------------------------------------
API_MAX_BODY_BYTES = 1 * MIB  # a request body larger than this is refused (413)
MAX_PROXIES = 1024
MAX_TOXICS_PER_PROXY = 64  # also bounds the recursion depth of a link's toxic chain
MAX_NAME_LEN = 256  # proxy and toxic names

# --- data path -------------------------------------------------------------------
READ_CHUNK_BYTES = 32 * KIB  # one read from a socket (Toxiproxy reads 32 KiB too)
LINK_QUEUE_CHUNKS = 256  # chunks buffered per direction while a toxic holds data
MAX_CONNECTIONS_PER_PROXY = 4096  # further clients are closed on accept
UPSTREAM_CONNECT_TIMEOUT_S = 10.0
CLOSE_FLUSH_TIMEOUT_S = 5.0  # a graceful close that cannot flush by then is aborted
LISTEN_BACKLOG = 512

# --- toxic attributes ------------------------------------------------------------
MAX_ATTRIBUTE_VALUE = 2**63 - 1  # attributes are int64 in Toxiproxy
MAX_SLICES_PER_CHUNK = READ_CHUNK_BYTES  # a slicer never cuts below one byte

# --- the separate-process helper -------------------------------------------------
PROCESS_STARTUP_TIMEOUT_S = 20.0
PROCESS_STOP_TIMEOUT_S = 5.0

"""Every named limit in one place (TigerBeetle style).

Sizes and counts that arrive from the network are checked against these
before anything is allocated. Components take their limit from here so a
reviewer can see the whole envelope of the system at a glance.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# --- native protocol (msgpack frames over TCP) -------------------------------
MAX_FRAME_BYTES = 64 * MIB  # one request or response frame, checked on the length prefix
MAX_PIPELINED_REQUESTS = 1024  # requests in flight on one connection before we stop reading
MAX_CONNECTIONS_PER_NODE = 4096
CONNECTION_IDLE_TIMEOUT_S = 600.0
MAX_OUTPUT_BUFFER_BYTES = 256 * MIB  # a connection whose unsent replies exceed this is closed

# --- raft transport (cluster bus) ---------------------------------------------
MAX_RAFT_FRAME_BYTES = 64 * MIB
RAFT_HANDSHAKE_TIMEOUT_S = 5.0

# --- topics and the log --------------------------------------------------------
MAX_TOPIC_NAME_LEN = 249  # Kafka's limit
MAX_PARTITIONS_PER_TOPIC = 10_000
MAX_REPLICATION_FACTOR = 7
DEFAULT_MAX_MESSAGE_BYTES = 1 * MIB + 12  # Kafka's message.max.bytes default (one batch)
MAX_RECORDS_PER_BATCH = 1_000_000
MAX_FETCH_BYTES = 50 * MIB
DEFAULT_FETCH_MAX_WAIT_MS = 500
MAX_FETCH_WAIT_MS = 60_000

# --- keyspace --------------------------------------------------------------------
SLOT_COUNT = 16384
MAX_KEY_BYTES = 512 * MIB  # Redis's proto-max-bulk-len; configurable lower per cluster
MAX_VALUE_BYTES = 512 * MIB
MAX_COMMAND_ARGS = 1024 * 1024  # RESP multibulk length limit (Redis: 1M elements)

# --- RESP front end ---------------------------------------------------------------
RESP_MAX_BULK_BYTES = 512 * MIB
RESP_MAX_ARRAY_LEN = 1024 * 1024
RESP_MAX_NESTING = 8
RESP_MAX_INLINE_BYTES = 64 * KIB
RESP_MAX_QUERY_BUFFER_BYTES = 1024 * MIB  # Redis's client-query-buffer-limit default (1gb)
PUBSUB_OUTPUT_BUFFER_HARD_BYTES = 32 * MIB  # Redis: client-output-buffer-limit pubsub 32mb

# --- metadata ----------------------------------------------------------------------
MAX_NODES = 64
MAX_METADATA_COMMAND_BYTES = 1 * MIB

# --- log storage (node/storage) ------------------------------------------------------
MAX_BATCH_BYTES = 64 * MIB  # hard ceiling on one stored record batch, whatever max.message.bytes says
MAX_UNCOMPRESSED_BATCH_BYTES = 64 * MIB  # a compressed batch body may not inflate beyond this
MIN_SEGMENT_BYTES = 14  # Kafka's minimum segment.bytes
MAX_SEGMENT_BYTES = 2**31 - 1  # index positions are u32; Kafka caps segment.bytes at Int.MaxValue
MIN_INDEX_INTERVAL_BYTES = 1
MAX_COMPACTION_MAP_KEYS = 1_000_000  # keys one compaction pass holds in memory (Kafka's dedupe buffer)

# --- RESP client side (node/protocols/resp.py) and the partitioner (cluster/partitioner.py) ---
RESP_CLIENT_MAX_AGGREGATE_LEN = 2**32 - 1  # reply decoder: hiredis's default; nothing preallocated
PARTITIONER_HASH_CACHE_ENTRIES = 65_536  # memoised murmur2 of short keys; cleared when full
PARTITIONER_HASH_CACHE_MAX_KEY_BYTES = 64  # longer keys are hashed every time, never held

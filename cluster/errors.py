"""Typed error codes shared by the node, the native protocol and the SDK.

Names follow Kafka's error codes where one exists, so that people who run
Kafka read them without a dictionary. The numeric values are ours and are
part of the native wire protocol: never renumber, only append.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    NONE = 0
    UNKNOWN_SERVER_ERROR = 1
    INVALID_REQUEST = 2
    UNSUPPORTED_OPERATION = 3
    FRAME_TOO_LARGE = 4
    REQUEST_TIMED_OUT = 5
    NOT_CONTROLLER = 6
    STALE_EPOCH = 7  # a compare-and-set against cluster metadata lost the race
    CLUSTER_NOT_READY = 8

    UNKNOWN_TOPIC_OR_PARTITION = 20
    NOT_LEADER = 21
    FENCED_LEADER_EPOCH = 22
    UNKNOWN_LEADER_EPOCH = 23
    OFFSET_OUT_OF_RANGE = 24
    NOT_ENOUGH_REPLICAS = 25
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 26
    CORRUPT_MESSAGE = 27
    MESSAGE_TOO_LARGE = 28
    INVALID_TOPIC = 29
    TOPIC_ALREADY_EXISTS = 30
    INVALID_CONFIG = 31
    INVALID_REPLICATION_FACTOR = 32
    INVALID_PARTITIONS = 33
    DUPLICATE_SEQUENCE = 34
    OUT_OF_ORDER_SEQUENCE = 35
    INVALID_PRODUCER_EPOCH = 36
    UNKNOWN_PRODUCER_ID = 37
    KAFKA_STORAGE_ERROR = 38  # disk full or I/O error on a replica
    REPLICA_NOT_AVAILABLE = 39

    # keyspace: the payload carries the Redis error text
    KEYSPACE_ERROR = 50
    MOVED = 51
    TRYAGAIN = 52
    CLUSTERDOWN = 53

    # consumer groups
    COORDINATOR_NOT_AVAILABLE = 60
    NOT_COORDINATOR = 61
    ILLEGAL_GENERATION = 62
    UNKNOWN_MEMBER_ID = 63
    REBALANCE_IN_PROGRESS = 64
    GROUP_ID_NOT_FOUND = 65
    NON_EMPTY_GROUP = 66

    # security
    AUTHENTICATION_FAILED = 80
    AUTHORIZATION_FAILED = 81
    TOO_MANY_CONNECTIONS = 82

    # the request reached the log but its fate is unknown (leadership moved, timed out):
    # a client may retry only what is idempotent
    OUTCOME_UNKNOWN = 90

    # consumer groups (appended)
    MEMBER_ID_REQUIRED = 67  # first join of a dynamic member: rejoin with the member id in the detail
    FENCED_INSTANCE_ID = 68  # another process joined with this group.instance.id
    INCONSISTENT_GROUP_PROTOCOL = 69
    INVALID_SESSION_TIMEOUT = 70
    GROUP_MAX_SIZE_REACHED = 71
    INVALID_GROUP_ID = 72

    @property
    def retriable(self) -> bool:
        return self in _RETRIABLE

    @property
    def refresh_metadata(self) -> bool:
        """Errors after which a client must refresh its cluster map before retrying."""
        return self in _REFRESH


_RETRIABLE = frozenset(
    {
        ErrorCode.REQUEST_TIMED_OUT,
        ErrorCode.NOT_CONTROLLER,
        ErrorCode.CLUSTER_NOT_READY,
        ErrorCode.NOT_LEADER,
        ErrorCode.FENCED_LEADER_EPOCH,
        ErrorCode.UNKNOWN_LEADER_EPOCH,
        ErrorCode.NOT_ENOUGH_REPLICAS,
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.CORRUPT_MESSAGE,
        ErrorCode.KAFKA_STORAGE_ERROR,
        ErrorCode.REPLICA_NOT_AVAILABLE,
        ErrorCode.MOVED,
        ErrorCode.TRYAGAIN,
        ErrorCode.CLUSTERDOWN,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.NOT_COORDINATOR,
        ErrorCode.REBALANCE_IN_PROGRESS,
    }
)

_REFRESH = frozenset(
    {
        ErrorCode.NOT_CONTROLLER,
        ErrorCode.NOT_LEADER,
        ErrorCode.FENCED_LEADER_EPOCH,
        ErrorCode.UNKNOWN_LEADER_EPOCH,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.REPLICA_NOT_AVAILABLE,
        ErrorCode.MOVED,
        ErrorCode.CLUSTERDOWN,
        ErrorCode.NOT_COORDINATOR,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
    }
)


class KeystreamError(Exception):
    """An error with a typed code; what travels in a native error reply."""

    def __init__(self, code: ErrorCode, message: str = "", detail: Any = None) -> None:
        super().__init__(f"{code.name}: {message}" if message else code.name)
        self.code = code
        self.message = message
        self.detail = detail

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_wire(cls, payload: Any) -> KeystreamError:
        if not isinstance(payload, dict):
            return cls(ErrorCode.UNKNOWN_SERVER_ERROR, f"malformed error payload: {payload!r}")
        raw = payload.get("code", ErrorCode.UNKNOWN_SERVER_ERROR)
        try:
            code = ErrorCode(raw)
        except ValueError:
            code = ErrorCode.UNKNOWN_SERVER_ERROR
        return cls(code, str(payload.get("message", "")), payload.get("detail"))

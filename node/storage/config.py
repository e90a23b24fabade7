"""Per-partition log configuration, with Kafka's topic-config names and defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cluster.limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_BATCH_BYTES,
    MAX_SEGMENT_BYTES,
    MIN_INDEX_INTERVAL_BYTES,
    MIN_SEGMENT_BYTES,
)
from node.storage.errors import InvalidLogConfigError

DAY_MS = 24 * 60 * 60 * 1000
CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete"})


@dataclass(frozen=True)
class LogConfig:
    segment_bytes: int = 1024 * 1024 * 1024
    segment_ms: int = 7 * DAY_MS
    retention_ms: int = 7 * DAY_MS  # -1: keep forever
    retention_bytes: int = -1  # -1: no size limit
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    index_interval_bytes: int = 4096
    cleanup_policy: str = "delete"  # "delete", "compact" or "compact,delete"
    delete_retention_ms: int = DAY_MS  # how long tombstones survive compaction
    min_compaction_lag_ms: int = 0
    min_cleanable_dirty_ratio: float = 0.5

    def __post_init__(self) -> None:
        # "delete,compact" is the same policy as "compact,delete".
        policy = ",".join(sorted(p.strip() for p in self.cleanup_policy.split(",")))
        object.__setattr__(self, "cleanup_policy", policy)
        self.validate()

    @property
    def compact(self) -> bool:
        return "compact" in self.cleanup_policy

    @property
    def delete(self) -> bool:
        return "delete" in self.cleanup_policy

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise InvalidLogConfigError(message)

        need(
            MIN_SEGMENT_BYTES <= self.segment_bytes <= MAX_SEGMENT_BYTES,
            f"segment.bytes={self.segment_bytes} outside [{MIN_SEGMENT_BYTES}, "
            f"{MAX_SEGMENT_BYTES}]",
        )
        need(self.segment_ms >= 1, f"segment.ms={self.segment_ms} must be >= 1")
        need(self.retention_ms >= -1, f"retention.ms={self.retention_ms} must be >= -1")
        need(self.retention_bytes >= -1, f"retention.bytes={self.retention_bytes} must be >= -1")
        need(
            0 < self.max_message_bytes <= MAX_BATCH_BYTES,
            f"max.message.bytes={self.max_message_bytes} outside [1, {MAX_BATCH_BYTES}]",
        )
        need(
            self.index_interval_bytes >= MIN_INDEX_INTERVAL_BYTES,
            f"index.interval.bytes={self.index_interval_bytes} must be >= "
            f"{MIN_INDEX_INTERVAL_BYTES}",
        )
        need(
            self.cleanup_policy in CLEANUP_POLICIES,
            f"cleanup.policy={self.cleanup_policy!r}; use delete, compact or compact,delete",
        )
        need(
            self.delete_retention_ms >= 0,
            f"delete.retention.ms={self.delete_retention_ms} must be >= 0",
        )
        need(
            self.min_compaction_lag_ms >= 0,
            f"min.compaction.lag.ms={self.min_compaction_lag_ms} must be >= 0",
        )
        need(
            0.0 <= self.min_cleanable_dirty_ratio <= 1.0,
            f"min.cleanable.dirty.ratio={self.min_cleanable_dirty_ratio} outside [0, 1]",
        )

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> LogConfig:
        """Build from Kafka-style topic config keys (``{"retention.ms": "60000"}``)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in properties.items():
            name = key.replace(".", "_")
            field = fields.get(name)
            if field is None:
                raise InvalidLogConfigError(f"unknown log config {key!r}")
            try:
                if name == "cleanup_policy":
                    values[name] = str(raw)
                elif name == "min_cleanable_dirty_ratio":
                    values[name] = float(raw)
                else:
                    values[name] = int(raw)
            except (TypeError, ValueError):
                raise InvalidLogConfigError(f"invalid value {raw!r} for {key}") from None
        return cls(**values)

    def to_properties(self) -> dict[str, str]:
        return {
            f.name.replace("_", "."): str(getattr(self, f.name)) for f in dataclasses.fields(self)
        }

"""Typed errors raised by the log storage engine.

Each carries a `cluster.errors.ErrorCode` so the protocol layer can send it to a
client unchanged, and a message that names what was wrong.
"""

from __future__ import annotations

from cluster.errors import ErrorCode, KeystreamError


class CorruptBatchError(KeystreamError):
    """A record batch failed validation (CRC, magic, sizes, counts, body)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CORRUPT_MESSAGE, message)


class OffsetOutOfRangeError(KeystreamError):
    """A read asked for an offset outside [log_start_offset, log_end_offset]."""

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(
            ErrorCode.OFFSET_OUT_OF_RANGE,
            f"offset {offset} is outside the valid range "
            f"[{log_start_offset}, {log_end_offset}]",
            {"log_start_offset": log_start_offset, "log_end_offset": log_end_offset},
        )
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class MessageTooLargeError(KeystreamError):
    """A batch is larger than the log's max.message.bytes."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"record batch of {size} bytes exceeds max.message.bytes={limit}",
            {"size": size, "limit": limit},
        )


class InvalidRecordError(KeystreamError):
    """A well-formed batch the log refuses (e.g. a null key on a compacted topic)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message)


class InvalidLogConfigError(KeystreamError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_CONFIG, message)


class StaleLeaderEpochError(KeystreamError):
    """append_as_leader was called with an epoch older than one already in the log."""

    def __init__(self, epoch: int, latest_epoch: int) -> None:
        super().__init__(
            ErrorCode.FENCED_LEADER_EPOCH,
            f"leader epoch {epoch} is older than the log's latest epoch {latest_epoch}",
            {"latest_epoch": latest_epoch},
        )


class LogStorageError(KeystreamError):
    """An I/O error (disk full, EIO) or a log that was taken offline after one."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.KAFKA_STORAGE_ERROR, message)

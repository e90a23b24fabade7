"""Log storage engine: record batches, segments, indexes, recovery, retention, compaction.

Sans-network and synchronous; see `node.storage.log` for the API and threading
rules and `node.storage.batch` for the record batch format.
"""

from node.storage.batch import (
    BatchHeader,
    BatchView,
    Compression,
    Record,
    build_batch,
    decode_batches,
    decode_records,
    iter_batches,
    parse_header,
    stamp,
    validate_batch,
    validate_produced_batch,
)
from node.storage.cleaner import CompactionStats
from node.storage.config import LogConfig
from node.storage.errors import (
    CorruptBatchError,
    InvalidLogConfigError,
    InvalidRecordError,
    LogStorageError,
    MessageTooLargeError,
    OffsetOutOfRangeError,
    StaleLeaderEpochError,
)
from node.storage.log import AppendInfo, PartitionLog, RecoveryReport

__all__ = [
    "AppendInfo",
    "BatchHeader",
    "BatchView",
    "CompactionStats",
    "Compression",
    "CorruptBatchError",
    "InvalidLogConfigError",
    "InvalidRecordError",
    "LogConfig",
    "LogStorageError",
    "MessageTooLargeError",
    "OffsetOutOfRangeError",
    "PartitionLog",
    "Record",
    "RecoveryReport",
    "StaleLeaderEpochError",
    "build_batch",
    "decode_batches",
    "decode_records",
    "iter_batches",
    "parse_header",
    "stamp",
    "validate_batch",
    "validate_produced_batch",
]

"""What group members and coordinators agree on: keys, names, and the consumer protocol.

The coordinator treats a member's protocol metadata and its assignment as
opaque bytes (Kafka's classic group protocol), so other kinds of groups could
use it. Consumer groups put there, msgpack-encoded:

* a **subscription** per offered assignor: the topics the member wants, the
  partitions it owns now (cooperative rebalancing needs them) and the
  generation it owned them in (to settle two members claiming one partition);
* an **assignment**: the partitions the leader gave the member.

Where a group lives. The coordinator of group ``G`` is the leader of the
keyspace shard owning the hash tag ``{__group:G}``; the group's durable state
is two keys with that tag (so they always live on the coordinator's shard):

* ``{__group:G}:offsets`` a hash ``topic:partition`` -> committed offset;
* ``{__group:G}:meta`` a msgpack string: the last stable generation (members,
  their timeouts and assignments), so a new coordinator after a failover
  knows who was in the group and members carry on without rebalancing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgpack

from client.records import TopicPartition

PROTOCOL_TYPE = "consumer"
MAX_GROUP_ID_LEN = 249
MAX_METADATA_BYTES = 1 << 20  # one member's subscription or assignment
MAX_PROTOCOLS = 16  # assignors one member may offer
MAX_TOPICS_PER_SUBSCRIPTION = 10_000

_TAG_PREFIX = b"{__group:"
_TAG_SUFFIX = b"}"
OFFSETS_SUFFIX = b":offsets"
META_SUFFIX = b":meta"
GROUP_KEY_PATTERN = b"{__group:*}:*"


def validate_group_id(group_id: Any) -> str:
    from cluster.errors import ErrorCode, KeystreamError

    if not isinstance(group_id, str) or not group_id:
        raise KeystreamError(ErrorCode.INVALID_GROUP_ID, "group id must be a non-empty string")
    if len(group_id) > MAX_GROUP_ID_LEN:
        raise KeystreamError(ErrorCode.INVALID_GROUP_ID, f"group id is longer than {MAX_GROUP_ID_LEN} characters")
    if any(c in group_id for c in "{}") or not group_id.isprintable():
        raise KeystreamError(ErrorCode.INVALID_GROUP_ID, "group id may not contain braces or control characters")
    return group_id


def group_tag(group_id: str) -> bytes:
    """``{__group:G}``: the hash tag that places the group on its coordinator's shard."""
    return _TAG_PREFIX + group_id.encode() + _TAG_SUFFIX


def offsets_key(group_id: str) -> bytes:
    return group_tag(group_id) + OFFSETS_SUFFIX


def meta_key(group_id: str) -> bytes:
    return group_tag(group_id) + META_SUFFIX


def group_of_key(key: bytes) -> str | None:
    """The group id of one of the group's keys (None for any other key)."""
    if not key.startswith(_TAG_PREFIX):
        return None
    for suffix in (OFFSETS_SUFFIX, META_SUFFIX):
        if key.endswith(_TAG_SUFFIX + suffix):
            inner = key[len(_TAG_PREFIX) : -len(_TAG_SUFFIX + suffix)]
            try:
                return inner.decode()
            except UnicodeDecodeError:
                return None
    return None


def offset_field(topic: str, partition: int) -> bytes:
    return f"{topic}:{partition}".encode()


def parse_offset_field(field: bytes) -> TopicPartition | None:
    topic, sep, partition = field.decode(errors="replace").rpartition(":")
    if not sep or not topic or not partition.isdigit():
        return None
    return TopicPartition(topic, int(partition))


def _tps(raw: Any) -> tuple[TopicPartition, ...]:
    out = []
    for item in raw or ():
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], int):
            out.append(TopicPartition(item[0], item[1]))
    return tuple(out)


@dataclass(frozen=True)
class Subscription:
    """What one member tells the leader (per offered assignor)."""

    topics: tuple[str, ...]
    owned: tuple[TopicPartition, ...] = ()
    generation: int = -1
    rack: str | None = None

    def encode(self) -> bytes:
        return msgpack.packb(
            {
                "v": 1,
                "topics": list(self.topics),
                "owned": [list(tp) for tp in self.owned],
                "generation": self.generation,
                "rack": self.rack,
            },
            use_bin_type=True,
        )

    @classmethod
    def decode(cls, data: bytes | None) -> Subscription:
        """Lenient: a member with undecodable metadata subscribes to nothing."""
        try:
            raw = msgpack.unpackb(data or b"\x80", raw=False)
        except (ValueError, TypeError, msgpack.UnpackException):
            return cls(())
        if not isinstance(raw, dict):
            return cls(())
        topics = tuple(t for t in raw.get("topics") or () if isinstance(t, str))[:MAX_TOPICS_PER_SUBSCRIPTION]
        generation = raw.get("generation")
        rack = raw.get("rack")
        return cls(
            topics,
            _tps(raw.get("owned")),
            generation if isinstance(generation, int) else -1,
            rack if isinstance(rack, str) else None,
        )


@dataclass(frozen=True)
class Assignment:
    """What the leader gives one member."""

    partitions: tuple[TopicPartition, ...]

    def encode(self) -> bytes:
        return msgpack.packb({"v": 1, "partitions": [list(tp) for tp in self.partitions]}, use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes | None) -> Assignment:
        try:
            raw = msgpack.unpackb(data or b"\x80", raw=False)
        except (ValueError, TypeError, msgpack.UnpackException):
            return cls(())
        if not isinstance(raw, dict):
            return cls(())
        return cls(_tps(raw.get("partitions")))


def sorted_tps(tps: Iterable[TopicPartition]) -> list[TopicPartition]:
    return sorted(tps, key=lambda tp: (tp.topic, tp.partition))

"""The storage of one shard: keys grouped per hash slot, with their expiry times.

``slots[s]`` is a dict ``key -> value`` for the keys of slot ``s`` (``None`` while the slot
is empty) and ``expires[s]`` a dict ``key -> absolute unix ms`` for those with a TTL. One
dict per slot makes COUNTKEYSINSLOT O(1), GETKEYSINSLOT and slot-ordered SCAN cheap, and
lets a whole slot move to another shard later. A value is ``bytes`` (string; a
``bytearray`` once APPEND or SETRANGE changed it, so that repeated appends cost amortised
O(1) as in Redis instead of a copy each), ``dict``
(hash), ``deque`` (list), :class:`SetValue` or :class:`ZSetValue`; collections are never
empty (the last element removed deletes the key).

Keys the cluster keeps for itself (``{__...``, consumer groups' offsets) are tracked in
``internal_keys``: the commands that act on the whole keyspace (DBSIZE, KEYS, SCAN,
RANDOMKEY, FLUSHALL) leave them out, so a user's FLUSHALL never resets a consumer group.

This layer knows nothing about time: whether a key is logically expired is decided by
:class:`~node.keyspace.execution.Execution`, which holds the command's clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Union

from node.keyspace.containers import SetValue, ZSetValue
from node.keyspace.slots import SLOT_COUNT, is_internal_key, key_slot

Value = Union[bytes, bytearray, dict[bytes, bytes], deque[bytes], SetValue, ZSetValue]  # noqa: UP007

TYPE_NAMES: dict[type, bytes] = {
    bytes: b"string",
    bytearray: b"string",  # a string that APPEND/SETRANGE grow in place
    dict: b"hash",
    deque: b"list",
    SetValue: b"set",
    ZSetValue: b"zset",
}


def type_name(value: Value) -> bytes:
    return TYPE_NAMES[type(value)]


class Database:
    __slots__ = ("expires", "internal_keys", "key_count", "slots", "ttl_slots")

    def __init__(self) -> None:
        self.slots: list[dict[bytes, Value] | None] = [None] * SLOT_COUNT
        self.expires: list[dict[bytes, int] | None] = [None] * SLOT_COUNT
        self.key_count = 0
        self.internal_keys: set[bytes] = set()
        # slots that hold at least one key with a TTL: the expiry sweep visits only these
        self.ttl_slots: set[int] = set()

    # --- keys ------------------------------------------------------------------------

    def lookup(self, key: bytes) -> Value | None:
        """The stored value, expired or not."""
        keys = self.slots[key_slot(key)]
        return None if keys is None else keys.get(key)

    def insert(self, key: bytes, value: Value) -> None:
        """Store a value under a key that does not exist."""
        slot = key_slot(key)
        keys = self.slots[slot]
        if keys is None:
            keys = self.slots[slot] = {}
        assert key not in keys, "insert of an existing key"
        keys[key] = value
        self.key_count += 1
        if is_internal_key(key):
            self.internal_keys.add(key)

    def overwrite(self, key: bytes, value: Value, keep_ttl: bool = False) -> None:
        """Store a value under a key, existing or not; its TTL goes unless ``keep_ttl``."""
        slot = key_slot(key)
        keys = self.slots[slot]
        if keys is None:
            keys = self.slots[slot] = {}
        if key not in keys:
            self.key_count += 1
            if is_internal_key(key):
                self.internal_keys.add(key)
        elif not keep_ttl:
            self._drop_expire(slot, key)
        keys[key] = value

    def replace_value(self, key: bytes, value: Value) -> None:
        """Change the value of an existing key in place (TTL kept), e.g. a string edit."""
        keys = self.slots[key_slot(key)]
        assert keys is not None and key in keys
        keys[key] = value

    def delete(self, key: bytes) -> bool:
        slot = key_slot(key)
        keys = self.slots[slot]
        if keys is None or key not in keys:
            return False
        del keys[key]
        if not keys:
            self.slots[slot] = None
        self._drop_expire(slot, key)
        self.key_count -= 1
        if self.internal_keys and is_internal_key(key):
            self.internal_keys.discard(key)
        return True

    @property
    def user_key_count(self) -> int:
        """Keys a user sees (DBSIZE): all but the cluster's internal ones."""
        return self.key_count - len(self.internal_keys)

    def clear(self) -> None:
        self.slots = [None] * SLOT_COUNT
        self.expires = [None] * SLOT_COUNT
        self.ttl_slots = set()
        self.key_count = 0
        self.internal_keys = set()

    def clear_user_keys(self) -> None:
        """FLUSHALL: every key goes except the cluster's internal ones (with their TTLs)."""
        kept = [(key, self.lookup(key), self.expire_at(key)) for key in sorted(self.internal_keys)]
        self.clear()
        for key, value, when in kept:
            assert value is not None, "internal_keys lists a missing key"
            self.insert(key, value)
            if when is not None:
                self.set_expire(key, when)

    # --- TTLs ------------------------------------------------------------------------

    def expire_at(self, key: bytes) -> int | None:
        expires = self.expires[key_slot(key)]
        return None if expires is None else expires.get(key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        slot = key_slot(key)
        expires = self.expires[slot]
        if expires is None:
            expires = self.expires[slot] = {}
            self.ttl_slots.add(slot)
        expires[key] = when_ms

    def remove_expire(self, key: bytes) -> bool:
        return self._drop_expire(key_slot(key), key)

    def _drop_expire(self, slot: int, key: bytes) -> bool:
        expires = self.expires[slot]
        if expires is None or key not in expires:
            return False
        del expires[key]
        if not expires:
            self.expires[slot] = None
            self.ttl_slots.discard(slot)
        return True

    # --- slots -----------------------------------------------------------------------

    def keys_in_slot(self, slot: int) -> dict[bytes, Value]:
        keys = self.slots[slot]
        return {} if keys is None else keys

    def expires_in_slot(self, slot: int) -> dict[bytes, int]:
        expires = self.expires[slot]
        return {} if expires is None else expires

    def count_in_slot(self, slot: int) -> int:
        keys = self.slots[slot]
        return 0 if keys is None else len(keys)

    def non_empty_slots(self) -> Iterator[int]:
        for slot, keys in enumerate(self.slots):
            if keys is not None:
                yield slot

    def iter_items(self) -> Iterator[tuple[bytes, Value]]:
        for keys in self.slots:
            if keys is not None:
                yield from keys.items()

"""What a command handler sees while it runs: the shard's storage, the command's clock and
random source, and whether it may change anything.

Handlers are plain functions ``handler(ex, argv) -> Reply`` that raise
:class:`~node.keyspace.replies.RedisError` to fail. A handler validates everything before
its first change, so a failing command changes nothing.

Expiry is decided here. A key whose expiry time is before ``now_ms`` is *logically*
absent. A read (``mutating=False``) leaves it in place; a write deletes it when it looks
it up (Redis's lazy expiry), which is deterministic because ``now_ms`` is the time carried
in the log record, the same on every replica. Every key a write changes is recorded in
``touched`` (for WATCH and for waking blocked clients).
"""

from __future__ import annotations

import random
from collections import deque
from typing import TypeVar

from node.keyspace.containers import SetValue, ZSetValue
from node.keyspace.database import Database, Value
from node.keyspace.limits import KeyspaceLimits
from node.keyspace.replies import OOM, STRING_TOO_LONG, WRONGTYPE, RedisError
from node.keyspace.slots import key_slot

T = TypeVar("T")


_READ_RNG = random.Random()  # leader-side reads need randomness, not reproducibility


class Execution:
    __slots__ = ("_rng", "_seed", "db", "flushed", "limits", "mutating", "now_ms", "touched")

    def __init__(
        self,
        db: Database,
        now_ms: int,
        seed: int | random.Random | None,
        mutating: bool,
        limits: KeyspaceLimits,
    ) -> None:
        self.db = db
        self.now_ms = now_ms
        self._rng = seed if isinstance(seed, random.Random) else None
        self._seed = seed if isinstance(seed, int) else None
        self.mutating = mutating
        self.limits = limits
        self.touched: list[bytes] = []
        self.flushed = False

    @property
    def rng(self) -> random.Random:
        """The command's random source: seeded from the record (writes), created on first
        use because seeding costs more than most commands."""
        if self._rng is None:
            self._rng = random.Random(self._seed) if self._seed is not None else _READ_RNG
        return self._rng

    # --- lookups (expiry-aware) ------------------------------------------------------

    def get(self, key: bytes) -> Value | None:
        slot = key_slot(key)
        keys = self.db.slots[slot]
        if keys is None:
            return None
        value = keys.get(key)
        if value is None:
            return None
        expires = self.db.expires[slot]
        if expires is not None:
            when = expires.get(key)
            if when is not None and self.now_ms > when:
                if self.mutating:
                    self.db.delete(key)
                    self.touched.append(key)
                return None
        return value

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def get_typed(self, key: bytes, kind: type[T]) -> T | None:
        value = self.get(key)
        if value is None:
            return None
        if type(value) is not kind:
            raise RedisError(WRONGTYPE)
        return value

    def get_string(self, key: bytes) -> bytes | None:
        value = self.get(key)
        if value is None or type(value) is bytes:
            return value
        if type(value) is bytearray:
            return bytes(value)
        raise RedisError(WRONGTYPE)

    def get_string_buffer(self, key: bytes) -> bytes | bytearray | None:
        """The stored string without a copy (APPEND, SETRANGE, STRLEN, GETRANGE)."""
        value = self.get(key)
        if value is None or type(value) is bytes or type(value) is bytearray:
            return value
        raise RedisError(WRONGTYPE)

    def get_hash(self, key: bytes) -> dict[bytes, bytes] | None:
        return self.get_typed(key, dict)

    def get_list(self, key: bytes) -> deque[bytes] | None:
        return self.get_typed(key, deque)

    def get_set(self, key: bytes) -> SetValue | None:
        return self.get_typed(key, SetValue)

    def get_zset(self, key: bytes) -> ZSetValue | None:
        return self.get_typed(key, ZSetValue)

    def ttl_ms(self, key: bytes) -> int | None:
        return self.db.expire_at(key)

    # --- changes ---------------------------------------------------------------------

    def touch(self, key: bytes) -> None:
        """Record that ``key`` was modified (WATCH, blocked clients)."""
        self.touched.append(key)

    def store(self, key: bytes, value: Value, keep_ttl: bool = False) -> None:
        """Set ``key`` to ``value`` (a new key, or a replacement dropping the TTL)."""
        assert self.mutating
        self.db.overwrite(key, value, keep_ttl=keep_ttl)
        self.touched.append(key)

    def store_new(self, key: bytes, value: Value) -> None:
        """Create ``key``, which the command has checked is absent."""
        assert self.mutating
        self.db.insert(key, value)
        self.touched.append(key)

    def delete(self, key: bytes) -> bool:
        assert self.mutating
        if self.db.delete(key):
            self.touched.append(key)
            return True
        return False

    def delete_if_empty(self, key: bytes, value: object) -> None:
        """Collections never stay empty: delete the key when its last element went."""
        if not value:
            self.db.delete(key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.db.set_expire(key, when_ms)

    # --- limits ----------------------------------------------------------------------

    def check_string_size(self, size: int) -> None:
        if size > self.limits.max_value_bytes:
            raise RedisError(STRING_TOO_LONG)

    def check_growth(self, current: int, added: int) -> None:
        if current + added > self.limits.max_elements:
            raise RedisError(OOM)

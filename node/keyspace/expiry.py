"""Active expiry: the leader's sweep that finds keys whose TTL has passed.

Lazy expiry (a key past its time reads as absent; a write record that touches it deletes
it, see execution.py) is not enough: a key nobody touches again would stay in memory
forever. Redis samples random keys with a TTL ten times a second. The leader here calls
:meth:`ActiveExpiry.candidates` on a timer and logs a deletion record for what it returns;
every replica applies that record with ``Keyspace.apply_expiry``, which deletes a key only
if it is still expired at the record's time (a SET may have given it a new life since the
sweep looked).

The sweep walks the per-slot TTL dicts round-robin with a cursor (slot, position), so each
call does bounded work (``max_examined`` entries) and every key with a TTL is examined once
per full round, however the keys are spread. The cursor is leader-local, not replicated.
"""

from __future__ import annotations

import bisect
from itertools import islice

from node.keyspace.database import Database
from node.keyspace.slots import SLOT_COUNT


class ActiveExpiry:
    __slots__ = ("_position", "_slot")

    def __init__(self) -> None:
        self._slot = 0
        self._position = 0

    def candidates(self, db: Database, now_ms: int, limit: int, max_examined: int | None = None) -> list[bytes]:
        """Up to ``limit`` keys whose expiry time is before ``now_ms``, examining at most
        ``max_examined`` TTL entries (default ``20 * limit``) and at most every slot once."""
        budget = max_examined if max_examined is not None else max(20 * limit, 100)
        found: list[bytes] = []
        if not db.ttl_slots:
            return found  # nothing has a TTL: the common case costs nothing
        # Visit only slots holding TTLs, in slot order from the cursor, wrapping once.
        ordered = sorted(db.ttl_slots)
        start = bisect.bisect_left(ordered, self._slot)
        if start == len(ordered) or ordered[start] != self._slot:
            self._position = 0
        for index in range(len(ordered)):
            self._slot = ordered[(start + index) % len(ordered)]
            expires = db.expires[self._slot]
            if expires is not None and self._position < len(expires):
                window = islice(expires.items(), self._position, self._position + budget)
                examined = 0
                for key, when in window:
                    examined += 1
                    if now_ms > when:
                        found.append(key)
                        if len(found) >= limit:
                            break
                self._position += examined
                budget -= examined
                if len(found) >= limit or budget <= 0:
                    return found
            self._position = 0
        self._slot = (self._slot + 1) % SLOT_COUNT
        return found

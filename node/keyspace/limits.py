"""The named limits of one keyspace shard (configurable per cluster).

Checked where data enters the state machine, before anything is changed, so an oversized
command fails whole with Redis's error text and never half-applies:

* a key longer than ``max_key_bytes`` or any other argument longer than
  ``max_value_bytes``, or a string that APPEND/SETRANGE would grow past it:
  ``ERR string exceeds maximum allowed size (proto-max-bulk-len)``;
* a ``denyoom`` command (one that may add data) naming a key that does not exist while the
  shard already holds ``max_keys`` keys, or one that would grow a collection past
  ``max_elements``:
  ``OOM command not allowed when used memory > 'maxmemory'.`` — Redis's reply when it is
  out of memory, which is what these limits stand in for.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.limits import MAX_KEY_BYTES, MAX_VALUE_BYTES


@dataclass(frozen=True, slots=True)
class KeyspaceLimits:
    max_key_bytes: int = MAX_KEY_BYTES
    max_value_bytes: int = MAX_VALUE_BYTES
    max_keys: int = 100_000_000
    max_elements: int = 2**32 - 1  # per hash, list, set or sorted set (Redis: 2**32-1)
    # WATCH: how many recent key modifications are remembered (see watch.py).
    watch_window: int = 100_000

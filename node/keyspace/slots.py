"""Which of the 16384 hash slots a key lives in (Redis Cluster's rule, hash tags included).

The keyspace only needs ``key_slot``; it comes from ``cluster.slots`` so the node, the SDK
and this state machine can never disagree. Swap the import to change the implementation.
"""

from __future__ import annotations

from cluster.slots import SLOT_COUNT, key_slot

__all__ = ["SLOT_COUNT", "key_slot"]

"""Which of the 16384 hash slots a key lives in (Redis Cluster's rule, hash tags included).

The keyspace only needs ``key_slot`` (and which keys are the cluster's own); they come
from ``cluster.slots`` so the node, the SDK and this state machine can never disagree.
Swap the import to change the implementation.
"""

from __future__ import annotations

from cluster.slots import INTERNAL_KEY_PREFIX, SLOT_COUNT, is_internal_key, key_slot

__all__ = ["INTERNAL_KEY_PREFIX", "SLOT_COUNT", "is_internal_key", "key_slot"]

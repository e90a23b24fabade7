"""Consumer groups (Kafka's classic group protocol) on Keystream.

* ``protocol.py``: the keys of a group (``{__group:G}:offsets``, ``{__group:G}:meta``; the hash
  tag puts them, and the coordination, on one keyspace shard), and the consumer protocol's
  subscription and assignment encodings shared by members and the coordinator.
* ``coordinator.py``: one group's membership state machine, sans-I/O (requests and the time
  in; replies and "persist this record" out).
* ``assignors.py``: range, roundrobin and cooperative-sticky, pure; the leader member runs them
  (client-side assignment, as in Kafka).
* ``service.py``: the asyncio shell on every node: native ops, loading groups on the leader of
  their shard, committing offsets and the stable generation's record through the keyspace.

The SDK side is ``client/groups.py`` (``GroupConsumer``, ``GroupAdmin``); the CLI is
``client/cli/group_cmd.py``.
"""

"""Chaos tooling: fault injection and the checkers that judge histories recorded under faults.

- ``faultproxy/``: a Toxiproxy-compatible fault proxy (or ``$TOXIPROXY_URL``).
- ``topology.py``: a local cluster with a proxy per client->node link and per node pair.
- ``nemesis.py``: the seeded fault schedule, applied and healed.
- ``workloads.py``: log, keyspace and consumer-group clients that record every operation.
- ``history.py``: the JSON Lines history.
- ``linearizability.py`` / ``checkers.py``: the verdicts, each with its first counterexample.
- ``report.py``: counts, verdicts, availability per second, recovery after each fault.
- ``runner.py``: one run, start to finish (``keystream chaos``, ``tests/chaos``).
"""

"""Replay a log of random records in this process and print replies and digest.

    python replay.py SEED COUNT

Run by test_determinism.py in a subprocess with another PYTHONHASHSEED: the output must be
byte-identical to the parent's, whatever the hash randomisation.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import apply_record, random_records

from node.keyspace import Keyspace


def replay(seed: int, count: int) -> list[str]:
    keyspace = Keyspace()
    lines = [repr(apply_record(keyspace, record)) for record in random_records(seed, count)]
    lines.append("digest " + keyspace.digest().hex())
    return lines


if __name__ == "__main__":
    print("\n".join(replay(int(sys.argv[1]), int(sys.argv[2]))))

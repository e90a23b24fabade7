"""Running Redis's own ``redis-benchmark`` and reading its CSV output."""

from __future__ import annotations

import csv
import io
import subprocess


def requests_per_second(args: list[str], test: str, timeout: float = 900) -> float:
    """Run ``args`` (a ``redis-benchmark ... --csv`` command line) and return the requests/s
    it reports for ``test`` ("SET", "GET", ...)."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({out.returncode}): {out.stderr[-2000:]}{out.stdout[-2000:]}")
    lines = [line for line in out.stdout.splitlines() if line.startswith('"')]
    for row in csv.reader(io.StringIO("\n".join(lines))):
        if row and row[0] == test:
            return float(row[1])
    raise RuntimeError(f"unexpected redis-benchmark output: {out.stdout[-2000:]}")

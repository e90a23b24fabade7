"""``keystream local`` as a user runs it: ready table, cluster.json, clean stop, same cluster again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from client.local_cluster import free_port_base


def _start(data_dir: Path, base: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "client.cli.main", "local", "--data-dir", str(data_dir), "--base-port", str(base)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Read the output until the 'ready' line (bounded by time and lines)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(lines) < 200:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if " ready in " in line:
            return "".join(lines)
    raise AssertionError("keystream local never became ready:\n" + "".join(lines))


def _node_pids(data_dir: Path) -> list[int]:
    return [int((data_dir / f"node{i}" / ".lock").read_text().split()[0]) for i in (1, 2, 3)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_local_starts_writes_cluster_json_stops_cleanly_and_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    base = free_port_base(4)
    proc = _start(data_dir, base)
    try:
        output = _wait_ready(proc)
        assert "controller" in output and f"127.0.0.1:{base}" in output
        addresses = json.loads((data_dir / "cluster.json").read_text())
        assert set(addresses) == {"1", "2", "3"}
        assert addresses["2"] == {"native": f"127.0.0.1:{base + 10}", "http": f"127.0.0.1:{base + 11}",
                                  "raft": f"127.0.0.1:{base + 13}", "resp": f"127.0.0.1:{base + 12}"}  # fmt: skip
        cluster_id = output.split("cluster ")[-1].split()[0]
        pids = _node_pids(data_dir)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not any(_alive(pid) for pid in pids), "a node outlived keystream local"
        for i in (1, 2, 3):
            assert "stopped" in (data_dir / f"node{i}" / "node.log").read_text().splitlines()[-1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    again = _start(data_dir, base)
    try:
        output = _wait_ready(again)
        assert cluster_id in output, "a second run on the same data directory is the same cluster"
        again.send_signal(signal.SIGINT)
        assert again.wait(timeout=60) == 0
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)

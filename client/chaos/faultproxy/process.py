"""Run the fault proxy in a separate process, or use a real Toxiproxy instead.

``FaultProxyProcess`` starts ``python -m client.chaos.faultproxy`` and waits
(bounded) for the line on which the child announces its API URL; it is what a
test with a blocking client (``toxiproxy-python``) or a chaos run uses.

``toxiproxy_endpoint()`` is the switch every chaos test goes through: if
``TOXIPROXY_URL`` is set it yields that URL (a real Toxiproxy, unchanged tests),
otherwise it starts a ``FaultProxyProcess`` for the duration of the block.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from client.chaos.faultproxy import limits

READY_PREFIX = "faultproxy ready "  # the child's first stdout line: READY_PREFIX + url
TOXIPROXY_URL_ENV = "TOXIPROXY_URL"
_REPO_ROOT = Path(__file__).resolve().parents[3]


class FaultProxyProcess:
    """A fault proxy server in a child process; use as a context manager."""

    def __init__(
        self,
        listen: str = "127.0.0.1:0",
        *,
        seed: int = 0,
        extra_args: Sequence[str] = (),
        startup_timeout_s: float = limits.PROCESS_STARTUP_TIMEOUT_S,
        log_path: Path | None = None,
    ) -> None:
        self.listen = listen
        self.log_path = log_path  # the child's log (stderr) goes here instead of ours
        self.seed = seed
        self.extra_args = list(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.url: str | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> str:
        """Spawn the child and return its API URL once it is accepting requests."""
        if self._process is not None:
            raise RuntimeError("already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(path for path in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if path)
        argv = [
            sys.executable,
            "-m",
            "client.chaos.faultproxy",
            "--listen",
            self.listen,
            "--seed",
            str(self.seed),
            *self.extra_args,
        ]
        # stdout carries only the ready line; logs go to our stderr (or log_path).
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log_file:
                self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env)
        else:
            self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        try:
            self.url = self._read_ready_line()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_ready_line(self) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(remaining):
                    continue
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"fault proxy exited with {process.wait()} before ready")
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
        raise TimeoutError(f"fault proxy not ready within {self.startup_timeout_s} s")

    def stop(self, timeout_s: float = limits.PROCESS_STOP_TIMEOUT_S) -> int | None:
        """Terminate the child (SIGTERM, then SIGKILL after ``timeout_s``); its exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> FaultProxyProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def host_port_of(url: str) -> tuple[str, int]:
    """('127.0.0.1', 8474) from 'http://127.0.0.1:8474' (the toxiproxy-python client wants these)."""
    parts = urlsplit(url if "//" in url else f"http://{url}")
    if parts.hostname is None:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, parts.port or 8474


@contextmanager
def toxiproxy_endpoint(seed: int = 0, env_var: str = TOXIPROXY_URL_ENV, log_path: Path | None = None) -> Iterator[str]:
    """The URL of a Toxiproxy API: ``$TOXIPROXY_URL`` if set, else a fault proxy we start
    (logging to ``log_path`` if given)."""
    external = os.environ.get(env_var, "").strip()
    if external:
        yield external.rstrip("/") if "//" in external else f"http://{external.rstrip('/')}"
        return
    with FaultProxyProcess(seed=seed, log_path=log_path) as process:
        assert process.url is not None
        yield process.url

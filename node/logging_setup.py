"""Structured logs: every line names the node, as text (default) or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path


class _TextFormatter(logging.Formatter):
    def __init__(self, node_id: int) -> None:
        super().__init__()
        self._node = node_id

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{ts}.{int(record.msecs):03d}Z {record.levelname:<7} node={self._node} {record.name}: "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JsonFormatter(logging.Formatter):
    def __init__(self, node_id: int) -> None:
        super().__init__()
        self._node = node_id

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "node": self._node,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_logging(node_id: int, level: str, fmt: str, log_file: Path | None) -> None:
    formatter: logging.Formatter = _JsonFormatter(node_id) if fmt == "json" else _TextFormatter(node_id)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file)
        except OSError:
            pass  # the data-directory check reports this clearly at start-up
        else:
            file_handler.setFormatter(formatter)
            root.addHandler(file_handler)
    root.setLevel(level)
    # pysyncobj logs every reconnect at INFO; keep its warnings.
    logging.getLogger("pysyncobj").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class LogThrottle:
    """At most one log line per key per `interval_s` (sans-I/O: callers pass the time).

    A fault that repeats every few milliseconds (a fetch refused by a full disk) must
    not flood the log; the next line that gets through says how many were held back.
    """

    def __init__(self, interval_s: float = 10.0, max_keys: int = 4096) -> None:
        self.interval_s = interval_s
        self.max_keys = max_keys
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def allow(self, key: object, now: float) -> int | None:
        """None to hold this line back, else how many lines for `key` were held back."""
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if last is None and len(self._last) >= self.max_keys:
            self._last.clear()  # bounded memory; at worst a few extra lines
            self._held.clear()
        self._last[key] = now
        return self._held.pop(key, 0)

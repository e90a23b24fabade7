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

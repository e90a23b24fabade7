"""Small durable files: written to a temp file, fsynced, renamed over, directory fsynced.

A reader therefore sees either the old or the new content, never a torn one.
Readers treat a missing or malformed file as "no checkpoint" and the caller
falls back to the safe, slower path (a full recovery scan or a rebuild).
"""

from __future__ import annotations

import os
import threading

_tmp_counter = 0
_tmp_lock = threading.Lock()
TMP_SUFFIX = ".tmp"


def fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_file_atomically(path: str, data: bytes, *, sync_directory: bool = True) -> None:
    global _tmp_counter
    with _tmp_lock:  # unique temp names: flushes run in worker threads
        _tmp_counter += 1
        tmp_path = f"{path}.{os.getpid()}-{_tmp_counter}{TMP_SUFFIX}"
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_path, path)
    except OSError:
        # A half-written temp file must not keep holding the space a full disk lacks.
        _remove_quietly(tmp_path)
        raise
    if sync_directory:
        fsync_directory(os.path.dirname(path) or ".")


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


# Format of an offset checkpoint: a version line, then the value.
_OFFSET_CHECKPOINT_VERSION = 0


def write_offset_checkpoint(path: str, offset: int) -> None:
    write_file_atomically(path, f"{_OFFSET_CHECKPOINT_VERSION}\n{offset}\n".encode())


def read_offset_checkpoint(path: str) -> int | None:
    """The stored offset, or None when the file is missing or malformed."""
    try:
        with open(path, "rb") as f:
            text = f.read(256).decode("ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if len(lines) < 2 or lines[0] != str(_OFFSET_CHECKPOINT_VERSION):
        return None
    try:
        value = int(lines[1])
    except ValueError:
        return None
    return value if value >= 0 else None

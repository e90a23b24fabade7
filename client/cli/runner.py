"""Running async SDK code from click commands, with errors turned into clean exits."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from cluster.errors import KeystreamError

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when available; typed errors exit 1 with a clear message."""
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    except KeystreamError as exc:
        click.echo(f"error: {exc.code.name}: {exc.message}", err=True)
        sys.exit(1)
    except (ConnectionError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)

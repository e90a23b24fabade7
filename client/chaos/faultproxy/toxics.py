"""Toxic specifications and the pure arithmetic behind each toxic type.

Nothing here touches a socket, a clock or a task: parsing and validating the
JSON the Toxiproxy API accepts, the ordered set of toxics of one proxy, and the
per-type decisions (how long to delay a chunk, how to cut it, how much of it
may still pass). The asyncio data path in ``link.py`` only acts on the answers.

Semantics follow Toxiproxy 2.x (``README.md`` and ``toxics/*.go`` of
Shopify/toxiproxy):

- ``upstream`` is the client -> server direction, ``downstream`` server -> client;
  the default stream is ``downstream``, the default name ``<type>_<stream>``,
  the default toxicity 1.0.
- attributes are integers; missing ones default to 0 and unknown ones are ignored.
- an update may change ``attributes`` (merged over the current ones) and
  ``toxicity``; name, type and stream are fixed once created.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from client.chaos.faultproxy import limits


class Stream(enum.Enum):
    """Direction of data a toxic applies to (Toxiproxy's ``stream`` field)."""

    UPSTREAM = "upstream"  # client -> server
    DOWNSTREAM = "downstream"  # server -> client


# Every toxic type we implement, with its attribute names in Toxiproxy's JSON order.
TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),  # ms
    "bandwidth": ("rate",),  # KB/s (1 KB = 1000 bytes, as in Toxiproxy)
    "slow_close": ("delay",),  # ms
    "timeout": ("timeout",),  # ms; 0 = hold the connection open forever
    "reset_peer": ("timeout",),  # ms before the TCP RST
    "slicer": ("average_size", "size_variation", "delay"),  # bytes, bytes, µs
    "limit_data": ("bytes",),
}


class ApiError(Exception):
    """An error the HTTP API reports as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


# The messages and codes Toxiproxy's api.go uses, so clients that match on them work.
def bad_request_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def missing_field(detail: str) -> ApiError:
    return ApiError(f"missing required field: {detail}", 400)


def proxy_not_found() -> ApiError:
    return ApiError("proxy not found", 404)


def proxy_already_exists() -> ApiError:
    return ApiError("proxy already exists", 409)


def invalid_stream() -> ApiError:
    return ApiError("stream was invalid, can be either upstream or downstream", 400)


def invalid_toxic_type() -> ApiError:
    return ApiError("invalid toxic type", 400)


def toxic_already_exists() -> ApiError:
    return ApiError("toxic already exists", 409)


def toxic_not_found() -> ApiError:
    return ApiError("toxic not found", 404)


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as the API describes it. Immutable: an update makes a new spec."""

    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)

    def attr(self, key: str) -> int:
        return self.attributes.get(key, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream.value,
            "toxicity": self.toxicity,
        }


def _require_object(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request_body("expected a JSON object")
    return body


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request_body(f"field {key!r} must be a string")
    if len(value) > limits.MAX_NAME_LEN:
        raise bad_request_body(f"field {key!r} longer than {limits.MAX_NAME_LEN} characters")
    return value


def _optional_toxicity(body: Mapping[str, Any], default: float) -> float:
    value = body.get("toxicity")
    if value is None:
        return default
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request_body("field 'toxicity' must be a number")
    return float(value)


def _parse_attributes(toxic_type: str, raw: object, base: Mapping[str, int] | None = None) -> dict[str, int]:
    """Known attributes of ``toxic_type`` from ``raw``, over ``base`` (or zeros)."""
    names = TOXIC_ATTRIBUTES[toxic_type]
    parsed = {name: 0 for name in names} if base is None else dict(base)
    if raw is None:
        return parsed
    if not isinstance(raw, Mapping):
        raise bad_request_body("field 'attributes' must be a JSON object")
    for name in names:
        if name not in raw:
            continue
        value = raw[name]
        # Toxiproxy's attributes are int64: 1.5, "10" or true are refused as Go's decoder does.
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request_body(f"attribute {name!r} must be an integer")
        if abs(value) > limits.MAX_ATTRIBUTE_VALUE:
            raise bad_request_body(f"attribute {name!r} out of the int64 range")
        parsed[name] = value
    return parsed


def parse_new_toxic(body: object) -> ToxicSpec:
    """Validate the body of ``POST /proxies/{proxy}/toxics`` into a spec."""
    obj = _require_object(body)
    stream_name = _optional_str(obj, "stream") or Stream.DOWNSTREAM.value
    try:
        stream = Stream(stream_name)
    except ValueError:
        raise invalid_stream() from None
    toxic_type = _optional_str(obj, "type") or ""
    name = _optional_str(obj, "name") or f"{toxic_type}_{stream.value}"
    if toxic_type not in TOXIC_ATTRIBUTES:
        raise invalid_toxic_type()
    return ToxicSpec(
        name=name,
        type=toxic_type,
        stream=stream,
        toxicity=_optional_toxicity(obj, 1.0),
        attributes=_parse_attributes(toxic_type, obj.get("attributes")),
    )


def apply_toxic_update(spec: ToxicSpec, body: object) -> ToxicSpec:
    """The spec after ``POST/PATCH /proxies/{proxy}/toxics/{toxic}`` with ``body``."""
    obj = _require_object(body)
    return replace(
        spec,
        toxicity=_optional_toxicity(obj, spec.toxicity),
        attributes=_parse_attributes(spec.type, obj.get("attributes"), spec.attributes),
    )


class ToxicSet:
    """The toxics of one proxy: unique names, one insertion-ordered chain per stream.

    Each toxic gets an ``order`` number when added; a link runs its toxics in
    increasing order, so a new toxic always joins the end of its chain (as in
    Toxiproxy) and an update keeps the toxic's place.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[int, ToxicSpec]] = {}
        self._next_order = 0

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> ToxicSpec:
        entry = self._by_name.get(name)
        if entry is None:
            raise toxic_not_found()
        return entry[1]

    def order_of(self, name: str) -> int:
        entry = self._by_name.get(name)
        if entry is None:
            raise toxic_not_found()
        return entry[0]

    def add(self, spec: ToxicSpec) -> int:
        """Add ``spec``; returns its order number."""
        if spec.name in self._by_name:
            raise toxic_already_exists()
        if len(self._by_name) >= limits.MAX_TOXICS_PER_PROXY:
            raise bad_request_body(f"a proxy holds at most {limits.MAX_TOXICS_PER_PROXY} toxics")
        order = self._next_order
        self._next_order += 1
        self._by_name[spec.name] = (order, spec)
        return order

    def replace(self, spec: ToxicSpec) -> None:
        order, _old = self._by_name[spec.name]
        self._by_name[spec.name] = (order, spec)

    def remove(self, name: str) -> ToxicSpec:
        entry = self._by_name.pop(name, None)
        if entry is None:
            raise toxic_not_found()
        return entry[1]

    def chain(self, stream: Stream) -> list[tuple[int, ToxicSpec]]:
        """(order, spec) of the toxics on ``stream``, in chain order."""
        return sorted(
            (entry for entry in self._by_name.values() if entry[1].stream is stream),
            key=lambda entry: entry[0],
        )

    def listing(self) -> list[ToxicSpec]:
        """All toxics as the API lists them: the upstream chain, then the downstream one."""
        return [spec for stream in Stream for _order, spec in self.chain(stream)]


# --- per-type decisions ---------------------------------------------------------


def toxicity_applies(toxicity: float, rng: random.Random) -> bool:
    """Whether a toxic acts on one link (one connection, one direction)."""
    return rng.random() < toxicity


def latency_delay_ms(latency_ms: int, jitter_ms: int, rng: random.Random) -> int:
    """``latency`` +/- a uniform ``jitter``; never negative."""
    delay = latency_ms
    if jitter_ms > 0:
        delay += rng.randint(-jitter_ms, jitter_ms)
    return max(0, delay)


BANDWIDTH_PIECE_MS = 100  # a slow link delivers a large chunk in 100 ms pieces, as Toxiproxy


def bandwidth_piece_sizes(length: int, rate_kb_per_s: int) -> list[int]:
    """Cut ``length`` bytes into pieces of at most 100 ms worth at ``rate``.

    Pieces keep a throttled stream flowing smoothly instead of in one late burst.
    A rate <= 0 means unlimited: one piece.
    """
    if rate_kb_per_s <= 0 or length <= 0:
        return [length] if length > 0 else []
    piece = max(1, rate_kb_per_s * BANDWIDTH_PIECE_MS)  # KB/s * ms = bytes
    full, rest = divmod(length, piece)
    return [piece] * full + ([rest] if rest else [])


def bandwidth_transmit_s(size: int, rate_kb_per_s: int) -> float:
    """Seconds ``size`` bytes occupy a link of ``rate`` KB/s."""
    if rate_kb_per_s <= 0:
        return 0.0
    return size / (rate_kb_per_s * 1000.0)


def bandwidth_next_free(now: float, link_free_at: float, size: int, rate_kb_per_s: int) -> float:
    """When a piece sent at ``now`` has left a link that is busy until ``link_free_at``.

    A virtual clock: an idle link earns no credit (no burst after a pause), a
    busy one queues pieces behind each other, so the long-run rate is exact.
    """
    return max(now, link_free_at) + bandwidth_transmit_s(size, rate_kb_per_s)


def slice_sizes(length: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Cut ``length`` bytes into slices of about ``average`` +/- ``variation`` bytes.

    Halve any range longer than ``average + variation`` at a randomly shifted
    midpoint, so slice sizes vary evenly along the chunk (no short tail). The
    cut is clamped inside the range, so even inconsistent attributes terminate.
    """
    average = max(1, average)
    variation = max(0, variation)
    sizes: list[int] = []
    pending = [length] if length > 0 else []
    # Each split yields two shorter non-empty ranges: at most 2 * length iterations.
    for _step in range(2 * length + 1):
        if not pending:
            break
        size = pending.pop()
        if size - average <= variation or size < 2:
            sizes.append(size)
            continue
        shift = rng.randint(-variation, variation) if variation else 0
        cut = min(size - 1, max(1, size // 2 + shift))
        pending.append(size - cut)  # popped after the left part: keeps byte order
        pending.append(cut)
    return sizes


def limit_data_take(limit: int, transmitted: int, length: int) -> tuple[int, bool]:
    """How much of a ``length``-byte chunk may pass, and whether to close after it."""
    remaining = max(0, limit - transmitted)
    take = min(length, remaining)
    return take, transmitted + take >= limit

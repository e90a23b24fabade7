"""Pure parts of the fault proxy: toxic parsing, the toxic set, per-type arithmetic,
address handling and the registry's API logic for proxies that never bind a socket."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.chaos.faultproxy.proxy import (
    ProxyRegistry,
    is_loopback_host,
    join_host_port,
    split_host_port,
)
from client.chaos.faultproxy.toxics import (
    TOXIC_ATTRIBUTES,
    ApiError,
    Stream,
    ToxicSet,
    apply_toxic_update,
    bandwidth_next_free,
    bandwidth_piece_sizes,
    bandwidth_transmit_s,
    latency_delay_ms,
    limit_data_take,
    parse_new_toxic,
    slice_sizes,
    toxicity_applies,
)

# --- parsing ----------------------------------------------------------------------


def test_new_toxic_gets_toxiproxy_defaults() -> None:
    spec = parse_new_toxic({"type": "latency", "attributes": {"latency": 100}})
    assert spec.name == "latency_downstream"
    assert spec.stream is Stream.DOWNSTREAM
    assert spec.toxicity == 1.0
    assert spec.to_json() == {
        "attributes": {"latency": 100, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }


@pytest.mark.parametrize("toxic_type", sorted(TOXIC_ATTRIBUTES))
def test_every_type_parses_with_zeroed_attributes(toxic_type: str) -> None:
    spec = parse_new_toxic({"type": toxic_type, "stream": "upstream", "name": "t"})
    assert spec.attributes == {name: 0 for name in TOXIC_ATTRIBUTES[toxic_type]}
    assert spec.stream is Stream.UPSTREAM


def test_unknown_attributes_are_ignored() -> None:
    spec = parse_new_toxic({"type": "timeout", "attributes": {"timeout": 5, "bogus": "x"}})
    assert spec.attributes == {"timeout": 5}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"type": "latency", "stream": "sideways"}, 400, "stream was invalid"),
        ({"type": "nope"}, 400, "invalid toxic type"),
        ({}, 400, "invalid toxic type"),
        ({"type": "latency", "attributes": {"latency": 1.5}}, 400, "bad request body"),
        ({"type": "latency", "attributes": {"latency": "10"}}, 400, "bad request body"),
        ({"type": "latency", "attributes": {"latency": True}}, 400, "bad request body"),
        ({"type": "latency", "attributes": [1]}, 400, "bad request body"),
        ({"type": "latency", "toxicity": "1"}, 400, "bad request body"),
        ({"type": "latency", "toxicity": True}, 400, "bad request body"),
        ({"type": "latency", "name": 7}, 400, "bad request body"),
        ([{"type": "latency"}], 400, "bad request body"),
        ({"type": "limit_data", "attributes": {"bytes": 2**64}}, 400, "int64"),
    ],
)
def test_invalid_toxics_are_refused_like_toxiproxy(body: object, status: int, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_new_toxic(body)
    assert caught.value.status == status
    assert message in caught.value.message
    assert caught.value.to_json() == {"error": caught.value.message, "status": status}


def test_update_merges_attributes_and_keeps_identity() -> None:
    spec = parse_new_toxic(
        {"type": "latency", "name": "lag", "stream": "upstream", "attributes": {"latency": 100, "jitter": 5}}
    )
    updated = apply_toxic_update(spec, {"attributes": {"jitter": 50}, "name": "ignored", "type": "timeout"})
    assert (updated.name, updated.type, updated.stream) == ("lag", "latency", Stream.UPSTREAM)
    assert updated.attributes == {"latency": 100, "jitter": 50}
    assert updated.toxicity == 1.0
    assert apply_toxic_update(spec, {"toxicity": 0.25}).toxicity == 0.25


# --- the toxic set ------------------------------------------------------------------


def test_toxic_set_orders_chains_and_lists_upstream_first() -> None:
    toxics = ToxicSet()
    for name, stream in [("d1", "downstream"), ("u1", "upstream"), ("d2", "downstream")]:
        toxics.add(parse_new_toxic({"name": name, "type": "latency", "stream": stream}))
    assert [spec.name for _order, spec in toxics.chain(Stream.DOWNSTREAM)] == ["d1", "d2"]
    assert [spec.name for spec in toxics.listing()] == ["u1", "d1", "d2"]
    # An update keeps the toxic's place in its chain.
    toxics.replace(apply_toxic_update(toxics.get("d1"), {"attributes": {"latency": 9}}))
    assert [spec.name for _order, spec in toxics.chain(Stream.DOWNSTREAM)] == ["d1", "d2"]
    assert toxics.get("d1").attr("latency") == 9


def test_toxic_set_conflicts_and_missing() -> None:
    toxics = ToxicSet()
    toxics.add(parse_new_toxic({"name": "x", "type": "timeout"}))
    with pytest.raises(ApiError) as conflict:
        toxics.add(parse_new_toxic({"name": "x", "type": "latency", "stream": "upstream"}))
    assert (conflict.value.status, conflict.value.message) == (409, "toxic already exists")
    toxics.remove("x")
    for operation in (lambda: toxics.get("x"), lambda: toxics.remove("x")):
        with pytest.raises(ApiError) as missing:
            operation()
        assert (missing.value.status, missing.value.message) == (404, "toxic not found")


def test_orders_increase_even_after_removal() -> None:
    toxics = ToxicSet()
    first = toxics.add(parse_new_toxic({"name": "a", "type": "latency"}))
    toxics.remove("a")
    second = toxics.add(parse_new_toxic({"name": "a", "type": "latency"}))
    assert second > first  # a re-added toxic joins the end of live links' chains


# --- per-type arithmetic ---------------------------------------------------------------


def test_toxicity_extremes_and_seeded_fraction() -> None:
    rng = random.Random(7)
    assert not any(toxicity_applies(0.0, rng) for _ in range(1000))
    assert all(toxicity_applies(1.0, rng) for _ in range(1000))
    hits = sum(toxicity_applies(0.3, random.Random(seed)) for seed in range(2000))
    assert 500 < hits < 700


def test_latency_jitter_stays_in_bounds_and_replays() -> None:
    delays = [latency_delay_ms(100, 20, random.Random(seed)) for seed in range(500)]
    assert min(delays) >= 80 and max(delays) <= 120
    assert len(set(delays)) > 10
    assert delays == [latency_delay_ms(100, 20, random.Random(seed)) for seed in range(500)]
    assert latency_delay_ms(100, 0, random.Random(1)) == 100
    assert latency_delay_ms(5, 50, random.Random(3)) >= 0


def test_bandwidth_pieces_are_100ms_worth() -> None:
    assert bandwidth_piece_sizes(25_000, 100) == [10_000, 10_000, 5_000]
    assert bandwidth_piece_sizes(25_000, 0) == [25_000]
    assert bandwidth_piece_sizes(0, 100) == []
    assert bandwidth_transmit_s(10_000, 100) == pytest.approx(0.1)


def test_bandwidth_virtual_clock_queues_but_grants_no_idle_credit() -> None:
    # Busy link: the second piece waits behind the first.
    first = bandwidth_next_free(now=10.0, link_free_at=0.0, size=1000, rate_kb_per_s=10)
    second = bandwidth_next_free(now=10.0, link_free_at=first, size=1000, rate_kb_per_s=10)
    assert (first, second) == (pytest.approx(10.1), pytest.approx(10.2))
    # Idle for a long time: no burst allowance, the piece still takes its time.
    assert bandwidth_next_free(now=50.0, link_free_at=second, size=1000, rate_kb_per_s=10) == (pytest.approx(50.1))


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(min_value=0, max_value=5000),
    average=st.integers(min_value=-5, max_value=600),
    variation=st.integers(min_value=-5, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_slices_cover_the_chunk_in_bounded_pieces(length: int, average: int, variation: int, seed: int) -> None:
    sizes = slice_sizes(length, average, variation, random.Random(seed))
    assert sum(sizes) == length
    assert all(size >= 1 for size in sizes)
    assert all(size <= max(1, average) + max(0, variation) for size in sizes)
    assert sizes == slice_sizes(length, average, variation, random.Random(seed))


def test_slices_vary_around_the_average() -> None:
    sizes = slice_sizes(10_000, 100, 30, random.Random(5))
    assert 60 <= sum(sizes) / len(sizes) <= 130
    assert len(set(sizes)) > 5


@pytest.mark.parametrize(
    ("limit", "sent", "length", "expected"),
    [
        (100, 0, 40, (40, False)),
        (100, 60, 40, (40, True)),
        (100, 80, 40, (20, True)),
        (100, 100, 40, (0, True)),
        (0, 0, 10, (0, True)),
    ],
)
def test_limit_data_take(limit: int, sent: int, length: int, expected: tuple[int, bool]) -> None:
    assert limit_data_take(limit, sent, length) == expected


# --- addresses ------------------------------------------------------------------------


def test_host_port_round_trip() -> None:
    assert split_host_port("127.0.0.1:8474") == ("127.0.0.1", 8474)
    assert split_host_port("[::1]:80") == ("::1", 80)
    assert split_host_port(":0") == ("", 0)
    assert join_host_port("::1", 80) == "[::1]:80"
    for bad in ("127.0.0.1", "::1:80", "h:port", "h:70000"):
        with pytest.raises(ValueError):
            split_host_port(bad)
    assert is_loopback_host("127.3.2.1") and is_loopback_host("::1")
    assert not is_loopback_host("10.0.0.1") and not is_loopback_host("localhost")


# --- registry logic on disabled proxies (no sockets) --------------------------------------


async def test_registry_create_conflict_and_missing_fields() -> None:
    registry = ProxyRegistry()
    created = await registry.create(
        {"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "enabled": False}
    )
    assert created == {
        "name": "db",
        "listen": "127.0.0.1:0",
        "upstream": "127.0.0.1:1",
        "enabled": False,
        "toxics": [],
    }
    cases: list[tuple[object, int, str]] = [
        ({"name": "db", "upstream": "127.0.0.1:1", "enabled": False}, 409, "proxy already exists"),
        ({"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ({"name": "x"}, 400, "missing required field: upstream"),
        ({"name": "x", "upstream": "nocolon"}, 400, "bad request body"),
        ({"name": "x", "upstream": "h:1", "enabled": "yes"}, 400, "bad request body"),
        ("not an object", 400, "bad request body"),
    ]
    for body, status, message in cases:
        with pytest.raises(ApiError) as caught:
            await registry.create(body)
        assert caught.value.status == status and message in caught.value.message


async def test_registry_toxic_crud_on_a_disabled_proxy() -> None:
    registry = ProxyRegistry()
    await registry.create({"name": "p", "upstream": "127.0.0.1:1", "enabled": False})
    added = await registry.add_toxic("p", {"type": "limit_data", "attributes": {"bytes": 10}})
    assert added["name"] == "limit_data_downstream"
    assert registry.get("p").to_json()["toxics"] == [added]
    updated = await registry.update_toxic("p", "limit_data_downstream", {"attributes": {"bytes": 5}})
    assert updated["attributes"] == {"bytes": 5}
    assert registry.show_toxic("p", "limit_data_downstream") == updated
    await registry.remove_toxic("p", "limit_data_downstream")
    assert registry.list_toxics("p") == []
    with pytest.raises(ApiError) as caught:
        await registry.add_toxic("missing", {"type": "latency"})
    assert caught.value.status == 404 and caught.value.message == "proxy not found"


async def test_populate_validates_everything_before_applying() -> None:
    registry = ProxyRegistry()
    bodies: list[tuple[object, str]] = [
        ({"name": "a"}, "bad request body"),
        ([{"name": "a", "upstream": "h:1"}, {"upstream": "h:2"}], "missing required field: name at proxy 2"),
        ([{"name": "a"}], "missing required field: upstream at proxy 1"),
        ([{"name": "a", "upstream": "h:1"}, {"name": "a", "upstream": "h:2"}], "duplicate"),
    ]
    for body, message in bodies:
        with pytest.raises(ApiError) as caught:
            await registry.populate(body)
        assert caught.value.status == 400 and message in caught.value.message
    assert registry.listing() == {}


async def test_populate_keeps_identical_and_replaces_changed_disabled_proxies() -> None:
    registry = ProxyRegistry()
    first = [
        {"name": "a", "listen": "127.0.0.1:0", "upstream": "h:1", "enabled": False},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": "h:2", "enabled": False},
    ]
    status, reply = await registry.populate(first)
    assert status == 201 and [p["name"] for p in reply["proxies"]] == ["a", "b"]
    await registry.add_toxic("a", {"type": "latency"})
    await registry.add_toxic("b", {"type": "latency"})
    second = [first[0], {**first[1], "upstream": "h:3"}]
    status, reply = await registry.populate(second)
    assert status == 201
    a, b = reply["proxies"]
    assert len(a["toxics"]) == 1  # untouched
    assert b["upstream"] == "h:3" and b["toxics"] == []  # replaced

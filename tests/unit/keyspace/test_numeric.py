"""Redis's number parsing and printing (string2ll, strtod, x87 long double)."""

from __future__ import annotations

import math

import pytest

from node.keyspace.numeric import (
    LongDouble,
    parse_double,
    parse_int,
    parse_range_double,
    parse_unsigned_cursor,
)
from node.keyspace.replies import format_double


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"0", 0), (b"-1", -1), (b"9223372036854775807", 2**63 - 1),
     (b"-9223372036854775808", -(2**63)), (b"9223372036854775808", None), (b"-0", None),
     (b"01", None), (b"+1", None), (b" 1", None), (b"1 ", None), (b"", None), (b"1.0", None),
     (b"\xd9\xa1", None)],
)  # fmt: skip
def test_parse_int_is_string2ll(raw: bytes, value: int | None) -> None:
    assert parse_int(raw) == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"1.5", 1.5), (b"-inf", -math.inf), (b"+Infinity", math.inf), (b"0x10", 16.0),
     (b"1e3", 1000.0), (b".5", 0.5), (b"5.", 5.0), (b"nan", None), (b"1e400", None),
     (b"1e-400", None), (b" 1", None), (b"1 ", None), (b"", None), (b"1_0", None),
     (b"4.9e-324", 5e-324)],
)  # fmt: skip
def test_parse_double_is_getDoubleFromObject(raw: bytes, value: float | None) -> None:
    assert parse_double(raw) == value


def test_range_bounds_are_laxer() -> None:
    assert parse_range_double(b"") == 0.0
    assert parse_range_double(b" 2") == 2.0
    assert parse_range_double(b"1e400") == math.inf
    assert parse_range_double(b"nan") is None
    assert parse_range_double(b"1x") is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"0", 0), (b"-1", 2**64 - 1), (b"+7", 7), (b"", 0), (b"18446744073709551616", None),
     (b" 1", None), (b"x", None)],
)  # fmt: skip
def test_scan_cursor_is_strtoul(raw: bytes, value: int | None) -> None:
    assert parse_unsigned_cursor(raw) == value


@pytest.mark.parametrize(
    ("steps", "text"),
    [([b"0.1", b"0.2"], b"0.3"), ([b"10.5", b"0.1"], b"10.6"), ([b"3.0e3"], b"3000"),
     ([b"-0"], b"0"), ([b"5.0e3", b"-5.0e3"], b"0"), ([b"1e-20"], b"0"),
     ([b"0.1"] * 3, b"0.3"), ([b"123456789012345678"], b"123456789012345678")],
)  # fmt: skip
def test_long_double_arithmetic_prints_like_redis(steps: list[bytes], text: bytes) -> None:
    total = LongDouble.from_int(0)
    for step in steps:
        parsed = LongDouble.parse(step)
        assert parsed is not None
        total = total.add(parsed)
    assert total.human() == text


def test_embedded_nul_bytes_follow_each_parser() -> None:
    assert LongDouble.parse(b"1\x00v") is None  # string2ld compares the parsed length
    assert parse_double(b"1\x00v") is None
    assert parse_range_double(b"1\x00v") == 1.0  # zslParseRange stops at the C string's end


def test_long_double_range() -> None:
    assert LongDouble.parse(b"1e4932") is not None  # beyond a double, within a long double
    assert LongDouble.parse(b"1e4933") is None  # overflow
    assert LongDouble.parse(b"1e-4960") is None  # underflow to zero
    big = LongDouble.parse(b"1e4900")
    assert big is not None and len(big.human()) == 4901
    assert not LongDouble.parse(b"1e4932").add(LongDouble.parse(b"1e4932")).is_finite  # type: ignore[arg-type, union-attr]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, b"1"), (0.1, b"0.10000000000000001"), (-0.0, b"-0"), (math.inf, b"inf"),
     (-math.inf, b"-inf"), (1e20, b"1e+20"), (2.5, b"2.5")],
)  # fmt: skip
def test_format_double(value: float, text: bytes) -> None:
    assert format_double(value) == text

"""Number parsing and printing exactly as Redis 7.0 (C, x86-64 glibc) does it.

Replies must match Redis byte for byte, and what Redis accepts as a number is defined by
C library functions, not by Python's ``int()``/``float()``:

* integers (``string2ll``): optional ``-``, no ``+``, no leading zeros, no spaces, no
  ``-0``, signed 64-bit;
* doubles (``strtod``): leading white space, ``inf``/``infinity``/``nan``, hex floats
  (``0x1p3``) and a longest-prefix parse;
* ``INCRBYFLOAT``/``HINCRBYFLOAT`` compute in x87 80-bit ``long double`` and print with
  ``%.17Lf`` and the trailing zeros removed, so ``0.1 + 0.2`` gives ``0.3`` in Redis (it
  would be ``0.30000000000000004`` in doubles). :class:`LongDouble` emulates that
  arithmetic exactly with rationals (64-bit significand, round half to even, 15-bit
  exponent), which is slow but deterministic on every platform, and these two commands
  are rare.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Final

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
UINT64_MAX: Final = 2**64 - 1

# --- integers --------------------------------------------------------------------------


def parse_int(raw: bytes) -> int | None:
    """Redis's ``string2ll``: the int64 that ``raw`` spells exactly, or ``None``."""
    size = len(raw)
    if size == 0 or size > 20:
        return None
    if size == 1:
        return raw[0] - 48 if 48 <= raw[0] <= 57 else None
    if raw[0] == 45:  # '-'
        digits = raw[1:]
        if not digits.isdigit() or digits[0] == 48:
            return None
        value = -int(digits)
        return value if value >= INT64_MIN else None
    if not raw.isdigit() or raw[0] == 48:
        return None
    value = int(raw)
    return value if value <= INT64_MAX else None


def parse_unsigned_cursor(raw: bytes) -> int | None:
    """``strtoul(raw, &end, 10)`` as the SCAN family uses it: optional white space is
    refused up front, a sign is allowed (``-1`` wraps to 2**64-1), an empty string is 0."""
    text = _cstring(raw)
    if text[:1] in _C_SPACE:
        return None
    match = re.fullmatch(rb"([+-]?)(\d*)", text)
    if match is None:
        return None
    sign, digits = match.groups()
    if not digits:
        return 0 if not sign else None
    value = int(digits)
    if value > UINT64_MAX:
        return None
    return (-value) % (2**64) if sign == b"-" else value


def _cstring(raw: bytes) -> bytes:
    """What C string functions see of ``raw``: everything before the first NUL."""
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


# --- strtod ----------------------------------------------------------------------------

_C_SPACE: Final = {b" ", b"\t", b"\n", b"\v", b"\f", b"\r"}
_STRTOD = re.compile(
    rb"""[ \t\n\v\f\r]*
    (?P<sign>[+-]?)
    (?:
        0[xX](?P<hex>(?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))(?:[pP](?P<hexp>[+-]?\d+))?
      | (?P<dec>(?:\d+\.?\d*|\.\d+))(?:[eE](?P<exp>[+-]?\d+))?
      | (?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)
      | (?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)
    )""",
    re.VERBOSE,
)

# Decimal exponents far outside any double or long double: parsed without big numbers.
_HUGE_DECIMAL_EXPONENT: Final = 6000


def _match_strtod(text: bytes) -> re.Match[bytes] | None:
    return _STRTOD.match(text)


def strtod(raw: bytes) -> tuple[float, int, bool]:
    """glibc ``strtod`` on the C string in ``raw``: ``(value, consumed, erange)``.

    ``consumed`` is 0 when nothing parses (value 0.0); ``erange`` is set on overflow (value
    ±inf) and on underflow to zero, the cases Redis checks.
    """
    text = _cstring(raw)
    match = _match_strtod(text)
    if match is None:
        return 0.0, 0, False
    negative = match["sign"] == b"-"
    if match["inf"] is not None:
        return (-math.inf if negative else math.inf), match.end(), False
    if match["nan"] is not None:
        return math.nan, match.end(), False
    try:
        if match["hex"] is not None:
            literal = b"0x" + match["hex"] + b"p" + (match["hexp"] or b"0")
            magnitude = float.fromhex(literal.decode())
        else:
            magnitude = float(match["dec"] + b"e" + (match["exp"] or b"0"))
    except OverflowError:
        magnitude = math.inf
    mantissa = match["hex"] if match["hex"] is not None else match["dec"]
    nonzero = mantissa.strip(b"0.") != b""
    erange = math.isinf(magnitude) or (magnitude == 0.0 and nonzero)
    return (-magnitude if negative else magnitude), match.end(), erange


def _small_exponent(raw: bytes | None) -> int | None:
    """A decimal exponent, or ``None`` when it has too many digits to matter exactly."""
    if not raw:
        return 0
    sign, digits = (raw[:1], raw[1:]) if raw[:1] in (b"+", b"-") else (b"", raw)
    digits = digits.lstrip(b"0") or b"0"
    if len(digits) > 9:
        return None
    return -int(digits) if sign == b"-" else int(digits)


def _int_from_digits(digits: bytes) -> int:
    """``int(digits)`` for any length (Python refuses > 4300 digits by default)."""
    value = 0
    for start in range(0, len(digits), 1000):
        piece = digits[start : start + 1000]
        value = value * 10 ** len(piece) + int(piece)
    return value


def _exact_value(match: re.Match[bytes]) -> Fraction | None:
    """The exact rational the literal spells (``None`` when its exponent is absurd)."""
    if match["hex"] is not None:
        whole, _, fraction = match["hex"].partition(b".")
        mantissa = int(whole + fraction or b"0", 16)
        binary_exponent = _small_exponent(match["hexp"])
        if mantissa == 0:
            return Fraction(0)
        if binary_exponent is None:
            return None
        exponent = binary_exponent - 4 * len(fraction)
        if abs(exponent) > 4 * _HUGE_DECIMAL_EXPONENT:
            return None
        return Fraction(mantissa) * (Fraction(2) ** exponent)
    whole, _, fraction = match["dec"].partition(b".")
    significant = (whole + fraction).lstrip(b"0")
    if not significant:
        return Fraction(0)
    decimal_exponent = _small_exponent(match["exp"])
    if decimal_exponent is None:
        return None
    exponent = decimal_exponent - len(fraction)
    magnitude = exponent + len(significant)
    if magnitude > _HUGE_DECIMAL_EXPONENT or magnitude < -_HUGE_DECIMAL_EXPONENT:
        return None
    digits = _int_from_digits(significant)
    if exponent >= 0:
        return Fraction(digits * 10**exponent)
    return Fraction(digits, 10**-exponent)


def parse_double(raw: bytes) -> float | None:
    """Redis's ``getDoubleFromObject`` (scores, ZINCRBY increments, WEIGHTS): the whole
    argument must parse, no leading space, no overflow or underflow to zero, no NaN."""
    if not raw or raw[:1] in _C_SPACE:
        return None
    value, consumed, erange = strtod(raw)
    if consumed != len(raw) or math.isnan(value):
        return None
    if erange and (math.isinf(value) or value == 0.0):
        return None
    return value


def parse_range_double(raw: bytes) -> float | None:
    """The score bound of ZRANGEBYSCORE and friends (``zslParseRange``): plain ``strtod``
    whose end must be the end of the C string, NaN refused; nothing else is checked
    (so an empty bound is 0 and ``1e999`` is inf, as in Redis)."""
    value, consumed, _ = strtod(raw)
    if consumed != len(_cstring(raw)) or math.isnan(value):
        return None
    return value


# --- long double (x87 80-bit extended precision) -------------------------------------

_LD_MANTISSA_BITS: Final = 64
_LD_MIN_EXPONENT: Final = -16382  # of the smallest normal number, 2**-16382
_LD_MAX: Final = Fraction((2**64 - 1) * 2 ** (16383 - 63))
MAX_LONG_DOUBLE_CHARS: Final = 5 * 1024


class LongDouble:
    """An x87 extended-precision value: a rational that is exactly representable, or
    ±infinity. Only what INCRBYFLOAT needs: parse, add, print."""

    __slots__ = ("value",)

    def __init__(self, value: Fraction | float) -> None:
        self.value = value  # a float only for ±inf

    @property
    def is_finite(self) -> bool:
        return isinstance(self.value, Fraction)

    @classmethod
    def from_int(cls, number: int) -> LongDouble:
        return cls(_round_to_long_double(Fraction(number)))

    @classmethod
    def parse(cls, raw: bytes) -> LongDouble | None:
        """Redis's ``string2ld``: ``strtold`` over the whole argument (an embedded NUL
        fails), no leading space, no overflow, no underflow to zero, no NaN; < 5 KiB."""
        if not raw or len(raw) >= MAX_LONG_DOUBLE_CHARS or raw[:1] in _C_SPACE:
            return None
        match = _match_strtod(raw)  # the whole argument: an embedded NUL fails it
        if match is None or match.end() != len(raw):
            return None
        negative = match["sign"] == b"-"
        if match["nan"] is not None:
            return None
        if match["inf"] is not None:
            return cls(-math.inf if negative else math.inf)
        exact = _exact_value(match)
        if exact is None:
            return None  # overflow (HUGE_VAL) or underflow to zero: both ERANGE
        if exact == 0:
            return cls(Fraction(0))
        rounded = _round_to_long_double(exact)
        if not isinstance(rounded, Fraction) or rounded == 0:
            return None
        return cls(-rounded if negative else rounded)

    def add(self, other: LongDouble) -> LongDouble:
        if isinstance(self.value, Fraction) and isinstance(other.value, Fraction):
            return LongDouble(_round_to_long_double(self.value + other.value))
        total = float(self.value) + float(other.value)  # inf + -inf is nan, as in C
        return LongDouble(total)

    def human(self) -> bytes:
        """``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf``, trailing zeros and a trailing
        dot removed, ``-0`` printed as ``0``."""
        if not isinstance(self.value, Fraction):
            return b"inf" if self.value > 0 else b"-inf"
        scaled = self.value * 10**17
        units = _round_half_even(abs(scaled))
        negative = scaled < 0
        whole, fraction = divmod(units, 10**17)
        text = f"{_decimal_digits(whole)}.{fraction:017d}".rstrip("0").rstrip(".")
        if negative:
            text = "-" + text
        if text == "-0":
            text = "0"
        return text.encode()


def _decimal_digits(number: int) -> str:
    """``str(number)`` for non-negative ints of any size (long doubles reach 4933 digits,
    beyond Python's default int-to-str limit), in 1000-digit pieces."""
    pieces: list[str] = []
    while number >= 10**1000:
        number, piece = divmod(number, 10**1000)
        pieces.append(f"{piece:01000d}")
    pieces.append(str(number))
    return "".join(reversed(pieces))


def _round_half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def _round_to_long_double(value: Fraction) -> Fraction | float:
    """Round to the nearest extended-precision value (ties to even); ±inf on overflow."""
    if value == 0:
        return Fraction(0)
    negative = value < 0
    magnitude = -value if negative else value
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    quantum_exponent = max(exponent, _LD_MIN_EXPONENT) - (_LD_MANTISSA_BITS - 1)
    quantum = Fraction(2) ** quantum_exponent
    rounded = _round_half_even(magnitude / quantum) * quantum
    if rounded > _LD_MAX:
        return -math.inf if negative else math.inf
    return -rounded if negative else rounded


# --- misc ------------------------------------------------------------------------------


def format_int(number: int) -> bytes:
    return b"%d" % number

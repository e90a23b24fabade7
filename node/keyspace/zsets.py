"""Sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD,
ZCOUNT, ZLEXCOUNT, ZRANGE (BYSCORE/BYLEX/REV/LIMIT/WITHSCORES) and its legacy forms,
ZRANGESTORE, ZRANK, ZREVRANK, ZPOPMIN, ZPOPMAX, ZREMRANGEBY{SCORE,RANK,LEX},
ZUNION/ZINTER/ZDIFF and their STORE forms (WEIGHTS, AGGREGATE), ZINTERCARD, ZSCAN,
ZRANDMEMBER (Redis 7.0's t_zset.c). Sorted sets are
:class:`~node.keyspace.containers.ZSetValue` (a dict plus a ``SortedList``: O(log N)
updates and rank queries, O(log N + M) ranges)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.containers import SCORE_BYTES, SetValue, ZSetValue, score_prefix
from node.keyspace.execution import Execution
from node.keyspace.hashes import parse_random_count, parse_scan_options, random_positions
from node.keyspace.numeric import format_int, parse_range_double
from node.keyspace.replies import (
    MIN_MAX_NOT_FLOAT,
    MIN_MAX_NOT_LEX,
    SCORE_NAN,
    SYNTAX,
    WEIGHT_NOT_FLOAT,
    WRONGTYPE,
    PairArray,
    RedisError,
    Reply,
    format_double,
)
from node.keyspace.scan import glob_matcher, scan_batch

LONG_MAX = 2**63 - 1

# Redis keeps sorted sets of up to 128 members in a listpack and scans it linearly for
# BYLEX ranges. On sets whose members do not all share a score (where Redis documents
# the result as unspecified), a linear scan and a binary search disagree; we scan small
# sets linearly so that even those replies equal Redis's.
LISTPACK_MAX_ENTRIES = 128


def _stored(score: float) -> float:
    """The score as Redis 7.0 stores it in a listpack (every sorted set up to 128 members):
    -0 becomes 0 (``d2string`` prints it as the integer 0). Replies computed before storing
    (ZADD INCR, ZUNION) still show -0, as Redis's do."""
    return score + 0.0


# --- ZADD ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _AddFlags:
    nx: bool = False
    xx: bool = False
    gt: bool = False
    lt: bool = False
    ch: bool = False
    incr: bool = False


def _zadd_generic(ex: Execution, argv: list[bytes], incr: bool) -> Reply:
    key = argv[1]
    flags = _AddFlags(incr=incr)
    index = 2
    while index < len(argv):
        opt = option(argv[index])
        if opt in (b"nx", b"xx", b"gt", b"lt", b"ch", b"incr"):
            setattr(flags, opt.decode(), True)
            index += 1
        else:
            break
    elements = len(argv) - index
    if elements % 2 or not elements:
        raise RedisError(SYNTAX)
    pairs = elements // 2
    if flags.nx and flags.xx:
        raise RedisError("ERR XX and NX options at the same time are not compatible")
    if (flags.gt and flags.nx) or (flags.lt and flags.nx) or (flags.gt and flags.lt):
        raise RedisError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if flags.incr and pairs > 1:
        raise RedisError("ERR INCR option supports a single increment-element pair")
    scores = [arguments.double(argv[index + 2 * i]) for i in range(pairs)]
    members = [argv[index + 2 * i + 1] for i in range(pairs)]
    current = ex.get_zset(key)
    if current is None and flags.xx:
        return None if flags.incr else 0
    # Plan every change before making any, so a NaN (INCR on an opposite infinity) or a
    # limit fails the whole command with nothing applied.
    planned: dict[bytes, float] = {}
    added = updated = processed = 0
    last_score: float | None = None
    for score, member in zip(scores, members, strict=True):
        existing = planned.get(member)
        if existing is None and current is not None:
            existing = current.score(member)
        if existing is not None:
            if flags.nx:
                continue
            if flags.incr:
                score += existing
                if math.isnan(score):
                    raise RedisError(SCORE_NAN)
            if (flags.lt and score >= existing) or (flags.gt and score <= existing):
                continue
            last_score = score
            processed += 1
            if score != existing:
                planned[member] = score
                updated += 1
        elif not flags.xx:
            planned[member] = score
            last_score = score
            processed += 1
            added += 1
    size = 0 if current is None else len(current)
    ex.check_growth(size, added)
    if current is None:
        current = ZSetValue()
        for member, score in planned.items():
            current.set(member, _stored(score))
        if len(current):
            ex.store_new(key, current)
    elif planned:
        for member, score in planned.items():
            current.set(member, _stored(score))
    if planned:
        ex.touch(key)
    if flags.incr:
        return last_score if processed else None
    return added + updated if flags.ch else added


def zadd(ex: Execution, argv: list[bytes]) -> Reply:
    return _zadd_generic(ex, argv, incr=False)


def zincrby(ex: Execution, argv: list[bytes]) -> Reply:
    return _zadd_generic(ex, argv, incr=True)


# --- simple reads and writes --------------------------------------------------------------


def zrem(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = ex.get_zset(key)
    if current is None:
        return 0
    removed = sum(1 for member in argv[2:] if current.remove(member))
    if removed:
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return removed


def zscore(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_zset(argv[1])
    return None if current is None else current.score(argv[2])


def zmscore(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_zset(argv[1])
    if current is None:
        return [None for _ in argv[2:]]
    return [current.score(member) for member in argv[2:]]


def zcard(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_zset(argv[1])
    return 0 if current is None else len(current)


def _rank(ex: Execution, argv: list[bytes], reverse: bool) -> Reply:
    current = ex.get_zset(argv[1])
    if current is None:
        return None
    rank = current.rank(argv[2])
    if rank is None:
        return None
    return len(current) - 1 - rank if reverse else rank


def zrank(ex: Execution, argv: list[bytes]) -> Reply:
    return _rank(ex, argv, reverse=False)


def zrevrank(ex: Execution, argv: list[bytes]) -> Reply:
    return _rank(ex, argv, reverse=True)


# --- ranges -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreRange:
    low: float
    high: float
    low_exclusive: bool
    high_exclusive: bool

    @classmethod
    def parse(cls, low: bytes, high: bytes) -> ScoreRange:
        """``zslParseRange``: ``(`` makes a bound exclusive."""
        bounds: list[tuple[float, bool]] = []
        for raw in (low, high):
            exclusive = raw[:1] == b"("
            value = parse_range_double(raw[1:] if exclusive else raw)
            if value is None:
                raise RedisError(MIN_MAX_NOT_FLOAT)
            bounds.append((value, exclusive))
        (low_value, low_ex), (high_value, high_ex) = bounds
        return cls(low_value, high_value, low_ex, high_ex)

    def is_empty(self) -> bool:
        return self.low > self.high or (self.low == self.high and (self.low_exclusive or self.high_exclusive))

    def span(self, zset: ZSetValue) -> tuple[int, int]:
        """Ranks [start, stop) of the members in range (by bisection on sort keys)."""
        if self.is_empty():
            return 0, 0
        start = zset.bisect_left(_after(self.low) if self.low_exclusive else score_prefix(self.low))
        if self.high_exclusive:
            stop = zset.bisect_left(score_prefix(self.high))
        else:
            stop = zset.bisect_left(_after(self.high))
        return start, max(start, stop)


def _after(score: float) -> bytes:
    """The smallest 8-byte prefix above every sort key with this score."""
    # Never overflows: the largest prefix in use, +inf's, is far below 2**64 - 1.
    return (int.from_bytes(score_prefix(score), "big") + 1).to_bytes(SCORE_BYTES, "big")


_MIN_LEX = object()
_MAX_LEX = object()


@dataclass(frozen=True, slots=True)
class LexRange:
    low: bytes | object
    high: bytes | object
    low_exclusive: bool
    high_exclusive: bool

    @classmethod
    def parse(cls, low: bytes, high: bytes) -> LexRange:
        """``zslParseLexRange``: ``[`` inclusive, ``(`` exclusive, ``-``/``+`` infinite."""
        parsed: list[tuple[bytes | object, bool]] = []
        for raw in (low, high):
            head = raw[:1]
            if head == b"+" and raw[1:2] in (b"", b"\0"):
                parsed.append((_MAX_LEX, True))
            elif head == b"-" and raw[1:2] in (b"", b"\0"):
                parsed.append((_MIN_LEX, True))
            elif head == b"(":
                parsed.append((raw[1:], True))
            elif head == b"[":
                parsed.append((raw[1:], False))
            else:
                raise RedisError(MIN_MAX_NOT_LEX)
        (low_value, low_ex), (high_value, high_ex) = parsed
        return cls(low_value, high_value, low_ex, high_ex)

    @staticmethod
    def _compare(a: bytes | object, b: bytes | object) -> int:
        """``sdscmplex``: the infinities compare below/above everything."""
        if a is b:
            return 0
        if a is _MIN_LEX or b is _MAX_LEX:
            return -1
        if a is _MAX_LEX or b is _MIN_LEX:
            return 1
        assert isinstance(a, bytes) and isinstance(b, bytes)
        return (a > b) - (a < b)

    def is_empty(self) -> bool:
        cmp = self._compare(self.low, self.high)
        return cmp > 0 or (cmp == 0 and (self.low_exclusive or self.high_exclusive))

    def above_low(self, member: bytes) -> bool:
        cmp = self._compare(member, self.low)
        return cmp > 0 if self.low_exclusive else cmp >= 0

    def below_high(self, member: bytes) -> bool:
        cmp = self._compare(member, self.high)
        return cmp < 0 if self.high_exclusive else cmp <= 0

    def span(self, zset: ZSetValue) -> tuple[int, int]:
        """Ranks [start, stop) of the members in range, walking forward from the first
        member at or above ``low`` as Redis does (see LISTPACK_MAX_ENTRIES)."""
        size = len(zset)
        if self.is_empty() or size == 0:
            return 0, 0
        if not self.above_low(_member(zset.key_at(size - 1))) or not self.below_high(_member(zset.key_at(0))):
            return 0, 0
        start = self._first_at_or_above_low(zset)
        stop = start
        while stop < size and self.below_high(_member(zset.key_at(stop))):
            stop += 1
        return start, stop

    def reverse_span(self, zset: ZSetValue) -> tuple[int, int]:
        """Ranks (start, stop] walking backward from the last member at or below ``high``:
        returned as [start, stop) over ascending ranks."""
        size = len(zset)
        if self.is_empty() or size == 0:
            return 0, 0
        if not self.above_low(_member(zset.key_at(size - 1))) or not self.below_high(_member(zset.key_at(0))):
            return 0, 0
        last = self._last_at_or_below_high(zset)
        if last < 0:
            return 0, 0
        first = last
        while first >= 0 and self.above_low(_member(zset.key_at(first))):
            first -= 1
        return first + 1, last + 1

    def _first_at_or_above_low(self, zset: ZSetValue) -> int:
        size = len(zset)
        if size <= LISTPACK_MAX_ENTRIES:
            for rank, sort_key in enumerate(zset.iter_keys()):
                if self.above_low(_member(sort_key)):
                    return rank if self.below_high(_member(sort_key)) else size
            return size
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            if self.above_low(_member(zset.key_at(middle))):
                high = middle
            else:
                low = middle + 1
        return low

    def _last_at_or_below_high(self, zset: ZSetValue) -> int:
        size = len(zset)
        if size <= LISTPACK_MAX_ENTRIES:
            for rank in range(size - 1, -1, -1):
                member = _member(zset.key_at(rank))
                if self.below_high(member):
                    return rank if self.above_low(member) else -1
            return -1
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            if self.below_high(_member(zset.key_at(middle))):
                low = middle + 1
            else:
                high = middle
        return low - 1


def _member(sort_key: bytes) -> bytes:
    return sort_key[SCORE_BYTES:]


@dataclass(slots=True)
class _RangeRequest:
    kind: str  # "rank", "score" or "lex"
    reverse: bool
    withscores: bool
    offset: int
    limit: int
    low: bytes
    high: bytes


def _parse_range(argv: list[bytes], first: int, store: bool, kind: str, reverse: bool | None) -> _RangeRequest:
    """``zrangeGenericCommand`` steps 1-2: options after ``<src> <min> <max>``."""
    withscores = False
    offset, limit = 0, -1
    j = first + 3
    while j < len(argv):
        opt = option(argv[j])
        left = len(argv) - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = arguments.integer(argv[j + 1])
            limit = arguments.integer(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif kind == "auto" and opt == b"bylex":
            kind = "lex"
        elif kind == "auto" and opt == b"byscore":
            kind = "score"
        else:
            raise RedisError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    if kind == "auto":
        kind = "rank"
    if limit != -1 and kind == "rank":
        raise RedisError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and kind == "lex":
        raise RedisError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    low, high = argv[first + 1], argv[first + 2]
    if reverse and kind in ("score", "lex"):
        low, high = high, low
    return _RangeRequest(kind, reverse, withscores, offset, limit, low, high)


def _select(zset: ZSetValue, request: _RangeRequest) -> list[bytes]:
    """The sort keys a validated range request selects, in reply order."""
    size = len(zset)
    if request.kind == "rank":
        bounds = _rank_bounds(int(request.low), int(request.high), size)
        if bounds is None:
            return []
        start, end = bounds
        if request.reverse:
            return list(zset.keys_between(size - 1 - end, size - start, reverse=True))
        return list(zset.keys_between(start, end + 1))
    if request.kind == "score":
        score_range = ScoreRange.parse(request.low, request.high)
        start, stop = score_range.span(zset)
    else:
        lex_range = LexRange.parse(request.low, request.high)
        start, stop = lex_range.reverse_span(zset) if request.reverse else lex_range.span(zset)
    if request.offset < 0 or (request.offset > 0 and request.offset >= size):
        return []
    keys: Iterator[bytes] = zset.keys_between(start, stop, reverse=request.reverse)
    stop_at = None if request.limit < 0 else request.offset + request.limit
    return list(islice(keys, request.offset, stop_at))


def _rank_bounds(start: int, end: int, size: int) -> tuple[int, int] | None:
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


def _validate_bounds(request: _RangeRequest) -> None:
    if request.kind == "rank":
        request.low = format_int(arguments.integer(request.low))
        request.high = format_int(arguments.integer(request.high))
    elif request.kind == "score":
        ScoreRange.parse(request.low, request.high)
    else:
        LexRange.parse(request.low, request.high)


def _with_scores(zset: ZSetValue, keys: list[bytes], withscores: bool) -> Reply:
    if withscores:
        return PairArray([(_member(key), zset.score_of_key(key)) for key in keys])
    return [_member(key) for key in keys]


def _range_command(ex: Execution, argv: list[bytes], kind: str, reverse: bool | None) -> Reply:
    request = _parse_range(argv, 1, store=False, kind=kind, reverse=reverse)
    _validate_bounds(request)
    current = ex.get_zset(argv[1])
    if current is None:
        return []
    return _with_scores(current, _select(current, request), request.withscores)


def zrange(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "auto", None)


def zrevrange(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "rank", True)


def zrangebyscore(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "score", False)


def zrevrangebyscore(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "score", True)


def zrangebylex(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "lex", False)


def zrevrangebylex(ex: Execution, argv: list[bytes]) -> Reply:
    return _range_command(ex, argv, "lex", True)


def zrangestore(ex: Execution, argv: list[bytes]) -> Reply:
    target = argv[1]
    request = _parse_range(argv, 2, store=True, kind="auto", reverse=None)
    _validate_bounds(request)
    source = ex.get_zset(argv[2])
    selected = [] if source is None else _select(source, request)
    if source is None or not selected:
        ex.delete(target)
        return 0
    result = ZSetValue()
    for sort_key in selected:
        result.set(_member(sort_key), source.score_of_key(sort_key))
    ex.store(target, result)
    return len(result)


def zcount(ex: Execution, argv: list[bytes]) -> Reply:
    score_range = ScoreRange.parse(argv[2], argv[3])
    current = ex.get_zset(argv[1])
    if current is None:
        return 0
    start, stop = score_range.span(current)
    return stop - start


def zlexcount(ex: Execution, argv: list[bytes]) -> Reply:
    lex_range = LexRange.parse(argv[2], argv[3])
    current = ex.get_zset(argv[1])
    if current is None:
        return 0
    start, stop = lex_range.span(current)
    return stop - start


def _remove_range(ex: Execution, argv: list[bytes], kind: str) -> Reply:
    key = argv[1]
    if kind == "rank":
        start_rank = arguments.integer(argv[2])
        end_rank = arguments.integer(argv[3])
    elif kind == "score":
        score_range = ScoreRange.parse(argv[2], argv[3])
    else:
        lex_range = LexRange.parse(argv[2], argv[3])
    current = ex.get_zset(key)
    if current is None:
        return 0
    if kind == "rank":
        bounds = _rank_bounds(start_rank, end_rank, len(current))
        if bounds is None:
            return 0
        start, stop = bounds[0], bounds[1] + 1
    elif kind == "score":
        start, stop = score_range.span(current)
    else:
        start, stop = lex_range.span(current)
    doomed = [_member(sort_key) for sort_key in current.keys_between(start, stop)]
    for member in doomed:
        current.remove(member)
    if doomed:
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return len(doomed)


def zremrangebyrank(ex: Execution, argv: list[bytes]) -> Reply:
    return _remove_range(ex, argv, "rank")


def zremrangebyscore(ex: Execution, argv: list[bytes]) -> Reply:
    return _remove_range(ex, argv, "score")


def zremrangebylex(ex: Execution, argv: list[bytes]) -> Reply:
    return _remove_range(ex, argv, "lex")


# --- popping --------------------------------------------------------------------------------


def _pop(ex: Execution, argv: list[bytes], reverse: bool) -> Reply:
    if len(argv) > 3:
        raise RedisError(SYNTAX)
    count = arguments.positive_integer(argv[2]) if len(argv) == 3 else -1
    key = argv[1]
    current = ex.get_zset(key)
    if current is None or count == 0:
        return []
    taken = current.first_n(1 if count == -1 else count, reverse=reverse)
    pairs = [(_member(sort_key), current.score_of_key(sort_key)) for sort_key in taken]
    for member, _ in pairs:
        current.remove(member)
    ex.touch(key)
    ex.delete_if_empty(key, current)
    if count == -1:
        member, score = pairs[0]
        return [member, score]
    return PairArray(list(pairs))


def zpopmin(ex: Execution, argv: list[bytes]) -> Reply:
    return _pop(ex, argv, reverse=False)


def zpopmax(ex: Execution, argv: list[bytes]) -> Reply:
    return _pop(ex, argv, reverse=True)


# --- set operations ------------------------------------------------------------------------


def _aggregate_sum(total: float, value: float) -> float:
    result = total + value
    return 0.0 if math.isnan(result) else result


def _aggregate_min(total: float, value: float) -> float:
    return value if value < total else total


def _aggregate_max(total: float, value: float) -> float:
    return value if value > total else total


_AGGREGATES: dict[bytes, Callable[[float, float], float]] = {
    b"sum": _aggregate_sum,
    b"min": _aggregate_min,
    b"max": _aggregate_max,
}


def _source_items(source: ZSetValue | SetValue) -> Iterator[tuple[bytes, float]]:
    if isinstance(source, ZSetValue):
        return source.items()
    return ((member, 1.0) for member in source)


def _source_score(source: ZSetValue | SetValue, member: bytes) -> float | None:
    if isinstance(source, ZSetValue):
        return source.score(member)
    return 1.0 if member in source else None


@dataclass(slots=True)
class _SetOperation:
    sources: list[ZSetValue | SetValue | None]
    weights: list[float]
    aggregate: Callable[[float, float], float]
    withscores: bool
    limit: int


def _parse_set_operation(
    ex: Execution, argv: list[bytes], numkeys_index: int, op: str, store: bool, card: bool
) -> _SetOperation:
    """``zunionInterDiffGenericCommand``'s argument handling, in its order."""
    command = argv[0].lower().decode("utf-8", "replace")
    count = arguments.integer(argv[numkeys_index])
    if count < 1:
        raise RedisError(f"ERR at least 1 input key is needed for '{command}' command")
    if count > len(argv) - (numkeys_index + 1):
        raise RedisError(SYNTAX)
    keys = argv[numkeys_index + 1 : numkeys_index + 1 + count]
    sources: list[ZSetValue | SetValue | None] = []
    for key in keys:
        value = ex.get(key)
        if value is not None and not isinstance(value, ZSetValue | SetValue):
            raise RedisError(WRONGTYPE)
        sources.append(value)
    weights = [1.0] * count
    aggregate: Callable[[float, float], float] = _aggregate_sum
    withscores = False
    limit = 0
    j = numkeys_index + 1 + count
    while j < len(argv):
        opt = option(argv[j])
        remaining = len(argv) - j
        if op != "diff" and not card and remaining >= count + 1 and opt == b"weights":
            weights = [arguments.double(raw, WEIGHT_NOT_FLOAT) for raw in argv[j + 1 : j + 1 + count]]
            j += count + 1
        elif op != "diff" and not card and remaining >= 2 and opt == b"aggregate":
            chosen = _AGGREGATES.get(option(argv[j + 1]))
            if chosen is None:
                raise RedisError(SYNTAX)
            aggregate = chosen
            j += 2
        elif not store and not card and opt == b"withscores":
            withscores = True
            j += 1
        elif card and remaining >= 2 and opt == b"limit":
            limit = arguments.positive_integer(argv[j + 1], "LIMIT can't be negative")
            j += 2
        else:
            raise RedisError(SYNTAX)
    return _SetOperation(sources, weights, aggregate, withscores, limit)


def _weighted(score: float, weight: float) -> float:
    value = score * weight
    return 0.0 if math.isnan(value) else value


def _compute(operation: _SetOperation, op: str) -> dict[bytes, float]:
    """member -> score of a union, intersection or difference (Redis's algorithms:
    sources by increasing size, intersection driven by the smallest)."""
    indexed = list(zip(operation.sources, operation.weights, strict=True))
    if op == "diff":
        first = indexed[0][0]
        if first is None:
            return {}
        others = [source for source, _ in indexed[1:] if source is not None]
        return {
            member: score
            for member, score in _source_items(first)
            if not any(_source_score(other, member) is not None for other in others)
        }
    present = [(s, w) for s, w in indexed if s is not None]
    present.sort(key=lambda pair: len(pair[0]))
    if op == "inter":
        if len(present) < len(indexed) or not present:
            return {}
        (smallest, first_weight), rest = present[0], present[1:]
        result: dict[bytes, float] = {}
        for member, score in _source_items(smallest):
            total = _weighted(score, first_weight)
            for other, weight in rest:
                value = _source_score(other, member)
                if value is None:
                    break
                total = operation.aggregate(total, value * weight)
            else:
                result[member] = total
        return result
    result = {}
    for source, weight in present:
        for member, score in _source_items(source):
            value = _weighted(score, weight)
            if member in result:
                result[member] = operation.aggregate(result[member], value)
            else:
                result[member] = value
    return result


def _to_zset(scores: dict[bytes, float], stored: bool) -> ZSetValue:
    result = ZSetValue()
    for member, score in scores.items():
        result.set(member, _stored(score) if stored else score)
    return result


def _store_operation(ex: Execution, argv: list[bytes], op: str) -> Reply:
    operation = _parse_set_operation(ex, argv, 2, op, store=True, card=False)
    scores = _compute(operation, op)
    target = argv[1]
    if not scores:
        ex.delete(target)
        return 0
    ex.check_growth(0, len(scores))
    ex.store(target, _to_zset(scores, stored=True))
    return len(scores)


def _reply_operation(ex: Execution, argv: list[bytes], op: str) -> Reply:
    operation = _parse_set_operation(ex, argv, 1, op, store=False, card=False)
    result = _to_zset(_compute(operation, op), stored=False)
    return _with_scores(result, list(result.iter_keys()), operation.withscores)


def zunionstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store_operation(ex, argv, "union")


def zinterstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store_operation(ex, argv, "inter")


def zdiffstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store_operation(ex, argv, "diff")


def zunion(ex: Execution, argv: list[bytes]) -> Reply:
    return _reply_operation(ex, argv, "union")


def zinter(ex: Execution, argv: list[bytes]) -> Reply:
    return _reply_operation(ex, argv, "inter")


def zdiff(ex: Execution, argv: list[bytes]) -> Reply:
    return _reply_operation(ex, argv, "diff")


def zintercard(ex: Execution, argv: list[bytes]) -> Reply:
    operation = _parse_set_operation(ex, argv, 1, "inter", store=False, card=True)
    members = _compute(operation, "inter")
    if operation.limit:
        return min(len(members), operation.limit)
    return len(members)


# --- scanning and sampling -------------------------------------------------------------------


def zscan(ex: Execution, argv: list[bytes]) -> Reply:
    cursor = arguments.cursor(argv[2])
    current = ex.get_zset(argv[1])
    if current is None:
        return [b"0", []]
    count, pattern = parse_scan_options(argv, 3)
    keys, next_cursor = scan_batch(current.iter_keys(), len(current), cursor, count, _member)
    matcher = glob_matcher(pattern) if pattern is not None else None
    out: list[Reply] = []
    for sort_key in keys:
        member = _member(sort_key)
        if matcher is None or matcher(member):
            out += [member, format_double(current.score_of_key(sort_key))]
    return [format_int(next_cursor), out]


def zrandmember(ex: Execution, argv: list[bytes]) -> Reply:
    if len(argv) >= 3:
        count, withscores = parse_random_count(argv, b"withscores")
        current = ex.get_zset(argv[1])
        if current is None or count == 0:
            return []
        chosen = [current.key_at(i) for i in random_positions(ex, len(current), count)]
        return _with_scores(current, chosen, withscores)
    current = ex.get_zset(argv[1])
    if current is None:
        return None
    return _member(current.key_at(ex.rng.randrange(len(current))))


COMMANDS = {
    "zadd": zadd,
    "zincrby": zincrby,
    "zrem": zrem,
    "zscore": zscore,
    "zmscore": zmscore,
    "zcard": zcard,
    "zrank": zrank,
    "zrevrank": zrevrank,
    "zrange": zrange,
    "zrevrange": zrevrange,
    "zrangebyscore": zrangebyscore,
    "zrevrangebyscore": zrevrangebyscore,
    "zrangebylex": zrangebylex,
    "zrevrangebylex": zrevrangebylex,
    "zrangestore": zrangestore,
    "zcount": zcount,
    "zlexcount": zlexcount,
    "zremrangebyrank": zremrangebyrank,
    "zremrangebyscore": zremrangebyscore,
    "zremrangebylex": zremrangebylex,
    "zpopmin": zpopmin,
    "zpopmax": zpopmax,
    "zunionstore": zunionstore,
    "zinterstore": zinterstore,
    "zdiffstore": zdiffstore,
    "zunion": zunion,
    "zinter": zinter,
    "zdiff": zdiff,
    "zintercard": zintercard,
    "zscan": zscan,
    "zrandmember": zrandmember,
}

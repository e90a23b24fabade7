"""Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN, HKEYS,
HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HSCAN, HRANDFIELD (Redis 7.0's t_hash.c).

A hash is a ``dict``: insertion-ordered, so HGETALL's order is a pure function of the
operations (and equals Redis's for hashes small enough for its listpack encoding)."""

from __future__ import annotations

from itertools import islice

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.execution import Execution
from node.keyspace.numeric import INT64_MAX, INT64_MIN, LongDouble, format_int, parse_int
from node.keyspace.replies import (
    HASH_NOT_FLOAT,
    HASH_NOT_INTEGER,
    OK,
    OVERFLOW,
    SYNTAX,
    Map,
    PairArray,
    RedisError,
    Reply,
    wrong_arity,
)
from node.keyspace.scan import glob_matcher, scan_batch

LONG_MAX = 2**63 - 1


def _field_pairs(argv: list[bytes], command: str) -> list[tuple[bytes, bytes]]:
    if len(argv) % 2 == 1:
        raise RedisError(wrong_arity(command))
    return [(argv[i], argv[i + 1]) for i in range(2, len(argv), 2)]


def _set_fields(ex: Execution, key: bytes, pairs: list[tuple[bytes, bytes]]) -> int:
    current = ex.get_hash(key)
    if current is None:
        ex.check_growth(0, len({field for field, _ in pairs}))
        current = {}
        for field, value in pairs:
            current[field] = value
        ex.store_new(key, current)
        return len(current)
    new_fields = {field for field, _ in pairs if field not in current}
    ex.check_growth(len(current), len(new_fields))
    for field, value in pairs:
        current[field] = value
    ex.touch(key)
    return len(new_fields)


def hset(ex: Execution, argv: list[bytes]) -> Reply:
    return _set_fields(ex, argv[1], _field_pairs(argv, "hset"))


def hmset(ex: Execution, argv: list[bytes]) -> Reply:
    _set_fields(ex, argv[1], _field_pairs(argv, "hmset"))
    return OK


def hsetnx(ex: Execution, argv: list[bytes]) -> Reply:
    key, field = argv[1], argv[2]
    current = ex.get_hash(key)
    if current is not None and field in current:
        return 0
    _set_fields(ex, key, [(field, argv[3])])
    return 1


def hget(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_hash(argv[1])
    return None if current is None else current.get(argv[2])


def hmget(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_hash(argv[1]) or {}
    return [current.get(field) for field in argv[2:]]


def hgetall(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_hash(argv[1]) or {}
    return Map(list(current.items()))


def hkeys(ex: Execution, argv: list[bytes]) -> Reply:
    return list((ex.get_hash(argv[1]) or {}).keys())


def hvals(ex: Execution, argv: list[bytes]) -> Reply:
    return list((ex.get_hash(argv[1]) or {}).values())


def hlen(ex: Execution, argv: list[bytes]) -> Reply:
    return len(ex.get_hash(argv[1]) or {})


def hexists(ex: Execution, argv: list[bytes]) -> Reply:
    return int(argv[2] in (ex.get_hash(argv[1]) or {}))


def hstrlen(ex: Execution, argv: list[bytes]) -> Reply:
    value = (ex.get_hash(argv[1]) or {}).get(argv[2])
    return 0 if value is None else len(value)


def hdel(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = ex.get_hash(key)
    if current is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if current.pop(field, None) is not None:
            deleted += 1
    if deleted:
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return deleted


def hincrby(ex: Execution, argv: list[bytes]) -> Reply:
    key, field = argv[1], argv[2]
    increment = arguments.integer(argv[3])
    current = ex.get_hash(key)
    old = 0
    if current is not None and field in current:
        parsed = parse_int(current[field])
        if parsed is None:
            raise RedisError(HASH_NOT_INTEGER)
        old = parsed
    new = old + increment
    if new > INT64_MAX or new < INT64_MIN:
        raise RedisError(OVERFLOW)
    _set_fields(ex, key, [(field, format_int(new))])
    return new


def hincrbyfloat(ex: Execution, argv: list[bytes]) -> Reply:
    key, field = argv[1], argv[2]
    increment = arguments.long_double(argv[3])
    if not increment.is_finite:
        raise RedisError("ERR value is NaN or Infinity")
    current = ex.get_hash(key)
    old = LongDouble.from_int(0)
    if current is not None and field in current:
        parsed = LongDouble.parse(current[field])
        if parsed is None:
            raise RedisError(HASH_NOT_FLOAT)
        old = parsed
    total = old.add(increment)
    if not total.is_finite:
        raise RedisError("ERR increment would produce NaN or Infinity")
    text = total.human()
    _set_fields(ex, key, [(field, text)])
    return text


def hscan(ex: Execution, argv: list[bytes]) -> Reply:
    cursor = arguments.cursor(argv[2])
    current = ex.get_hash(argv[1])
    if current is None:
        return [b"0", []]
    count, pattern = parse_scan_options(argv, 3)
    items, next_cursor = scan_batch(current.items(), len(current), cursor, count, _first)
    matcher = glob_matcher(pattern) if pattern is not None else None
    out: list[Reply] = []
    for field, value in items:
        if matcher is None or matcher(field):
            out += [field, value]
    return [format_int(next_cursor), out]


def _first(item: tuple[bytes, bytes]) -> bytes:
    return item[0]


def parse_scan_options(argv: list[bytes], first: int) -> tuple[int, bytes | None]:
    """COUNT and MATCH of HSCAN/SSCAN/ZSCAN (TYPE is SCAN's alone: a syntax error here)."""
    count, pattern = 10, None
    j = first
    while j < len(argv):
        opt = option(argv[j])
        if opt == b"count" and j + 1 < len(argv):
            count = arguments.integer(argv[j + 1])
            if count < 1:
                raise RedisError(SYNTAX)
        elif opt == b"match" and j + 1 < len(argv):
            pattern = argv[j + 1]
        else:
            raise RedisError(SYNTAX)
        j += 2
    return count, pattern


def parse_random_count(argv: list[bytes], flag: bytes) -> tuple[int, bool]:
    """HRANDFIELD/ZRANDMEMBER ``count [WITHVALUES|WITHSCORES]``."""
    count = arguments.integer_in_range(argv[2], -LONG_MAX, LONG_MAX)
    if len(argv) > 4 or (len(argv) == 4 and option(argv[3]) != flag):
        raise RedisError(SYNTAX)
    with_values = len(argv) == 4
    if with_values and (count < -LONG_MAX // 2 or count > LONG_MAX // 2):
        raise RedisError("ERR value is out of range")
    return count, with_values


def random_positions(ex: Execution, size: int, count: int) -> list[int]:
    """Positions for a random-with-count reply: ``count < 0`` allows repeats (exactly
    ``-count`` picks), ``count > 0`` gives distinct positions (at most ``size``)."""
    if count < 0:
        return [ex.rng.randrange(size) for _ in range(-count)]
    if count >= size:
        return list(range(size))
    return ex.rng.sample(range(size), count)


def hrandfield(ex: Execution, argv: list[bytes]) -> Reply:
    if len(argv) >= 3:
        count, with_values = parse_random_count(argv, b"withvalues")
        current = ex.get_hash(argv[1])
        if current is None or count == 0:
            return []
        fields = list(current)
        chosen = [fields[i] for i in random_positions(ex, len(fields), count)]
        if with_values:
            return PairArray([(field, current[field]) for field in chosen])
        return list(chosen)
    current = ex.get_hash(argv[1])
    if current is None:
        return None
    # A dict has no random access: walk to the chosen position (O(N), no copy).
    return next(islice(current, ex.rng.randrange(len(current)), None))


COMMANDS = {
    "hset": hset,
    "hmset": hmset,
    "hsetnx": hsetnx,
    "hget": hget,
    "hmget": hmget,
    "hgetall": hgetall,
    "hkeys": hkeys,
    "hvals": hvals,
    "hlen": hlen,
    "hexists": hexists,
    "hstrlen": hstrlen,
    "hdel": hdel,
    "hincrby": hincrby,
    "hincrbyfloat": hincrbyfloat,
    "hscan": hscan,
    "hrandfield": hrandfield,
}

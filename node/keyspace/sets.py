"""Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER,
SINTER, SINTERCARD, SUNION, SDIFF and their STORE forms, SMOVE, SSCAN (Redis 7.0's
t_set.c). Sets are :class:`~node.keyspace.containers.SetValue` (O(1) add, remove and
random member; deterministic order)."""

from __future__ import annotations

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.containers import SetValue
from node.keyspace.execution import Execution
from node.keyspace.hashes import parse_scan_options, random_positions
from node.keyspace.numeric import format_int
from node.keyspace.replies import SYNTAX, RedisError, Reply, SetReply
from node.keyspace.scan import glob_matcher, scan_batch

LONG_MAX = 2**63 - 1


def sadd(ex: Execution, argv: list[bytes]) -> Reply:
    key, members = argv[1], argv[2:]
    current = ex.get_set(key)
    if current is None:
        current = SetValue()
        ex.check_growth(0, len(set(members)))
        for member in members:
            current.add(member)
        ex.store_new(key, current)
        return len(current)
    fresh = {member for member in members if member not in current}
    ex.check_growth(len(current), len(fresh))
    added = sum(1 for member in members if current.add(member))
    if added:
        ex.touch(key)
    return added


def srem(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = ex.get_set(key)
    if current is None:
        return 0
    removed = sum(1 for member in argv[2:] if current.remove(member))
    if removed:
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return removed


def smembers(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_set(argv[1])
    return SetReply([] if current is None else list(current.members()))


def sismember(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_set(argv[1])
    return int(current is not None and argv[2] in current)


def smismember(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_set(argv[1])
    return [int(current is not None and member in current) for member in argv[2:]]


def scard(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_set(argv[1])
    return 0 if current is None else len(current)


def spop(ex: Execution, argv: list[bytes]) -> Reply:
    if len(argv) > 3:
        raise RedisError(SYNTAX)
    key = argv[1]
    if len(argv) == 3:
        count = arguments.positive_integer(argv[2])
        current = ex.get_set(key)
        if current is None or count == 0:
            return SetReply([])
        ex.touch(key)
        if count >= len(current):
            popped = current.members()
            ex.delete(key)
            return SetReply(list(popped))
        taken = [current.pop_at(ex.rng.randrange(len(current))) for _ in range(count)]
        return SetReply(list(taken))
    current = ex.get_set(key)
    if current is None:
        return None
    member = current.pop_at(ex.rng.randrange(len(current)))
    ex.touch(key)
    ex.delete_if_empty(key, current)
    return member


def srandmember(ex: Execution, argv: list[bytes]) -> Reply:
    if len(argv) > 3:
        raise RedisError(SYNTAX)
    if len(argv) == 3:
        count = arguments.integer_in_range(argv[2], -LONG_MAX, LONG_MAX)
        current = ex.get_set(argv[1])
        if current is None or count == 0:
            return []
        return [current.at(i) for i in random_positions(ex, len(current), count)]
    current = ex.get_set(argv[1])
    if current is None:
        return None
    return current.at(ex.rng.randrange(len(current)))


def _load_sets(ex: Execution, keys: list[bytes]) -> list[SetValue | None]:
    """Every input set (``None`` for a missing key), WRONGTYPE on the first non-set."""
    return [ex.get_set(key) for key in keys]


def _intersection(sets: list[SetValue | None], limit: int = 0) -> list[bytes]:
    if any(s is None for s in sets) or not sets:
        return []
    present = [s for s in sets if s is not None]
    ordered = sorted(present, key=len)  # stable, like glibc's qsort (a merge sort)
    smallest, others = ordered[0], ordered[1:]
    out: list[bytes] = []
    for member in smallest:
        if all(member in other for other in others):
            out.append(member)
            if limit and len(out) >= limit:
                break
    return out


def _union(sets: list[SetValue | None]) -> list[bytes]:
    seen: dict[bytes, None] = {}
    for current in sets:
        if current is not None:
            for member in current:
                seen[member] = None
    return list(seen)


def _difference(sets: list[SetValue | None]) -> list[bytes]:
    first = sets[0]
    if first is None:
        return []
    others = [s for s in sets[1:] if s is not None and s is not first]
    if any(s is first for s in sets[1:]):
        return []
    return [member for member in first if not any(member in other for other in others)]


def sinter(ex: Execution, argv: list[bytes]) -> Reply:
    return SetReply(list(_intersection(_load_sets(ex, argv[1:]))))


def sunion(ex: Execution, argv: list[bytes]) -> Reply:
    return SetReply(list(_union(_load_sets(ex, argv[1:]))))


def sdiff(ex: Execution, argv: list[bytes]) -> Reply:
    return SetReply(list(_difference(_load_sets(ex, argv[1:]))))


def _store(ex: Execution, target: bytes, members: list[bytes]) -> Reply:
    if not members:
        ex.delete(target)
        return 0
    ex.check_growth(0, len(members))
    ex.store(target, SetValue(members))
    return len(members)


def sinterstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store(ex, argv[1], _intersection(_load_sets(ex, argv[2:])))


def sunionstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store(ex, argv[1], _union(_load_sets(ex, argv[2:])))


def sdiffstore(ex: Execution, argv: list[bytes]) -> Reply:
    return _store(ex, argv[1], _difference(_load_sets(ex, argv[2:])))


def sintercard(ex: Execution, argv: list[bytes]) -> Reply:
    numkeys = arguments.integer_in_range(argv[1], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise RedisError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if option(argv[j]) == b"limit" and j + 1 < len(argv):
            j += 1
            limit = arguments.positive_integer(argv[j], "LIMIT can't be negative")
        else:
            raise RedisError(SYNTAX)
        j += 1
    return len(_intersection(_load_sets(ex, argv[2 : 2 + numkeys]), limit))


def smove(ex: Execution, argv: list[bytes]) -> Reply:
    source_key, target_key, member = argv[1], argv[2], argv[3]
    source = ex.get(source_key)
    target = ex.get(target_key)
    if source is None:
        return 0
    if type(source) is not SetValue or (target is not None and type(target) is not SetValue):
        ex.get_set(source_key)
        ex.get_set(target_key)
    assert isinstance(source, SetValue)
    if source_key == target_key:
        return int(member in source)
    if member not in source:
        return 0
    if isinstance(target, SetValue):
        ex.check_growth(len(target), 0 if member in target else 1)
    source.remove(member)
    ex.touch(source_key)
    ex.delete_if_empty(source_key, source)
    if target is None:
        ex.store_new(target_key, SetValue([member]))
    else:
        assert isinstance(target, SetValue)
        if target.add(member):
            ex.touch(target_key)
    return 1


def sscan(ex: Execution, argv: list[bytes]) -> Reply:
    cursor = arguments.cursor(argv[2])
    current = ex.get_set(argv[1])
    if current is None:
        return [b"0", []]
    count, pattern = parse_scan_options(argv, 3)
    members, next_cursor = scan_batch(current, len(current), cursor, count, _same)
    if pattern is not None:
        matcher = glob_matcher(pattern)
        members = [member for member in members if matcher(member)]
    return [format_int(next_cursor), list(members)]


def _same(member: bytes) -> bytes:
    return member


COMMANDS = {
    "sadd": sadd,
    "srem": srem,
    "smembers": smembers,
    "sismember": sismember,
    "smismember": smismember,
    "scard": scard,
    "spop": spop,
    "srandmember": srandmember,
    "sinter": sinter,
    "sunion": sunion,
    "sdiff": sdiff,
    "sinterstore": sinterstore,
    "sunionstore": sunionstore,
    "sdiffstore": sdiffstore,
    "sintercard": sintercard,
    "smove": smove,
    "sscan": sscan,
}

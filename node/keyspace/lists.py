"""List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (with count), LRANGE, LLEN,
LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH and the non-blocking halves of
BLPOP, BRPOP, BLMOVE, BRPOPLPUSH (Redis 7.0's t_list.c).

A list is a ``collections.deque``: O(1) at both ends, O(N) by index, which is what Redis
documents for its quicklist.

Blocking commands: when one of the keys has data, they behave like their non-blocking
twin; when all are empty they return ``WOULD_BLOCK`` and the shell parks the client until
a record touches one of the keys or the timeout passes (then it replies a null array).
Inside MULTI they never block: Redis replies a null array (BLPOP/BRPOP) or a null bulk
(BLMOVE/BRPOPLPUSH) at once.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.execution import Execution
from node.keyspace.numeric import INT64_MAX, INT64_MIN
from node.keyspace.replies import (
    INDEX_OUT_OF_RANGE,
    NO_SUCH_KEY,
    NULL_ARRAY,
    OK,
    SYNTAX,
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    WOULD_BLOCK,
    RedisError,
    Reply,
    wrong_arity,
)

LONG_MAX = 2**63 - 1


def _push(ex: Execution, argv: list[bytes], left: bool, only_existing: bool) -> Reply:
    key, values = argv[1], argv[2:]
    current = ex.get_list(key)
    if current is None:
        if only_existing:
            return 0
        ex.check_growth(0, len(values))
        current = deque()
        ex.store_new(key, current)
    else:
        ex.check_growth(len(current), len(values))
        ex.touch(key)
    if left:
        current.extendleft(values)
    else:
        current.extend(values)
    return len(current)


def lpush(ex: Execution, argv: list[bytes]) -> Reply:
    return _push(ex, argv, left=True, only_existing=False)


def rpush(ex: Execution, argv: list[bytes]) -> Reply:
    return _push(ex, argv, left=False, only_existing=False)


def lpushx(ex: Execution, argv: list[bytes]) -> Reply:
    return _push(ex, argv, left=True, only_existing=True)


def rpushx(ex: Execution, argv: list[bytes]) -> Reply:
    return _push(ex, argv, left=False, only_existing=True)


def _pop(ex: Execution, argv: list[bytes], left: bool) -> Reply:
    if len(argv) > 3:
        raise RedisError(wrong_arity(argv[0].lower().decode("utf-8", "replace")))
    has_count = len(argv) == 3
    count = arguments.positive_integer(argv[2]) if has_count else 0
    key = argv[1]
    current = ex.get_list(key)
    if current is None:
        return NULL_ARRAY if has_count else None
    if has_count and count == 0:
        return []
    ex.touch(key)
    if not has_count:
        value = current.popleft() if left else current.pop()
        ex.delete_if_empty(key, current)
        return value
    taken = min(count, len(current))
    popped = [current.popleft() if left else current.pop() for _ in range(taken)]
    ex.delete_if_empty(key, current)
    return list(popped)


def lpop(ex: Execution, argv: list[bytes]) -> Reply:
    return _pop(ex, argv, left=True)


def rpop(ex: Execution, argv: list[bytes]) -> Reply:
    return _pop(ex, argv, left=False)


def _range_bounds(start: int, end: int, size: int) -> tuple[int, int] | None:
    """Redis's index sanitising for LRANGE/ZRANGE: inclusive [start, end] or empty."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


def lrange(ex: Execution, argv: list[bytes]) -> Reply:
    start = arguments.integer(argv[2])
    end = arguments.integer(argv[3])
    current = ex.get_list(argv[1])
    if current is None:
        return []
    bounds = _range_bounds(start, end, len(current))
    if bounds is None:
        return []
    first, last = bounds
    if first > len(current) // 2:  # walk from the nearer end, as quicklist does
        tail = list(islice(reversed(current), len(current) - 1 - last, len(current) - first))
        return list(reversed(tail))
    return list(islice(current, first, last + 1))


def llen(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_list(argv[1])
    return 0 if current is None else len(current)


def lindex(ex: Execution, argv: list[bytes]) -> Reply:
    current = ex.get_list(argv[1])
    if current is None:
        return None
    index = arguments.integer(argv[2])
    if index < 0:
        index += len(current)
    if not 0 <= index < len(current):
        return None
    return current[index]


def lset(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = ex.get_list(key)
    if current is None:
        raise RedisError(NO_SUCH_KEY)
    index = arguments.integer(argv[2])
    if index < 0:
        index += len(current)
    if not 0 <= index < len(current):
        raise RedisError(INDEX_OUT_OF_RANGE)
    current[index] = argv[3]
    ex.touch(key)
    return OK


def linsert(ex: Execution, argv: list[bytes]) -> Reply:
    where = option(argv[2])
    if where not in (b"before", b"after"):
        raise RedisError(SYNTAX)
    key, pivot, value = argv[1], argv[3], argv[4]
    current = ex.get_list(key)
    if current is None:
        return 0
    try:
        position = current.index(pivot)
    except ValueError:
        return -1
    ex.check_growth(len(current), 1)
    current.insert(position if where == b"before" else position + 1, value)
    ex.touch(key)
    return len(current)


def lrem(ex: Execution, argv: list[bytes]) -> Reply:
    to_remove = arguments.integer(argv[2])
    key, value = argv[1], argv[3]
    current = ex.get_list(key)
    if current is None:
        return 0
    limit = abs(to_remove) if to_remove else len(current)
    kept: deque[bytes] = deque()
    removed = 0
    if to_remove >= 0:
        for element in current:
            if removed < limit and element == value:
                removed += 1
            else:
                kept.append(element)
    else:
        for element in reversed(current):
            if removed < limit and element == value:
                removed += 1
            else:
                kept.appendleft(element)
    if removed:
        current.clear()
        current.extend(kept)
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return removed


def ltrim(ex: Execution, argv: list[bytes]) -> Reply:
    start = arguments.integer(argv[2])
    end = arguments.integer(argv[3])
    key = argv[1]
    current = ex.get_list(key)
    if current is None:
        return OK
    size = len(current)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    if start > end or start >= size:
        left_trim, right_trim = size, 0
    else:
        end = min(end, size - 1)
        left_trim, right_trim = start, size - end - 1
    if left_trim or right_trim:
        for _ in range(min(left_trim, len(current))):
            current.popleft()
        for _ in range(min(right_trim, len(current))):
            current.pop()
        ex.touch(key)
        ex.delete_if_empty(key, current)
    return OK


def lpos(ex: Execution, argv: list[bytes]) -> Reply:
    key, wanted = argv[1], argv[2]
    rank, count, max_len = 1, -1, 0
    j = 3
    while j < len(argv):
        opt = option(argv[j])
        more = j + 1 < len(argv)
        if opt == b"rank" and more:
            j += 1
            rank = arguments.integer(argv[j])
            if rank == 0:
                raise RedisError(
                    "ERR RANK can't be zero: use 1 to start from the first match, "
                    "2 from the second ... or use negative to start from the end of the list"
                )
        elif opt == b"count" and more:
            j += 1
            count = arguments.positive_integer(argv[j], "COUNT can't be negative")
        elif opt == b"maxlen" and more:
            j += 1
            max_len = arguments.positive_integer(argv[j], "MAXLEN can't be negative")
        else:
            raise RedisError(SYNTAX)
        j += 1
    from_tail = rank < 0
    # Redis negates LLONG_MIN in C, which leaves it negative: every match qualifies.
    rank = 1 if rank == INT64_MIN else abs(rank)
    current = ex.get_list(key)
    if current is None:
        return [] if count != -1 else None
    size = len(current)
    elements = reversed(current) if from_tail else iter(current)
    matches: list[Reply] = []
    seen = 0
    for index, element in enumerate(elements):
        if max_len and index >= max_len:
            break
        if element == wanted:
            seen += 1
            if seen >= rank:
                matches.append(size - index - 1 if from_tail else index)
                if count == -1 or (count and len(matches) >= count):
                    break
    if count != -1:
        return matches
    return matches[0] if matches else None


def _direction(raw: bytes) -> bool:
    """LEFT -> True, RIGHT -> False (``getListPositionFromObjectOrReply``)."""
    opt = option(raw)
    if opt == b"left":
        return True
    if opt == b"right":
        return False
    raise RedisError(SYNTAX)


def _move(ex: Execution, source: bytes, target: bytes, from_left: bool, to_left: bool) -> Reply:
    current = ex.get_list(source)
    if current is None:
        return None
    destination = current if source == target else ex.get_list(target)
    if destination is not None:
        ex.check_growth(len(destination), 1)
    value = current.popleft() if from_left else current.pop()
    if destination is None:
        destination = deque()
        ex.store_new(target, destination)
    if to_left:
        destination.appendleft(value)
    else:
        destination.append(value)
    ex.touch(source)
    ex.touch(target)
    ex.delete_if_empty(source, current)
    return value


def lmove(ex: Execution, argv: list[bytes]) -> Reply:
    from_left = _direction(argv[3])
    to_left = _direction(argv[4])
    return _move(ex, argv[1], argv[2], from_left, to_left)


def rpoplpush(ex: Execution, argv: list[bytes]) -> Reply:
    return _move(ex, argv[1], argv[2], from_left=False, to_left=True)


# --- blocking commands (the non-blocking halves) -----------------------------------------


def blocking_timeout_ms(raw: bytes) -> int:
    """The timeout of a blocking list command in ms (0 = forever), validated as Redis 7.0's
    ``getTimeoutFromObjectOrReply`` (seconds as a long double, rounded up to ms)."""
    seconds = arguments.long_double(raw, TIMEOUT_NOT_FLOAT)
    if not seconds.is_finite:
        if float(seconds.value) < 0:
            raise RedisError(TIMEOUT_NEGATIVE)
        raise RedisError("ERR timeout is out of range")
    millis = seconds.value * 1000
    if millis > INT64_MAX:
        raise RedisError("ERR timeout is out of range")
    whole = math.ceil(millis)
    if whole < 0:
        raise RedisError(TIMEOUT_NEGATIVE)
    return int(whole)


def _blocking_pop(ex: Execution, argv: list[bytes], left: bool, in_transaction: bool) -> Reply:
    blocking_timeout_ms(argv[-1])
    for key in argv[1:-1]:
        current = ex.get_list(key)
        if current:
            value = current.popleft() if left else current.pop()
            ex.touch(key)
            ex.delete_if_empty(key, current)
            return [key, value]
    return NULL_ARRAY if in_transaction else WOULD_BLOCK


def blpop(ex: Execution, argv: list[bytes], in_transaction: bool = False) -> Reply:
    return _blocking_pop(ex, argv, left=True, in_transaction=in_transaction)


def brpop(ex: Execution, argv: list[bytes], in_transaction: bool = False) -> Reply:
    return _blocking_pop(ex, argv, left=False, in_transaction=in_transaction)


def _blocking_move(ex: Execution, argv: list[bytes], from_left: bool, to_left: bool, in_transaction: bool) -> Reply:
    current = ex.get_list(argv[1])
    if current is None:
        return None if in_transaction else WOULD_BLOCK
    return _move(ex, argv[1], argv[2], from_left, to_left)


def blmove(ex: Execution, argv: list[bytes], in_transaction: bool = False) -> Reply:
    from_left = _direction(argv[3])
    to_left = _direction(argv[4])
    blocking_timeout_ms(argv[5])
    return _blocking_move(ex, argv, from_left, to_left, in_transaction)


def brpoplpush(ex: Execution, argv: list[bytes], in_transaction: bool = False) -> Reply:
    blocking_timeout_ms(argv[3])
    return _blocking_move(ex, argv, False, True, in_transaction)


COMMANDS = {
    "lpush": lpush,
    "rpush": rpush,
    "lpushx": lpushx,
    "rpushx": rpushx,
    "lpop": lpop,
    "rpop": rpop,
    "lrange": lrange,
    "llen": llen,
    "lindex": lindex,
    "lset": lset,
    "linsert": linsert,
    "lrem": lrem,
    "ltrim": ltrim,
    "lpos": lpos,
    "lmove": lmove,
    "rpoplpush": rpoplpush,
}

BLOCKING_COMMANDS = {
    "blpop": blpop,
    "brpop": brpop,
    "blmove": blmove,
    "brpoplpush": brpoplpush,
}

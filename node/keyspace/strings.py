"""String commands: GET, SET (all options), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX,
MGET, MSET, MSETNX, INCR/DECR/INCRBY/DECRBY, INCRBYFLOAT, APPEND, STRLEN, GETRANGE,
SETRANGE. Semantics and error order follow Redis 7.0's t_string.c."""

from __future__ import annotations

from dataclasses import dataclass

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.execution import Execution
from node.keyspace.numeric import INT64_MAX, INT64_MIN, LongDouble, format_int, parse_int
from node.keyspace.replies import (
    DECREMENT_OVERFLOW,
    NAN_OR_INFINITY,
    NOT_FLOAT,
    NOT_INTEGER,
    OFFSET_OUT_OF_RANGE,
    OK,
    OVERFLOW,
    SYNTAX,
    RedisError,
    Reply,
    invalid_expire,
    wrong_arity,
)

# --- SET / GETEX options ------------------------------------------------------------------


@dataclass(slots=True)
class StringOptions:
    nx: bool = False
    xx: bool = False
    get: bool = False
    keep_ttl: bool = False
    persist: bool = False
    unit: bytes = b""  # b"ex", b"px", b"exat" or b"pxat" when an expiry was given
    expire: bytes = b""


def parse_string_options(argv: list[bytes], first: int, for_set: bool) -> StringOptions:
    """``parseExtendedStringArgumentsOrReply``: SET's options from argv[3], GETEX's from
    argv[2]. Conflicting or repeated-incompatible options are a syntax error."""
    opts = StringOptions()
    j = first
    while j < len(argv):
        opt = option(argv[j])
        has_next = j + 1 < len(argv)
        if opt == b"nx" and not opts.xx and for_set:
            opts.nx = True
        elif opt == b"xx" and not opts.nx and for_set:
            opts.xx = True
        elif opt == b"get" and for_set:
            opts.get = True
        elif opt == b"keepttl" and not opts.persist and not opts.unit and for_set:
            opts.keep_ttl = True
        elif opt == b"persist" and not for_set and not opts.unit and not opts.keep_ttl:
            opts.persist = True
        elif (
            opt in (b"ex", b"px", b"exat", b"pxat")
            and not opts.keep_ttl
            and not opts.persist
            and opts.unit in (b"", opt)
            and has_next
        ):
            opts.unit = opt
            opts.expire = argv[j + 1]
            j += 1
        else:
            raise RedisError(SYNTAX)
        j += 1
    return opts


def expire_ms(opts: StringOptions, now_ms: int, command: str) -> int:
    """``getExpireMillisecondsOrReply``: the absolute expiry in unix ms."""
    value = arguments.integer(opts.expire)
    seconds = opts.unit in (b"ex", b"exat")
    if value <= 0 or (seconds and value > INT64_MAX // 1000):
        raise RedisError(invalid_expire(command))
    if seconds:
        value *= 1000
    if opts.unit in (b"ex", b"px"):
        value += now_ms
    if value > INT64_MAX:
        raise RedisError(invalid_expire(command))
    return value


def absolute_expire_argv(argv: list[bytes], now_ms: int) -> list[bytes]:
    """SET/GETEX with EX/PX/EXAT rewritten to PXAT (the leader's determinisation).
    Returned unchanged when the options are invalid: apply then fails the same way."""
    for_set = argv[0].lower() == b"set"
    first = 3 if for_set else 2
    try:
        opts = parse_string_options(argv, first, for_set)
        if not opts.unit or opts.unit == b"pxat":
            return argv
        when = expire_ms(opts, now_ms, "set" if for_set else "getex")
    except RedisError:
        return argv
    out = list(argv[:first])
    j = first
    while j < len(argv):
        opt = option(argv[j])
        if opt in (b"ex", b"px", b"exat", b"pxat"):
            j += 2
            continue
        out.append(argv[j])
        j += 1
    out += [b"PXAT", format_int(when)]
    return out


# --- commands ---------------------------------------------------------------------------


def get(ex: Execution, argv: list[bytes]) -> Reply:
    return ex.get_string(argv[1])


def set_(ex: Execution, argv: list[bytes]) -> Reply:
    opts = parse_string_options(argv, 3, for_set=True)
    return _set_generic(ex, argv[1], argv[2], opts, "set", OK, None)


def _set_generic(
    ex: Execution,
    key: bytes,
    value: bytes,
    opts: StringOptions,
    command: str,
    ok_reply: Reply,
    abort_reply: Reply,
) -> Reply:
    when = expire_ms(opts, ex.now_ms, command) if opts.unit else None
    old: Reply = None
    if opts.get:
        old = ex.get_string(key)
    found = ex.exists(key)
    if (opts.nx and found) or (opts.xx and not found):
        return old if opts.get else abort_reply
    ex.store(key, value, keep_ttl=opts.keep_ttl)
    if when is not None:
        ex.set_expire(key, when)
    return old if opts.get else ok_reply


def setnx(ex: Execution, argv: list[bytes]) -> Reply:
    return _set_generic(ex, argv[1], argv[2], StringOptions(nx=True), "setnx", 1, 0)


def setex(ex: Execution, argv: list[bytes]) -> Reply:
    opts = StringOptions(unit=b"ex", expire=argv[2])
    return _set_generic(ex, argv[1], argv[3], opts, "setex", OK, None)


def psetex(ex: Execution, argv: list[bytes]) -> Reply:
    opts = StringOptions(unit=b"px", expire=argv[2])
    return _set_generic(ex, argv[1], argv[3], opts, "psetex", OK, None)


def getset(ex: Execution, argv: list[bytes]) -> Reply:
    old = ex.get_string(argv[1])
    ex.store(argv[1], argv[2])
    return old


def getdel(ex: Execution, argv: list[bytes]) -> Reply:
    value = ex.get_string(argv[1])
    if value is not None:
        ex.delete(argv[1])
    return value


def getex(ex: Execution, argv: list[bytes]) -> Reply:
    opts = parse_string_options(argv, 2, for_set=False)
    key = argv[1]
    value = ex.get_string(key)
    if value is None:
        return None
    when = expire_ms(opts, ex.now_ms, "getex") if opts.unit else None
    if when is not None and opts.unit in (b"exat", b"pxat") and when <= ex.now_ms:
        ex.delete(key)
    elif when is not None:
        ex.set_expire(key, when)
        ex.touch(key)
    elif opts.persist and ex.db.remove_expire(key):
        ex.touch(key)
    return value


def mget(ex: Execution, argv: list[bytes]) -> Reply:
    out: list[Reply] = []
    for key in argv[1:]:
        value = ex.get(key)
        if isinstance(value, bytes):
            out.append(value)
        elif isinstance(value, bytearray):
            out.append(bytes(value))
        else:
            out.append(None)
    return out


def _pairs(argv: list[bytes], command: str) -> list[tuple[bytes, bytes]]:
    if len(argv) % 2 == 0:
        raise RedisError(wrong_arity(command))
    return [(argv[i], argv[i + 1]) for i in range(1, len(argv), 2)]


def mset(ex: Execution, argv: list[bytes]) -> Reply:
    for key, value in _pairs(argv, "mset"):
        ex.store(key, value)
    return OK


def msetnx(ex: Execution, argv: list[bytes]) -> Reply:
    pairs = _pairs(argv, "msetnx")
    if any(ex.exists(key) for key, _ in pairs):
        return 0
    for key, value in pairs:
        ex.store(key, value)
    return 1


def _incr_by(ex: Execution, key: bytes, increment: int) -> Reply:
    current = ex.get_string(key)
    if current is None:
        old = 0
    else:
        parsed = parse_int(current)
        if parsed is None:
            raise RedisError(NOT_INTEGER)
        old = parsed
    new = old + increment
    if new > INT64_MAX or new < INT64_MIN:
        raise RedisError(OVERFLOW)
    if current is None:
        ex.store_new(key, format_int(new))
    else:
        ex.db.replace_value(key, format_int(new))
        ex.touch(key)
    return new


def incr(ex: Execution, argv: list[bytes]) -> Reply:
    return _incr_by(ex, argv[1], 1)


def decr(ex: Execution, argv: list[bytes]) -> Reply:
    return _incr_by(ex, argv[1], -1)


def incrby(ex: Execution, argv: list[bytes]) -> Reply:
    return _incr_by(ex, argv[1], arguments.integer(argv[2]))


def decrby(ex: Execution, argv: list[bytes]) -> Reply:
    decrement = arguments.integer(argv[2])
    if decrement == INT64_MIN:
        raise RedisError(DECREMENT_OVERFLOW)
    return _incr_by(ex, argv[1], -decrement)


def incrbyfloat(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = ex.get_string(key)
    value = LongDouble.from_int(0) if current is None else LongDouble.parse(current)
    if value is None:
        raise RedisError(NOT_FLOAT)
    increment = arguments.long_double(argv[2])
    total = value.add(increment)
    if not total.is_finite:
        raise RedisError(NAN_OR_INFINITY)
    text = total.human()
    if current is None:
        ex.store_new(key, text)
    else:
        ex.db.replace_value(key, text)
        ex.touch(key)
    return text


def append(ex: Execution, argv: list[bytes]) -> Reply:
    key, suffix = argv[1], argv[2]
    current = ex.get_string_buffer(key)
    if current is None:
        ex.store_new(key, suffix)
        return len(suffix)
    size = len(current) + len(suffix)
    ex.check_string_size(size)
    _growable(ex, key, current).extend(suffix)
    ex.touch(key)
    return size


def _growable(ex: Execution, key: bytes, current: bytes | bytearray) -> bytearray:
    """The key's string as a bytearray, converted once (TTL kept), then changed in place:
    appending to a bytes object would copy it every time."""
    if type(current) is bytearray:
        return current
    buffer = bytearray(current)
    ex.db.replace_value(key, buffer)
    return buffer


def strlen(ex: Execution, argv: list[bytes]) -> Reply:
    value = ex.get_string_buffer(argv[1])
    return 0 if value is None else len(value)


def getrange(ex: Execution, argv: list[bytes]) -> Reply:
    start = arguments.integer(argv[2])
    end = arguments.integer(argv[3])
    value = ex.get_string_buffer(argv[1])
    if value is None:
        return b""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    end = max(end, 0)
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        return b""
    return bytes(value[start : end + 1])


def setrange(ex: Execution, argv: list[bytes]) -> Reply:
    key, patch = argv[1], argv[3]
    offset = arguments.integer(argv[2])
    if offset < 0:
        raise RedisError(OFFSET_OUT_OF_RANGE)
    current = ex.get_string_buffer(key)
    if current is None:
        if not patch:
            return 0
        ex.check_string_size(offset + len(patch))
        ex.store_new(key, b"\0" * offset + patch)
        return offset + len(patch)
    if not patch:
        return len(current)
    ex.check_string_size(offset + len(patch))
    buffer = _growable(ex, key, current)
    if len(buffer) < offset:
        buffer.extend(b"\0" * (offset - len(buffer)))
    buffer[offset : offset + len(patch)] = patch
    ex.touch(key)
    return len(buffer)


COMMANDS = {
    "get": get,
    "set": set_,
    "setnx": setnx,
    "setex": setex,
    "psetex": psetex,
    "getset": getset,
    "getdel": getdel,
    "getex": getex,
    "mget": mget,
    "mset": mset,
    "msetnx": msetnx,
    "incr": incr,
    "decr": decr,
    "incrby": incrby,
    "decrby": decrby,
    "incrbyfloat": incrbyfloat,
    "append": append,
    "strlen": strlen,
    "getrange": getrange,
    "setrange": setrange,
}

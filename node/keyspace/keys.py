"""Generic key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, the EXPIRE family (NX/XX/GT/LT),
TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, RENAME, RENAMENX, COPY, SCAN, KEYS, DBSIZE,
RANDOMKEY, FLUSHALL, FLUSHDB. Semantics follow Redis 7.0's db.c and expire.c (in
cluster mode: one database)."""

from __future__ import annotations

from collections import deque

from node.keyspace import arguments
from node.keyspace.arguments import option
from node.keyspace.containers import SetValue, ZSetValue
from node.keyspace.database import Value, type_name
from node.keyspace.execution import Execution
from node.keyspace.numeric import INT64_MAX, INT64_MIN, format_int
from node.keyspace.replies import (
    NO_SUCH_KEY,
    OK,
    SAME_OBJECT,
    SYNTAX,
    RedisError,
    Reply,
    SimpleString,
    invalid_expire,
)
from node.keyspace.scan import (
    decode_keys_cursor,
    encode_keys_cursor,
    glob_matcher,
    scan_batch,
)
from node.keyspace.slots import INTERNAL_KEY_PREFIX, SLOT_COUNT, is_internal_key

DATABASES = 16  # what COPY ... DB n validates against, as Redis's default `databases`


def copy_value(value: Value) -> Value:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytearray(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, deque):
        return deque(value)
    if isinstance(value, SetValue):
        return value.copy()
    if isinstance(value, ZSetValue):
        return value.copy()
    raise TypeError(f"unknown value type {type(value)!r}")


def delete(ex: Execution, argv: list[bytes]) -> Reply:
    deleted = 0
    for key in argv[1:]:
        if ex.get(key) is not None and ex.delete(key):
            deleted += 1
    return deleted


def exists(ex: Execution, argv: list[bytes]) -> Reply:
    return sum(1 for key in argv[1:] if ex.exists(key))


def type_(ex: Execution, argv: list[bytes]) -> Reply:
    value = ex.get(argv[1])
    return SimpleString("none" if value is None else type_name(value).decode())


# --- expiry -------------------------------------------------------------------------------


def _expire_flags(argv: list[bytes]) -> set[bytes]:
    """``parseExtendedExpireArgumentsOrReply``."""
    flags: set[bytes] = set()
    for raw in argv[3:]:
        opt = option(raw)
        if opt not in (b"nx", b"xx", b"gt", b"lt"):
            text = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            raise RedisError(f"ERR Unsupported option {text}")
        flags.add(opt)
    if b"nx" in flags and flags & {b"xx", b"gt", b"lt"}:
        raise RedisError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"gt" in flags and b"lt" in flags:
        raise RedisError("ERR GT and LT options at the same time are not compatible")
    return flags


def expire_when(argv: list[bytes], now_ms: int) -> tuple[int, set[bytes]]:
    """The absolute expiry (unix ms) an EXPIRE-family command asks for, with its flags;
    the validation of ``expireGenericCommand`` in its order."""
    name = argv[0].lower().decode("utf-8", "replace")
    flags = _expire_flags(argv)
    when = arguments.integer(argv[2])
    if name in ("expire", "expireat"):
        if when > INT64_MAX // 1000 or when < -(INT64_MAX // 1000):
            raise RedisError(invalid_expire(name))
        when *= 1000
    base = now_ms if name in ("expire", "pexpire") else 0
    if when > INT64_MAX - base:
        raise RedisError(invalid_expire(name))
    when += base
    if when < INT64_MIN:
        raise RedisError(invalid_expire(name))
    return when, flags


def pexpireat_argv(argv: list[bytes], now_ms: int) -> list[bytes]:
    """The leader's determinisation: EXPIRE/PEXPIRE/EXPIREAT become PEXPIREAT with an
    absolute time. Invalid commands are returned unchanged (apply fails them alike)."""
    try:
        when, _ = expire_when(argv, now_ms)
    except RedisError:
        return argv
    return [b"PEXPIREAT", argv[1], format_int(when), *argv[3:]]


def expire_generic(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    when, flags = expire_when(argv, ex.now_ms)
    if not ex.exists(key):
        return 0
    if flags:
        current = ex.db.expire_at(key)
        if b"nx" in flags and current is not None:
            return 0
        if b"xx" in flags and current is None:
            return 0
        if b"gt" in flags and (current is None or when <= current):
            return 0
        if b"lt" in flags and current is not None and when >= current:
            return 0
    if when <= ex.now_ms:
        ex.delete(key)
        return 1
    ex.set_expire(key, when)
    ex.touch(key)
    return 1


def _ttl_generic(ex: Execution, key: bytes, milliseconds: bool, absolute: bool) -> Reply:
    if not ex.exists(key):
        return -2
    when = ex.db.expire_at(key)
    if when is None:
        return -1
    ttl = when if absolute else when - ex.now_ms
    ttl = max(ttl, 0)
    return ttl if milliseconds else (ttl + 500) // 1000


def ttl(ex: Execution, argv: list[bytes]) -> Reply:
    return _ttl_generic(ex, argv[1], milliseconds=False, absolute=False)


def pttl(ex: Execution, argv: list[bytes]) -> Reply:
    return _ttl_generic(ex, argv[1], milliseconds=True, absolute=False)


def expiretime(ex: Execution, argv: list[bytes]) -> Reply:
    return _ttl_generic(ex, argv[1], milliseconds=False, absolute=True)


def pexpiretime(ex: Execution, argv: list[bytes]) -> Reply:
    return _ttl_generic(ex, argv[1], milliseconds=True, absolute=True)


def persist(ex: Execution, argv: list[bytes]) -> Reply:
    key = argv[1]
    if not ex.exists(key):
        return 0
    if ex.db.remove_expire(key):
        ex.touch(key)
        return 1
    return 0


# --- moving and copying -------------------------------------------------------------------


def _rename_generic(ex: Execution, argv: list[bytes], nx: bool) -> Reply:
    source, target = argv[1], argv[2]
    value = ex.get(source)
    if value is None:
        raise RedisError(NO_SUCH_KEY)
    if source == target:
        return 0 if nx else OK
    when = ex.db.expire_at(source)
    if ex.exists(target):
        if nx:
            return 0
        ex.delete(target)
    ex.db.delete(source)
    ex.db.insert(target, value)
    if when is not None:
        ex.set_expire(target, when)
    ex.touch(source)
    ex.touch(target)
    return 1 if nx else OK


def rename(ex: Execution, argv: list[bytes]) -> Reply:
    return _rename_generic(ex, argv, nx=False)


def renamenx(ex: Execution, argv: list[bytes]) -> Reply:
    return _rename_generic(ex, argv, nx=True)


def copy(ex: Execution, argv: list[bytes]) -> Reply:
    source, target = argv[1], argv[2]
    replace = False
    target_db = 0
    j = 3
    while j < len(argv):
        opt = option(argv[j])
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < len(argv):
            target_db = arguments.integer_in_range(argv[j + 1], -(2**31), 2**31 - 1)
            if not 0 <= target_db < DATABASES:
                raise RedisError("ERR DB index is out of range")
            j += 1
        else:
            raise RedisError(SYNTAX)
        j += 1
    if target_db != 0:
        raise RedisError("ERR Copying to another database is not allowed in cluster mode")
    if source == target:
        raise RedisError(SAME_OBJECT)
    value = ex.get(source)
    if value is None:
        return 0
    when = ex.db.expire_at(source)
    if ex.exists(target):
        if not replace:
            return 0
        ex.delete(target)
    ex.store_new(target, copy_value(value))
    if when is not None:
        ex.set_expire(target, when)
    return 1


# --- the whole keyspace -------------------------------------------------------------------


def scan(ex: Execution, argv: list[bytes]) -> Reply:
    cursor = arguments.cursor(argv[1])
    count, pattern, wanted_type = 10, None, None
    j = 2
    while j < len(argv):
        opt = option(argv[j])
        if opt == b"count" and j + 1 < len(argv):
            count = arguments.integer(argv[j + 1])
            if count < 1:
                raise RedisError(SYNTAX)
        elif opt == b"match" and j + 1 < len(argv):
            pattern = argv[j + 1]
        elif opt == b"type" and j + 1 < len(argv):
            wanted_type = option(argv[j + 1])
        else:
            raise RedisError(SYNTAX)
        j += 2
    slot, threshold = decode_keys_cursor(cursor)
    found: list[bytes] = []
    next_cursor = 0
    while slot < SLOT_COUNT:
        keys = ex.db.keys_in_slot(slot)
        batch, threshold = scan_batch(keys, len(keys), threshold, count - len(found), _same)
        found.extend(batch)
        if threshold:
            next_cursor = encode_keys_cursor(slot, threshold)
            break
        slot += 1
        if len(found) >= count and slot < SLOT_COUNT:
            next_cursor = encode_keys_cursor(slot, 0)
            break
    matcher = glob_matcher(pattern) if pattern is not None else None
    hide_internal = not _asks_for_internal(pattern)
    out: list[Reply] = []
    for key in found:
        if hide_internal and is_internal_key(key):
            continue
        value = ex.get(key)
        if value is None:
            continue
        if matcher is not None and not matcher(key):
            continue
        if wanted_type is not None and type_name(value) != wanted_type:
            continue
        out.append(key)
    return [format_int(next_cursor), out]


def _same(key: bytes) -> bytes:
    return key


def _asks_for_internal(pattern: bytes | None) -> bool:
    """The cluster's own keys are listed only for a pattern that names them (the group
    coordinator's ``{__group:*}:*``); node/security.py asks ``admin`` on ``cluster`` for it."""
    return pattern is not None and pattern.startswith(INTERNAL_KEY_PREFIX)


def keys(ex: Execution, argv: list[bytes]) -> Reply:
    matcher = glob_matcher(argv[1])
    hide_internal = not _asks_for_internal(argv[1])
    out: list[Reply] = []
    for slot in ex.db.non_empty_slots():
        for key in ex.db.keys_in_slot(slot):
            if hide_internal and is_internal_key(key):
                continue
            if matcher(key) and ex.exists(key):
                out.append(key)
    return out


def dbsize(ex: Execution, argv: list[bytes]) -> Reply:
    return ex.db.user_key_count


def randomkey(ex: Execution, argv: list[bytes]) -> Reply:
    """A uniformly random key: pick a rank, find its slot by walking the per-slot counts
    (O(16384) at worst), then the key within the slot. Logically expired keys are skipped
    by retrying, up to 100 times, as Redis does."""
    total = ex.db.key_count
    if ex.db.user_key_count == 0:
        return None
    for _ in range(100):
        rank = ex.rng.randrange(total)
        for slot in ex.db.non_empty_slots():
            size = ex.db.count_in_slot(slot)
            if rank < size:
                key = _nth(ex.db.keys_in_slot(slot), rank)
                break
            rank -= size
        else:  # pragma: no cover - key_count and the slots always agree
            raise AssertionError("key_count does not match the slots")
        if ex.exists(key) and not is_internal_key(key):
            return key
        if ex.db.user_key_count == 0:
            return None
        total = ex.db.key_count
    return None


def _nth(keys: dict[bytes, Value], rank: int) -> bytes:
    for index, key in enumerate(keys):
        if index == rank:
            return key
    raise IndexError(rank)


def flush(ex: Execution, argv: list[bytes]) -> Reply:
    if len(argv) == 2:
        if option(argv[1]) not in (b"sync", b"async"):
            raise RedisError(SYNTAX)
    elif len(argv) > 2:
        raise RedisError(SYNTAX)
    ex.db.clear_user_keys()
    ex.flushed = True
    return OK


COMMANDS = {
    "del": delete,
    "unlink": delete,
    "exists": exists,
    "touch": exists,
    "type": type_,
    "expire": expire_generic,
    "pexpire": expire_generic,
    "expireat": expire_generic,
    "pexpireat": expire_generic,
    "ttl": ttl,
    "pttl": pttl,
    "expiretime": expiretime,
    "pexpiretime": pexpiretime,
    "persist": persist,
    "rename": rename,
    "renamenx": renamenx,
    "copy": copy,
    "scan": scan,
    "keys": keys,
    "dbsize": dbsize,
    "randomkey": randomkey,
    "flushall": flush,
    "flushdb": flush,
}

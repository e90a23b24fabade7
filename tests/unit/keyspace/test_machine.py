"""Classification, the leader's determinisation, dispatch, limits and the touched-keys hook."""

from __future__ import annotations

import pytest

from node.keyspace import (
    NULL_ARRAY,
    OK,
    WOULD_BLOCK,
    ApplyContext,
    CommandKind,
    Keyspace,
    KeyspaceLimits,
    RedisError,
    SimpleString,
    TouchEvent,
    key_slot,
)
from node.keyspace.lists import blocking_timeout_ms

from .harness import Shard, argv_of

# --- classify ---------------------------------------------------------------------------------


def test_classify_reads_writes_and_front_end_commands() -> None:
    keyspace = Keyspace()
    get = keyspace.classify(argv_of("GET", "k"))
    assert (get.kind, get.keys, get.slot, get.name) == (CommandKind.READ, (b"k",), key_slot(b"k"), "get")
    assert keyspace.classify(argv_of("set", "k", "v")).kind is CommandKind.WRITE
    assert keyspace.classify(argv_of("PING")).kind is CommandKind.OTHER
    assert keyspace.classify(argv_of("CLUSTER", "KEYSLOT", "x")).name == "cluster|keyslot"
    blpop = keyspace.classify(argv_of("BLPOP", "a{t}", "b{t}", "0"))
    assert blpop.blocking and blpop.keys == (b"a{t}", b"b{t}")
    movable = keyspace.classify(argv_of("ZUNIONSTORE", "d{t}", "2", "a{t}", "b{t}", "WEIGHTS", "1", "2"))
    assert movable.keys == (b"d{t}", b"a{t}", b"b{t}")
    assert keyspace.classify(argv_of("DBSIZE")).slot is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["GET"], "ERR wrong number of arguments for 'get' command"),
        (["get", "a", "b"], "ERR wrong number of arguments for 'get' command"),
        (["NOPE", "x", "y"], "ERR unknown command 'NOPE', with args beginning with: 'x' 'y' "),
        (["MGET", "a", "b"], "CROSSSLOT Keys in request don't hash to the same slot"),
        (["SMOVE", "a", "b", "m"], "CROSSSLOT Keys in request don't hash to the same slot"),
        (["ZUNIONSTORE", "d", "2", "a", "b"], "CROSSSLOT Keys in request don't hash to the same slot"),
    ],
)
def test_classify_errors_have_redis_texts(argv: list[str], message: str) -> None:
    with pytest.raises(RedisError) as caught:
        Keyspace().classify(argv_of(*argv))
    assert caught.value.message == message


def test_malformed_numkeys_is_left_to_the_command() -> None:
    shard = Shard()
    info = shard.keyspace.classify(argv_of("ZUNIONSTORE", "d", "0", "a"))
    assert info.keys == ()
    assert shard("ZUNIONSTORE", "d", "0", "a") == RedisError(
        "ERR at least 1 input key is needed for 'zunionstore' command"
    )


# --- prepare_write ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "prepared"),
    [
        (["EXPIRE", "k", "10"], ["PEXPIREAT", "k", "1000010000"]),
        (["EXPIRE", "k", "10", "NX"], ["PEXPIREAT", "k", "1000010000", "NX"]),
        (["PEXPIRE", "k", "10"], ["PEXPIREAT", "k", "1000000010"]),
        (["EXPIREAT", "k", "2000000"], ["PEXPIREAT", "k", "2000000000"]),
        (["PEXPIREAT", "k", "5"], ["PEXPIREAT", "k", "5"]),
        (["SET", "k", "v", "EX", "10"], ["SET", "k", "v", "PXAT", "1000010000"]),
        (["SET", "k", "v", "NX", "PX", "5", "GET"], ["SET", "k", "v", "NX", "GET", "PXAT", "1000000005"]),
        (["SET", "k", "v", "EXAT", "7"], ["SET", "k", "v", "PXAT", "7000"]),
        (["SETEX", "k", "10", "v"], ["SET", "k", "v", "PXAT", "1000010000"]),
        (["PSETEX", "k", "10", "v"], ["SET", "k", "v", "PXAT", "1000000010"]),
        (["GETEX", "k", "EX", "1"], ["GETEX", "k", "PXAT", "1000001000"]),
        # Invalid commands are logged as they are, to fail alike on every replica.
        (["EXPIRE", "k", "x"], ["EXPIRE", "k", "x"]),
        (["EXPIRE", "k", "10", "FOO"], ["EXPIRE", "k", "10", "FOO"]),
        (["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "0"]),
        (["SETEX", "k", "-1", "v"], ["SETEX", "k", "-1", "v"]),
        (["GETEX", "k", "EX", "-1"], ["GETEX", "k", "EX", "-1"]),
        (["SPOP", "k"], ["SPOP", "k"]),
    ],
)
def test_prepare_write_makes_time_absolute(argv: list[str], prepared: list[str]) -> None:
    assert Keyspace().prepare_write(argv_of(*argv), 1_000_000_000) == argv_of(*prepared)


def test_prepared_and_unprepared_records_apply_identically() -> None:
    plain, prepared = Shard(), Shard()
    for argv in (["SET", "a", "1", "EX", "100"], ["EXPIRE", "a", "50", "LT"], ["SETEX", "b", "9", "x"]):
        raw = argv_of(*argv)
        assert plain.keyspace.apply(raw, plain.context()) == prepared.keyspace.apply(
            prepared.keyspace.prepare_write(raw, prepared.now_ms), prepared.context()
        )
    assert plain.keyspace.digest() == prepared.keyspace.digest()


# --- apply ------------------------------------------------------------------------------------


def test_apply_rejects_offsets_that_do_not_increase() -> None:
    keyspace = Keyspace()
    keyspace.apply(argv_of("SET", "a", "1"), ApplyContext(1, 0, 5))
    with pytest.raises(ValueError, match="offset"):
        keyspace.apply(argv_of("SET", "a", "1"), ApplyContext(1, 0, 5))
    assert keyspace.applied_offset == 5


def test_read_refuses_writes_and_never_mutates() -> None:
    shard = Shard()
    shard("SET", "k", "v", "PX", "10")
    with pytest.raises(ValueError):
        shard.keyspace.read(argv_of("SET", "k", "v"), shard.now_ms)
    digest = shard.keyspace.digest()
    assert shard.keyspace.read(argv_of("GET", "k"), shard.now_ms + 11) is None
    assert shard.keyspace.read(argv_of("DBSIZE"), shard.now_ms + 11) == 1  # not deleted by the read
    assert shard.keyspace.digest() == digest


def test_blocking_commands_would_block_then_pop() -> None:
    shard = Shard()
    assert shard("BLPOP", "a{t}", "b{t}", "0") is WOULD_BLOCK
    assert shard("BLMOVE", "a{t}", "b{t}", "LEFT", "RIGHT", "1.5") is WOULD_BLOCK
    shard("RPUSH", "b{t}", "x", "y")
    assert shard("BLPOP", "a{t}", "b{t}", "0") == [b"b{t}", b"x"]
    assert shard("BRPOPLPUSH", "b{t}", "a{t}", "0") == b"y"
    # Inside a transaction nothing blocks: Redis's null array (pop) and null bulk (move).
    assert shard.exec(["BRPOP", "c{t}", "0"], ["BLMOVE", "c{t}", "d{t}", "LEFT", "LEFT", "0"]) == [
        NULL_ARRAY,
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("1.5", 1500), ("0.0001", 1), ("10", 10000), ("1e3", 1_000_000)],
)
def test_blocking_timeout(raw: str, expected: int) -> None:
    assert blocking_timeout_ms(raw.encode()) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("-1", "ERR timeout is negative"), ("x", "ERR timeout is not a float or out of range"),
     ("1e300", "ERR timeout is out of range"), ("inf", "ERR timeout is out of range")],
)  # fmt: skip
def test_blocking_timeout_errors(raw: str, message: str) -> None:
    with pytest.raises(RedisError) as caught:
        blocking_timeout_ms(raw.encode())
    assert caught.value.message == message


# --- limits -----------------------------------------------------------------------------------


def test_oversized_keys_values_and_results_fail_whole() -> None:
    shard = Shard(limits=KeyspaceLimits(max_key_bytes=8, max_value_bytes=16))
    too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    assert shard("SET", "k" * 9, "v") == RedisError(too_long)
    assert shard("SET", "k", "v" * 17) == RedisError(too_long)
    assert shard("RPUSH", "l", "ok", "v" * 17) == RedisError(too_long)
    assert shard("EXISTS", "l") == 0
    assert shard("SET", "k", "v" * 10) == OK
    assert shard("APPEND", "k", "v" * 7) == RedisError(too_long)
    assert shard("SETRANGE", "k", "10", "abcdefg") == RedisError(too_long)
    assert shard("STRLEN", "k") == 10


def test_key_and_element_limits_answer_oom_and_change_nothing() -> None:
    shard = Shard(limits=KeyspaceLimits(max_keys=2, max_elements=3))
    oom = RedisError("OOM command not allowed when used memory > 'maxmemory'.")
    assert shard("SET", "a", "1") == OK
    assert shard("RPUSH", "l", "x", "y") == 2
    assert shard("SET", "c", "1") == oom  # would create a third key
    assert shard("SET", "a", "2") == OK  # overwrites: allowed at the limit
    assert shard("DEL", "a") == 1
    assert shard("RPUSH", "l", "1", "2") == oom
    assert shard("LRANGE", "l", "0", "-1") == [b"x", b"y"]
    assert shard("SADD", "s", "a", "b", "c", "d") == oom
    assert shard("EXISTS", "s") == 0
    assert shard("ZADD", "z", "1", "a", "2", "b", "3", "c") == 3
    assert shard("ZADD", "z", "4", "d") == oom
    assert shard("ZADD", "z", "9", "a") == 0  # updating is fine


# --- the touched-keys hook --------------------------------------------------------------------


def test_listeners_see_modified_keys_once_per_record() -> None:
    shard = Shard()
    events: list[TouchEvent] = []
    shard.keyspace.add_listener(events.append)
    shard("SET", "a{t}", "1")
    shard("GET", "a{t}")  # a read: no event
    shard("SETNX", "a{t}", "2")  # no change: no event
    shard("RENAME", "a{t}", "b{t}")
    shard.exec(["LPUSH", "l{t}", "x"], ["LPUSH", "l{t}", "y"], ["SET", "c{t}", "1"])
    shard("FLUSHALL")
    assert [(e.keys, e.flushed) for e in events] == [
        ((b"a{t}",), False),
        ((b"a{t}", b"b{t}"), False),
        ((b"l{t}", b"c{t}"), False),
        ((), True),
    ]
    assert [e.offset for e in events] == [1, 3, 4, 5]  # reads take no offset


def test_lazy_expiry_on_write_is_a_touch() -> None:
    shard = Shard()
    events: list[TouchEvent] = []
    shard("SET", "k", "v", "PX", "100")
    shard.keyspace.add_listener(events.append)
    shard.now_ms += 101
    assert shard("DEL", "k") == 0  # already gone: deleted by expiry, not by DEL
    assert events == [TouchEvent(2, (b"k",), False)]


def test_simple_string_replies() -> None:
    shard = Shard()
    assert shard("TYPE", "nothing") == SimpleString("none")
    shard("SADD", "s", "x")
    assert shard("TYPE", "s") == SimpleString("set")


def test_every_keyspace_command_in_the_table_has_a_handler() -> None:
    from cluster.commands import COMMANDS
    from node.keyspace.machine import _BLOCKING, _HANDLERS

    from .gen_command_table import KEYSPACE

    assert set(KEYSPACE) == set(_HANDLERS) | set(_BLOCKING)
    for name in KEYSPACE:
        spec = COMMANDS[name]
        assert spec.is_write != spec.is_readonly, name  # exactly one: read or write
        assert spec.is_blocking == (name in _BLOCKING), name

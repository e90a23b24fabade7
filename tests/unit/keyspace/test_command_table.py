"""The command table against a real redis-server 7.0: COMMAND INFO and COMMAND DOCS entries
are Redis's, and get_keys finds the keys COMMAND GETKEYS finds (movable keys included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cluster import commands
from cluster.commands import (
    COMMANDS,
    EXTENSION_NAMES,
    KeyExtractionError,
    command_docs_reply,
    command_info_reply,
    get_keys,
    lookup,
)

from .real_redis import RawRedis, plain, redis_server


@pytest.fixture(scope="module")
def server() -> Iterator[RawRedis]:
    try:
        with redis_server(cluster=False) as port:
            conn = RawRedis(port)
            yield conn
            conn.close()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")


def _resp2(value: Any) -> Any:
    """Our reply-builder output in the shape the server's RESP2 reply parses to."""
    if isinstance(value, dict):
        return [item for key, val in value.items() for item in (_resp2(key), _resp2(val))]
    if isinstance(value, list):
        return [_resp2(item) for item in value]
    if isinstance(value, str):
        return value.encode()
    return value


def _without_subcommands(info: list[Any]) -> list[Any]:
    return info[:9]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_info_matches_redis(server: RawRedis, name: str) -> None:
    spec = COMMANDS[name]
    theirs = plain(server.call("COMMAND", "INFO", name))[0]
    ours = _resp2(command_info_reply(spec))
    assert _without_subcommands(ours) == _without_subcommands(theirs)
    their_subs = {sub[0]: sub for sub in theirs[9]}
    for sub in ours[9]:
        if sub[0].decode() in EXTENSION_NAMES:
            continue
        assert sub == their_subs[sub[0]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_docs_match_redis(server: RawRedis, name: str) -> None:
    spec = COMMANDS[name]
    flat = plain(server.call("COMMAND", "DOCS", name))
    theirs = dict(zip(flat[::2], flat[1::2], strict=True))[name.encode()]
    ours = _resp2(command_docs_reply(spec))
    if spec.subcommands:
        ours_map = dict(zip(ours[::2], ours[1::2], strict=True))
        theirs_map = dict(zip(theirs[::2], theirs[1::2], strict=True))
        our_subs = ours_map.pop(b"subcommands")
        their_subs = dict(zip(theirs_map[b"subcommands"][::2], theirs_map[b"subcommands"][1::2], strict=True))
        theirs_map.pop(b"subcommands")
        assert ours_map == theirs_map
        for sub_name, sub_doc in zip(our_subs[::2], our_subs[1::2], strict=True):
            if sub_name.decode() not in EXTENSION_NAMES:
                assert sub_doc == their_subs[sub_name]
    else:
        assert ours == theirs


GETKEYS_CASES = [
    "GET k", "SET k v EX 10", "MSET a 1 b 2 c 3", "MGET a b c", "DEL a b", "EXISTS a a",
    "RENAME a b", "COPY a b REPLACE", "BLPOP a b c 0", "BRPOP a 0", "BLMOVE a b LEFT RIGHT 0",
    "LMOVE a b LEFT RIGHT", "SMOVE a b m", "SINTER a b c", "SINTERSTORE d a b",
    "SINTERCARD 2 a b LIMIT 1", "ZUNIONSTORE d 2 a b WEIGHTS 1 2", "ZINTERSTORE d 3 a b c",
    "ZDIFFSTORE d 1 a", "ZUNION 2 a b WITHSCORES", "ZINTERCARD 2 a b", "ZRANGESTORE d s 0 -1",
    "WATCH a b", "HSET h f v", "ZADD z 1 m", "EXPIRE k 10", "TOUCH a b",
    "UNLINK a b c", "MSETNX a 1 b 2", "RPOPLPUSH a b", "BRPOPLPUSH a b 0", "SDIFFSTORE d a",
]  # fmt: skip


@pytest.mark.parametrize("line", GETKEYS_CASES)
def test_get_keys_matches_command_getkeys(server: RawRedis, line: str) -> None:
    argv = [word.encode() for word in line.split()]
    theirs = plain(server.call("COMMAND", "GETKEYS", *argv))
    assert get_keys(argv) == theirs


def test_channels_route_like_keys_but_are_not_keys(server: RawRedis) -> None:
    argv = [b"SPUBLISH", b"channel", b"message"]
    assert server.call("COMMAND", "GETKEYS", *argv) == ("-", b"ERR The command has no key arguments")
    assert get_keys(argv, include_not_key=False) == []
    assert get_keys(argv) == [b"channel"]


@pytest.mark.parametrize("line", ["ZUNIONSTORE d 0 a", "ZUNIONSTORE d 5 a b", "SINTERCARD x a"])
def test_unsatisfiable_key_specs(server: RawRedis, line: str) -> None:
    argv = [word.encode() for word in line.split()]
    reply = server.call("COMMAND", "GETKEYS", *argv)
    assert reply[0] == "-"
    with pytest.raises(KeyExtractionError):
        commands.key_positions(COMMANDS[argv[0].decode().lower()], argv)


def test_lookup_and_arity() -> None:
    assert lookup([b"CLUSTER", b"keyslot", b"x"]) is COMMANDS["cluster"].subcommand("keyslot")
    assert lookup([b"CLIENT", b"nosuch"]) is COMMANDS["client"]
    assert lookup([b"nosuch"]) is None
    assert COMMANDS["get"].arity_ok(2) and not COMMANDS["get"].arity_ok(3)
    assert COMMANDS["set"].arity_ok(5) and not COMMANDS["set"].arity_ok(2)
    assert COMMANDS["client"].subcommand("setinfo") is not None  # redis-py sends it
    assert get_keys([b"PING"]) == [] and get_keys([b"NOSUCH", b"k"]) == []

"""The command table: every command Keystream speaks, as data.

One entry per command (and per subcommand of a container command such as
``CLUSTER`` or ``CLIENT``), with exactly the fields Redis 7.0 reports in
``COMMAND INFO``: name, arity, flags, the legacy first-key/last-key/step
triple, ACL categories, tips and key specs. ``COMMAND DOCS`` data is in
:data:`DOCS`. Three consumers read this table:

* the RESP front end answers ``COMMAND``/``COMMAND INFO``/``COMMAND DOCS``/
  ``COMMAND GETKEYS`` from it and checks arity before dispatching;
* the keyspace state machine (``node.keyspace``) takes arity, read/write and
  key positions from it;
* the SDK routes a command to the shard that owns its keys' slot with
  :func:`get_keys` (which handles movable-key commands such as
  ``ZUNIONSTORE dst 2 a b``).

Conventions (Redis's): arity ``N > 0`` means exactly N arguments including
the command name; ``-N`` means at least N. Names are lower case; a
subcommand's full name is ``"parent|sub"``.

The entries below the ``GENERATED`` marker were produced from the reply of a
real ``redis-server`` 7.0.15 by ``tests/unit/keyspace/gen_command_table.py``
(which rewrites only that section), and ``tests/unit/keyspace/
test_command_table.py`` compares them with a live server, so they stay
byte-for-byte what Redis reports. Commands that Redis 7.0 does not have
(``CLIENT SETINFO``, which redis-py sends on connect) are hand-written in
:data:`_EXTENSIONS` and excluded from that comparison.

Reply builders (:func:`command_info_reply`, :func:`command_docs_reply`) return
plain data in Redis's RESP2 shape: ``list`` is an array, ``dict`` is a map
(RESP2 sends it as a flat array of key, value), ``str``/``bytes`` are bulk
strings and ``int`` is an integer. In RESP3 Redis sends the flags and ACL
categories of ``COMMAND INFO`` and the ``flags`` of ``COMMAND DOCS``
arguments as sets; the front end applies that when it encodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# --- the data model ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeginIndex:
    """Key search starts at a fixed argument index."""

    index: int


@dataclass(frozen=True, slots=True)
class BeginKeyword:
    """Key search starts after ``keyword``, searched from ``startfrom``
    (negative: from the end, backwards)."""

    keyword: str
    startfrom: int


@dataclass(frozen=True, slots=True)
class FindRange:
    """Keys are ``first .. first+lastkey`` (``lastkey < 0``: relative to the
    end), every ``keystep``-th argument; ``limit`` divides the remaining
    arguments (``XREAD STREAMS k1 k2 id1 id2`` has ``limit=2``)."""

    lastkey: int
    keystep: int
    limit: int


@dataclass(frozen=True, slots=True)
class FindKeynum:
    """``argv[first + keynumidx]`` holds the number of keys, which start at
    ``first + firstkey``, every ``keystep``-th argument."""

    keynumidx: int
    firstkey: int
    keystep: int


@dataclass(frozen=True, slots=True)
class KeySpec:
    flags: tuple[str, ...]
    begin_search: BeginIndex | BeginKeyword
    find_keys: FindRange | FindKeynum
    notes: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    arity: int
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    step: int
    acl_categories: tuple[str, ...]
    tips: tuple[str, ...] = ()
    key_specs: tuple[KeySpec, ...] = ()
    subcommands: tuple[CommandSpec, ...] = ()
    group: str = ""  # the COMMAND DOCS group: "string", "list", "server", ...

    # Derived views, computed once (the table is immutable).
    @property
    def is_write(self) -> bool:
        return "write" in self.flags

    @property
    def is_readonly(self) -> bool:
        return "readonly" in self.flags

    @property
    def is_blocking(self) -> bool:
        return "blocking" in self.flags

    @property
    def denies_oom(self) -> bool:
        return "denyoom" in self.flags

    @property
    def has_keys(self) -> bool:
        return bool(self.key_specs)

    def arity_ok(self, argc: int) -> bool:
        """Redis's dispatch-time arity check (argc counts the command name)."""
        if self.arity >= 0:
            return argc == self.arity
        return argc >= -self.arity

    def subcommand(self, name: str) -> CommandSpec | None:
        full = f"{self.name}|{name.lower()}"
        for sub in self.subcommands:
            if sub.name == full:
                return sub
        return None


class KeyExtractionError(ValueError):
    """The arguments do not contain the keys the command's key specs describe
    (``COMMAND GETKEYS`` answers ``ERR Invalid arguments specified for command``)."""


# --- lookups --------------------------------------------------------------------


def lookup(argv: Sequence[bytes]) -> CommandSpec | None:
    """The spec for ``argv``: the subcommand's for container commands when
    ``argv[1]`` names a known subcommand, else the container's own entry
    (the caller reports an unknown subcommand). ``None`` if unknown."""
    if not argv:
        return None
    spec = COMMANDS.get(_lower(argv[0]))
    if spec is None or not spec.subcommands or len(argv) < 2:
        return spec
    return spec.subcommand(_lower(argv[1])) or spec


def _lower(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").lower()


def key_positions(spec: CommandSpec, argv: Sequence[bytes], include_not_key: bool = True) -> list[int]:
    """Indices of the key arguments of ``argv`` (which includes the command
    name), found with the key specs exactly as Redis 7.0's
    ``getKeysUsingKeySpecs`` does, so movable-key commands are handled.

    Raises :class:`KeyExtractionError` when a spec cannot be satisfied
    (``ZUNIONSTORE dst 0``, a ``numkeys`` beyond the arguments, ...).

    ``include_not_key``: also the arguments of ``not_key`` specs (SPUBLISH's channel, which
    routes by slot like a key); ``COMMAND GETKEYS`` leaves them out.
    """
    argc = len(argv)
    positions: list[int] = []
    for key_spec in spec.key_specs:
        if not include_not_key and "not_key" in key_spec.flags:
            continue
        begin = key_spec.begin_search
        if isinstance(begin, BeginIndex):
            first = begin.index
            if first >= argc:
                continue
        else:
            found = _find_keyword(argv, begin)
            if found is None:
                continue
            first = found
        find = key_spec.find_keys
        if isinstance(find, FindRange):
            if find.lastkey >= 0:
                last = first + find.lastkey
            elif not find.limit:
                last = argc + find.lastkey
            else:
                last = first + ((argc - first) // find.limit + find.lastkey)
            step = find.keystep
        else:
            numkeys_at = first + find.keynumidx
            if numkeys_at >= argc:
                raise KeyExtractionError("numkeys argument missing")
            numkeys = _parse_strict_int(argv[numkeys_at])
            if numkeys is None or numkeys < 0:
                raise KeyExtractionError("numkeys is not a non-negative integer")
            first += find.firstkey
            last = first + numkeys - 1
            step = find.keystep
        if last >= argc or last < first or first >= argc:
            raise KeyExtractionError("key arguments out of range")
        positions.extend(range(first, last + 1, step))
    return positions


def get_keys(argv: Sequence[bytes], include_not_key: bool = True) -> list[bytes]:
    """The key arguments of ``argv`` (``[]`` for an unknown or keyless command): what the
    SDK routes by (channels of sharded pub/sub included) and, with
    ``include_not_key=False``, what ``COMMAND GETKEYS`` answers."""
    spec = lookup(argv)
    if spec is None:
        return []
    return [argv[i] for i in key_positions(spec, argv, include_not_key)]


def _find_keyword(argv: Sequence[bytes], begin: BeginKeyword) -> int | None:
    argc = len(argv)
    keyword = begin.keyword.encode().lower()
    if begin.startfrom >= 0:
        indices = range(begin.startfrom, argc)
    else:
        indices = range(argc + begin.startfrom, 0, -1)
    for i in indices:
        if 0 <= i < argc and argv[i].lower() == keyword:
            return i + 1
    return None


def _parse_strict_int(raw: bytes) -> int | None:
    # Redis's string2ll: optional '-', no '+', no leading zeros, no spaces.
    if not raw or len(raw) > 20:
        return None
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit() or (digits[:1] == b"0" and len(digits) > 1) or raw == b"-0":
        return None
    value = int(raw)
    return value if -(2**63) <= value < 2**63 else None


# --- reply builders (RESP2 shape; see the module docstring) -------------------------


def command_info_reply(spec: CommandSpec) -> list[Any]:
    """One element of ``COMMAND``/``COMMAND INFO``, as Redis 7.0 builds it."""
    return [
        spec.name.encode(),
        spec.arity,
        [flag.encode() for flag in spec.flags],
        spec.first_key,
        spec.last_key,
        spec.step,
        [category.encode() for category in spec.acl_categories],
        [tip.encode() for tip in spec.tips],
        [_key_spec_reply(key_spec) for key_spec in spec.key_specs],
        [command_info_reply(sub) for sub in spec.subcommands],
    ]


def _key_spec_reply(key_spec: KeySpec) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    if key_spec.notes:
        out[b"notes"] = key_spec.notes.encode()
    out[b"flags"] = [flag.encode() for flag in key_spec.flags]
    begin = key_spec.begin_search
    if isinstance(begin, BeginIndex):
        out[b"begin_search"] = {b"type": b"index", b"spec": {b"index": begin.index}}
    else:
        out[b"begin_search"] = {
            b"type": b"keyword",
            b"spec": {b"keyword": begin.keyword.encode(), b"startfrom": begin.startfrom},
        }
    find = key_spec.find_keys
    if isinstance(find, FindRange):
        out[b"find_keys"] = {
            b"type": b"range",
            b"spec": {b"lastkey": find.lastkey, b"keystep": find.keystep, b"limit": find.limit},
        }
    else:
        out[b"find_keys"] = {
            b"type": b"keynum",
            b"spec": {
                b"keynumidx": find.keynumidx,
                b"firstkey": find.firstkey,
                b"keystep": find.keystep,
            },
        }
    return out


def command_docs_reply(spec: CommandSpec) -> dict[str, Any]:
    """The value of one ``COMMAND DOCS`` entry (a map), subcommands included."""
    doc = dict(DOCS.get(spec.name, {}))
    if spec.subcommands:
        doc["subcommands"] = {sub.name: command_docs_reply(sub) for sub in spec.subcommands}
    return doc


def all_commands() -> list[CommandSpec]:
    """Top-level commands, in table order (``COMMAND``, ``COMMAND LIST``)."""
    return list(COMMANDS.values())


# --- the table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Extension:
    """A command Redis 7.0 lacks but clients send; not compared with the server."""

    parent: str
    spec: CommandSpec
    doc: dict[str, Any] = field(default_factory=dict)


_EXTENSIONS: tuple[_Extension, ...] = (
    # Redis 7.2's CLIENT SETINFO: redis-py >= 5 sends it after connecting.
    _Extension(
        parent="client",
        spec=CommandSpec(
            name="client|setinfo",
            arity=4,
            flags=("noscript", "loading", "stale"),
            first_key=0,
            last_key=0,
            step=0,
            acl_categories=("@slow", "@connection"),
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            group="connection",
        ),
        doc={
            "summary": "Sets information specific to the client or connection.",
            "since": "7.2.0",
            "group": "connection",
            "complexity": "O(1)",
            "arguments": [
                {
                    "name": "attr",
                    "type": "oneof",
                    "arguments": [
                        {"name": "libname", "type": "string", "token": "LIB-NAME"},
                        {"name": "libver", "type": "string", "token": "LIB-VER"},
                    ],
                }
            ],
        },
    ),
)

EXTENSION_NAMES: frozenset[str] = frozenset(ext.spec.name for ext in _EXTENSIONS)


def _build_table(generated: Sequence[CommandSpec]) -> dict[str, CommandSpec]:
    table = {spec.name: spec for spec in generated}
    for ext in _EXTENSIONS:
        parent = table[ext.parent]
        subs = tuple(sorted((*parent.subcommands, ext.spec), key=lambda s: s.name))
        table[ext.parent] = CommandSpec(
            name=parent.name,
            arity=parent.arity,
            flags=parent.flags,
            first_key=parent.first_key,
            last_key=parent.last_key,
            step=parent.step,
            acl_categories=parent.acl_categories,
            tips=parent.tips,
            key_specs=parent.key_specs,
            subcommands=subs,
            group=parent.group,
        )
        DOCS[ext.spec.name] = ext.doc
    return table


# ---- GENERATED by tests/unit/keyspace/gen_command_table.py: do not edit by hand ----
# fmt: off
_GENERATED: tuple[CommandSpec, ...] = (
    CommandSpec(
        'get', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@string', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'set', -3, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@string', '@slow'),
        key_specs=(
            KeySpec(('RW', 'access', 'update', 'variable_flags'), BeginIndex(1), FindRange(0, 1, 0),
                notes='RW and ACCESS due to the optional `GET` argument'),
        ),
        group='string',
    ),
    CommandSpec(
        'setnx', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('OW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'setex', 4, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@string', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'psetex', 4, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@string', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'getset', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'getdel', 2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'getex', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0),
                notes='RW and UPDATE because it changes the TTL'),
        ),
        group='string',
    ),
    CommandSpec(
        'mget', -2, ('readonly', 'fast'), 1, -1, 1,
        ('@read', '@string', '@fast'),
        tips=('request_policy:multi_shard',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'mset', -3, ('write', 'denyoom'), 1, -1, 2,
        ('@write', '@string', '@slow'),
        tips=('request_policy:multi_shard', 'response_policy:all_succeeded'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(-1, 2, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'msetnx', -3, ('write', 'denyoom'), 1, -1, 2,
        ('@write', '@string', '@slow'),
        tips=('request_policy:multi_shard', 'response_policy:agg_min'),
        key_specs=(
            KeySpec(('OW', 'insert'), BeginIndex(1), FindRange(-1, 2, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'incr', 2, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'decr', 2, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'incrby', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'decrby', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'incrbyfloat', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'append', 3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@string', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'strlen', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@string', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'getrange', 4, ('readonly',), 1, 1, 1,
        ('@read', '@string', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'setrange', 4, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@string', '@slow'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='string',
    ),
    CommandSpec(
        'del', -2, ('write',), 1, -1, 1,
        ('@keyspace', '@write', '@slow'),
        tips=('request_policy:multi_shard', 'response_policy:agg_sum'),
        key_specs=(
            KeySpec(('RM', 'delete'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'unlink', -2, ('write', 'fast'), 1, -1, 1,
        ('@keyspace', '@write', '@fast'),
        tips=('request_policy:multi_shard', 'response_policy:agg_sum'),
        key_specs=(
            KeySpec(('RM', 'delete'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'exists', -2, ('readonly', 'fast'), 1, -1, 1,
        ('@keyspace', '@read', '@fast'),
        tips=('request_policy:multi_shard', 'response_policy:agg_sum'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'touch', -2, ('readonly', 'fast'), 1, -1, 1,
        ('@keyspace', '@read', '@fast'),
        tips=('request_policy:multi_shard', 'response_policy:agg_sum'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'type', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@keyspace', '@read', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'expire', -3, ('write', 'fast'), 1, 1, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'pexpire', -3, ('write', 'fast'), 1, 1, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'expireat', -3, ('write', 'fast'), 1, 1, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'pexpireat', -3, ('write', 'fast'), 1, 1, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'expiretime', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@keyspace', '@read', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'pexpiretime', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@keyspace', '@read', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'ttl', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@keyspace', '@read', '@fast'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'pttl', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@keyspace', '@read', '@fast'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'persist', 2, ('write', 'fast'), 1, 1, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'rename', 3, ('write',), 1, 2, 1,
        ('@keyspace', '@write', '@slow'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('OW', 'update'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'renamenx', 3, ('write', 'fast'), 1, 2, 1,
        ('@keyspace', '@write', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('OW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'copy', -3, ('write', 'denyoom'), 1, 2, 1,
        ('@keyspace', '@write', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('OW', 'update'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='generic',
    ),
    CommandSpec(
        'scan', -2, ('readonly',), 0, 0, 0,
        ('@keyspace', '@read', '@slow'),
        tips=('nondeterministic_output', 'request_policy:special'),
        group='generic',
    ),
    CommandSpec(
        'keys', 2, ('readonly',), 0, 0, 0,
        ('@keyspace', '@read', '@slow', '@dangerous'),
        tips=('request_policy:all_shards', 'nondeterministic_output_order'),
        group='generic',
    ),
    CommandSpec(
        'dbsize', 1, ('readonly', 'fast'), 0, 0, 0,
        ('@keyspace', '@read', '@fast'),
        tips=('request_policy:all_shards', 'response_policy:agg_sum'),
        group='server',
    ),
    CommandSpec(
        'randomkey', 1, ('readonly',), 0, 0, 0,
        ('@keyspace', '@read', '@slow'),
        tips=('request_policy:all_shards', 'nondeterministic_output'),
        group='generic',
    ),
    CommandSpec(
        'flushall', -1, ('write',), 0, 0, 0,
        ('@keyspace', '@write', '@slow', '@dangerous'),
        tips=('request_policy:all_shards', 'response_policy:all_succeeded'),
        group='server',
    ),
    CommandSpec(
        'flushdb', -1, ('write',), 0, 0, 0,
        ('@keyspace', '@write', '@slow', '@dangerous'),
        tips=('request_policy:all_shards', 'response_policy:all_succeeded'),
        group='server',
    ),
    CommandSpec(
        'hset', -4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hsetnx', 4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hmset', -4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hget', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hmget', -3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hgetall', 2, ('readonly',), 1, 1, 1,
        ('@read', '@hash', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hdel', -3, ('write', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hexists', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hlen', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hkeys', 2, ('readonly',), 1, 1, 1,
        ('@read', '@hash', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hvals', 2, ('readonly',), 1, 1, 1,
        ('@read', '@hash', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hincrby', 4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hincrbyfloat', 4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hstrlen', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@hash', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hscan', -3, ('readonly',), 1, 1, 1,
        ('@read', '@hash', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'hrandfield', -2, ('readonly',), 1, 1, 1,
        ('@read', '@hash', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='hash',
    ),
    CommandSpec(
        'lpush', -3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'rpush', -3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lpushx', -3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'rpushx', -3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lpop', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'rpop', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@list', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lrange', 4, ('readonly',), 1, 1, 1,
        ('@read', '@list', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'llen', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@list', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lindex', 3, ('readonly',), 1, 1, 1,
        ('@read', '@list', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lset', 4, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'linsert', 5, ('write', 'denyoom'), 1, 1, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lrem', 4, ('write',), 1, 1, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'ltrim', 4, ('write',), 1, 1, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lpos', -3, ('readonly',), 1, 1, 1,
        ('@read', '@list', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'lmove', 5, ('write', 'denyoom'), 1, 2, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'rpoplpush', 3, ('write', 'denyoom'), 1, 2, 1,
        ('@write', '@list', '@slow'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'blpop', -3, ('write', 'noscript', 'blocking'), 1, -2, 1,
        ('@write', '@list', '@slow', '@blocking'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(-2, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'brpop', -3, ('write', 'noscript', 'blocking'), 1, -2, 1,
        ('@write', '@list', '@slow', '@blocking'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(-2, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'blmove', 6, ('write', 'denyoom', 'noscript', 'blocking'), 1, 2, 1,
        ('@write', '@list', '@slow', '@blocking'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'brpoplpush', 4, ('write', 'denyoom', 'noscript', 'blocking'), 1, 2, 1,
        ('@write', '@list', '@slow', '@blocking'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='list',
    ),
    CommandSpec(
        'sadd', -3, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@set', '@fast'),
        key_specs=(
            KeySpec(('RW', 'insert'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'srem', -3, ('write', 'fast'), 1, 1, 1,
        ('@write', '@set', '@fast'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'smembers', 2, ('readonly',), 1, 1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sismember', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@set', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'smismember', -3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@set', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'scard', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@set', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'spop', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@set', '@fast'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'srandmember', -2, ('readonly',), 1, 1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sinter', -2, ('readonly',), 1, -1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sintercard', -3, ('readonly', 'movablekeys'), 0, 0, 0,
        ('@read', '@set', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindKeynum(0, 1, 1)),
        ),
        group='set',
    ),
    CommandSpec(
        'sunion', -2, ('readonly',), 1, -1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sdiff', -2, ('readonly',), 1, -1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output_order',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sinterstore', -3, ('write', 'denyoom'), 1, -1, 1,
        ('@write', '@set', '@slow'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sunionstore', -3, ('write', 'denyoom'), 1, -1, 1,
        ('@write', '@set', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sdiffstore', -3, ('write', 'denyoom'), 1, -1, 1,
        ('@write', '@set', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindRange(-1, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'smove', 4, ('write', 'fast'), 1, 2, 1,
        ('@write', '@set', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RW', 'insert'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'sscan', -3, ('readonly',), 1, 1, 1,
        ('@read', '@set', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='set',
    ),
    CommandSpec(
        'zadd', -4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrem', -3, ('write', 'fast'), 1, 1, 1,
        ('@write', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zscore', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zmscore', -3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zincrby', 4, ('write', 'denyoom', 'fast'), 1, 1, 1,
        ('@write', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zcard', 2, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zcount', 4, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zlexcount', 4, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrange', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrangestore', -5, ('write', 'denyoom'), 1, 2, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrangebyscore', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrevrangebyscore', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrangebylex', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrevrangebylex', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrevrange', -4, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrank', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrevrank', 3, ('readonly', 'fast'), 1, 1, 1,
        ('@read', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zpopmin', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zpopmax', -2, ('write', 'fast'), 1, 1, 1,
        ('@write', '@sortedset', '@fast'),
        key_specs=(
            KeySpec(('RW', 'access', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zremrangebyscore', 4, ('write',), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zremrangebyrank', 4, ('write',), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zremrangebylex', 4, ('write',), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RW', 'delete'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zunionstore', -4, ('write', 'denyoom', 'movablekeys'), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zinterstore', -4, ('write', 'denyoom', 'movablekeys'), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zdiffstore', -4, ('write', 'denyoom', 'movablekeys'), 1, 1, 1,
        ('@write', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('OW', 'update'), BeginIndex(1), FindRange(0, 1, 0)),
            KeySpec(('RO', 'access'), BeginIndex(2), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zunion', -3, ('readonly', 'movablekeys'), 0, 0, 0,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zinter', -3, ('readonly', 'movablekeys'), 0, 0, 0,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zdiff', -3, ('readonly', 'movablekeys'), 0, 0, 0,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zintercard', -3, ('readonly', 'movablekeys'), 0, 0, 0,
        ('@read', '@sortedset', '@slow'),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindKeynum(0, 1, 1)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zscan', -3, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'zrandmember', -2, ('readonly',), 1, 1, 1,
        ('@read', '@sortedset', '@slow'),
        tips=('nondeterministic_output',),
        key_specs=(
            KeySpec(('RO', 'access'), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='sorted-set',
    ),
    CommandSpec(
        'ping', -1, ('fast',), 0, 0, 0,
        ('@fast', '@connection'),
        tips=('request_policy:all_shards', 'response_policy:all_succeeded'),
        group='connection',
    ),
    CommandSpec(
        'echo', 2, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'hello', -1, ('noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'auth', -2, ('noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'select', 2, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'quit', -1, ('noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'reset', 1, ('noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'), 0, 0, 0,
        ('@fast', '@connection'),
        group='connection',
    ),
    CommandSpec(
        'client', -2, (), 0, 0, 0,
        ('@slow',),
        subcommands=(
            CommandSpec(
                'client|getname', 2, ('noscript', 'loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|help', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|id', 2, ('noscript', 'loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|info', 2, ('noscript', 'loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                tips=('nondeterministic_output',),
                group='connection',
            ),
            CommandSpec(
                'client|kill', -3, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|list', -2, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous', '@connection'),
                tips=('nondeterministic_output',),
                group='connection',
            ),
            CommandSpec(
                'client|no-evict', 3, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|reply', 3, ('noscript', 'loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='connection',
            ),
            CommandSpec(
                'client|setname', 3, ('noscript', 'loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='connection',
            ),
        ),
        group='connection',
    ),
    CommandSpec(
        'info', -1, ('loading', 'stale'), 0, 0, 0,
        ('@slow', '@dangerous'),
        tips=('nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'),
        group='server',
    ),
    CommandSpec(
        'time', 1, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@fast',),
        tips=('nondeterministic_output',),
        group='server',
    ),
    CommandSpec(
        'config', -2, (), 0, 0, 0,
        ('@slow',),
        subcommands=(
            CommandSpec(
                'config|get', -3, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous'),
                group='server',
            ),
            CommandSpec(
                'config|help', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow',),
                group='server',
            ),
            CommandSpec(
                'config|resetstat', 2, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous'),
                group='server',
            ),
            CommandSpec(
                'config|set', -4, ('admin', 'noscript', 'loading', 'stale'), 0, 0, 0,
                ('@admin', '@slow', '@dangerous'),
                tips=('request_policy:all_nodes', 'response_policy:all_succeeded'),
                group='server',
            ),
        ),
        group='server',
    ),
    CommandSpec(
        'wait', 3, ('noscript',), 0, 0, 0,
        ('@slow', '@connection'),
        tips=('request_policy:all_shards', 'response_policy:agg_min'),
        group='generic',
    ),
    CommandSpec(
        'command', -1, ('loading', 'stale'), 0, 0, 0,
        ('@slow', '@connection'),
        tips=('nondeterministic_output_order',),
        subcommands=(
            CommandSpec(
                'command|count', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='server',
            ),
            CommandSpec(
                'command|docs', -2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                tips=('nondeterministic_output_order',),
                group='server',
            ),
            CommandSpec(
                'command|getkeys', -4, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='server',
            ),
            CommandSpec(
                'command|getkeysandflags', -4, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='server',
            ),
            CommandSpec(
                'command|help', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                group='server',
            ),
            CommandSpec(
                'command|info', -2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                tips=('nondeterministic_output_order',),
                group='server',
            ),
            CommandSpec(
                'command|list', -2, ('loading', 'stale'), 0, 0, 0,
                ('@slow', '@connection'),
                tips=('nondeterministic_output_order',),
                group='server',
            ),
        ),
        group='server',
    ),
    CommandSpec(
        'cluster', -2, (), 0, 0, 0,
        ('@slow',),
        subcommands=(
            CommandSpec(
                'cluster|countkeysinslot', 3, ('stale',), 0, 0, 0,
                ('@slow',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|getkeysinslot', 4, ('stale',), 0, 0, 0,
                ('@slow',),
                tips=('nondeterministic_output',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|help', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|info', 2, ('stale',), 0, 0, 0,
                ('@slow',),
                tips=('nondeterministic_output',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|keyslot', 3, ('stale',), 0, 0, 0,
                ('@slow',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|myid', 2, ('stale',), 0, 0, 0,
                ('@slow',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|nodes', 2, ('stale',), 0, 0, 0,
                ('@slow',),
                tips=('nondeterministic_output',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|shards', 2, ('stale',), 0, 0, 0,
                ('@slow',),
                tips=('nondeterministic_output',),
                group='cluster',
            ),
            CommandSpec(
                'cluster|slots', 2, ('stale',), 0, 0, 0,
                ('@slow',),
                tips=('nondeterministic_output',),
                group='cluster',
            ),
        ),
        group='cluster',
    ),
    CommandSpec(
        'readonly', 1, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@fast', '@connection'),
        group='cluster',
    ),
    CommandSpec(
        'readwrite', 1, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@fast', '@connection'),
        group='cluster',
    ),
    CommandSpec(
        'asking', 1, ('fast',), 0, 0, 0,
        ('@fast', '@connection'),
        group='cluster',
    ),
    CommandSpec(
        'multi', 1, ('noscript', 'loading', 'stale', 'fast', 'allow_busy'), 0, 0, 0,
        ('@fast', '@transaction'),
        group='transactions',
    ),
    CommandSpec(
        'exec', 1, ('noscript', 'loading', 'stale', 'skip_slowlog'), 0, 0, 0,
        ('@slow', '@transaction'),
        group='transactions',
    ),
    CommandSpec(
        'discard', 1, ('noscript', 'loading', 'stale', 'fast', 'allow_busy'), 0, 0, 0,
        ('@fast', '@transaction'),
        group='transactions',
    ),
    CommandSpec(
        'watch', -2, ('noscript', 'loading', 'stale', 'fast', 'allow_busy'), 1, -1, 1,
        ('@fast', '@transaction'),
        key_specs=(
            KeySpec(('RO',), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='transactions',
    ),
    CommandSpec(
        'unwatch', 1, ('noscript', 'loading', 'stale', 'fast', 'allow_busy'), 0, 0, 0,
        ('@fast', '@transaction'),
        group='transactions',
    ),
    CommandSpec(
        'bgsave', -1, ('admin', 'noscript', 'no_async_loading'), 0, 0, 0,
        ('@admin', '@slow', '@dangerous'),
        group='server',
    ),
    CommandSpec(
        'lastsave', 1, ('loading', 'stale', 'fast'), 0, 0, 0,
        ('@admin', '@fast', '@dangerous'),
        tips=('nondeterministic_output',),
        group='server',
    ),
    CommandSpec(
        'subscribe', -2, ('pubsub', 'noscript', 'loading', 'stale'), 0, 0, 0,
        ('@pubsub', '@slow'),
        group='pubsub',
    ),
    CommandSpec(
        'unsubscribe', -1, ('pubsub', 'noscript', 'loading', 'stale'), 0, 0, 0,
        ('@pubsub', '@slow'),
        group='pubsub',
    ),
    CommandSpec(
        'psubscribe', -2, ('pubsub', 'noscript', 'loading', 'stale'), 0, 0, 0,
        ('@pubsub', '@slow'),
        group='pubsub',
    ),
    CommandSpec(
        'punsubscribe', -1, ('pubsub', 'noscript', 'loading', 'stale'), 0, 0, 0,
        ('@pubsub', '@slow'),
        group='pubsub',
    ),
    CommandSpec(
        'publish', 3, ('pubsub', 'loading', 'stale', 'fast'), 0, 0, 0,
        ('@pubsub', '@fast'),
        group='pubsub',
    ),
    CommandSpec(
        'ssubscribe', -2, ('pubsub', 'noscript', 'loading', 'stale'), 1, -1, 1,
        ('@pubsub', '@slow'),
        key_specs=(
            KeySpec(('not_key',), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='pubsub',
    ),
    CommandSpec(
        'sunsubscribe', -1, ('pubsub', 'noscript', 'loading', 'stale'), 1, -1, 1,
        ('@pubsub', '@slow'),
        key_specs=(
            KeySpec(('not_key',), BeginIndex(1), FindRange(-1, 1, 0)),
        ),
        group='pubsub',
    ),
    CommandSpec(
        'spublish', 3, ('pubsub', 'loading', 'stale', 'fast'), 1, 1, 1,
        ('@pubsub', '@fast'),
        key_specs=(
            KeySpec(('not_key',), BeginIndex(1), FindRange(0, 1, 0)),
        ),
        group='pubsub',
    ),
    CommandSpec(
        'pubsub', -2, (), 0, 0, 0,
        ('@slow',),
        subcommands=(
            CommandSpec(
                'pubsub|channels', -2, ('pubsub', 'loading', 'stale'), 0, 0, 0,
                ('@pubsub', '@slow'),
                group='pubsub',
            ),
            CommandSpec(
                'pubsub|help', 2, ('loading', 'stale'), 0, 0, 0,
                ('@slow',),
                group='pubsub',
            ),
            CommandSpec(
                'pubsub|numpat', 2, ('pubsub', 'loading', 'stale'), 0, 0, 0,
                ('@pubsub', '@slow'),
                group='pubsub',
            ),
            CommandSpec(
                'pubsub|numsub', -2, ('pubsub', 'loading', 'stale'), 0, 0, 0,
                ('@pubsub', '@slow'),
                group='pubsub',
            ),
            CommandSpec(
                'pubsub|shardchannels', -2, ('pubsub', 'loading', 'stale'), 0, 0, 0,
                ('@pubsub', '@slow'),
                group='pubsub',
            ),
            CommandSpec(
                'pubsub|shardnumsub', -2, ('pubsub', 'loading', 'stale'), 0, 0, 0,
                ('@pubsub', '@slow'),
                group='pubsub',
            ),
        ),
        group='pubsub',
    ),
)

# COMMAND DOCS entries (without subcommands; command_docs_reply adds them).
DOCS: dict[str, dict[str, Any]] = {'get': {'summary': 'Get the value of a key',
         'since': '1.0.0',
         'group': 'string',
         'complexity': 'O(1)',
         'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'set': {'summary': 'Set the string value of a key',
         'since': '1.0.0',
         'group': 'string',
         'complexity': 'O(1)',
         'history': [['2.6.12', 'Added the `EX`, `PX`, `NX` and `XX` options.'],
                     ['6.0.0', 'Added the `KEEPTTL` option.'],
                     ['6.2.0', 'Added the `GET`, `EXAT` and `PXAT` option.'],
                     ['7.0.0', 'Allowed the `NX` and `GET` options to be used together.']],
         'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                       {'name': 'value', 'type': 'string'},
                       {'name': 'condition',
                        'type': 'oneof',
                        'since': '2.6.12',
                        'flags': ['optional'],
                        'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                      {'name': 'xx', 'type': 'pure-token', 'token': 'XX'}]},
                       {'name': 'get',
                        'type': 'pure-token',
                        'token': 'GET',
                        'since': '6.2.0',
                        'flags': ['optional']},
                       {'name': 'expiration',
                        'type': 'oneof',
                        'flags': ['optional'],
                        'arguments': [{'name': 'seconds',
                                       'type': 'integer',
                                       'token': 'EX',
                                       'since': '2.6.12'},
                                      {'name': 'milliseconds',
                                       'type': 'integer',
                                       'token': 'PX',
                                       'since': '2.6.12'},
                                      {'name': 'unix-time-seconds',
                                       'type': 'unix-time',
                                       'token': 'EXAT',
                                       'since': '6.2.0'},
                                      {'name': 'unix-time-milliseconds',
                                       'type': 'unix-time',
                                       'token': 'PXAT',
                                       'since': '6.2.0'},
                                      {'name': 'keepttl',
                                       'type': 'pure-token',
                                       'token': 'KEEPTTL',
                                       'since': '6.0.0'}]}]},
 'setnx': {'summary': 'Set the value of a key, only if the key does not exist',
           'since': '1.0.0',
           'group': 'string',
           'complexity': 'O(1)',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'value', 'type': 'string'}]},
 'setex': {'summary': 'Set the value and expiration of a key',
           'since': '2.0.0',
           'group': 'string',
           'complexity': 'O(1)',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'seconds', 'type': 'integer'},
                         {'name': 'value', 'type': 'string'}]},
 'psetex': {'summary': 'Set the value and expiration in milliseconds of a key',
            'since': '2.6.0',
            'group': 'string',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'milliseconds', 'type': 'integer'},
                          {'name': 'value', 'type': 'string'}]},
 'getset': {'summary': 'Set the string value of a key and return its old value',
            'since': '1.0.0',
            'group': 'string',
            'complexity': 'O(1)',
            'doc_flags': ['deprecated'],
            'deprecated_since': '6.2.0',
            'replaced_by': '`SET` with the `!GET` argument',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'value', 'type': 'string'}]},
 'getdel': {'summary': 'Get the value of a key and delete the key',
            'since': '6.2.0',
            'group': 'string',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'getex': {'summary': 'Get the value of a key and optionally set its expiration',
           'since': '6.2.0',
           'group': 'string',
           'complexity': 'O(1)',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'expiration',
                          'type': 'oneof',
                          'flags': ['optional'],
                          'arguments': [{'name': 'seconds', 'type': 'integer', 'token': 'EX'},
                                        {'name': 'milliseconds',
                                         'type': 'integer',
                                         'token': 'PX'},
                                        {'name': 'unix-time-seconds',
                                         'type': 'unix-time',
                                         'token': 'EXAT'},
                                        {'name': 'unix-time-milliseconds',
                                         'type': 'unix-time',
                                         'token': 'PXAT'},
                                        {'name': 'persist',
                                         'type': 'pure-token',
                                         'token': 'PERSIST'}]}]},
 'mget': {'summary': 'Get the values of all the given keys',
          'since': '1.0.0',
          'group': 'string',
          'complexity': 'O(N) where N is the number of keys to retrieve.',
          'arguments': [{'name': 'key',
                         'type': 'key',
                         'key_spec_index': 0,
                         'flags': ['multiple']}]},
 'mset': {'summary': 'Set multiple keys to multiple values',
          'since': '1.0.1',
          'group': 'string',
          'complexity': 'O(N) where N is the number of keys to set.',
          'arguments': [{'name': 'key_value',
                         'type': 'block',
                         'flags': ['multiple'],
                         'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                       {'name': 'value', 'type': 'string'}]}]},
 'msetnx': {'summary': 'Set multiple keys to multiple values, only if none of the keys exist',
            'since': '1.0.1',
            'group': 'string',
            'complexity': 'O(N) where N is the number of keys to set.',
            'arguments': [{'name': 'key_value',
                           'type': 'block',
                           'flags': ['multiple'],
                           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                         {'name': 'value', 'type': 'string'}]}]},
 'incr': {'summary': 'Increment the integer value of a key by one',
          'since': '1.0.0',
          'group': 'string',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'decr': {'summary': 'Decrement the integer value of a key by one',
          'since': '1.0.0',
          'group': 'string',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'incrby': {'summary': 'Increment the integer value of a key by the given amount',
            'since': '1.0.0',
            'group': 'string',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'increment', 'type': 'integer'}]},
 'decrby': {'summary': 'Decrement the integer value of a key by the given number',
            'since': '1.0.0',
            'group': 'string',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'decrement', 'type': 'integer'}]},
 'incrbyfloat': {'summary': 'Increment the float value of a key by the given amount',
                 'since': '2.6.0',
                 'group': 'string',
                 'complexity': 'O(1)',
                 'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'increment', 'type': 'double'}]},
 'append': {'summary': 'Append a value to a key',
            'since': '2.0.0',
            'group': 'string',
            'complexity': 'O(1). The amortized time complexity is O(1) assuming the appended '
                          'value is small and the already present value is of any size, since '
                          'the dynamic string library used by Redis will double the free space '
                          'available on every reallocation.',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'value', 'type': 'string'}]},
 'strlen': {'summary': 'Get the length of the value stored in a key',
            'since': '2.2.0',
            'group': 'string',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'getrange': {'summary': 'Get a substring of the string stored at a key',
              'since': '2.4.0',
              'group': 'string',
              'complexity': 'O(N) where N is the length of the returned string. The complexity '
                            'is ultimately determined by the returned length, but because '
                            'creating a substring from an existing string is very cheap, it '
                            'can be considered O(1) for small strings.',
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                            {'name': 'start', 'type': 'integer'},
                            {'name': 'end', 'type': 'integer'}]},
 'setrange': {'summary': 'Overwrite part of a string at key starting at the specified offset',
              'since': '2.2.0',
              'group': 'string',
              'complexity': 'O(1), not counting the time taken to copy the new string in '
                            'place. Usually, this string is very small so the amortized '
                            'complexity is O(1). Otherwise, complexity is O(M) with M being '
                            'the length of the value argument.',
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                            {'name': 'offset', 'type': 'integer'},
                            {'name': 'value', 'type': 'string'}]},
 'del': {'summary': 'Delete a key',
         'since': '1.0.0',
         'group': 'generic',
         'complexity': 'O(N) where N is the number of keys that will be removed. When a key to '
                       'remove holds a value other than a string, the individual complexity '
                       'for this key is O(M) where M is the number of elements in the list, '
                       'set, sorted set or hash. Removing a single key that holds a string '
                       'value is O(1).',
         'arguments': [{'name': 'key',
                        'type': 'key',
                        'key_spec_index': 0,
                        'flags': ['multiple']}]},
 'unlink': {'summary': 'Delete a key asynchronously in another thread. Otherwise it is just as '
                       'DEL, but non blocking.',
            'since': '4.0.0',
            'group': 'generic',
            'complexity': 'O(1) for each key removed regardless of its size. Then the command '
                          'does O(N) work in a different thread in order to reclaim memory, '
                          'where N is the number of allocations the deleted objects where '
                          'composed of.',
            'arguments': [{'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']}]},
 'exists': {'summary': 'Determine if a key exists',
            'since': '1.0.0',
            'group': 'generic',
            'complexity': 'O(N) where N is the number of keys to check.',
            'history': [['3.0.3', 'Accepts multiple `key` arguments.']],
            'arguments': [{'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']}]},
 'touch': {'summary': 'Alters the last access time of a key(s). Returns the number of existing '
                      'keys specified.',
           'since': '3.2.1',
           'group': 'generic',
           'complexity': 'O(N) where N is the number of keys that will be touched.',
           'arguments': [{'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']}]},
 'type': {'summary': 'Determine the type stored at key',
          'since': '1.0.0',
          'group': 'generic',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'expire': {'summary': "Set a key's time to live in seconds",
            'since': '1.0.0',
            'group': 'generic',
            'complexity': 'O(1)',
            'history': [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'seconds', 'type': 'integer'},
                          {'name': 'condition',
                           'type': 'oneof',
                           'since': '7.0.0',
                           'flags': ['optional'],
                           'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                         {'name': 'xx', 'type': 'pure-token', 'token': 'XX'},
                                         {'name': 'gt', 'type': 'pure-token', 'token': 'GT'},
                                         {'name': 'lt',
                                          'type': 'pure-token',
                                          'token': 'LT'}]}]},
 'pexpire': {'summary': "Set a key's time to live in milliseconds",
             'since': '2.6.0',
             'group': 'generic',
             'complexity': 'O(1)',
             'history': [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'milliseconds', 'type': 'integer'},
                           {'name': 'condition',
                            'type': 'oneof',
                            'since': '7.0.0',
                            'flags': ['optional'],
                            'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                          {'name': 'xx', 'type': 'pure-token', 'token': 'XX'},
                                          {'name': 'gt', 'type': 'pure-token', 'token': 'GT'},
                                          {'name': 'lt',
                                           'type': 'pure-token',
                                           'token': 'LT'}]}]},
 'expireat': {'summary': 'Set the expiration for a key as a UNIX timestamp',
              'since': '1.2.0',
              'group': 'generic',
              'complexity': 'O(1)',
              'history': [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                            {'name': 'unix-time-seconds', 'type': 'unix-time'},
                            {'name': 'condition',
                             'type': 'oneof',
                             'since': '7.0.0',
                             'flags': ['optional'],
                             'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                           {'name': 'xx', 'type': 'pure-token', 'token': 'XX'},
                                           {'name': 'gt', 'type': 'pure-token', 'token': 'GT'},
                                           {'name': 'lt',
                                            'type': 'pure-token',
                                            'token': 'LT'}]}]},
 'pexpireat': {'summary': 'Set the expiration for a key as a UNIX timestamp specified in '
                          'milliseconds',
               'since': '2.6.0',
               'group': 'generic',
               'complexity': 'O(1)',
               'history': [['7.0.0', 'Added options: `NX`, `XX`, `GT` and `LT`.']],
               'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                             {'name': 'unix-time-milliseconds', 'type': 'unix-time'},
                             {'name': 'condition',
                              'type': 'oneof',
                              'since': '7.0.0',
                              'flags': ['optional'],
                              'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                            {'name': 'xx', 'type': 'pure-token', 'token': 'XX'},
                                            {'name': 'gt', 'type': 'pure-token', 'token': 'GT'},
                                            {'name': 'lt',
                                             'type': 'pure-token',
                                             'token': 'LT'}]}]},
 'expiretime': {'summary': 'Get the expiration Unix timestamp for a key',
                'since': '7.0.0',
                'group': 'generic',
                'complexity': 'O(1)',
                'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'pexpiretime': {'summary': 'Get the expiration Unix timestamp for a key in milliseconds',
                 'since': '7.0.0',
                 'group': 'generic',
                 'complexity': 'O(1)',
                 'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'ttl': {'summary': 'Get the time to live for a key in seconds',
         'since': '1.0.0',
         'group': 'generic',
         'complexity': 'O(1)',
         'history': [['2.8.0', 'Added the -2 reply.']],
         'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'pttl': {'summary': 'Get the time to live for a key in milliseconds',
          'since': '2.6.0',
          'group': 'generic',
          'complexity': 'O(1)',
          'history': [['2.8.0', 'Added the -2 reply.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'persist': {'summary': 'Remove the expiration from a key',
             'since': '2.2.0',
             'group': 'generic',
             'complexity': 'O(1)',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'rename': {'summary': 'Rename a key',
            'since': '1.0.0',
            'group': 'generic',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'newkey', 'type': 'key', 'key_spec_index': 1}]},
 'renamenx': {'summary': 'Rename a key, only if the new key does not exist',
              'since': '1.0.0',
              'group': 'generic',
              'complexity': 'O(1)',
              'history': [['3.2.0',
                           'The command no longer returns an error when source and destination '
                           'names are the same.']],
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                            {'name': 'newkey', 'type': 'key', 'key_spec_index': 1}]},
 'copy': {'summary': 'Copy a key',
          'since': '6.2.0',
          'group': 'generic',
          'complexity': 'O(N) worst case for collections, where N is the number of nested '
                        'items. O(1) for string values.',
          'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'destination', 'type': 'key', 'key_spec_index': 1},
                        {'name': 'destination-db',
                         'type': 'integer',
                         'token': 'DB',
                         'flags': ['optional']},
                        {'name': 'replace',
                         'type': 'pure-token',
                         'token': 'REPLACE',
                         'flags': ['optional']}]},
 'scan': {'summary': 'Incrementally iterate the keys space',
          'since': '2.8.0',
          'group': 'generic',
          'complexity': 'O(1) for every call. O(N) for a complete iteration, including enough '
                        'command calls for the cursor to return back to 0. N is the number of '
                        'elements inside the collection.',
          'history': [['6.0.0', 'Added the `TYPE` subcommand.']],
          'arguments': [{'name': 'cursor', 'type': 'integer'},
                        {'name': 'pattern',
                         'type': 'pattern',
                         'token': 'MATCH',
                         'flags': ['optional']},
                        {'name': 'count',
                         'type': 'integer',
                         'token': 'COUNT',
                         'flags': ['optional']},
                        {'name': 'type',
                         'type': 'string',
                         'token': 'TYPE',
                         'since': '6.0.0',
                         'flags': ['optional']}]},
 'keys': {'summary': 'Find all keys matching the given pattern',
          'since': '1.0.0',
          'group': 'generic',
          'complexity': 'O(N) with N being the number of keys in the database, under the '
                        'assumption that the key names in the database and the given pattern '
                        'have limited length.',
          'arguments': [{'name': 'pattern', 'type': 'pattern'}]},
 'dbsize': {'summary': 'Return the number of keys in the selected database',
            'since': '1.0.0',
            'group': 'server',
            'complexity': 'O(1)'},
 'randomkey': {'summary': 'Return a random key from the keyspace',
               'since': '1.0.0',
               'group': 'generic',
               'complexity': 'O(1)'},
 'flushall': {'summary': 'Remove all keys from all databases',
              'since': '1.0.0',
              'group': 'server',
              'complexity': 'O(N) where N is the total number of keys in all databases',
              'history': [['4.0.0', 'Added the `ASYNC` flushing mode modifier.'],
                          ['6.2.0', 'Added the `SYNC` flushing mode modifier.']],
              'arguments': [{'name': 'async',
                             'type': 'oneof',
                             'flags': ['optional'],
                             'arguments': [{'name': 'async',
                                            'type': 'pure-token',
                                            'token': 'ASYNC',
                                            'since': '4.0.0'},
                                           {'name': 'sync',
                                            'type': 'pure-token',
                                            'token': 'SYNC',
                                            'since': '6.2.0'}]}]},
 'flushdb': {'summary': 'Remove all keys from the current database',
             'since': '1.0.0',
             'group': 'server',
             'complexity': 'O(N) where N is the number of keys in the selected database',
             'history': [['4.0.0', 'Added the `ASYNC` flushing mode modifier.'],
                         ['6.2.0', 'Added the `SYNC` flushing mode modifier.']],
             'arguments': [{'name': 'async',
                            'type': 'oneof',
                            'flags': ['optional'],
                            'arguments': [{'name': 'async',
                                           'type': 'pure-token',
                                           'token': 'ASYNC',
                                           'since': '4.0.0'},
                                          {'name': 'sync',
                                           'type': 'pure-token',
                                           'token': 'SYNC',
                                           'since': '6.2.0'}]}]},
 'hset': {'summary': 'Set the string value of a hash field',
          'since': '2.0.0',
          'group': 'hash',
          'complexity': 'O(1) for each field/value pair added, so O(N) to add N field/value '
                        'pairs when the command is called with multiple field/value pairs.',
          'history': [['4.0.0', 'Accepts multiple `field` and `value` arguments.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'field_value',
                         'type': 'block',
                         'flags': ['multiple'],
                         'arguments': [{'name': 'field', 'type': 'string'},
                                       {'name': 'value', 'type': 'string'}]}]},
 'hsetnx': {'summary': 'Set the value of a hash field, only if the field does not exist',
            'since': '2.0.0',
            'group': 'hash',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'field', 'type': 'string'},
                          {'name': 'value', 'type': 'string'}]},
 'hmset': {'summary': 'Set multiple hash fields to multiple values',
           'since': '2.0.0',
           'group': 'hash',
           'complexity': 'O(N) where N is the number of fields being set.',
           'doc_flags': ['deprecated'],
           'deprecated_since': '4.0.0',
           'replaced_by': '`HSET` with multiple field-value pairs',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'field_value',
                          'type': 'block',
                          'flags': ['multiple'],
                          'arguments': [{'name': 'field', 'type': 'string'},
                                        {'name': 'value', 'type': 'string'}]}]},
 'hget': {'summary': 'Get the value of a hash field',
          'since': '2.0.0',
          'group': 'hash',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'field', 'type': 'string'}]},
 'hmget': {'summary': 'Get the values of all the given hash fields',
           'since': '2.0.0',
           'group': 'hash',
           'complexity': 'O(N) where N is the number of fields being requested.',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'field', 'type': 'string', 'flags': ['multiple']}]},
 'hgetall': {'summary': 'Get all the fields and values in a hash',
             'since': '2.0.0',
             'group': 'hash',
             'complexity': 'O(N) where N is the size of the hash.',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'hdel': {'summary': 'Delete one or more hash fields',
          'since': '2.0.0',
          'group': 'hash',
          'complexity': 'O(N) where N is the number of fields to be removed.',
          'history': [['2.4.0', 'Accepts multiple `field` arguments.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'field', 'type': 'string', 'flags': ['multiple']}]},
 'hexists': {'summary': 'Determine if a hash field exists',
             'since': '2.0.0',
             'group': 'hash',
             'complexity': 'O(1)',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'field', 'type': 'string'}]},
 'hlen': {'summary': 'Get the number of fields in a hash',
          'since': '2.0.0',
          'group': 'hash',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'hkeys': {'summary': 'Get all the fields in a hash',
           'since': '2.0.0',
           'group': 'hash',
           'complexity': 'O(N) where N is the size of the hash.',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'hvals': {'summary': 'Get all the values in a hash',
           'since': '2.0.0',
           'group': 'hash',
           'complexity': 'O(N) where N is the size of the hash.',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'hincrby': {'summary': 'Increment the integer value of a hash field by the given number',
             'since': '2.0.0',
             'group': 'hash',
             'complexity': 'O(1)',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'field', 'type': 'string'},
                           {'name': 'increment', 'type': 'integer'}]},
 'hincrbyfloat': {'summary': 'Increment the float value of a hash field by the given amount',
                  'since': '2.6.0',
                  'group': 'hash',
                  'complexity': 'O(1)',
                  'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                {'name': 'field', 'type': 'string'},
                                {'name': 'increment', 'type': 'double'}]},
 'hstrlen': {'summary': 'Get the length of the value of a hash field',
             'since': '3.2.0',
             'group': 'hash',
             'complexity': 'O(1)',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'field', 'type': 'string'}]},
 'hscan': {'summary': 'Incrementally iterate hash fields and associated values',
           'since': '2.8.0',
           'group': 'hash',
           'complexity': 'O(1) for every call. O(N) for a complete iteration, including enough '
                         'command calls for the cursor to return back to 0. N is the number of '
                         'elements inside the collection..',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'cursor', 'type': 'integer'},
                         {'name': 'pattern',
                          'type': 'pattern',
                          'token': 'MATCH',
                          'flags': ['optional']},
                         {'name': 'count',
                          'type': 'integer',
                          'token': 'COUNT',
                          'flags': ['optional']}]},
 'hrandfield': {'summary': 'Get one or multiple random fields from a hash',
                'since': '6.2.0',
                'group': 'hash',
                'complexity': 'O(N) where N is the number of fields returned',
                'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                              {'name': 'options',
                               'type': 'block',
                               'flags': ['optional'],
                               'arguments': [{'name': 'count', 'type': 'integer'},
                                             {'name': 'withvalues',
                                              'type': 'pure-token',
                                              'token': 'WITHVALUES',
                                              'flags': ['optional']}]}]},
 'lpush': {'summary': 'Prepend one or multiple elements to a list',
           'since': '1.0.0',
           'group': 'list',
           'complexity': 'O(1) for each element added, so O(N) to add N elements when the '
                         'command is called with multiple arguments.',
           'history': [['2.4.0', 'Accepts multiple `element` arguments.']],
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'element', 'type': 'string', 'flags': ['multiple']}]},
 'rpush': {'summary': 'Append one or multiple elements to a list',
           'since': '1.0.0',
           'group': 'list',
           'complexity': 'O(1) for each element added, so O(N) to add N elements when the '
                         'command is called with multiple arguments.',
           'history': [['2.4.0', 'Accepts multiple `element` arguments.']],
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'element', 'type': 'string', 'flags': ['multiple']}]},
 'lpushx': {'summary': 'Prepend an element to a list, only if the list exists',
            'since': '2.2.0',
            'group': 'list',
            'complexity': 'O(1) for each element added, so O(N) to add N elements when the '
                          'command is called with multiple arguments.',
            'history': [['4.0.0', 'Accepts multiple `element` arguments.']],
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'element', 'type': 'string', 'flags': ['multiple']}]},
 'rpushx': {'summary': 'Append an element to a list, only if the list exists',
            'since': '2.2.0',
            'group': 'list',
            'complexity': 'O(1) for each element added, so O(N) to add N elements when the '
                          'command is called with multiple arguments.',
            'history': [['4.0.0', 'Accepts multiple `element` arguments.']],
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'element', 'type': 'string', 'flags': ['multiple']}]},
 'lpop': {'summary': 'Remove and get the first elements in a list',
          'since': '1.0.0',
          'group': 'list',
          'complexity': 'O(N) where N is the number of elements returned',
          'history': [['6.2.0', 'Added the `count` argument.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'count',
                         'type': 'integer',
                         'since': '6.2.0',
                         'flags': ['optional']}]},
 'rpop': {'summary': 'Remove and get the last elements in a list',
          'since': '1.0.0',
          'group': 'list',
          'complexity': 'O(N) where N is the number of elements returned',
          'history': [['6.2.0', 'Added the `count` argument.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'count',
                         'type': 'integer',
                         'since': '6.2.0',
                         'flags': ['optional']}]},
 'lrange': {'summary': 'Get a range of elements from a list',
            'since': '1.0.0',
            'group': 'list',
            'complexity': 'O(S+N) where S is the distance of start offset from HEAD for small '
                          'lists, from nearest end (HEAD or TAIL) for large lists; and N is '
                          'the number of elements in the specified range.',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'start', 'type': 'integer'},
                          {'name': 'stop', 'type': 'integer'}]},
 'llen': {'summary': 'Get the length of a list',
          'since': '1.0.0',
          'group': 'list',
          'complexity': 'O(1)',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'lindex': {'summary': 'Get an element from a list by its index',
            'since': '1.0.0',
            'group': 'list',
            'complexity': 'O(N) where N is the number of elements to traverse to get to the '
                          'element at index. This makes asking for the first or the last '
                          'element of the list O(1).',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'index', 'type': 'integer'}]},
 'lset': {'summary': 'Set the value of an element in a list by its index',
          'since': '1.0.0',
          'group': 'list',
          'complexity': 'O(N) where N is the length of the list. Setting either the first or '
                        'the last element of the list is O(1).',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'index', 'type': 'integer'},
                        {'name': 'element', 'type': 'string'}]},
 'linsert': {'summary': 'Insert an element before or after another element in a list',
             'since': '2.2.0',
             'group': 'list',
             'complexity': 'O(N) where N is the number of elements to traverse before seeing '
                           'the value pivot. This means that inserting somewhere on the left '
                           'end on the list (head) can be considered O(1) and inserting '
                           'somewhere on the right end (tail) is O(N).',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'where',
                            'type': 'oneof',
                            'arguments': [{'name': 'before',
                                           'type': 'pure-token',
                                           'token': 'BEFORE'},
                                          {'name': 'after',
                                           'type': 'pure-token',
                                           'token': 'AFTER'}]},
                           {'name': 'pivot', 'type': 'string'},
                           {'name': 'element', 'type': 'string'}]},
 'lrem': {'summary': 'Remove elements from a list',
          'since': '1.0.0',
          'group': 'list',
          'complexity': 'O(N+M) where N is the length of the list and M is the number of '
                        'elements removed.',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'count', 'type': 'integer'},
                        {'name': 'element', 'type': 'string'}]},
 'ltrim': {'summary': 'Trim a list to the specified range',
           'since': '1.0.0',
           'group': 'list',
           'complexity': 'O(N) where N is the number of elements to be removed by the '
                         'operation.',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'start', 'type': 'integer'},
                         {'name': 'stop', 'type': 'integer'}]},
 'lpos': {'summary': 'Return the index of matching elements on a list',
          'since': '6.0.6',
          'group': 'list',
          'complexity': 'O(N) where N is the number of elements in the list, for the average '
                        'case. When searching for elements near the head or the tail of the '
                        'list, or when the MAXLEN option is provided, the command may run in '
                        'constant time.',
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'element', 'type': 'string'},
                        {'name': 'rank',
                         'type': 'integer',
                         'token': 'RANK',
                         'flags': ['optional']},
                        {'name': 'num-matches',
                         'type': 'integer',
                         'token': 'COUNT',
                         'flags': ['optional']},
                        {'name': 'len',
                         'type': 'integer',
                         'token': 'MAXLEN',
                         'flags': ['optional']}]},
 'lmove': {'summary': 'Pop an element from a list, push it to another list and return it',
           'since': '6.2.0',
           'group': 'list',
           'complexity': 'O(1)',
           'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'destination', 'type': 'key', 'key_spec_index': 1},
                         {'name': 'wherefrom',
                          'type': 'oneof',
                          'arguments': [{'name': 'left', 'type': 'pure-token', 'token': 'LEFT'},
                                        {'name': 'right',
                                         'type': 'pure-token',
                                         'token': 'RIGHT'}]},
                         {'name': 'whereto',
                          'type': 'oneof',
                          'arguments': [{'name': 'left', 'type': 'pure-token', 'token': 'LEFT'},
                                        {'name': 'right',
                                         'type': 'pure-token',
                                         'token': 'RIGHT'}]}]},
 'rpoplpush': {'summary': 'Remove the last element in a list, prepend it to another list and '
                          'return it',
               'since': '1.2.0',
               'group': 'list',
               'complexity': 'O(1)',
               'doc_flags': ['deprecated'],
               'deprecated_since': '6.2.0',
               'replaced_by': '`LMOVE` with the `RIGHT` and `LEFT` arguments',
               'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                             {'name': 'destination', 'type': 'key', 'key_spec_index': 1}]},
 'blpop': {'summary': 'Remove and get the first element in a list, or block until one is '
                      'available',
           'since': '2.0.0',
           'group': 'list',
           'complexity': 'O(N) where N is the number of provided keys.',
           'history': [['6.0.0',
                        '`timeout` is interpreted as a double instead of an integer.']],
           'arguments': [{'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']},
                         {'name': 'timeout', 'type': 'double'}]},
 'brpop': {'summary': 'Remove and get the last element in a list, or block until one is '
                      'available',
           'since': '2.0.0',
           'group': 'list',
           'complexity': 'O(N) where N is the number of provided keys.',
           'history': [['6.0.0',
                        '`timeout` is interpreted as a double instead of an integer.']],
           'arguments': [{'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']},
                         {'name': 'timeout', 'type': 'double'}]},
 'blmove': {'summary': 'Pop an element from a list, push it to another list and return it; or '
                       'block until one is available',
            'since': '6.2.0',
            'group': 'list',
            'complexity': 'O(1)',
            'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'destination', 'type': 'key', 'key_spec_index': 1},
                          {'name': 'wherefrom',
                           'type': 'oneof',
                           'arguments': [{'name': 'left',
                                          'type': 'pure-token',
                                          'token': 'LEFT'},
                                         {'name': 'right',
                                          'type': 'pure-token',
                                          'token': 'RIGHT'}]},
                          {'name': 'whereto',
                           'type': 'oneof',
                           'arguments': [{'name': 'left',
                                          'type': 'pure-token',
                                          'token': 'LEFT'},
                                         {'name': 'right',
                                          'type': 'pure-token',
                                          'token': 'RIGHT'}]},
                          {'name': 'timeout', 'type': 'double'}]},
 'brpoplpush': {'summary': 'Pop an element from a list, push it to another list and return it; '
                           'or block until one is available',
                'since': '2.2.0',
                'group': 'list',
                'complexity': 'O(1)',
                'doc_flags': ['deprecated'],
                'deprecated_since': '6.2.0',
                'replaced_by': '`BLMOVE` with the `RIGHT` and `LEFT` arguments',
                'history': [['6.0.0',
                             '`timeout` is interpreted as a double instead of an integer.']],
                'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                              {'name': 'destination', 'type': 'key', 'key_spec_index': 1},
                              {'name': 'timeout', 'type': 'double'}]},
 'sadd': {'summary': 'Add one or more members to a set',
          'since': '1.0.0',
          'group': 'set',
          'complexity': 'O(1) for each element added, so O(N) to add N elements when the '
                        'command is called with multiple arguments.',
          'history': [['2.4.0', 'Accepts multiple `member` arguments.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'member', 'type': 'string', 'flags': ['multiple']}]},
 'srem': {'summary': 'Remove one or more members from a set',
          'since': '1.0.0',
          'group': 'set',
          'complexity': 'O(N) where N is the number of members to be removed.',
          'history': [['2.4.0', 'Accepts multiple `member` arguments.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'member', 'type': 'string', 'flags': ['multiple']}]},
 'smembers': {'summary': 'Get all the members in a set',
              'since': '1.0.0',
              'group': 'set',
              'complexity': 'O(N) where N is the set cardinality.',
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'sismember': {'summary': 'Determine if a given value is a member of a set',
               'since': '1.0.0',
               'group': 'set',
               'complexity': 'O(1)',
               'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                             {'name': 'member', 'type': 'string'}]},
 'smismember': {'summary': 'Returns the membership associated with the given elements for a '
                           'set',
                'since': '6.2.0',
                'group': 'set',
                'complexity': 'O(N) where N is the number of elements being checked for '
                              'membership',
                'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                              {'name': 'member', 'type': 'string', 'flags': ['multiple']}]},
 'scard': {'summary': 'Get the number of members in a set',
           'since': '1.0.0',
           'group': 'set',
           'complexity': 'O(1)',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'spop': {'summary': 'Remove and return one or multiple random members from a set',
          'since': '1.0.0',
          'group': 'set',
          'complexity': 'Without the count argument O(1), otherwise O(N) where N is the value '
                        'of the passed count.',
          'history': [['3.2.0', 'Added the `count` argument.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'count',
                         'type': 'integer',
                         'since': '3.2.0',
                         'flags': ['optional']}]},
 'srandmember': {'summary': 'Get one or multiple random members from a set',
                 'since': '1.0.0',
                 'group': 'set',
                 'complexity': 'Without the count argument O(1), otherwise O(N) where N is the '
                               'absolute value of the passed count.',
                 'history': [['2.6.0', 'Added the optional `count` argument.']],
                 'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'count',
                                'type': 'integer',
                                'since': '2.6.0',
                                'flags': ['optional']}]},
 'sinter': {'summary': 'Intersect multiple sets',
            'since': '1.0.0',
            'group': 'set',
            'complexity': 'O(N*M) worst case where N is the cardinality of the smallest set '
                          'and M is the number of sets.',
            'arguments': [{'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']}]},
 'sintercard': {'summary': 'Intersect multiple sets and return the cardinality of the result',
                'since': '7.0.0',
                'group': 'set',
                'complexity': 'O(N*M) worst case where N is the cardinality of the smallest '
                              'set and M is the number of sets.',
                'arguments': [{'name': 'numkeys', 'type': 'integer'},
                              {'name': 'key',
                               'type': 'key',
                               'key_spec_index': 0,
                               'flags': ['multiple']},
                              {'name': 'limit',
                               'type': 'integer',
                               'token': 'LIMIT',
                               'flags': ['optional']}]},
 'sunion': {'summary': 'Add multiple sets',
            'since': '1.0.0',
            'group': 'set',
            'complexity': 'O(N) where N is the total number of elements in all given sets.',
            'arguments': [{'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']}]},
 'sdiff': {'summary': 'Subtract multiple sets',
           'since': '1.0.0',
           'group': 'set',
           'complexity': 'O(N) where N is the total number of elements in all given sets.',
           'arguments': [{'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']}]},
 'sinterstore': {'summary': 'Intersect multiple sets and store the resulting set in a key',
                 'since': '1.0.0',
                 'group': 'set',
                 'complexity': 'O(N*M) worst case where N is the cardinality of the smallest '
                               'set and M is the number of sets.',
                 'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'key',
                                'type': 'key',
                                'key_spec_index': 1,
                                'flags': ['multiple']}]},
 'sunionstore': {'summary': 'Add multiple sets and store the resulting set in a key',
                 'since': '1.0.0',
                 'group': 'set',
                 'complexity': 'O(N) where N is the total number of elements in all given '
                               'sets.',
                 'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'key',
                                'type': 'key',
                                'key_spec_index': 1,
                                'flags': ['multiple']}]},
 'sdiffstore': {'summary': 'Subtract multiple sets and store the resulting set in a key',
                'since': '1.0.0',
                'group': 'set',
                'complexity': 'O(N) where N is the total number of elements in all given sets.',
                'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                              {'name': 'key',
                               'type': 'key',
                               'key_spec_index': 1,
                               'flags': ['multiple']}]},
 'smove': {'summary': 'Move a member from one set to another',
           'since': '1.0.0',
           'group': 'set',
           'complexity': 'O(1)',
           'arguments': [{'name': 'source', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'destination', 'type': 'key', 'key_spec_index': 1},
                         {'name': 'member', 'type': 'string'}]},
 'sscan': {'summary': 'Incrementally iterate Set elements',
           'since': '2.8.0',
           'group': 'set',
           'complexity': 'O(1) for every call. O(N) for a complete iteration, including enough '
                         'command calls for the cursor to return back to 0. N is the number of '
                         'elements inside the collection..',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'cursor', 'type': 'integer'},
                         {'name': 'pattern',
                          'type': 'pattern',
                          'token': 'MATCH',
                          'flags': ['optional']},
                         {'name': 'count',
                          'type': 'integer',
                          'token': 'COUNT',
                          'flags': ['optional']}]},
 'zadd': {'summary': 'Add one or more members to a sorted set, or update its score if it '
                     'already exists',
          'since': '1.2.0',
          'group': 'sorted-set',
          'complexity': 'O(log(N)) for each item added, where N is the number of elements in '
                        'the sorted set.',
          'history': [['2.4.0', 'Accepts multiple elements.'],
                      ['3.0.2', 'Added the `XX`, `NX`, `CH` and `INCR` options.'],
                      ['6.2.0', 'Added the `GT` and `LT` options.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'condition',
                         'type': 'oneof',
                         'since': '3.0.2',
                         'flags': ['optional'],
                         'arguments': [{'name': 'nx', 'type': 'pure-token', 'token': 'NX'},
                                       {'name': 'xx', 'type': 'pure-token', 'token': 'XX'}]},
                        {'name': 'comparison',
                         'type': 'oneof',
                         'since': '6.2.0',
                         'flags': ['optional'],
                         'arguments': [{'name': 'gt', 'type': 'pure-token', 'token': 'GT'},
                                       {'name': 'lt', 'type': 'pure-token', 'token': 'LT'}]},
                        {'name': 'change',
                         'type': 'pure-token',
                         'token': 'CH',
                         'since': '3.0.2',
                         'flags': ['optional']},
                        {'name': 'increment',
                         'type': 'pure-token',
                         'token': 'INCR',
                         'since': '3.0.2',
                         'flags': ['optional']},
                        {'name': 'score_member',
                         'type': 'block',
                         'flags': ['multiple'],
                         'arguments': [{'name': 'score', 'type': 'double'},
                                       {'name': 'member', 'type': 'string'}]}]},
 'zrem': {'summary': 'Remove one or more members from a sorted set',
          'since': '1.2.0',
          'group': 'sorted-set',
          'complexity': 'O(M*log(N)) with N being the number of elements in the sorted set and '
                        'M the number of elements to be removed.',
          'history': [['2.4.0', 'Accepts multiple elements.']],
          'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                        {'name': 'member', 'type': 'string', 'flags': ['multiple']}]},
 'zscore': {'summary': 'Get the score associated with the given member in a sorted set',
            'since': '1.2.0',
            'group': 'sorted-set',
            'complexity': 'O(1)',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'member', 'type': 'string'}]},
 'zmscore': {'summary': 'Get the score associated with the given members in a sorted set',
             'since': '6.2.0',
             'group': 'sorted-set',
             'complexity': 'O(N) where N is the number of members being requested.',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'member', 'type': 'string', 'flags': ['multiple']}]},
 'zincrby': {'summary': 'Increment the score of a member in a sorted set',
             'since': '1.2.0',
             'group': 'sorted-set',
             'complexity': 'O(log(N)) where N is the number of elements in the sorted set.',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'increment', 'type': 'integer'},
                           {'name': 'member', 'type': 'string'}]},
 'zcard': {'summary': 'Get the number of members in a sorted set',
           'since': '1.2.0',
           'group': 'sorted-set',
           'complexity': 'O(1)',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0}]},
 'zcount': {'summary': 'Count the members in a sorted set with scores within the given values',
            'since': '2.0.0',
            'group': 'sorted-set',
            'complexity': 'O(log(N)) with N being the number of elements in the sorted set.',
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'min', 'type': 'double'},
                          {'name': 'max', 'type': 'double'}]},
 'zlexcount': {'summary': 'Count the number of members in a sorted set between a given '
                          'lexicographical range',
               'since': '2.8.9',
               'group': 'sorted-set',
               'complexity': 'O(log(N)) with N being the number of elements in the sorted set.',
               'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                             {'name': 'min', 'type': 'string'},
                             {'name': 'max', 'type': 'string'}]},
 'zrange': {'summary': 'Return a range of members in a sorted set',
            'since': '1.2.0',
            'group': 'sorted-set',
            'complexity': 'O(log(N)+M) with N being the number of elements in the sorted set '
                          'and M the number of elements returned.',
            'history': [['6.2.0', 'Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.']],
            'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                          {'name': 'start', 'type': 'string'},
                          {'name': 'stop', 'type': 'string'},
                          {'name': 'sortby',
                           'type': 'oneof',
                           'since': '6.2.0',
                           'flags': ['optional'],
                           'arguments': [{'name': 'byscore',
                                          'type': 'pure-token',
                                          'token': 'BYSCORE'},
                                         {'name': 'bylex',
                                          'type': 'pure-token',
                                          'token': 'BYLEX'}]},
                          {'name': 'rev',
                           'type': 'pure-token',
                           'token': 'REV',
                           'since': '6.2.0',
                           'flags': ['optional']},
                          {'name': 'offset_count',
                           'type': 'block',
                           'token': 'LIMIT',
                           'since': '6.2.0',
                           'flags': ['optional'],
                           'arguments': [{'name': 'offset', 'type': 'integer'},
                                         {'name': 'count', 'type': 'integer'}]},
                          {'name': 'withscores',
                           'type': 'pure-token',
                           'token': 'WITHSCORES',
                           'flags': ['optional']}]},
 'zrangestore': {'summary': 'Store a range of members from sorted set into another key',
                 'since': '6.2.0',
                 'group': 'sorted-set',
                 'complexity': 'O(log(N)+M) with N being the number of elements in the sorted '
                               'set and M the number of elements stored into the destination '
                               'key.',
                 'arguments': [{'name': 'dst', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'src', 'type': 'key', 'key_spec_index': 1},
                               {'name': 'min', 'type': 'string'},
                               {'name': 'max', 'type': 'string'},
                               {'name': 'sortby',
                                'type': 'oneof',
                                'flags': ['optional'],
                                'arguments': [{'name': 'byscore',
                                               'type': 'pure-token',
                                               'token': 'BYSCORE'},
                                              {'name': 'bylex',
                                               'type': 'pure-token',
                                               'token': 'BYLEX'}]},
                               {'name': 'rev',
                                'type': 'pure-token',
                                'token': 'REV',
                                'flags': ['optional']},
                               {'name': 'offset_count',
                                'type': 'block',
                                'token': 'LIMIT',
                                'flags': ['optional'],
                                'arguments': [{'name': 'offset', 'type': 'integer'},
                                              {'name': 'count', 'type': 'integer'}]}]},
 'zrangebyscore': {'summary': 'Return a range of members in a sorted set, by score',
                   'since': '1.0.5',
                   'group': 'sorted-set',
                   'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                 'sorted set and M the number of elements being returned. If M '
                                 'is constant (e.g. always asking for the first 10 elements '
                                 'with LIMIT), you can consider it O(log(N)).',
                   'doc_flags': ['deprecated'],
                   'deprecated_since': '6.2.0',
                   'replaced_by': '`ZRANGE` with the `BYSCORE` argument',
                   'history': [['2.0.0', 'Added the `WITHSCORES` modifier.']],
                   'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                 {'name': 'min', 'type': 'double'},
                                 {'name': 'max', 'type': 'double'},
                                 {'name': 'withscores',
                                  'type': 'pure-token',
                                  'token': 'WITHSCORES',
                                  'since': '2.0.0',
                                  'flags': ['optional']},
                                 {'name': 'offset_count',
                                  'type': 'block',
                                  'token': 'LIMIT',
                                  'flags': ['optional'],
                                  'arguments': [{'name': 'offset', 'type': 'integer'},
                                                {'name': 'count', 'type': 'integer'}]}]},
 'zrevrangebyscore': {'summary': 'Return a range of members in a sorted set, by score, with '
                                 'scores ordered from high to low',
                      'since': '2.2.0',
                      'group': 'sorted-set',
                      'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                    'sorted set and M the number of elements being returned. '
                                    'If M is constant (e.g. always asking for the first 10 '
                                    'elements with LIMIT), you can consider it O(log(N)).',
                      'doc_flags': ['deprecated'],
                      'deprecated_since': '6.2.0',
                      'replaced_by': '`ZRANGE` with the `REV` and `BYSCORE` arguments',
                      'history': [['2.1.6', '`min` and `max` can be exclusive.']],
                      'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                    {'name': 'max', 'type': 'double'},
                                    {'name': 'min', 'type': 'double'},
                                    {'name': 'withscores',
                                     'type': 'pure-token',
                                     'token': 'WITHSCORES',
                                     'flags': ['optional']},
                                    {'name': 'offset_count',
                                     'type': 'block',
                                     'token': 'LIMIT',
                                     'flags': ['optional'],
                                     'arguments': [{'name': 'offset', 'type': 'integer'},
                                                   {'name': 'count', 'type': 'integer'}]}]},
 'zrangebylex': {'summary': 'Return a range of members in a sorted set, by lexicographical '
                            'range',
                 'since': '2.8.9',
                 'group': 'sorted-set',
                 'complexity': 'O(log(N)+M) with N being the number of elements in the sorted '
                               'set and M the number of elements being returned. If M is '
                               'constant (e.g. always asking for the first 10 elements with '
                               'LIMIT), you can consider it O(log(N)).',
                 'doc_flags': ['deprecated'],
                 'deprecated_since': '6.2.0',
                 'replaced_by': '`ZRANGE` with the `BYLEX` argument',
                 'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'min', 'type': 'string'},
                               {'name': 'max', 'type': 'string'},
                               {'name': 'offset_count',
                                'type': 'block',
                                'token': 'LIMIT',
                                'flags': ['optional'],
                                'arguments': [{'name': 'offset', 'type': 'integer'},
                                              {'name': 'count', 'type': 'integer'}]}]},
 'zrevrangebylex': {'summary': 'Return a range of members in a sorted set, by lexicographical '
                               'range, ordered from higher to lower strings.',
                    'since': '2.8.9',
                    'group': 'sorted-set',
                    'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                  'sorted set and M the number of elements being returned. If '
                                  'M is constant (e.g. always asking for the first 10 elements '
                                  'with LIMIT), you can consider it O(log(N)).',
                    'doc_flags': ['deprecated'],
                    'deprecated_since': '6.2.0',
                    'replaced_by': '`ZRANGE` with the `REV` and `BYLEX` arguments',
                    'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                  {'name': 'max', 'type': 'string'},
                                  {'name': 'min', 'type': 'string'},
                                  {'name': 'offset_count',
                                   'type': 'block',
                                   'token': 'LIMIT',
                                   'flags': ['optional'],
                                   'arguments': [{'name': 'offset', 'type': 'integer'},
                                                 {'name': 'count', 'type': 'integer'}]}]},
 'zrevrange': {'summary': 'Return a range of members in a sorted set, by index, with scores '
                          'ordered from high to low',
               'since': '1.2.0',
               'group': 'sorted-set',
               'complexity': 'O(log(N)+M) with N being the number of elements in the sorted '
                             'set and M the number of elements returned.',
               'doc_flags': ['deprecated'],
               'deprecated_since': '6.2.0',
               'replaced_by': '`ZRANGE` with the `REV` argument',
               'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                             {'name': 'start', 'type': 'integer'},
                             {'name': 'stop', 'type': 'integer'},
                             {'name': 'withscores',
                              'type': 'pure-token',
                              'token': 'WITHSCORES',
                              'flags': ['optional']}]},
 'zrank': {'summary': 'Determine the index of a member in a sorted set',
           'since': '2.0.0',
           'group': 'sorted-set',
           'complexity': 'O(log(N))',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'member', 'type': 'string'}]},
 'zrevrank': {'summary': 'Determine the index of a member in a sorted set, with scores ordered '
                         'from high to low',
              'since': '2.0.0',
              'group': 'sorted-set',
              'complexity': 'O(log(N))',
              'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                            {'name': 'member', 'type': 'string'}]},
 'zpopmin': {'summary': 'Remove and return members with the lowest scores in a sorted set',
             'since': '5.0.0',
             'group': 'sorted-set',
             'complexity': 'O(log(N)*M) with N being the number of elements in the sorted set, '
                           'and M being the number of elements popped.',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'count', 'type': 'integer', 'flags': ['optional']}]},
 'zpopmax': {'summary': 'Remove and return members with the highest scores in a sorted set',
             'since': '5.0.0',
             'group': 'sorted-set',
             'complexity': 'O(log(N)*M) with N being the number of elements in the sorted set, '
                           'and M being the number of elements popped.',
             'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                           {'name': 'count', 'type': 'integer', 'flags': ['optional']}]},
 'zremrangebyscore': {'summary': 'Remove all members in a sorted set within the given scores',
                      'since': '1.2.0',
                      'group': 'sorted-set',
                      'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                    'sorted set and M the number of elements removed by the '
                                    'operation.',
                      'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                    {'name': 'min', 'type': 'double'},
                                    {'name': 'max', 'type': 'double'}]},
 'zremrangebyrank': {'summary': 'Remove all members in a sorted set within the given indexes',
                     'since': '2.0.0',
                     'group': 'sorted-set',
                     'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                   'sorted set and M the number of elements removed by the '
                                   'operation.',
                     'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                   {'name': 'start', 'type': 'integer'},
                                   {'name': 'stop', 'type': 'integer'}]},
 'zremrangebylex': {'summary': 'Remove all members in a sorted set between the given '
                               'lexicographical range',
                    'since': '2.8.9',
                    'group': 'sorted-set',
                    'complexity': 'O(log(N)+M) with N being the number of elements in the '
                                  'sorted set and M the number of elements removed by the '
                                  'operation.',
                    'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                                  {'name': 'min', 'type': 'string'},
                                  {'name': 'max', 'type': 'string'}]},
 'zunionstore': {'summary': 'Add multiple sorted sets and store the resulting sorted set in a '
                            'new key',
                 'since': '2.0.0',
                 'group': 'sorted-set',
                 'complexity': 'O(N)+O(M log(M)) with N being the sum of the sizes of the '
                               'input sorted sets, and M being the number of elements in the '
                               'resulting sorted set.',
                 'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'numkeys', 'type': 'integer'},
                               {'name': 'key',
                                'type': 'key',
                                'key_spec_index': 1,
                                'flags': ['multiple']},
                               {'name': 'weight',
                                'type': 'integer',
                                'token': 'WEIGHTS',
                                'flags': ['optional', 'multiple']},
                               {'name': 'aggregate',
                                'type': 'oneof',
                                'token': 'AGGREGATE',
                                'flags': ['optional'],
                                'arguments': [{'name': 'sum',
                                               'type': 'pure-token',
                                               'token': 'SUM'},
                                              {'name': 'min',
                                               'type': 'pure-token',
                                               'token': 'MIN'},
                                              {'name': 'max',
                                               'type': 'pure-token',
                                               'token': 'MAX'}]}]},
 'zinterstore': {'summary': 'Intersect multiple sorted sets and store the resulting sorted set '
                            'in a new key',
                 'since': '2.0.0',
                 'group': 'sorted-set',
                 'complexity': 'O(N*K)+O(M*log(M)) worst case with N being the smallest input '
                               'sorted set, K being the number of input sorted sets and M '
                               'being the number of elements in the resulting sorted set.',
                 'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'numkeys', 'type': 'integer'},
                               {'name': 'key',
                                'type': 'key',
                                'key_spec_index': 1,
                                'flags': ['multiple']},
                               {'name': 'weight',
                                'type': 'integer',
                                'token': 'WEIGHTS',
                                'flags': ['optional', 'multiple']},
                               {'name': 'aggregate',
                                'type': 'oneof',
                                'token': 'AGGREGATE',
                                'flags': ['optional'],
                                'arguments': [{'name': 'sum',
                                               'type': 'pure-token',
                                               'token': 'SUM'},
                                              {'name': 'min',
                                               'type': 'pure-token',
                                               'token': 'MIN'},
                                              {'name': 'max',
                                               'type': 'pure-token',
                                               'token': 'MAX'}]}]},
 'zdiffstore': {'summary': 'Subtract multiple sorted sets and store the resulting sorted set '
                           'in a new key',
                'since': '6.2.0',
                'group': 'sorted-set',
                'complexity': 'O(L + (N-K)log(N)) worst case where L is the total number of '
                              'elements in all the sets, N is the size of the first set, and K '
                              'is the size of the result set.',
                'arguments': [{'name': 'destination', 'type': 'key', 'key_spec_index': 0},
                              {'name': 'numkeys', 'type': 'integer'},
                              {'name': 'key',
                               'type': 'key',
                               'key_spec_index': 1,
                               'flags': ['multiple']}]},
 'zunion': {'summary': 'Add multiple sorted sets',
            'since': '6.2.0',
            'group': 'sorted-set',
            'complexity': 'O(N)+O(M*log(M)) with N being the sum of the sizes of the input '
                          'sorted sets, and M being the number of elements in the resulting '
                          'sorted set.',
            'arguments': [{'name': 'numkeys', 'type': 'integer'},
                          {'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']},
                          {'name': 'weight',
                           'type': 'integer',
                           'token': 'WEIGHTS',
                           'flags': ['optional', 'multiple']},
                          {'name': 'aggregate',
                           'type': 'oneof',
                           'token': 'AGGREGATE',
                           'flags': ['optional'],
                           'arguments': [{'name': 'sum', 'type': 'pure-token', 'token': 'SUM'},
                                         {'name': 'min', 'type': 'pure-token', 'token': 'MIN'},
                                         {'name': 'max',
                                          'type': 'pure-token',
                                          'token': 'MAX'}]},
                          {'name': 'withscores',
                           'type': 'pure-token',
                           'token': 'WITHSCORES',
                           'flags': ['optional']}]},
 'zinter': {'summary': 'Intersect multiple sorted sets',
            'since': '6.2.0',
            'group': 'sorted-set',
            'complexity': 'O(N*K)+O(M*log(M)) worst case with N being the smallest input '
                          'sorted set, K being the number of input sorted sets and M being the '
                          'number of elements in the resulting sorted set.',
            'arguments': [{'name': 'numkeys', 'type': 'integer'},
                          {'name': 'key',
                           'type': 'key',
                           'key_spec_index': 0,
                           'flags': ['multiple']},
                          {'name': 'weight',
                           'type': 'integer',
                           'token': 'WEIGHTS',
                           'flags': ['optional', 'multiple']},
                          {'name': 'aggregate',
                           'type': 'oneof',
                           'token': 'AGGREGATE',
                           'flags': ['optional'],
                           'arguments': [{'name': 'sum', 'type': 'pure-token', 'token': 'SUM'},
                                         {'name': 'min', 'type': 'pure-token', 'token': 'MIN'},
                                         {'name': 'max',
                                          'type': 'pure-token',
                                          'token': 'MAX'}]},
                          {'name': 'withscores',
                           'type': 'pure-token',
                           'token': 'WITHSCORES',
                           'flags': ['optional']}]},
 'zdiff': {'summary': 'Subtract multiple sorted sets',
           'since': '6.2.0',
           'group': 'sorted-set',
           'complexity': 'O(L + (N-K)log(N)) worst case where L is the total number of '
                         'elements in all the sets, N is the size of the first set, and K is '
                         'the size of the result set.',
           'arguments': [{'name': 'numkeys', 'type': 'integer'},
                         {'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']},
                         {'name': 'withscores',
                          'type': 'pure-token',
                          'token': 'WITHSCORES',
                          'flags': ['optional']}]},
 'zintercard': {'summary': 'Intersect multiple sorted sets and return the cardinality of the '
                           'result',
                'since': '7.0.0',
                'group': 'sorted-set',
                'complexity': 'O(N*K) worst case with N being the smallest input sorted set, K '
                              'being the number of input sorted sets.',
                'arguments': [{'name': 'numkeys', 'type': 'integer'},
                              {'name': 'key',
                               'type': 'key',
                               'key_spec_index': 0,
                               'flags': ['multiple']},
                              {'name': 'limit',
                               'type': 'integer',
                               'token': 'LIMIT',
                               'flags': ['optional']}]},
 'zscan': {'summary': 'Incrementally iterate sorted sets elements and associated scores',
           'since': '2.8.0',
           'group': 'sorted-set',
           'complexity': 'O(1) for every call. O(N) for a complete iteration, including enough '
                         'command calls for the cursor to return back to 0. N is the number of '
                         'elements inside the collection..',
           'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                         {'name': 'cursor', 'type': 'integer'},
                         {'name': 'pattern',
                          'type': 'pattern',
                          'token': 'MATCH',
                          'flags': ['optional']},
                         {'name': 'count',
                          'type': 'integer',
                          'token': 'COUNT',
                          'flags': ['optional']}]},
 'zrandmember': {'summary': 'Get one or multiple random elements from a sorted set',
                 'since': '6.2.0',
                 'group': 'sorted-set',
                 'complexity': 'O(N) where N is the number of elements returned',
                 'arguments': [{'name': 'key', 'type': 'key', 'key_spec_index': 0},
                               {'name': 'options',
                                'type': 'block',
                                'flags': ['optional'],
                                'arguments': [{'name': 'count', 'type': 'integer'},
                                              {'name': 'withscores',
                                               'type': 'pure-token',
                                               'token': 'WITHSCORES',
                                               'flags': ['optional']}]}]},
 'ping': {'summary': 'Ping the server',
          'since': '1.0.0',
          'group': 'connection',
          'complexity': 'O(1)',
          'arguments': [{'name': 'message', 'type': 'string', 'flags': ['optional']}]},
 'echo': {'summary': 'Echo the given string',
          'since': '1.0.0',
          'group': 'connection',
          'complexity': 'O(1)',
          'arguments': [{'name': 'message', 'type': 'string'}]},
 'hello': {'summary': 'Handshake with Redis',
           'since': '6.0.0',
           'group': 'connection',
           'complexity': 'O(1)',
           'history': [['6.2.0',
                        '`protover` made optional; when called without arguments the command '
                        "reports the current connection's context."]],
           'arguments': [{'name': 'arguments',
                          'type': 'block',
                          'flags': ['optional'],
                          'arguments': [{'name': 'protover', 'type': 'integer'},
                                        {'name': 'username_password',
                                         'type': 'block',
                                         'token': 'AUTH',
                                         'flags': ['optional'],
                                         'arguments': [{'name': 'username', 'type': 'string'},
                                                       {'name': 'password', 'type': 'string'}]},
                                        {'name': 'clientname',
                                         'type': 'string',
                                         'token': 'SETNAME',
                                         'flags': ['optional']}]}]},
 'auth': {'summary': 'Authenticate to the server',
          'since': '1.0.0',
          'group': 'connection',
          'complexity': 'O(N) where N is the number of passwords defined for the user',
          'history': [['6.0.0', 'Added ACL style (username and password).']],
          'arguments': [{'name': 'username',
                         'type': 'string',
                         'since': '6.0.0',
                         'flags': ['optional']},
                        {'name': 'password', 'type': 'string'}]},
 'select': {'summary': 'Change the selected database for the current connection',
            'since': '1.0.0',
            'group': 'connection',
            'complexity': 'O(1)',
            'arguments': [{'name': 'index', 'type': 'integer'}]},
 'quit': {'summary': 'Close the connection',
          'since': '1.0.0',
          'group': 'connection',
          'complexity': 'O(1)'},
 'reset': {'summary': 'Reset the connection',
           'since': '6.2.0',
           'group': 'connection',
           'complexity': 'O(1)'},
 'client': {'summary': 'A container for client connection commands',
            'since': '2.4.0',
            'group': 'connection',
            'complexity': 'Depends on subcommand.'},
 'client|getname': {'summary': 'Get the current connection name',
                    'since': '2.6.9',
                    'group': 'connection',
                    'complexity': 'O(1)'},
 'client|help': {'summary': 'Show helpful text about the different subcommands',
                 'since': '5.0.0',
                 'group': 'connection',
                 'complexity': 'O(1)'},
 'client|id': {'summary': 'Returns the client ID for the current connection',
               'since': '5.0.0',
               'group': 'connection',
               'complexity': 'O(1)'},
 'client|info': {'summary': 'Returns information about the current client connection.',
                 'since': '6.2.0',
                 'group': 'connection',
                 'complexity': 'O(1)'},
 'client|kill': {'summary': 'Kill the connection of a client',
                 'since': '2.4.0',
                 'group': 'connection',
                 'complexity': 'O(N) where N is the number of client connections',
                 'history': [['2.8.12', 'Added new filter format.'], ['2.8.12', '`ID` option.'],
                             ['3.2.0', 'Added `master` type in for `TYPE` option.'],
                             ['5.0.0',
                              'Replaced `slave` `TYPE` with `replica`. `slave` still supported '
                              'for backward compatibility.'],
                             ['6.2.0', '`LADDR` option.']],
                 'arguments': [{'name': 'filter',
                                'type': 'oneof',
                                'arguments': [{'name': 'ip:port',
                                               'type': 'string',
                                               'deprecated_since': '2.8.12'},
                                              {'name': 'new-format',
                                               'type': 'oneof',
                                               'flags': ['multiple'],
                                               'arguments': [{'name': 'client-id',
                                                              'type': 'integer',
                                                              'token': 'ID',
                                                              'since': '2.8.12',
                                                              'flags': ['optional']},
                                                             {'name': 'normal_master_slave_pubsub',
                                                              'type': 'oneof',
                                                              'token': 'TYPE',
                                                              'since': '2.8.12',
                                                              'flags': ['optional'],
                                                              'arguments': [{'name': 'normal',
                                                                             'type': 'pure-token',
                                                                             'token': 'NORMAL'},
                                                                            {'name': 'master',
                                                                             'type': 'pure-token',
                                                                             'token': 'MASTER',
                                                                             'since': '3.2.0'},
                                                                            {'name': 'slave',
                                                                             'type': 'pure-token',
                                                                             'token': 'SLAVE'},
                                                                            {'name': 'replica',
                                                                             'type': 'pure-token',
                                                                             'token': 'REPLICA',
                                                                             'since': '5.0.0'},
                                                                            {'name': 'pubsub',
                                                                             'type': 'pure-token',
                                                                             'token': 'PUBSUB'}]},
                                                             {'name': 'username',
                                                              'type': 'string',
                                                              'token': 'USER',
                                                              'flags': ['optional']},
                                                             {'name': 'ip:port',
                                                              'type': 'string',
                                                              'token': 'ADDR',
                                                              'flags': ['optional']},
                                                             {'name': 'ip:port',
                                                              'type': 'string',
                                                              'token': 'LADDR',
                                                              'since': '6.2.0',
                                                              'flags': ['optional']},
                                                             {'name': 'yes/no',
                                                              'type': 'string',
                                                              'token': 'SKIPME',
                                                              'flags': ['optional']}]}]}]},
 'client|list': {'summary': 'Get the list of client connections',
                 'since': '2.4.0',
                 'group': 'connection',
                 'complexity': 'O(N) where N is the number of client connections',
                 'history': [['2.8.12', 'Added unique client `id` field.'],
                             ['5.0.0', 'Added optional `TYPE` filter.'],
                             ['6.0.0', 'Added `user` field.'],
                             ['6.2.0',
                              'Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the '
                              'optional `ID` filter.'],
                             ['7.0.0', 'Added `resp`, `multi-mem`, `rbs` and `rbp` fields.'],
                             ['7.0.3', 'Added `ssub` field.']],
                 'arguments': [{'name': 'normal_master_replica_pubsub',
                                'type': 'oneof',
                                'token': 'TYPE',
                                'since': '5.0.0',
                                'flags': ['optional'],
                                'arguments': [{'name': 'normal',
                                               'type': 'pure-token',
                                               'token': 'NORMAL'},
                                              {'name': 'master',
                                               'type': 'pure-token',
                                               'token': 'MASTER'},
                                              {'name': 'replica',
                                               'type': 'pure-token',
                                               'token': 'REPLICA'},
                                              {'name': 'pubsub',
                                               'type': 'pure-token',
                                               'token': 'PUBSUB'}]},
                               {'name': 'id',
                                'type': 'block',
                                'token': 'ID',
                                'since': '6.2.0',
                                'flags': ['optional'],
                                'arguments': [{'name': 'client-id',
                                               'type': 'integer',
                                               'flags': ['multiple']}]}]},
 'client|no-evict': {'summary': 'Set client eviction mode for the current connection',
                     'since': '7.0.0',
                     'group': 'connection',
                     'complexity': 'O(1)',
                     'arguments': [{'name': 'enabled',
                                    'type': 'oneof',
                                    'arguments': [{'name': 'on',
                                                   'type': 'pure-token',
                                                   'token': 'ON'},
                                                  {'name': 'off',
                                                   'type': 'pure-token',
                                                   'token': 'OFF'}]}]},
 'client|reply': {'summary': 'Instruct the server whether to reply to commands',
                  'since': '3.2.0',
                  'group': 'connection',
                  'complexity': 'O(1)',
                  'arguments': [{'name': 'on_off_skip',
                                 'type': 'oneof',
                                 'arguments': [{'name': 'on',
                                                'type': 'pure-token',
                                                'token': 'ON'},
                                               {'name': 'off',
                                                'type': 'pure-token',
                                                'token': 'OFF'},
                                               {'name': 'skip',
                                                'type': 'pure-token',
                                                'token': 'SKIP'}]}]},
 'client|setname': {'summary': 'Set the current connection name',
                    'since': '2.6.9',
                    'group': 'connection',
                    'complexity': 'O(1)',
                    'arguments': [{'name': 'connection-name', 'type': 'string'}]},
 'info': {'summary': 'Get information and statistics about the server',
          'since': '1.0.0',
          'group': 'server',
          'complexity': 'O(1)',
          'history': [['7.0.0', 'Added support for taking multiple section arguments.']],
          'arguments': [{'name': 'section',
                         'type': 'string',
                         'flags': ['optional', 'multiple']}]},
 'time': {'summary': 'Return the current server time',
          'since': '2.6.0',
          'group': 'server',
          'complexity': 'O(1)'},
 'config': {'summary': 'A container for server configuration commands',
            'since': '2.0.0',
            'group': 'server',
            'complexity': 'Depends on subcommand.'},
 'config|get': {'summary': 'Get the values of configuration parameters',
                'since': '2.0.0',
                'group': 'server',
                'complexity': 'O(N) when N is the number of configuration parameters provided',
                'history': [['7.0.0',
                             'Added the ability to pass multiple pattern parameters in one '
                             'call']],
                'arguments': [{'name': 'parameter',
                               'type': 'block',
                               'flags': ['multiple'],
                               'arguments': [{'name': 'parameter', 'type': 'string'}]}]},
 'config|help': {'summary': 'Show helpful text about the different subcommands',
                 'since': '5.0.0',
                 'group': 'server',
                 'complexity': 'O(1)'},
 'config|resetstat': {'summary': 'Reset the stats returned by INFO',
                      'since': '2.0.0',
                      'group': 'server',
                      'complexity': 'O(1)'},
 'config|set': {'summary': 'Set configuration parameters to the given values',
                'since': '2.0.0',
                'group': 'server',
                'complexity': 'O(N) when N is the number of configuration parameters provided',
                'history': [['7.0.0',
                             'Added the ability to set multiple parameters in one call.']],
                'arguments': [{'name': 'parameter_value',
                               'type': 'block',
                               'flags': ['multiple'],
                               'arguments': [{'name': 'parameter', 'type': 'string'},
                                             {'name': 'value', 'type': 'string'}]}]},
 'wait': {'summary': 'Wait for the synchronous replication of all the write commands sent in '
                     'the context of the current connection',
          'since': '3.0.0',
          'group': 'generic',
          'complexity': 'O(1)',
          'arguments': [{'name': 'numreplicas', 'type': 'integer'},
                        {'name': 'timeout', 'type': 'integer'}]},
 'command': {'summary': 'Get array of Redis command details',
             'since': '2.8.13',
             'group': 'server',
             'complexity': 'O(N) where N is the total number of Redis commands'},
 'command|count': {'summary': 'Get total number of Redis commands',
                   'since': '2.8.13',
                   'group': 'server',
                   'complexity': 'O(1)'},
 'command|docs': {'summary': 'Get array of specific Redis command documentation',
                  'since': '7.0.0',
                  'group': 'server',
                  'complexity': 'O(N) where N is the number of commands to look up',
                  'arguments': [{'name': 'command-name',
                                 'type': 'string',
                                 'flags': ['optional', 'multiple']}]},
 'command|getkeys': {'summary': 'Extract keys given a full Redis command',
                     'since': '2.8.13',
                     'group': 'server',
                     'complexity': 'O(N) where N is the number of arguments to the command'},
 'command|getkeysandflags': {'summary': 'Extract keys and access flags given a full Redis '
                                        'command',
                             'since': '7.0.0',
                             'group': 'server',
                             'complexity': 'O(N) where N is the number of arguments to the '
                                           'command'},
 'command|help': {'summary': 'Show helpful text about the different subcommands',
                  'since': '5.0.0',
                  'group': 'server',
                  'complexity': 'O(1)'},
 'command|info': {'summary': 'Get array of specific Redis command details, or all when no '
                             'argument is given.',
                  'since': '2.8.13',
                  'group': 'server',
                  'complexity': 'O(N) where N is the number of commands to look up',
                  'history': [['7.0.0',
                               'Allowed to be called with no argument to get info on all '
                               'commands.']],
                  'arguments': [{'name': 'command-name',
                                 'type': 'string',
                                 'flags': ['optional', 'multiple']}]},
 'command|list': {'summary': 'Get an array of Redis command names',
                  'since': '7.0.0',
                  'group': 'server',
                  'complexity': 'O(N) where N is the total number of Redis commands',
                  'arguments': [{'name': 'filterby',
                                 'type': 'oneof',
                                 'token': 'FILTERBY',
                                 'flags': ['optional'],
                                 'arguments': [{'name': 'module-name',
                                                'type': 'string',
                                                'token': 'MODULE'},
                                               {'name': 'category',
                                                'type': 'string',
                                                'token': 'ACLCAT'},
                                               {'name': 'pattern',
                                                'type': 'pattern',
                                                'token': 'PATTERN'}]}]},
 'cluster': {'summary': 'A container for cluster commands',
             'since': '3.0.0',
             'group': 'cluster',
             'complexity': 'Depends on subcommand.'},
 'cluster|countkeysinslot': {'summary': 'Return the number of local keys in the specified hash '
                                        'slot',
                             'since': '3.0.0',
                             'group': 'cluster',
                             'complexity': 'O(1)',
                             'arguments': [{'name': 'slot', 'type': 'integer'}]},
 'cluster|getkeysinslot': {'summary': 'Return local key names in the specified hash slot',
                           'since': '3.0.0',
                           'group': 'cluster',
                           'complexity': 'O(log(N)) where N is the number of requested keys',
                           'arguments': [{'name': 'slot', 'type': 'integer'},
                                         {'name': 'count', 'type': 'integer'}]},
 'cluster|help': {'summary': 'Show helpful text about the different subcommands',
                  'since': '5.0.0',
                  'group': 'cluster',
                  'complexity': 'O(1)'},
 'cluster|info': {'summary': 'Provides info about Redis Cluster node state',
                  'since': '3.0.0',
                  'group': 'cluster',
                  'complexity': 'O(1)'},
 'cluster|keyslot': {'summary': 'Returns the hash slot of the specified key',
                     'since': '3.0.0',
                     'group': 'cluster',
                     'complexity': 'O(N) where N is the number of bytes in the key',
                     'arguments': [{'name': 'key', 'type': 'string'}]},
 'cluster|myid': {'summary': 'Return the node id',
                  'since': '3.0.0',
                  'group': 'cluster',
                  'complexity': 'O(1)'},
 'cluster|nodes': {'summary': 'Get Cluster config for the node',
                   'since': '3.0.0',
                   'group': 'cluster',
                   'complexity': 'O(N) where N is the total number of Cluster nodes'},
 'cluster|shards': {'summary': 'Get array of cluster slots to node mappings',
                    'since': '7.0.0',
                    'group': 'cluster',
                    'complexity': 'O(N) where N is the total number of cluster nodes'},
 'cluster|slots': {'summary': 'Get array of Cluster slot to node mappings',
                   'since': '3.0.0',
                   'group': 'cluster',
                   'complexity': 'O(N) where N is the total number of Cluster nodes',
                   'doc_flags': ['deprecated'],
                   'deprecated_since': '7.0.0',
                   'replaced_by': '`CLUSTER SHARDS`',
                   'history': [['4.0.0', 'Added node IDs.'],
                               ['7.0.0', 'Added additional networking metadata field.']]},
 'readonly': {'summary': 'Enables read queries for a connection to a cluster replica node',
              'since': '3.0.0',
              'group': 'cluster',
              'complexity': 'O(1)'},
 'readwrite': {'summary': 'Disables read queries for a connection to a cluster replica node',
               'since': '3.0.0',
               'group': 'cluster',
               'complexity': 'O(1)'},
 'asking': {'summary': 'Sent by cluster clients after an -ASK redirect',
            'since': '3.0.0',
            'group': 'cluster',
            'complexity': 'O(1)'},
 'multi': {'summary': 'Mark the start of a transaction block',
           'since': '1.2.0',
           'group': 'transactions',
           'complexity': 'O(1)'},
 'exec': {'summary': 'Execute all commands issued after MULTI',
          'since': '1.2.0',
          'group': 'transactions',
          'complexity': 'Depends on commands in the transaction'},
 'discard': {'summary': 'Discard all commands issued after MULTI',
             'since': '2.0.0',
             'group': 'transactions',
             'complexity': 'O(N), when N is the number of queued commands'},
 'watch': {'summary': 'Watch the given keys to determine execution of the MULTI/EXEC block',
           'since': '2.2.0',
           'group': 'transactions',
           'complexity': 'O(1) for every key.',
           'arguments': [{'name': 'key',
                          'type': 'key',
                          'key_spec_index': 0,
                          'flags': ['multiple']}]},
 'unwatch': {'summary': 'Forget about all watched keys',
             'since': '2.2.0',
             'group': 'transactions',
             'complexity': 'O(1)'},
 'bgsave': {'summary': 'Asynchronously save the dataset to disk',
            'since': '1.0.0',
            'group': 'server',
            'complexity': 'O(1)',
            'history': [['3.2.2', 'Added the `SCHEDULE` option.']],
            'arguments': [{'name': 'schedule',
                           'type': 'pure-token',
                           'token': 'SCHEDULE',
                           'since': '3.2.2',
                           'flags': ['optional']}]},
 'lastsave': {'summary': 'Get the UNIX time stamp of the last successful save to disk',
              'since': '1.0.0',
              'group': 'server',
              'complexity': 'O(1)'},
 'subscribe': {'summary': 'Listen for messages published to the given channels',
               'since': '2.0.0',
               'group': 'pubsub',
               'complexity': 'O(N) where N is the number of channels to subscribe to.',
               'arguments': [{'name': 'channel', 'type': 'string', 'flags': ['multiple']}]},
 'unsubscribe': {'summary': 'Stop listening for messages posted to the given channels',
                 'since': '2.0.0',
                 'group': 'pubsub',
                 'complexity': 'O(N) where N is the number of clients already subscribed to a '
                               'channel.',
                 'arguments': [{'name': 'channel',
                                'type': 'string',
                                'flags': ['optional', 'multiple']}]},
 'psubscribe': {'summary': 'Listen for messages published to channels matching the given '
                           'patterns',
                'since': '2.0.0',
                'group': 'pubsub',
                'complexity': 'O(N) where N is the number of patterns the client is already '
                              'subscribed to.',
                'arguments': [{'name': 'pattern',
                               'type': 'block',
                               'flags': ['multiple'],
                               'arguments': [{'name': 'pattern', 'type': 'pattern'}]}]},
 'punsubscribe': {'summary': 'Stop listening for messages posted to channels matching the '
                             'given patterns',
                  'since': '2.0.0',
                  'group': 'pubsub',
                  'complexity': 'O(N+M) where N is the number of patterns the client is '
                                'already subscribed and M is the number of total patterns '
                                'subscribed in the system (by any client).',
                  'arguments': [{'name': 'pattern',
                                 'type': 'pattern',
                                 'flags': ['optional', 'multiple']}]},
 'publish': {'summary': 'Post a message to a channel',
             'since': '2.0.0',
             'group': 'pubsub',
             'complexity': 'O(N+M) where N is the number of clients subscribed to the '
                           'receiving channel and M is the total number of subscribed patterns '
                           '(by any client).',
             'arguments': [{'name': 'channel', 'type': 'string'},
                           {'name': 'message', 'type': 'string'}]},
 'ssubscribe': {'summary': 'Listen for messages published to the given shard channels',
                'since': '7.0.0',
                'group': 'pubsub',
                'complexity': 'O(N) where N is the number of shard channels to subscribe to.',
                'arguments': [{'name': 'shardchannel',
                               'type': 'string',
                               'flags': ['multiple']}]},
 'sunsubscribe': {'summary': 'Stop listening for messages posted to the given shard channels',
                  'since': '7.0.0',
                  'group': 'pubsub',
                  'complexity': 'O(N) where N is the number of clients already subscribed to a '
                                'shard channel.',
                  'arguments': [{'name': 'shardchannel',
                                 'type': 'string',
                                 'flags': ['optional', 'multiple']}]},
 'spublish': {'summary': 'Post a message to a shard channel',
              'since': '7.0.0',
              'group': 'pubsub',
              'complexity': 'O(N) where N is the number of clients subscribed to the receiving '
                            'shard channel.',
              'arguments': [{'name': 'shardchannel', 'type': 'string'},
                            {'name': 'message', 'type': 'string'}]},
 'pubsub': {'summary': 'A container for Pub/Sub commands',
            'since': '2.8.0',
            'group': 'pubsub',
            'complexity': 'Depends on subcommand.'},
 'pubsub|channels': {'summary': 'List active channels',
                     'since': '2.8.0',
                     'group': 'pubsub',
                     'complexity': 'O(N) where N is the number of active channels, and '
                                   'assuming constant time pattern matching (relatively short '
                                   'channels and patterns)',
                     'arguments': [{'name': 'pattern',
                                    'type': 'pattern',
                                    'flags': ['optional']}]},
 'pubsub|help': {'summary': 'Show helpful text about the different subcommands',
                 'since': '6.2.0',
                 'group': 'pubsub',
                 'complexity': 'O(1)'},
 'pubsub|numpat': {'summary': 'Get the count of unique patterns pattern subscriptions',
                   'since': '2.8.0',
                   'group': 'pubsub',
                   'complexity': 'O(1)'},
 'pubsub|numsub': {'summary': 'Get the count of subscribers for channels',
                   'since': '2.8.0',
                   'group': 'pubsub',
                   'complexity': 'O(N) for the NUMSUB subcommand, where N is the number of '
                                 'requested channels',
                   'arguments': [{'name': 'channel',
                                  'type': 'string',
                                  'flags': ['optional', 'multiple']}]},
 'pubsub|shardchannels': {'summary': 'List active shard channels',
                          'since': '7.0.0',
                          'group': 'pubsub',
                          'complexity': 'O(N) where N is the number of active shard channels, '
                                        'and assuming constant time pattern matching '
                                        '(relatively short shard channels).',
                          'arguments': [{'name': 'pattern',
                                         'type': 'pattern',
                                         'flags': ['optional']}]},
 'pubsub|shardnumsub': {'summary': 'Get the count of subscribers for shard channels',
                        'since': '7.0.0',
                        'group': 'pubsub',
                        'complexity': 'O(N) for the SHARDNUMSUB subcommand, where N is the '
                                      'number of requested shard channels',
                        'arguments': [{'name': 'shardchannel',
                                       'type': 'string',
                                       'flags': ['optional', 'multiple']}]}}
# fmt: on
# ---- END GENERATED ----

COMMANDS: dict[str, CommandSpec] = _build_table(_GENERATED)

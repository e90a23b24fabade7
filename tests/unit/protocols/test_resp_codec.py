"""Reply encoding (RESP2 and RESP3), the client-side decoder, and round trips between them."""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.protocols.resp import (
    NEED_DATA,
    RespDecodeError,
    RespReplyDecoder,
    encode_command,
    encode_replies,
    encode_reply,
    format_double,
    register_reply_type,
)
from node.protocols.resp_types import (
    NULL_ARRAY,
    OK,
    Attribute,
    BigNumber,
    Double,
    ErrorReply,
    Map,
    Push,
    Raw,
    RespSet,
    SimpleString,
    Verbatim,
)

# --- exact encodings --------------------------------------------------------------------------

ENCODINGS: list[tuple[Any, bytes, bytes]] = [
    # value, RESP2, RESP3
    (b"bar", b"$3\r\nbar\r\n", b"$3\r\nbar\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    ("h\u00e9", b"$3\r\nh\xc3\xa9\r\n", b"$3\r\nh\xc3\xa9\r\n"),
    (bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (0, b":0\r\n", b":0\r\n"),
    (-1, b":-1\r\n", b":-1\r\n"),
    (1024, b":1024\r\n", b":1024\r\n"),
    (1025, b":1025\r\n", b":1025\r\n"),
    (-(2**63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
    (2**63, b"$19\r\n9223372036854775808\r\n", b"(9223372036854775808\r\n"),
    (BigNumber(-12), b"$3\r\n-12\r\n", b"(-12\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (3.0, b"$1\r\n3\r\n", b",3\r\n"),
    (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    (-0.0, b"$2\r\n-0\r\n", b",-0\r\n"),
    (1e100, b"$6\r\n1e+100\r\n", b",1e+100\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (Double(2.5), b"$3\r\n2.5\r\n", b",2.5\r\n"),
    (OK, b"+OK\r\n", b"+OK\r\n"),
    (SimpleString("a\r\nb"), b"+a  b\r\n", b"+a  b\r\n"),  # no reply injection
    (ErrorReply("ERR no"), b"-ERR no\r\n", b"-ERR no\r\n"),
    (ErrorReply("ERR x\ny"), b"-ERR x y\r\n", b"-ERR x y\r\n"),
    (Verbatim("hi"), b"$2\r\nhi\r\n", b"=6\r\ntxt:hi\r\n"),
    (Verbatim("# x", "mkd"), b"$3\r\n# x\r\n", b"=7\r\nmkd:# x\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    ((b"a", [b"b"]), b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n", b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n"),
    ({b"k": 1}, b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
    (Map([(b"k", b"v")]), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n", b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n"),
    ({b"m"}, b"*1\r\n$1\r\nm\r\n", b"~1\r\n$1\r\nm\r\n"),
    (RespSet([b"a", b"b"]), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"~2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    (Push([b"message", b"c"]), b"*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n", b">2\r\n$7\r\nmessage\r\n$1\r\nc\r\n"),
    (Attribute({b"a": 1}, b"v"), b"$1\r\nv\r\n", b"|1\r\n$1\r\na\r\n:1\r\n$1\r\nv\r\n"),
    (Raw(b"+CACHED\r\n"), b"+CACHED\r\n", b"+CACHED\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "resp2", "resp3"), ENCODINGS)
def test_exact_encoding(value: Any, resp2: bytes, resp3: bytes) -> None:
    assert encode_reply(value, 2) == resp2
    assert encode_reply(value, 3) == resp3


def test_big_bulk_strings() -> None:
    value = b"x" * 100_000
    assert encode_reply(value) == b"$100000\r\n" + value + b"\r\n"
    assert encode_reply([value, value]) == b"*2\r\n" + (b"$100000\r\n" + value + b"\r\n") * 2


def test_nan_is_sent_as_redis_sends_it() -> None:
    assert encode_reply(float("nan"), 3) == b",nan\r\n"
    assert encode_reply(float("nan"), 2) == b"$3\r\nnan\r\n"


@given(st.floats(allow_nan=False))
def test_doubles_print_like_c_printf_17g(value: float) -> None:
    expected = b"inf" if value == math.inf else b"-inf" if value == -math.inf else None
    assert format_double(value) == (expected or b"%.17g" % value)
    assert float(format_double(value)) == value  # 17 significant digits round-trip


def test_encode_replies_concatenates_a_pipeline() -> None:
    assert encode_replies([OK, b"v", None, 3], 2) == b"+OK\r\n$1\r\nv\r\n$-1\r\n:3\r\n"
    assert encode_replies([], 3) == b""


def test_int_enum_and_subclasses_use_their_base_encoding() -> None:
    class Color(IntEnum):
        RED = 7

    class Label(str):
        pass

    assert encode_reply(Color.RED) == b":7\r\n"
    assert encode_reply(Label("x")) == b"$1\r\nx\r\n"


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        encode_reply(object())
    with pytest.raises(TypeError):
        encode_reply([b"ok", object()])


def test_bad_verbatim_format() -> None:
    with pytest.raises(ValueError):
        encode_reply(Verbatim("x", "markdown"), 3)


def test_encode_command() -> None:
    assert encode_command("SET", b"k", 12, 1.5) == (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n1.5\r\n")
    with pytest.raises(TypeError):
        encode_command("SET", True)


# --- registered and duck-typed conversions ---------------------------------------------------


class Score:
    """A foreign reply type with its own ``__resp__``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __resp__(self, protocol: int) -> Any:
        return Double(self.value) if protocol == 3 else b"%g" % self.value


class Pairs:
    def __init__(self, *pairs: tuple[bytes, bytes]) -> None:
        self.pairs = list(pairs)


class MorePairs(Pairs):
    pass


def test_dunder_resp_conversion() -> None:
    assert encode_reply(Score(1.25), 3) == b",1.25\r\n"
    assert encode_reply([Score(2.0)], 2) == b"*1\r\n$1\r\n2\r\n"


def test_registered_conversion_applies_to_subclasses_and_nesting() -> None:
    register_reply_type(Pairs, lambda value: Map(value.pairs))
    assert encode_reply(Pairs((b"a", b"b")), 3) == b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert encode_reply([MorePairs((b"a", b"b"))], 2) == b"*1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"


def test_registration_cannot_override_builtins() -> None:
    with pytest.raises(ValueError):
        register_reply_type(bytes, lambda value: value)


def test_bridge_to_the_keyspace_reply_types() -> None:
    """How the front end bridges node.keyspace.replies: five one-line registrations."""
    replies = pytest.importorskip("node.keyspace.replies")
    register_reply_type(replies.SimpleString, lambda value: SimpleString(value.text))
    register_reply_type(replies.RedisError, lambda error: ErrorReply(error.message))
    register_reply_type(type(replies.NULL_ARRAY), lambda _: NULL_ARRAY)
    register_reply_type(replies.Map, lambda value: Map(value.pairs))
    register_reply_type(replies.SetReply, lambda value: RespSet(value.items))
    register_reply_type(
        replies.PairArray,
        lambda value, protocol: replies.flat(value.pairs) if protocol == 2 else [list(pair) for pair in value.pairs],
        with_protocol=True,
    )
    pairs = replies.PairArray([(b"m", 1.5)])
    assert encode_reply(pairs, 2) == b"*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n"
    assert encode_reply(pairs, 3) == b"*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n"
    assert encode_reply(replies.OK) == b"+OK\r\n"
    assert encode_reply(replies.RedisError(replies.WRONGTYPE)) == (b"-" + replies.WRONGTYPE.encode() + b"\r\n")
    assert encode_reply(replies.NULL_ARRAY, 2) == b"*-1\r\n"
    assert encode_reply(replies.Map([(b"f", b"v")]), 3) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert encode_reply(replies.SetReply([b"x"]), 3) == b"~1\r\n$1\r\nx\r\n"
    assert replies.format_double(0.1) == format_double(0.1)


# --- the decoder --------------------------------------------------------------------------------


def decode_all(data: bytes, **options: int) -> list[Any]:
    decoder = RespReplyDecoder(**options)
    decoder.feed(data)
    return decoder.replies()


def test_decoder_types() -> None:
    data = (
        b"+OK\r\n-ERR bad\r\n:42\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n_\r\n,3.5\r\n,-inf\r\n#t\r\n"
        b"(123456789012345678901234567890\r\n=8\r\ntxt:some\r\n!9\r\nERR blob\n\r\n"
        b"*2\r\n:1\r\n*0\r\n%1\r\n+k\r\n:2\r\n~1\r\n$1\r\nx\r\n>2\r\n$7\r\nmessage\r\n:1\r\n"
        b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n%1\r\n*1\r\n:1\r\n:2\r\n"
    )
    assert decode_all(data) == [
        SimpleString("OK"),
        ErrorReply("ERR bad"),
        42,
        b"foo",
        None,
        None,
        None,
        3.5,
        -math.inf,
        True,
        BigNumber(123456789012345678901234567890),
        Verbatim("some"),
        ErrorReply("ERR blob\n"),
        [1, []],
        {SimpleString("k"): 2},
        RespSet([b"x"]),
        Push([b"message", 1]),
        Attribute({SimpleString("ttl"): 3}, b"v"),
        Map([([1], 2)]),  # an unhashable key keeps the pairs
    ]


def test_decoder_resumes_across_any_split() -> None:
    data = encode_replies([[b"a", {b"k": [1, 2.5]}, RespSet([None])], OK, b"x" * 300], 3)
    expected = decode_all(data)
    for cut in range(len(data) + 1):
        decoder = RespReplyDecoder()
        decoder.feed(data[:cut])
        got = decoder.replies()
        decoder.feed(data[cut:])
        assert got + decoder.replies() == expected
    decoder = RespReplyDecoder()
    got = []
    for byte in data:
        decoder.feed(bytes([byte]))
        got += decoder.replies()
    assert got == expected
    assert decoder.next_reply() is NEED_DATA


@pytest.mark.parametrize(
    "data",
    [
        b"?\r\n",
        b":x\r\n",
        b"$-2\r\n",
        b"$3\r\nabcd\r\n",
        b"%-1\r\n",
        b"#x\r\n",
        b",1.2.3\r\n",
        b"(12a\r\n",
        b"=2\r\nab\r\n",
        b"_x\r\n",
        b"*1\r\n*1\r\n*1\r\n:1\r\n",  # too deep for max_nesting=2
        b"$11\r\n" + b"x" * 11 + b"\r\n",  # over max_bulk_bytes=10
        b"*11\r\n",  # over max_aggregate_len=10
    ],
)
def test_decoder_rejects_bad_frames(data: bytes) -> None:
    with pytest.raises(RespDecodeError):
        decode_all(data, max_nesting=2, max_bulk_bytes=10, max_aggregate_len=10)


# --- round trips -----------------------------------------------------------------------------

_scalars = st.one_of(
    st.binary(max_size=40),
    st.none(),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=10).map(SimpleString),
    st.text(max_size=10).map(lambda text: ErrorReply("ERR " + text)),
    st.integers().map(BigNumber),
    st.text(max_size=10).map(Verbatim),
    st.just(NULL_ARRAY),
)
_replies = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.binary(max_size=5), children, max_size=3),
        st.lists(children, max_size=3).map(RespSet),
        st.lists(children, max_size=3).map(Push),
    ),
    max_leaves=15,
)


def expected_decoding(value: Any, protocol: int) -> Any:
    """What a decoder must give back for ``value`` sent in ``protocol``."""
    if value is NULL_ARRAY:
        return None
    if isinstance(value, SimpleString | ErrorReply):
        text = value.text.replace("\r", " ").replace("\n", " ")
        return type(value)(text)
    if isinstance(value, bool):
        return int(value) if protocol == 2 else value
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        value = BigNumber(value)
    if isinstance(value, BigNumber):
        return b"%d" % value.value if protocol == 2 else value
    if isinstance(value, float):
        return format_double(value) if protocol == 2 else value
    if isinstance(value, Verbatim):
        return value.text.encode("utf-8", "surrogateescape") if protocol == 2 else value
    if isinstance(value, list):
        return [expected_decoding(item, protocol) for item in value]
    if isinstance(value, dict):
        pairs = [(expected_decoding(k, protocol), expected_decoding(v, protocol)) for k, v in value.items()]
        return [item for pair in pairs for item in pair] if protocol == 2 else dict(pairs)
    if isinstance(value, RespSet | Push):
        items = [expected_decoding(item, protocol) for item in value.items]
        return items if protocol == 2 else type(value)(items)
    return value


@settings(max_examples=300)
@given(_replies, st.sampled_from([2, 3]))
def test_encode_decode_round_trip(value: Any, protocol: int) -> None:
    decoder = RespReplyDecoder(max_nesting=64)
    decoder.feed(encode_reply(value, protocol))
    assert decoder.next_reply() == expected_decoding(value, protocol)
    assert decoder.next_reply() is NEED_DATA


@settings(max_examples=100)
@given(st.lists(_replies, max_size=5), st.sampled_from([2, 3]), st.data())
def test_pipelined_round_trip_with_random_splits(values: list[Any], protocol: int, data: st.DataObject) -> None:
    encoded = encode_replies(values, protocol)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=6)))
    decoder = RespReplyDecoder(max_nesting=64)
    got: list[Any] = []
    for start, stop in zip([0, *cuts], [*cuts, len(encoded)], strict=True):
        decoder.feed(encoded[start:stop])
        got += decoder.replies()
    assert got == [expected_decoding(value, protocol) for value in values]

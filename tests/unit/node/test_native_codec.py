"""Native frames: round trips, limits checked on the prefix, and fuzzing."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.errors import ErrorCode, KeystreamError
from node.protocols.native_codec import (
    FrameDecoder,
    FrameTooLarge,
    decode_request,
    decode_response,
    encode_error,
    encode_request,
    encode_response,
)


def test_request_and_response_round_trip_split_at_every_byte() -> None:
    wire = encode_request(7, "produce", {"topic": "t", "batch": b"\x00" * 100}) + encode_request(8, "ping")
    for split in range(len(wire) + 1):
        dec = FrameDecoder()
        dec.feed(wire[:split])
        bodies = []
        while (body := dec.next_frame()) is not None:
            bodies.append(body)
        dec.feed(wire[split:])
        while (body := dec.next_frame()) is not None:
            bodies.append(body)
        reqs = [decode_request(b) for b in bodies]
        assert [(r.request_id, r.op) for r in reqs] == [(7, "produce"), (8, "ping")]
        assert reqs[0].args["batch"] == b"\x00" * 100
        assert reqs[1].args == {}


def test_responses_carry_typed_errors() -> None:
    dec = FrameDecoder()
    dec.feed(encode_response(1, {"x": 1}) + encode_error(2, KeystreamError(ErrorCode.NOT_LEADER, "go away")))
    ok = decode_response(dec.next_frame() or b"")
    assert ok.result() == {"x": 1}
    err = decode_response(dec.next_frame() or b"")
    with pytest.raises(KeystreamError) as info:
        err.result()
    assert info.value.code == ErrorCode.NOT_LEADER and info.value.message == "go away"


def test_oversized_prefix_is_refused_before_buffering() -> None:
    dec = FrameDecoder(max_frame_bytes=1024)
    dec.feed(struct.pack(">I", 1025))
    with pytest.raises(FrameTooLarge) as info:
        dec.next_frame()
    assert info.value.code == ErrorCode.FRAME_TOO_LARGE and "1025" in info.value.message


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"\xc1", "not valid msgpack"),
        (msgpack.packb({"a": 1}), "request is"),
        (msgpack.packb([1, 2, 3]), "op must be"),
        (msgpack.packb([-1, "ping", None]), "request_id"),
        (msgpack.packb([1, "ping", [1]]), "must be a map"),
    ],
)
def test_malformed_requests_name_the_problem(body: bytes, fragment: str) -> None:
    with pytest.raises(KeystreamError) as info:
        decode_request(body)
    assert info.value.code == ErrorCode.INVALID_REQUEST and fragment in info.value.message


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512), st.integers(1, 64))
def test_fuzz_decoder_never_raises_anything_but_typed_errors(data: bytes, chunk: int) -> None:
    dec = FrameDecoder(max_frame_bytes=256)
    try:
        for i in range(0, len(data), chunk):
            dec.feed(data[i : i + chunk])
            while (body := dec.next_frame()) is not None:
                try:
                    decode_request(body)
                except KeystreamError as exc:
                    assert exc.code == ErrorCode.INVALID_REQUEST
    except FrameTooLarge:
        pass
    assert dec.buffered <= len(data)

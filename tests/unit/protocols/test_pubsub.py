"""The pub/sub registry (sans-I/O): subscriptions, exact message frames in RESP2 and
RESP3, pattern matching as Redis's stringmatchlen, and merging the nodes' PUBSUB answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from node.protocols.pubsub import PubSubRegistry, merge_query


@dataclass(eq=False)
class Client:
    protocol: int = 2
    received: list[bytes] = field(default_factory=list)

    def push(self, data: bytes) -> None:
        self.received.append(data)


def test_channel_and_pattern_delivery_with_exact_frames() -> None:
    registry = PubSubRegistry()
    resp2, resp3, pattern = Client(2), Client(3), Client(2)
    registry.subscribe(resp2, b"news")
    registry.subscribe(resp3, b"news")
    registry.psubscribe(pattern, b"n*s")
    registry.psubscribe(pattern, b"x*")
    assert registry.publish(b"news", b"hi") == 3
    assert resp2.received == [b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"]
    assert resp3.received == [b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"]
    assert pattern.received == [b"*4\r\n$8\r\npmessage\r\n$3\r\nn*s\r\n$4\r\nnews\r\n$2\r\nhi\r\n"]
    assert registry.publish(b"other", b"x") == 0
    registry.unsubscribe(resp2, b"news")
    registry.punsubscribe(pattern, b"n*s")
    assert registry.publish(b"news", b"2") == 1
    assert len(resp2.received) == 1 and len(pattern.received) == 1
    assert registry.messages_delivered == 4


def test_a_client_subscribed_twice_by_patterns_gets_both() -> None:
    registry = PubSubRegistry()
    client = Client()
    registry.psubscribe(client, b"a*")
    registry.psubscribe(client, b"*b")
    registry.subscribe(client, b"ab")
    assert registry.publish(b"ab", b"m") == 3
    assert len(client.received) == 3


@pytest.mark.parametrize(
    ("pattern", "channel", "matches"),
    [
        (b"*", b"", True),
        (b"a?c", b"abc", True),
        (b"a?c", b"ac", False),
        (b"h[ae]llo", b"hello", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-b]llo", b"hbllo", True),
        (b"a\\*", b"a*", True),
        (b"a\\*", b"ab", False),
        (b"x", b"", False),
    ],
)
def test_patterns_follow_redis_glob(pattern: bytes, channel: bytes, matches: bool) -> None:
    registry = PubSubRegistry()
    client = Client()
    registry.psubscribe(client, pattern)
    assert registry.publish(channel, b"m") == (1 if matches else 0)


def test_shard_channels_are_separate_from_channels() -> None:
    registry = PubSubRegistry()
    shard, plain = Client(3), Client(2)
    registry.ssubscribe(shard, b"orders:{eu}")
    registry.subscribe(plain, b"orders:{eu}")
    assert registry.spublish(b"orders:{eu}", b"o") == 1
    assert shard.received == [b">3\r\n$8\r\nsmessage\r\n$11\r\norders:{eu}\r\n$1\r\no\r\n"]
    assert plain.received == []
    registry.sunsubscribe(shard, b"orders:{eu}")
    assert registry.spublish(b"orders:{eu}", b"o") == 0
    assert registry.shard_channels == {}


def test_queries_and_merging_over_nodes() -> None:
    node_a, node_b = PubSubRegistry(), PubSubRegistry()
    a1, a2, b1 = Client(), Client(), Client()
    node_a.subscribe(a1, b"ch1")
    node_a.subscribe(a2, b"ch1")
    node_a.psubscribe(a1, b"p*")
    node_b.subscribe(b1, b"ch1")
    node_b.subscribe(b1, b"ch2")
    node_b.psubscribe(b1, b"p*")
    node_b.psubscribe(b1, b"q*")
    node_b.ssubscribe(b1, b"s{1}")
    parts = [node_a, node_b]
    assert merge_query("channels", [], [r.query("channels", []) for r in parts]) == [b"ch1", b"ch2"]
    assert merge_query("channels", [b"*2"], [r.query("channels", [b"*2"]) for r in parts]) == [b"ch2"]
    args = [b"ch1", b"ch2", b"none"]
    assert merge_query("numsub", args, [r.query("numsub", args) for r in parts]) == [
        b"ch1", 3, b"ch2", 1, b"none", 0,
    ]  # fmt: skip
    assert merge_query("numpat", [], [r.query("numpat", []) for r in parts]) == 2  # unique patterns
    assert merge_query("shardchannels", [], [r.query("shardchannels", []) for r in parts]) == [b"s{1}"]
    assert merge_query("shardnumsub", [b"s{1}"], [r.query("shardnumsub", [b"s{1}"]) for r in parts]) == [b"s{1}", 1]
    with pytest.raises(ValueError):
        node_a.query("nosuch", [])


def test_a_subscriber_removed_while_delivering_does_not_break_delivery() -> None:
    registry = PubSubRegistry()

    class Leaving(Client):
        def push(self, data: bytes) -> None:
            super().push(data)
            registry.unsubscribe(self, b"c")

    first, second = Leaving(), Client()
    registry.subscribe(first, b"c")
    registry.subscribe(second, b"c")
    assert registry.publish(b"c", b"m") == 2
    assert len(second.received) == 1
    assert registry.publish(b"c", b"m") == 1

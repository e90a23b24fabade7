"""A blocking facade over the async SDK, for scripts and code without an event loop.

One background thread runs an event loop; every call is handed to it and
waited for. The objects mirror the async ones::

    with SyncKeystream("127.0.0.1:9100") as ks:
        ks.admin.create_topic("orders", partitions=3)
        producer = ks.producer()
        producer.send("orders", b"hello").result()   # a concurrent.futures.Future
        producer.flush()
        consumer = ks.consumer()
        consumer.assign_topic("orders"); consumer.seek_to_beginning()
        for record in consumer.poll(timeout_ms=1000): ...
        with ks.group_consumer("billing", topics=["orders"]) as member:
            for record in member.poll(timeout_ms=1000): ...
            member.commit()

Rebalance callbacks (``on_assigned``/``on_revoked``/``on_lost``) run on the
background loop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from client import Keystream
from client.consumer import Consumer
from client.groups import GroupConsumer
from client.producer import Producer, RecordMetadata
from client.records import ConsumerRecord, TopicPartition

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="keystream-sdk", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class _SyncProxy:
    """Calls to the wrapped object's coroutine methods block on the loop thread."""

    def __init__(self, loop: _LoopThread, target: Any) -> None:
        self._loop = loop
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            async def run() -> Any:
                result = attr(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    return await result
                return result

            return self._loop.call(run())

        return call


class SyncProducer:
    def __init__(self, loop: _LoopThread, producer: Producer) -> None:
        self._loop = loop
        self._producer = producer
        loop.call(producer.start())

    def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, **kw: Any
    ) -> concurrent.futures.Future[RecordMetadata]:
        async def go() -> RecordMetadata:
            fut = await self._producer.send(topic, value, key, **kw)
            return await fut

        return self._loop.submit(go())

    def flush(self, timeout: float | None = None) -> None:
        self._loop.call(self._producer.flush(), timeout)

    def close(self) -> None:
        self._loop.call(self._producer.close())


class SyncConsumer:
    def __init__(self, loop: _LoopThread, consumer: Consumer) -> None:
        self._loop = loop
        self._consumer = consumer

    def assign(self, partitions: Sequence[TopicPartition | tuple[str, int]]) -> None:
        self._consumer.assign(partitions)

    def assign_topic(self, topic: str) -> list[TopicPartition]:
        return self._loop.call(self._consumer.assign_topic(topic))

    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        self._consumer.seek(tp, offset)

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self._loop.call(self._consumer.seek_to_beginning(*tps))

    def seek_to_end(self, *tps: TopicPartition) -> None:
        self._loop.call(self._consumer.seek_to_end(*tps))

    def poll(self, timeout_ms: float = 1000, max_records: int | None = None) -> list[ConsumerRecord]:
        batch = self._loop.call(self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))
        return [r for records in batch.values() for r in records]

    def close(self) -> None:
        self._loop.call(self._consumer.close())


class SyncGroupConsumer:
    """A member of a consumer group. As with the async one, calling ``poll`` again means
    everything it returned before is processed: that is when ownership may change."""

    def __init__(self, loop: _LoopThread, consumer: GroupConsumer) -> None:
        self._loop = loop
        self._consumer = consumer
        loop.call(consumer.start())

    def poll(self, timeout_ms: float = 1000, max_records: int | None = None) -> list[ConsumerRecord]:
        batch = self._loop.call(self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))
        return [r for records in batch.values() for r in records]

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self._loop.call(self._consumer.commit(offsets))

    def committed(self, tps: Iterable[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        return self._loop.call(self._consumer.committed(tps))

    def assignment(self) -> set[TopicPartition]:
        return self._consumer.assignment()

    def position(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        return self._consumer.position(tp)

    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        self._loop.call(_run(lambda: self._consumer.seek(tp, offset)))

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self._loop.call(self._consumer.seek_to_beginning(*tps))

    def seek_to_end(self, *tps: TopicPartition) -> None:
        self._loop.call(self._consumer.seek_to_end(*tps))

    def pause(self, *tps: TopicPartition) -> None:
        self._loop.call(_run(lambda: self._consumer.pause(*tps)))

    def resume(self, *tps: TopicPartition) -> None:
        self._loop.call(_run(lambda: self._consumer.resume(*tps)))

    def close(self) -> None:
        self._loop.call(self._consumer.close())

    def __enter__(self) -> SyncGroupConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _run(fn: Callable[[], T]) -> T:
    """Run a plain method on the loop's thread (the consumer's state belongs to it)."""
    return fn()


class SyncKeystream:
    def __init__(self, bootstrap: str | Sequence[str], **options: Any) -> None:
        self._loop = _LoopThread()
        self._ks = Keystream(bootstrap, **options)
        self._loop.call(self._ks.start())
        self.admin = _SyncProxy(self._loop, self._ks.admin)
        self.kv = _SyncProxy(self._loop, self._ks.kv)
        self.groups = _SyncProxy(self._loop, self._ks.groups)

    def producer(self, **options: Any) -> SyncProducer:
        return SyncProducer(self._loop, self._ks.producer(**options))

    def consumer(self, **options: Any) -> SyncConsumer:
        return SyncConsumer(self._loop, self._ks.consumer(**options))

    def group_consumer(self, group_id: str, **options: Any) -> SyncGroupConsumer:
        return SyncGroupConsumer(self._loop, self._ks.group_consumer(group_id, **options))

    def close(self) -> None:
        try:
            self._loop.call(self._ks.close(), timeout=30)
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncKeystream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The data path: one proxied connection = two links, each a chain of toxic stages.

::

    client ──read──▶ queue ──▶ [stage]─▶[stage]─▶ write ──▶ server   (upstream link)
    client ◀──write── [stage]◀─[stage]◀── queue ◀──read── server     (downstream link)

Per link, a reader task timestamps each chunk as it arrives and queues it (a
bounded queue: when a toxic holds data, the reader stops and TCP pushes back on
the sender); a processor task passes chunks one at a time through the stages in
chain order. A stage may delay, cut, drop or pass a chunk, or close or reset the
connection. Delays are measured from the chunk's arrival, so latency does not
throttle a busy link (the reader keeps reading while a chunk waits).

Toxics are attached to and detached from live links as the API changes them.
Every pause inside a stage is interruptible: removing or updating a toxic wakes
it and the held data passes on at once, so removal restores normal flow promptly.

Closing follows Toxiproxy where it matters to a test: ``timeout`` and
``limit_data`` close both sides, ``reset_peer`` aborts both sides with a TCP RST,
removing an active ``timeout`` toxic closes the connections it held (their byte
streams lost data). Unlike Toxiproxy, an EOF from one side is passed on as a
half-close (``shutdown(SHUT_WR)``), and the connection closes once both
directions have ended, so half-closing protocols keep working through the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from client.chaos.faultproxy import limits
from client.chaos.faultproxy.toxics import (
    Stream,
    ToxicSpec,
    bandwidth_next_free,
    bandwidth_piece_sizes,
    latency_delay_ms,
    limit_data_take,
    slice_sizes,
    toxicity_applies,
)

if TYPE_CHECKING:
    from client.chaos.faultproxy.proxy import Proxy

log = logging.getLogger(__name__)


@dataclass
class Chunk:
    data: bytes
    arrived: float  # loop time the bytes were read, or when the last latency toxic released them


Emit = Callable[[Chunk], Awaitable[None]]
EmitEof = Callable[[], Awaitable[None]]


class LinkClosed(Exception):
    """Unwinds a link's processor after a stage closed the connection."""


def abort_with_rst(writer: asyncio.StreamWriter) -> None:
    """Close a socket so the peer gets a TCP RST rather than a FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def close_gracefully(writer: asyncio.StreamWriter) -> None:
    """Flush and FIN; abort if the peer does not take the data in time."""
    transport = writer.transport
    if transport.is_closing():
        return
    writer.close()
    asyncio.get_running_loop().call_later(limits.CLOSE_FLUSH_TIMEOUT_S, transport.abort)


# --- stages: one toxic acting on one link -------------------------------------------


class Stage:
    """A toxic attached to one link. Subclasses implement one toxic type.

    ``active`` is the toxicity draw for this link; an inactive stage passes
    everything through. ``lost_data`` marks a stage that dropped bytes: when it
    stops applying, the byte stream is no longer intact and the connection closes.
    """

    closes_when_removed = False  # Toxiproxy's timeout toxic closes its connections on removal

    def __init__(self, link: Link, spec: ToxicSpec, order: int) -> None:
        self.link = link
        self.spec = spec
        self.order = order
        self.active = toxicity_applies(spec.toxicity, link.rng)
        self.detached = False
        self.lost_data = False
        self._wakeup = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

    # -- lifecycle, driven by the link -----------------------------------------
    def start(self) -> None:
        if self.active:
            self.on_start()

    def update(self, spec: ToxicSpec) -> None:
        was_active = self.active
        self.spec = spec
        self.active = toxicity_applies(spec.toxicity, self.link.rng)
        self._interrupt()
        self.cancel_timer()
        if was_active and not self.active:
            self._stopped_applying()
        elif self.active:
            self.on_start()

    def detach(self) -> None:
        self.detached = True
        self._interrupt()
        self.cancel_timer()
        if self.active:
            self._stopped_applying()

    def cancel_timer(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None

    def _stopped_applying(self) -> None:
        if self.closes_when_removed or self.lost_data:
            self.link.connection.close()

    def _interrupt(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _start_timer(self, delay_s: float, action: Callable[[], None]) -> None:
        self.cancel_timer()

        async def fire() -> None:
            await asyncio.sleep(max(0.0, delay_s))
            action()

        self._timer = asyncio.get_running_loop().create_task(fire())

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the toxic was updated or removed meanwhile."""
        if seconds <= 0:
            return True
        wakeup = self._wakeup
        try:
            await asyncio.wait_for(wakeup.wait(), seconds)
        except TimeoutError:
            return True
        return False

    # -- data path ---------------------------------------------------------------
    async def handle_chunk(self, chunk: Chunk, emit: Emit) -> None:
        if self.detached or not self.active:
            await emit(chunk)
        else:
            await self.on_chunk(chunk, emit)

    async def handle_eof(self, emit_eof: EmitEof) -> None:
        if self.detached or not self.active:
            await emit_eof()
        else:
            await self.on_eof(emit_eof)

    # -- per-type behaviour (defaults: pass through) ------------------------------
    def on_start(self) -> None:
        """The toxic began to apply to this link (attach, or an update)."""

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        await emit(chunk)

    async def on_eof(self, emit_eof: EmitEof) -> None:
        await emit_eof()


class LatencyStage(Stage):
    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        delay_ms = latency_delay_ms(self.spec.attr("latency"), self.spec.attr("jitter"), self.link.rng)
        release_at = chunk.arrived + delay_ms / 1000.0
        loop = asyncio.get_running_loop()
        on_time = await self.pause(release_at - loop.time())
        # Carry the release time so a second latency toxic adds to this one.
        await emit(Chunk(chunk.data, release_at if on_time else loop.time()))


class BandwidthStage(Stage):
    def __init__(self, link: Link, spec: ToxicSpec, order: int) -> None:
        super().__init__(link, spec, order)
        self.free_at = 0.0  # virtual clock: when the throttled link is idle again

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        rate = self.spec.attr("rate")
        loop = asyncio.get_running_loop()
        offset = 0
        for size in bandwidth_piece_sizes(len(chunk.data), rate):
            self.free_at = bandwidth_next_free(loop.time(), self.free_at, size, rate)
            if not await self.pause(self.free_at - loop.time()):
                await emit(Chunk(chunk.data[offset:], chunk.arrived))  # interrupted: flush the rest
                return
            await emit(Chunk(chunk.data[offset : offset + size], chunk.arrived))
            offset += size


class SlowCloseStage(Stage):
    async def on_eof(self, emit_eof: EmitEof) -> None:
        await self.pause(self.spec.attr("delay") / 1000.0)
        await emit_eof()


class TimeoutStage(Stage):
    """Drops all data; closes the connection after ``timeout`` ms (0 = never)."""

    closes_when_removed = True

    def on_start(self) -> None:
        timeout_ms = self.spec.attr("timeout")
        if timeout_ms > 0:
            self._start_timer(timeout_ms / 1000.0, self.link.connection.close)

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        self.lost_data = True


class ResetPeerStage(Stage):
    """On the first data (or EOF) in its direction, waits ``timeout`` ms, then RSTs both sides.

    Like Toxiproxy, the triggering data and anything after it are not forwarded.
    """

    def __init__(self, link: Link, spec: ToxicSpec, order: int) -> None:
        super().__init__(link, spec, order)
        self.triggered = False

    def on_start(self) -> None:
        if self.triggered:  # updated while counting down: restart with the new timeout
            self._arm()

    def _arm(self) -> None:
        self.triggered = True
        self.lost_data = True
        self._start_timer(self.spec.attr("timeout") / 1000.0, lambda: self.link.connection.close(reset=True))

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        if not self.triggered:
            self._arm()

    async def on_eof(self, emit_eof: EmitEof) -> None:
        if not self.triggered:
            self._arm()


class SlicerStage(Stage):
    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        sizes = slice_sizes(
            len(chunk.data),
            self.spec.attr("average_size"),
            self.spec.attr("size_variation"),
            self.link.rng,
        )
        delay_s = self.spec.attr("delay") / 1_000_000.0
        offset = 0
        for size in sizes:
            await emit(Chunk(chunk.data[offset : offset + size], chunk.arrived))
            offset += size
            if offset < len(chunk.data) and not await self.pause(delay_s):
                await emit(Chunk(chunk.data[offset:], chunk.arrived))  # interrupted: flush the rest
                return


class LimitDataStage(Stage):
    def __init__(self, link: Link, spec: ToxicSpec, order: int) -> None:
        super().__init__(link, spec, order)
        self.transmitted = 0  # kept across updates, as Toxiproxy keeps its toxic state

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        take, close = limit_data_take(self.spec.attr("bytes"), self.transmitted, len(chunk.data))
        if take:
            await emit(Chunk(chunk.data[:take], chunk.arrived))
            self.transmitted += take
        if close:
            self.link.connection.close()
            raise LinkClosed


STAGE_TYPES: dict[str, type[Stage]] = {
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slow_close": SlowCloseStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "slicer": SlicerStage,
    "limit_data": LimitDataStage,
}


# --- links and connections ----------------------------------------------------------

_EOF = None  # queue marker: the source has no more data


class Link:
    """One direction of a connection: source reader -> toxic stages -> destination writer."""

    def __init__(
        self,
        connection: Connection,
        stream: Stream,
        source: asyncio.StreamReader,
        dest: asyncio.StreamWriter,
        rng: random.Random,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.source = source
        self.dest = dest
        self.rng = rng
        self.stages: list[Stage] = []  # sorted by order
        self.finished = False
        self._queue: asyncio.Queue[Chunk | None] = asyncio.Queue(limits.LINK_QUEUE_CHUNKS)
        self._tasks: list[asyncio.Task[None]] = []

    # -- toxic management ----------------------------------------------------------
    def attach(self, spec: ToxicSpec, order: int) -> None:
        stage = STAGE_TYPES[spec.type](self, spec, order)
        self.stages.append(stage)
        self.stages.sort(key=lambda s: s.order)
        stage.start()

    def update(self, spec: ToxicSpec) -> None:
        for stage in self.stages:
            if stage.spec.name == spec.name:
                stage.update(spec)

    def detach(self, name: str) -> None:
        keep: list[Stage] = []
        for stage in self.stages:
            if stage.spec.name == name:
                stage.detach()
            else:
                keep.append(stage)
        self.stages = keep

    # -- running ---------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read()), loop.create_task(self._process())]

    def shutdown(self) -> None:
        """Stop the tasks and timers of this link (called by Connection.close)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for stage in self.stages:
            stage.cancel_timer()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        # Runs until the source ends or the connection is closed (which cancels it).
        while not self.connection.closed:
            try:
                data = await self.source.read(limits.READ_CHUNK_BYTES)
            except (ConnectionError, OSError):
                data = b""  # a reset source ends this direction like an EOF (as Toxiproxy)
            if not data:
                await self._queue.put(_EOF)
                return
            await self._queue.put(Chunk(data, loop.time()))

    async def _process(self) -> None:
        try:
            while not self.connection.closed:
                item = await self._queue.get()
                if item is _EOF:
                    await self._forward_eof(-1)
                    return
                await self._forward(-1, item)
        except LinkClosed:
            return
        except (ConnectionError, OSError) as exc:
            log.debug("link %s: destination failed: %s", self.stream.value, exc)
            self.connection.close()

    def _next_stage(self, after_order: int) -> Stage | None:
        for stage in self.stages:
            if stage.order > after_order:
                return stage
        return None

    async def _forward(self, after_order: int, chunk: Chunk) -> None:
        """Pass ``chunk`` to the first stage after ``after_order``, or write it out.

        Looking the next stage up by order (not by index) keeps a chunk on the
        right path when toxics are added or removed while it is in flight.
        """
        if self.connection.closed:
            raise LinkClosed
        stage = self._next_stage(after_order)
        if stage is None:
            self.dest.write(chunk.data)
            await self.dest.drain()
            return
        order = stage.order

        async def emit(out: Chunk) -> None:
            await self._forward(order, out)

        await stage.handle_chunk(chunk, emit)

    async def _forward_eof(self, after_order: int) -> None:
        if self.connection.closed:
            raise LinkClosed
        stage = self._next_stage(after_order)
        if stage is None:
            self._finish()
            return
        order = stage.order

        async def emit_eof() -> None:
            await self._forward_eof(order)

        await stage.handle_eof(emit_eof)

    def _finish(self) -> None:
        self.finished = True
        if self.dest.can_write_eof() and not self.dest.transport.is_closing():
            with contextlib.suppress(OSError):
                self.dest.write_eof()
        self.connection.direction_finished()


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(self, proxy: Proxy, serial: int, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.serial = serial
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.links: dict[Stream, Link] = {}
        self.closed = False
        self.setup_task: asyncio.Task[None] | None = None

    def rng_for(self, stream: Stream) -> random.Random:
        # Seeded per proxy, connection and direction: a replay makes the same draws
        # whatever the interleaving with other connections.
        return random.Random(f"{self.proxy.seed}/{self.proxy.name}/{self.serial}/{stream.value}")

    def join(
        self,
        client_reader: asyncio.StreamReader,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
        chains: dict[Stream, list[tuple[int, ToxicSpec]]],
    ) -> None:
        """Start both links with the proxy's current toxics."""
        self.upstream = upstream_writer
        self.links = {
            Stream.UPSTREAM: Link(self, Stream.UPSTREAM, client_reader, upstream_writer, self.rng_for(Stream.UPSTREAM)),
            Stream.DOWNSTREAM: Link(
                self, Stream.DOWNSTREAM, upstream_reader, self.client, self.rng_for(Stream.DOWNSTREAM)
            ),
        }
        for stream, link in self.links.items():
            for order, spec in chains[stream]:
                link.attach(spec, order)
        for link in self.links.values():
            link.start()

    def direction_finished(self) -> None:
        if self.links and all(link.finished for link in self.links.values()):
            self.close()

    def close(self, reset: bool = False) -> None:
        """Close both sides: FIN after flushing, or RST with ``reset``. Idempotent."""
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        if self.setup_task is not None and self.setup_task is not current:
            self.setup_task.cancel()
        for link in self.links.values():
            link.shutdown()
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            if reset:
                abort_with_rst(writer)
            else:
                close_gracefully(writer)
        self.proxy.forget(self)

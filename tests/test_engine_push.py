"""Events handed over as they arrive (``FastTransport.set_receiver``): order and backpressure.

On asyncio the default transport hands each message to the engine in the loop's data
callback, sparing the reader task a wake-up, while the inbox has room; otherwise the
message waits for the reader task. The transport here pushes when the test says so, so
the moments that matter can be set up exactly: a message arriving while the reader task
holds an earlier event it could not deliver must not overtake it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._transport import ConnectRequest, FastTransport, TransportClosed

from ._memory import created, text_delta

pytestmark = pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])


class PushingTransport:
    """A FastTransport whose messages arrive when the test calls :meth:`arrive`."""

    send_pending = False

    def __init__(self) -> None:
        self.backlog: deque[str] = deque([json.dumps(created())])
        self.receiver: Callable[[str | bytes], bool] | None = None
        self.pushed: list[str] = []
        self._arrived = anyio.Event()
        self._closed = False

    def arrive(self, message: str) -> None:
        """A message comes in: pushed if nothing waits before it and the engine takes it."""
        if not self.backlog and self.receiver is not None and self.receiver(message):
            self.pushed.append(message)
            return
        self.backlog.append(message)
        self._arrived.set()

    def set_receiver(self, receiver: Callable[[str | bytes], bool] | None) -> None:
        self.receiver = receiver

    async def receive(self) -> str | bytes:
        while not self.backlog:
            if self._closed:
                raise TransportClosed(1000)
            self._arrived = anyio.Event()
            await self._arrived.wait()
        return self.backlog.popleft()

    def try_send_text(self, text: str) -> bool:
        return True

    async def flush(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def send_text(self, text: str) -> None:
        await anyio.lowlevel.checkpoint()

    async def ping(self) -> None:
        await anyio.sleep_forever()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        self._closed = True
        self._arrived.set()
        await anyio.lowlevel.checkpoint()

    async def abort(self) -> None:
        await self.aclose()


def delta(n: int) -> str:
    return json.dumps(text_delta(n))


@asynccontextmanager
async def pushing_session(
    **options: object,
) -> AsyncIterator[tuple[rt.RealtimeSession, PushingTransport]]:
    transport = PushingTransport()
    assert isinstance(transport, FastTransport)

    @asynccontextmanager
    async def factory(request: ConnectRequest) -> AsyncIterator[PushingTransport]:
        yield transport

    async with rt.open_realtime_session(
        "gpt-realtime",
        api_key="sk-test",
        url="ws://test/v1",
        transport=factory,
        heartbeat=None,
        **options,  # type: ignore[arg-type]
    ) as session:
        assert isinstance(await session.receive(), ev.SessionCreatedEvent)
        yield session, transport


async def next_delta(session: rt.RealtimeSession) -> str:
    event = await session.receive()
    assert isinstance(event, ev.ResponseTextDeltaEvent)
    return event.delta


async def test_messages_with_room_are_delivered_from_the_arrival_itself() -> None:
    async with pushing_session() as (session, transport):
        for n in range(3):
            transport.arrive(delta(n))
        assert len(transport.pushed) == 3  # no reader task involved
        assert session.statistics().events_buffered == 3
        assert [await next_delta(session) for _ in range(3)] == ["d0 ", "d1 ", "d2 "]


async def test_an_arrival_never_overtakes_the_event_the_reader_holds() -> None:
    async with pushing_session(event_buffer=1) as (session, transport):
        transport.arrive(delta(1))  # pushed: the inbox is full
        transport.arrive(delta(2))  # refused: the reader task takes it and parks
        await anyio.wait_all_tasks_blocked()
        assert session.events.reader_waiting
        assert await next_delta(session) == "d1 "  # room: the reader is woken, not yet run
        transport.arrive(delta(3))  # must wait behind d2
        assert await next_delta(session) == "d2 "
        assert await next_delta(session) == "d3 "
        assert transport.pushed == [delta(1)]


async def test_a_full_inbox_holds_arrivals_back_in_order_until_the_consumer_reads() -> None:
    async with pushing_session(event_buffer=2) as (session, transport):
        for n in range(10):
            transport.arrive(delta(n))
            await anyio.wait_all_tasks_blocked()
        stats = session.statistics()
        assert (stats.events_buffered, stats.peak_events_buffered) == (2, 2)
        assert session.events.reader_waiting  # backpressure: nothing more is taken
        assert [await next_delta(session) for _ in range(10)] == [f"d{n} " for n in range(10)]

"""Direct writes: a send helper writes its frame itself when the writer is idle.

When no frame is queued or in flight, ``send`` / ``send_nowait`` / ``append_audio`` /
``commit_audio`` hand their frame to ``transport.try_send_text`` synchronously instead of
waking the writer task. A frame the transport took with its tail still pending stays in
flight until the writer's ``flush``; a refused frame is queued for the writer as before;
send hooks and a closing session turn direct writes off. What a user relies on: the same
order, every frame counted once, and nothing lost or duplicated when the connection dies.

The transport here is scripted by each test: it records which path every frame took
(``direct``, ``flushed`` after a pending tail, or ``send_text`` by the writer) and lets
the test hold the writer inside ``flush`` or ``send_text``.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
import pytest
import trio.testing

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._transport import ConnectRequest, TransportClosed

from ._memory import MemoryServer, created

pytestmark = pytest.mark.mock_clock

RATE = 24000
"""The session's input rate: 100 ms of audio is exactly one 4800-byte append frame."""


def delete(item_id: str) -> dict[str, Any]:
    """A small control event whose ``item_id`` names the frame in the transport's log."""
    return {"type": "conversation.item.delete", "item_id": item_id}


def tone(*values: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """100 ms of audio per value, each 100 ms frame filled with its value (its label)."""
    return np.repeat(np.array(values, dtype=np.int16), RATE // 10)


def label(text: str) -> str:
    """A short name for a client frame: the item id, ``audio:<value>``, or the type."""
    data = json.loads(text)
    kind = data["type"]
    if kind == "conversation.item.delete":
        return str(data["item_id"])
    if kind == "input_audio_buffer.append":
        first = np.frombuffer(base64.b64decode(data["audio"])[:2], dtype="<i2")[0]
        return f"audio:{first}"
    return str(kind)


class ScriptedTransport:
    """A Transport whose writes the test scripts and records.

    ``plan`` holds the outcomes of the next ``try_send_text`` calls: ``"write"`` (taken
    and written whole, the default once the plan is empty), ``"pending"`` (taken, its
    tail pending until the test calls :meth:`release`) or ``"refuse"`` (busy: False).
    ``send_gate``, when set to an unset event, holds the writer inside ``send_text``.
    """

    def __init__(self) -> None:
        self.plan: deque[str] = deque()
        self.tries: list[str] = []
        """Every text offered to ``try_send_text``, whatever the outcome."""
        self.log: list[tuple[str, str]] = []
        """(path, label) per completed write: ``direct``, ``flushed`` or ``send_text``."""
        self.wire: list[str] = []
        """The texts fully written, in order, whichever path they took."""
        self.violations: list[str] = []
        self.send_pending = False
        self.send_gate: anyio.Event | None = None
        self.sending: str | None = None
        """The label of the frame the writer is inside ``send_text`` with, if any."""
        self.flushing = False
        self.client_close: tuple[int, str] | None = None
        self.request: ConnectRequest | None = None
        self._pending_text: str | None = None
        self._released = anyio.Event()
        self._dead: TransportClosed | None = None
        self._gone = anyio.Event()
        self._close = (1000, "")
        self._greeted = False

    @asynccontextmanager
    async def connect(self, request: ConnectRequest) -> AsyncIterator[ScriptedTransport]:
        """The transport factory (``transport=transport.connect``)."""
        self.request = request
        await anyio.lowlevel.checkpoint()
        yield self

    # -- what the test drives -----------------------------------------------------

    def release(self) -> None:
        """Let the pending tail finish: ``flush`` returns."""
        self._released.set()

    def die(self, code: int = 1006) -> None:
        """The connection dies: ``flush``, ``send_text`` and ``receive`` raise."""
        self._dead = TransportClosed(code)
        self._close = (code, "")
        self._released.set()
        self._gone.set()
        if self.send_gate is not None:
            self.send_gate.set()

    def labels(self) -> list[tuple[str, str]]:
        assert self.violations == []
        return self.log

    # -- the Transport protocol ---------------------------------------------------

    def try_send_text(self, text: str) -> bool:
        self.tries.append(text)
        if self.send_pending:
            self.violations.append(f"try_send_text({label(text)}) while a tail is pending")
            return False
        outcome = self.plan.popleft() if self.plan else "write"
        if outcome == "refuse":
            return False
        self.log.append(("direct", label(text)))
        if outcome == "pending":
            self.send_pending = True
            self._pending_text = text
            self._released = anyio.Event()
        else:
            self.wire.append(text)
        return True

    def set_receiver(self, receiver: Callable[[str | bytes], bool] | None) -> None:
        pass  # receive() only

    async def flush(self) -> None:
        if not self.send_pending or self._pending_text is None:
            self.violations.append("flush() with nothing pending")
            await anyio.lowlevel.checkpoint()
            return
        self.flushing = True
        try:
            await self._released.wait()
        finally:
            self.flushing = False
        if self._dead is not None:
            raise self._dead
        text, self._pending_text = self._pending_text, None
        self.send_pending = False
        self.log.append(("flushed", label(text)))
        self.wire.append(text)

    async def send_text(self, text: str) -> None:
        if self.send_pending:
            self.violations.append(f"send_text({label(text)}) while a tail is pending")
        self.sending = label(text)
        try:
            if self.send_gate is not None:
                await self.send_gate.wait()
            else:
                await anyio.lowlevel.checkpoint()
        finally:
            self.sending = None
        if self._dead is not None:
            raise self._dead
        self.log.append(("send_text", label(text)))
        self.wire.append(text)

    async def receive(self) -> str | bytes:
        await anyio.lowlevel.checkpoint()
        if not self._greeted:
            self._greeted = True
            return json.dumps(created())
        await self._gone.wait()
        raise TransportClosed(*self._close)

    async def ping(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await anyio.lowlevel.checkpoint()
        if self._dead is not None:
            raise self._dead
        self.client_close = (code, reason)
        self._gone.set()

    async def abort(self) -> None:
        # The socket is gone: a pending tail or a held send fails, as on a real socket.
        if self._dead is None:
            self._dead = TransportClosed(1006)
        self._released.set()
        if self.send_gate is not None:
            self.send_gate.set()
        self._gone.set()
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def transport() -> ScriptedTransport:
    return ScriptedTransport()


@asynccontextmanager
async def open_session(
    transport: ScriptedTransport, **options: Any
) -> AsyncIterator[rt.RealtimeSession]:
    async with rt.open_realtime_session(
        "gpt-realtime",
        api_key="sk-test",
        url="ws://test/v1",
        transport=transport.connect,
        heartbeat=None,
        **options,
    ) as session:
        yield session


def assert_counted_once(session: rt.RealtimeSession, transport: ScriptedTransport) -> None:
    """The counters match exactly what reached the wire, and nothing was written twice."""
    assert transport.violations == []
    assert all(n == 1 for n in Counter(transport.wire).values()), transport.log
    stats = session.statistics()
    assert stats.events_sent == len(transport.wire)
    assert stats.bytes_sent == sum(len(text) for text in transport.wire)
    appended = [text for text in transport.wire if label(text).startswith("audio:")]
    assert stats.audio_sent_ms == pytest.approx(100.0 * len(appended))


# -- 1. an idle writer: the caller writes ------------------------------------------------


async def test_idle_writer_lets_helpers_write_directly_in_order_counted_once(
    transport: ScriptedTransport,
) -> None:
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        await session.send(delete("a"))
        session.send_nowait(delete("b"))
        await session.append_audio(tone(7))
        await session.commit_audio()
        # Each frame is on the wire and counted the moment its helper returns.
        stats = session.statistics()
        assert stats.events_sent == 4
        assert stats.audio_sent_ms == 100.0
        assert stats.control_queued == stats.audio_queued_frames == 0
        await trio.testing.wait_all_tasks_blocked()
        assert transport.labels() == [
            ("direct", "a"),
            ("direct", "b"),
            ("direct", "audio:7"),
            ("direct", "input_audio_buffer.commit"),
        ]
        assert_counted_once(session, transport)
        assert session.statistics().events_sent == 4  # the writer did not count them again
    assert transport.client_close == (1000, "")
    assert [label(text) for text in transport.tries] == [
        "a",
        "b",
        "audio:7",
        "input_audio_buffer.commit",
    ]
    assert_counted_once(session, transport)
    assert session.unsent() == rt.Unsent()


async def test_memory_transport_takes_direct_writes_and_falls_back_when_full() -> None:
    """With the in-memory transport: direct while the peer has room, queued when full."""
    server = MemoryServer(buffer=2, greeting=created())
    try:
        async with rt.open_realtime_session(
            "gpt-realtime", api_key="sk-test", transport=server.connect, heartbeat=None
        ) as session:
            peer = server.peers[-1]
            await trio.testing.wait_all_tasks_blocked()
            session.send_nowait(delete("a"))
            session.send_nowait(delete("b"))
            assert peer.pending() == 2  # written by the caller, no writer turn needed
            assert session.statistics().events_sent == 2
            session.send_nowait(delete("c"))  # the peer's buffer is full: queued
            assert session.statistics().control_queued == 1
            assert session.statistics().events_sent == 2
            received = [peer.receive_nowait()["item_id"] for _ in range(2)]
            received.append((await peer.receive())["item_id"])
            await trio.testing.wait_all_tasks_blocked()
            assert received == ["a", "b", "c"]
            stats = session.statistics()
            assert stats.events_sent == 3
            assert stats.control_queued == 0
            assert peer.pending() == 0
    finally:
        server.close()


# -- 2. a direct write left pending --------------------------------------------------------


async def test_pending_direct_write_is_flushed_first_and_later_frames_queue(
    transport: ScriptedTransport,
) -> None:
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        transport.plan.append("pending")
        await session.send(delete("a"))
        await trio.testing.wait_all_tasks_blocked()
        assert transport.flushing  # the writer was woken to finish the tail
        assert session.statistics().events_sent == 0  # not counted before it is written

        await session.send(delete("b"))
        session.send_nowait(delete("c"))
        await session.append_audio(tone(5))
        await trio.testing.wait_all_tasks_blocked()
        stats = session.statistics()
        assert stats.control_queued == 2
        assert stats.audio_queued_frames == 1
        assert stats.events_sent == 0
        assert len(transport.tries) == 1  # nothing else was offered while a tail was pending

        transport.release()
        await trio.testing.wait_all_tasks_blocked()
        assert transport.labels() == [
            ("direct", "a"),
            ("flushed", "a"),
            ("send_text", "b"),
            ("send_text", "c"),
            ("send_text", "audio:5"),
        ]
        assert_counted_once(session, transport)

        await session.send(delete("d"))  # idle again: direct once more
        assert transport.labels()[-1] == ("direct", "d")
        assert session.statistics().events_sent == 5
    assert transport.client_close == (1000, "")
    assert_counted_once(session, transport)
    assert session.unsent() == rt.Unsent()


# -- 3. the connection dies under a pending direct write -----------------------------------


async def test_pending_direct_write_is_unsent_when_the_connection_dies(
    transport: ScriptedTransport,
) -> None:
    with pytest.raises(rt.SessionClosed) as info:
        async with open_session(transport) as session:
            await trio.testing.wait_all_tasks_blocked()
            transport.plan.append("pending")
            await session.send(delete("a"))
            await session.send(delete("b"))
            session.send_nowait(delete("c"))
            await session.append_audio(tone(3))
            await trio.testing.wait_all_tasks_blocked()
            assert transport.flushing
            transport.die(1006)
            async for _ in session:
                pass
    assert info.value.code == 1006
    unsent = info.value.unsent
    assert [label(event.to_json()) for event in unsent.events] == ["a", "b", "c", "audio:3"]
    assert isinstance(unsent.events[0], ev.ConversationItemDeleteEvent)
    assert unsent.audio_ms == 100.0
    assert unsent.audio_bytes == 4800
    assert session.unsent() == unsent
    assert transport.labels() == [("direct", "a")]
    assert transport.wire == []
    stats = session.statistics()
    assert stats.events_sent == 0
    assert stats.bytes_sent == 0
    assert stats.audio_sent_ms == 0.0


# -- 4. a busy transport: the writer writes, in order ---------------------------------------


async def test_refused_direct_write_is_queued_and_written_by_the_writer_in_order(
    transport: ScriptedTransport,
) -> None:
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        transport.plan.append("refuse")
        transport.send_gate = anyio.Event()
        await session.send(delete("a"))
        # "a" waits in its lane for the writer: "b" must not overtake it, even though the
        # transport would take "b" now.
        session.send_nowait(delete("b"))
        await session.send(delete("c"))
        await trio.testing.wait_all_tasks_blocked()
        assert transport.sending == "a"  # the writer took the refused frame
        assert session.statistics().control_queued == 2
        assert [label(text) for text in transport.tries] == ["a"]

        transport.send_gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert transport.labels() == [
            ("send_text", "a"),
            ("send_text", "b"),
            ("send_text", "c"),
        ]
        assert_counted_once(session, transport)

        transport.send_gate = None
        await session.send(delete("d"))  # the transport has room again and the writer idles
        assert transport.labels()[-1] == ("direct", "d")
        assert_counted_once(session, transport)


@pytest.mark.parametrize("nowait", [False, True], ids=["awaited", "nowait"])
@pytest.mark.parametrize("outcome", ["refuse", "pending"])
async def test_commit_after_direct_audio_keeps_its_place(
    outcome: str, nowait: bool, transport: ScriptedTransport
) -> None:
    """300 ms appended: the first frame written directly, the second refused (busy) or the
    first left pending; the commit and the response.create after it wait their turn.

    The ``nowait`` helpers never yield, so the writer cannot have taken anything yet:
    only the queued audio keeps the commit from being written directly ahead of it."""
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        if outcome == "refuse":
            transport.plan.extend(["write", "refuse"])
            transport.send_gate = anyio.Event()
        else:
            transport.plan.append("pending")
        if nowait:
            session.append_audio_nowait(tone(1, 2, 3))
            session.send_nowait(ev.InputAudioBufferCommitEvent())
            session.send_nowait(ev.ResponseCreateEvent())
            assert session.statistics().audio_queued_frames == 3  # audio 2, 3 and the commit
        else:
            await session.append_audio(tone(1, 2, 3))
            await session.commit_audio()
            await session.create_response()
        await trio.testing.wait_all_tasks_blocked()
        assert session.statistics().events_sent == (1 if outcome == "refuse" else 0)

        if outcome == "refuse":
            assert transport.sending == "audio:2"
            transport.send_gate.set()  # type: ignore[union-attr]
        else:
            assert transport.flushing
            transport.release()
        await trio.testing.wait_all_tasks_blocked()
        first = (
            [("direct", "audio:1")]
            if outcome == "refuse"
            else [("direct", "audio:1"), ("flushed", "audio:1")]
        )
        assert transport.labels() == [
            *first,
            ("send_text", "audio:2"),
            ("send_text", "audio:3"),
            ("send_text", "input_audio_buffer.commit"),
            ("send_text", "response.create"),
        ]
        assert_counted_once(session, transport)
        assert session.statistics().audio_sent_ms == 300.0


# -- 5. send hooks turn direct writes off --------------------------------------------------


class SeeingSends(rt.Interceptor):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_send(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent:
        self.seen.append(label(event.to_json()))
        return event


class SeeingReceives(rt.Interceptor):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_receive(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent:
        self.seen.append(event.type)
        return event


async def test_a_send_hook_sees_every_frame_and_turns_direct_writes_off(
    transport: ScriptedTransport,
) -> None:
    hook = SeeingSends()
    async with open_session(transport, interceptors=[hook]) as session:
        await trio.testing.wait_all_tasks_blocked()
        await session.send(delete("a"))
        session.send_nowait(delete("b"))
        await session.append_audio(tone(4))
        await session.commit_audio()
        await trio.testing.wait_all_tasks_blocked()
        expected = ["a", "b", "audio:4", "input_audio_buffer.commit"]
        assert hook.seen == expected
        assert transport.labels() == [("send_text", name) for name in expected]
        assert transport.tries == []
        stats = session.statistics()
        assert stats.events_sent == 4
        assert stats.audio_sent_ms == 100.0
    assert transport.tries == []
    assert hook.seen == expected


async def test_a_receive_only_interceptor_keeps_direct_writes(
    transport: ScriptedTransport,
) -> None:
    hook = SeeingReceives()
    async with open_session(transport, interceptors=[hook]) as session:
        await trio.testing.wait_all_tasks_blocked()
        await session.send(delete("a"))
        await session.append_audio(tone(2))
        assert transport.labels() == [("direct", "a"), ("direct", "audio:2")]
        assert_counted_once(session, transport)
    assert hook.seen == ["session.created"]


# -- 6. no direct write once the session is closing ----------------------------------------


async def _assert_every_send_refused(session: rt.RealtimeSession) -> None:
    with pytest.raises(anyio.ClosedResourceError):
        await session.send(delete("late"))
    with pytest.raises(anyio.ClosedResourceError):
        session.send_nowait(delete("late"))
    with pytest.raises(anyio.ClosedResourceError):
        await session.append_audio(tone(9))
    with pytest.raises(anyio.ClosedResourceError):
        session.append_audio_nowait(tone(9))
    with pytest.raises(anyio.ClosedResourceError):
        await session.commit_audio()
    with pytest.raises(anyio.ClosedResourceError):
        await session.create_response()


@pytest.mark.parametrize("how", ["aclose", "leave"])
async def test_no_direct_write_after_close(how: str, transport: ScriptedTransport) -> None:
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        await session.send(delete("a"))
        if how == "aclose":
            await session.aclose()
            await _assert_every_send_refused(session)
    if how == "leave":
        await _assert_every_send_refused(session)
    assert [label(text) for text in transport.tries] == ["a"]
    assert transport.labels() == [("direct", "a")]
    assert transport.client_close == (1000, "")
    assert_counted_once(session, transport)
    assert session.unsent() == rt.Unsent()


async def test_aclose_finishes_a_pending_direct_write_before_the_close_frame(
    transport: ScriptedTransport,
) -> None:
    async with open_session(transport) as session:
        await trio.testing.wait_all_tasks_blocked()
        transport.plan.append("pending")
        await session.send(delete("a"))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(session.aclose)
            await trio.testing.wait_all_tasks_blocked()
            assert transport.flushing
            assert transport.client_close is None  # no close frame over a pending tail
            await _assert_every_send_refused(session)
            transport.release()
        assert transport.client_close == (1000, "")
    assert transport.labels() == [("direct", "a"), ("flushed", "a")]
    assert [label(text) for text in transport.tries] == ["a"]
    assert_counted_once(session, transport)
    assert session.unsent() == rt.Unsent()

"""The outbox's invariants, tested where they live, without sockets.

A hypothesis state machine drives an :class:`~trio_realtime._engine.Outbox` with several
producers (control, urgent control, audio producers that wait for room, commits), a
transport that takes direct writes whole, leaves a tail pending or refuses them, a writer
that writes a frame at a time, cancellations of waiting producers, and random capacities.
After every step it checks the room rules (every waiter that fits is granted, in arrival
order); at the end, the order on the wire and what is reported unsent. Async tests on
both backends check the waiting itself: every parked producer is woken.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import pytest
from anyio.lowlevel import checkpoint
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from trio_realtime._engine import Frame, Outbox
from trio_realtime._engine._room import Room, Waiter


class _SyncEvent:
    """An event for the synchronous model: records that it was set."""

    def __init__(self) -> None:
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def is_set(self) -> bool:
        return self.flag

    async def wait(self) -> None:  # pragma: no cover - the model never awaits
        raise AssertionError("the model never waits")


class _Transport:
    """A transport that takes a direct write whole, with its tail pending, or not at all."""

    def __init__(self, outbox: Callable[[], Outbox]) -> None:
        self._outbox = outbox
        self.mode = "accept"
        self.wire: list[str] = []
        self.pending: str | None = None

    def try_send_text(self, text: str) -> bool:
        outbox = self._outbox()
        assert self.pending is None, "a frame was offered while another one was in flight"
        assert not (outbox._urgent or outbox._control or outbox._audio), (
            "a direct write while frames were queued"
        )
        if self.mode == "refuse":
            return False
        if self.mode == "partial":
            self.pending = text
            return True
        self.wire.append(text)
        return True

    @property
    def send_pending(self) -> bool:
        return self.pending is not None

    def finish_pending(self) -> None:
        assert self.pending is not None
        self.wire.append(self.pending)
        self.pending = None

    # the rest of the Transport protocol (the model writes through the outbox's steps)
    async def flush(self) -> None:  # pragma: no cover
        raise AssertionError

    def set_receiver(self, receiver: object) -> None:  # pragma: no cover
        raise AssertionError

    async def send_text(self, text: str) -> None:  # pragma: no cover
        raise AssertionError

    async def receive(self) -> str:  # pragma: no cover
        raise AssertionError

    async def ping(self) -> None:  # pragma: no cover
        raise AssertionError

    async def aclose(self, code: int = 1000, reason: str = "") -> None:  # pragma: no cover
        raise AssertionError

    async def abort(self) -> None:  # pragma: no cover
        raise AssertionError


@dataclass
class _Producer:
    """An audio producer that asked for room (and is granted it, or waits)."""

    ident: int
    waiter: Waiter
    ms: float


@dataclass
class _Sent:
    """What the model knows of one frame it handed to the outbox."""

    kind: str  # "control", "urgent", "audio", "barrier"
    seq: int
    audio_before: frozenset[str] = field(default_factory=frozenset)
    """Audio frames queued, not yet written, when an urgent frame was queued."""
    barriers_before: int = 0
    audio_queued_before: frozenset[str] = field(default_factory=frozenset)
    """For a barrier: every audio frame handed over before it."""


class OutboxMachine(RuleBasedStateMachine):
    """Several producers, a writer and a transport against the outbox's stated rules."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = itertools.count()
        self.frames: dict[str, _Sent] = {}
        self.producers: list[_Producer] = []
        self.grant_order: list[int] = []
        self.request_order: list[int] = []
        self.audio_handed: list[str] = []
        self.barriers = 0

    @initialize(
        control=st.integers(1, 4),
        audio_ms=st.sampled_from([100.0, 250.0, 500.0]),
    )
    def setup(self, control: int, audio_ms: float) -> None:
        self.outbox = Outbox(
            audio_capacity_ms=audio_ms,
            new_event=_SyncEvent,
            check_open=lambda: None,
            control_capacity=control,
        )
        self.transport = _Transport(lambda: self.outbox)
        self.outbox.attach(self.transport, None)  # type: ignore[arg-type]

    def _text(self, kind: str) -> str:
        n = next(self.seq)
        return f'{{"type":"{kind}","n":{n}}}'

    def _queued_audio(self) -> frozenset[str]:
        return frozenset(f.text for f in self.outbox._audio if not f.is_barrier)

    # -- producers -------------------------------------------------------------------------

    @rule(urgent=st.booleans())
    def send_control(self, urgent: bool) -> None:
        text = self._text("urgent" if urgent else "control")
        audio_before = self._queued_audio() if urgent else frozenset()
        try:
            self.outbox.send_nowait(text, urgent=urgent)
        except anyio.WouldBlock:
            return
        self.frames[text] = _Sent(
            "urgent" if urgent else "control",
            len(self.frames),
            audio_before=audio_before,
            barriers_before=self.barriers,
        )

    @rule()
    def commit(self) -> None:
        text = self._text("commit")
        try:
            self.outbox.send_barrier_nowait(text, list)
        except anyio.WouldBlock:
            return
        self.barriers += 1
        self.frames[text] = _Sent(
            "barrier", len(self.frames), audio_queued_before=frozenset(self.audio_handed)
        )

    @rule(ms=st.sampled_from([20.0, 50.0, 100.0, 300.0, 600.0]))
    def ask_for_audio_room(self, ms: float) -> None:
        ident = len(self.request_order)
        waiter = self.outbox.audio_room.request(ms)
        self.request_order.append(ident)
        self.producers.append(_Producer(ident, waiter, ms))

    @precondition(lambda self: any(p.waiter.granted for p in self.producers))
    @rule(data=st.data(), pieces=st.integers(1, 3))
    def queue_granted_audio(self, data: st.DataObject, pieces: int) -> None:
        granted = [p for p in self.producers if p.waiter.granted]
        producer = data.draw(st.sampled_from(granted))
        frames = []
        for _ in range(pieces):
            text = self._text("audio")
            frames.append(Frame(text, audio_ms=producer.ms / pieces, audio_bytes=1))
            self.frames[text] = _Sent("audio", len(self.frames))
            self.audio_handed.append(text)
        self.outbox.queue_audio(frames, reserved_ms=producer.ms)
        self.producers.remove(producer)

    @precondition(lambda self: bool(self.producers))
    @rule(data=st.data())
    def cancel_a_producer(self, data: st.DataObject) -> None:
        producer = data.draw(st.sampled_from(self.producers))
        self.outbox.audio_room.withdraw(producer.waiter)
        self.producers.remove(producer)

    # -- the transport and the writer ------------------------------------------------------

    @rule(mode=st.sampled_from(["accept", "partial", "refuse"]))
    def transport_mode(self, mode: str) -> None:
        self.transport.mode = mode

    @rule()
    def writer_writes_one(self) -> None:
        outbox = self.outbox
        if outbox._in_flight is not None:  # the tail of a direct write
            self.transport.finish_pending()
            outbox._count(outbox._in_flight, outbox._in_flight.text)
            outbox._in_flight = None
            return
        frame = outbox._next_frame()
        if frame is not None:
            self.transport.wire.append(frame.text)
            outbox._count(frame, frame.text)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def every_waiter_that_fits_is_granted_in_arrival_order(self) -> None:
        if not hasattr(self, "outbox"):
            return
        for room in (self.outbox.audio_room, self.outbox.control_room, self.outbox.urgent_room):
            assert not (room.waiters and room._fits(room.waiters[0].amount)), (
                "a waiter that fits is still parked"
            )
        waiting = [p.ident for p in self.producers if not p.waiter.granted]
        granted = [p.ident for p in self.producers if p.waiter.granted]
        assert list(self.outbox.audio_room.waiters) == [
            p.waiter for p in self.producers if not p.waiter.granted
        ], "waiters are not kept in arrival order"
        if waiting:
            later = [g for g in granted if g > min(waiting)]
            assert not later, "a later producer overtook a waiting one"

    @invariant()
    def room_counts_what_is_queued_and_granted(self) -> None:
        if not hasattr(self, "outbox"):
            return
        outbox = self.outbox
        granted = sum(p.ms for p in self.producers if p.waiter.granted)
        assert outbox.audio_room.used == pytest.approx(outbox.audio_queued_ms + granted, abs=1e-6)
        assert outbox.urgent_room.used == len(outbox._urgent)
        barriers = sum(1 for f in outbox._audio if f.is_barrier)
        assert outbox.control_room.used == len(outbox._control) + barriers

    def teardown(self) -> None:
        if not hasattr(self, "outbox"):
            return
        outbox = self.outbox
        for producer in list(self.producers):
            outbox.audio_room.withdraw(producer.waiter)
        outbox.close(flush=False)
        unsent = [f.text for f in outbox.unsent()]
        if self.transport.pending is not None:
            assert unsent[0] == self.transport.pending, "the frame in flight is not first"
        wire = self.transport.wire
        assert sorted(wire + unsent) == sorted(self.frames), "a frame was lost or doubled"
        self._check_order(wire + unsent)

    def _check_order(self, order: list[str]) -> None:
        position = {text: i for i, text in enumerate(order)}
        written = [t for t in order if t in self.frames]
        for kind in ("audio", "control", "urgent"):
            same = [t for t in written if self.frames[t].kind == kind]
            assert same == sorted(same, key=lambda t: self.frames[t].seq), f"{kind} reordered"
        barriers = [t for t in written if self.frames[t].kind == "barrier"]
        for text in barriers:
            for audio in self.frames[text].audio_queued_before:
                assert position[audio] < position[text], "a commit overtook audio before it"
        for text, sent in self.frames.items():
            if text not in position:
                continue
            if sent.kind == "control" and sent.barriers_before:
                barrier = barriers[sent.barriers_before - 1]
                assert position[barrier] < position[text], "control overtook its commit"
            if sent.kind == "urgent":
                for audio in sent.audio_before:
                    assert position[text] < position[audio], "urgent control waited for audio"


TestOutboxMachine = OutboxMachine.TestCase
TestOutboxMachine.settings = settings(max_examples=400, stateful_step_count=60, deadline=None)


# -- the waiting itself, on both backends ---------------------------------------------------

pytestmark_backends = pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])


def _outbox(audio_ms: float = 100.0) -> Outbox:
    from trio_realtime._engine import current_backend

    return Outbox(
        audio_capacity_ms=audio_ms, new_event=current_backend().new_event, check_open=lambda: None
    )


def _drain(outbox: Outbox) -> list[Frame]:
    frames = []
    while (frame := outbox._next_frame()) is not None:
        frames.append(frame)
    return frames


@pytestmark_backends
async def test_two_producers_waiting_for_audio_room_are_both_woken() -> None:
    outbox = _outbox(100.0)
    assert outbox.reserve_audio_nowait(100.0)
    outbox.queue_audio([Frame("a0", audio_ms=100.0)], reserved_ms=100.0)
    woken: list[str] = []

    async def producer(name: str) -> None:
        await outbox.reserve_audio(50.0)
        woken.append(name)
        outbox.queue_audio([Frame(name, audio_ms=50.0)], reserved_ms=50.0)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(producer, "first")
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(producer, "second")
            await anyio.wait_all_tasks_blocked()
            assert woken == []
            assert [f.text for f in _drain(outbox)] == ["a0"]  # the writer takes 100 ms
    # both granted at once (the scheduler picks which runs first: Trio randomises it)
    assert sorted(woken) == ["first", "second"]
    assert sorted(f.text for f in _drain(outbox)) == ["first", "second"]
    assert outbox.audio_room.used == 0


@pytestmark_backends
async def test_a_newcomer_never_overtakes_a_waiting_producer() -> None:
    outbox = _outbox(100.0)
    assert outbox.reserve_audio_nowait(80.0)
    outbox.queue_audio([Frame("a0", audio_ms=50.0), Frame("a1", audio_ms=30.0)], reserved_ms=80.0)
    order: list[str] = []

    async def producer(name: str, ms: float) -> None:
        await outbox.reserve_audio(ms)
        order.append(name)
        outbox.queue_audio([Frame(name, audio_ms=ms)], reserved_ms=ms)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(producer, "big", 60.0)
            await anyio.wait_all_tasks_blocked()
            # 20 ms would fit beside the 80 queued, but the big one came first
            assert not outbox.reserve_audio_nowait(20.0)
            tasks.start_soon(producer, "small", 20.0)
            await anyio.wait_all_tasks_blocked()
            assert order == []
            assert outbox._next_frame() is not None  # 50 ms out: room for "big" only
            await anyio.wait_all_tasks_blocked()
            assert order == ["big"]
            _drain(outbox)
    assert order == ["big", "small"]


@pytestmark_backends
async def test_a_cancelled_waiter_takes_nothing_and_lets_the_next_one_in() -> None:
    outbox = _outbox(100.0)
    assert outbox.reserve_audio_nowait(60.0)
    outbox.queue_audio([Frame("a0", audio_ms=60.0)], reserved_ms=60.0)
    got: list[str] = []

    async def producer(name: str, ms: float) -> None:
        await outbox.reserve_audio(ms)
        got.append(name)
        outbox.queue_audio([Frame(name, audio_ms=ms)], reserved_ms=ms)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            big = anyio.CancelScope()

            async def cancellable() -> None:
                with big:
                    await producer("big", 60.0)

            tasks.start_soon(cancellable)
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(producer, "small", 30.0)  # fits, but waits behind "big"
            await anyio.wait_all_tasks_blocked()
            assert got == []
            big.cancel()
            await anyio.wait_all_tasks_blocked()
            assert got == ["small"]  # room for it without the writer taking anything
    assert outbox.audio_room.used == pytest.approx(90.0)
    assert not outbox.audio_room.waiters


@pytestmark_backends
async def test_close_wakes_every_waiter_with_the_failure() -> None:
    outbox = _outbox(100.0)
    assert outbox.reserve_audio_nowait(100.0)
    outbox.queue_audio([Frame("a0", audio_ms=100.0)], reserved_ms=100.0)
    failure = RuntimeError("the session failed")
    raised: list[BaseException] = []

    async def producer() -> None:
        try:
            await outbox.reserve_audio(50.0)
        except RuntimeError as exc:
            raised.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            for _ in range(3):
                tasks.start_soon(producer)
            await anyio.wait_all_tasks_blocked()
            outbox.close(flush=False, failure=failure)
    assert raised == [failure, failure, failure]
    with pytest.raises(RuntimeError):
        await outbox.reserve_audio(1.0)
    await checkpoint()


def test_an_amount_larger_than_the_room_waits_its_turn_instead_of_forever() -> None:
    room = Room(100.0, _SyncEvent)
    assert room.take_nowait(30.0)
    big = room.request(500.0)
    assert not big.granted
    room.give_back(30.0)
    assert big.granted

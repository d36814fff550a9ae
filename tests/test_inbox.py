"""The inbox: the bounded FIFO every received event crosses between reader and consumers.

:class:`trio_realtime._engine._inbox.Inbox` is an AnyIO object receive stream with a reader side
(``put_nowait``/``put``/``end``) and a consumer side (``receive``/``receive_nowait``,
``aclose``). These tests pin the contract the engine and ``session.events`` users rely on:
order, backpressure (the reader parks when full and ``reader_waiting`` says so), end of
stream after every event is delivered, ``ClosedResourceError`` after close, cancellation
that never loses an event, and fair sharing between several consumers. Both backends run
everything (the inbox uses Trio's own events on Trio and AnyIO's elsewhere). A hypothesis
property test compares any sequence of operations with a bounded ``deque``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from trio_realtime._engine._inbox import Inbox

pytestmark = pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])


def _event(n: int) -> Any:
    """A stand-in event: the inbox never looks inside what it carries."""
    return ("event", n)


def _fill(inbox: Inbox, count: int, start: int = 0) -> list[Any]:
    events = [_event(start + i) for i in range(count)]
    for event in events:
        assert inbox.put_nowait(event)
    return events


# -- order and backpressure -----------------------------------------------------------


async def test_events_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox(8)
    first = _fill(inbox, 5)
    assert [await inbox.receive() for _ in range(3)] == first[:3]
    second = _fill(inbox, 4, start=5)
    received = [await inbox.receive() for _ in range(6)]
    assert received == first[3:] + second
    with pytest.raises(anyio.WouldBlock):
        inbox.receive_nowait()


async def test_put_nowait_refuses_when_full_and_accepts_again_after_a_take() -> None:
    inbox = Inbox(2)
    events = _fill(inbox, 2)
    assert inbox.put_nowait(_event(99)) is False
    assert list(inbox.buffer) == events  # the refused event was not appended
    assert inbox.receive_nowait() == events[0]
    assert inbox.put_nowait(_event(2)) is True
    assert [inbox.receive_nowait(), inbox.receive_nowait()] == [events[1], _event(2)]


async def test_put_parks_while_full_until_a_consumer_takes_one() -> None:
    inbox = Inbox(1)
    [first] = _fill(inbox, 1)
    second = _event(1)
    put_done = anyio.Event()
    assert inbox.reader_waiting is False

    async def reader() -> None:
        await inbox.put(second)
        put_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        assert not put_done.is_set()
        assert inbox.reader_waiting is True
        assert list(inbox.buffer) == [first]

        assert await inbox.receive() == first
        await put_done.wait()
        assert inbox.reader_waiting is False
    assert inbox.receive_nowait() == second


async def test_put_with_room_does_not_park() -> None:
    inbox = Inbox(2)
    await inbox.put(_event(0))
    assert inbox.reader_waiting is False
    assert inbox.receive_nowait() == _event(0)


async def test_put_stays_parked_when_a_consumer_finds_the_inbox_refilled() -> None:
    """Room taken back before the parked put ran: it parks again instead of overfilling."""
    inbox = Inbox(1)
    _fill(inbox, 1)
    put_done = anyio.Event()

    async def reader() -> None:
        await inbox.put(_event(2))
        put_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        assert inbox.receive_nowait() == _event(0)
        assert inbox.put_nowait(_event(1))  # someone refills before the reader runs
        await anyio.wait_all_tasks_blocked()
        assert not put_done.is_set()
        assert inbox.reader_waiting is True
        assert len(inbox.buffer) == 1
        assert inbox.receive_nowait() == _event(1)
        await put_done.wait()
    assert inbox.receive_nowait() == _event(2)


async def test_peak_is_the_size_once_the_reader_had_to_wait() -> None:
    inbox = Inbox(3)
    assert inbox.peak == 0
    _fill(inbox, 3)

    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.put, _event(3))
        await anyio.wait_all_tasks_blocked()
        assert inbox.peak == 3
        inbox.receive_nowait()
    assert inbox.peak == 3
    assert len(inbox.buffer) == 3


# -- receive --------------------------------------------------------------------------


async def test_receive_waits_for_the_next_event() -> None:
    inbox = Inbox(4)
    got: list[Any] = []

    async def consumer() -> None:
        got.append(await inbox.receive())

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        assert inbox.put_nowait(_event(7))
    assert got == [_event(7)]
    assert not inbox.buffer


async def test_receive_is_a_cancel_point_even_with_an_event_waiting() -> None:
    inbox = Inbox(4)
    [event] = _fill(inbox, 1)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await inbox.receive()
        pytest.fail("receive() returned inside a cancelled scope")
    assert scope.cancelled_caught
    assert inbox.receive_nowait() == event  # still there


async def test_a_cancelled_waiting_receive_loses_no_event() -> None:
    inbox = Inbox(4)

    got: list[Any] = []
    scope = anyio.CancelScope()

    async with anyio.create_task_group() as tg:
        tg.start_soon(_receive_under, inbox, scope, got)
        await anyio.wait_all_tasks_blocked()
        scope.cancel()
    assert scope.cancelled_caught
    assert got == []
    [event] = _fill(inbox, 1)
    assert await inbox.receive() == event


async def _receive_under(inbox: Inbox, scope: anyio.CancelScope, got: list[Any]) -> None:
    with scope:
        got.append(await inbox.receive())


async def test_an_event_arriving_as_its_receiver_is_cancelled_is_not_lost() -> None:
    """Woken and cancelled in the same tick: the receiver has it, or the inbox still does."""
    inbox = Inbox(4)
    got: list[Any] = []
    scope = anyio.CancelScope()

    async with anyio.create_task_group() as tg:
        tg.start_soon(_receive_under, inbox, scope, got)
        await anyio.wait_all_tasks_blocked()
        assert inbox.put_nowait(_event(1))
        scope.cancel()
    assert got + list(inbox.buffer) == [_event(1)]


# -- end and close --------------------------------------------------------------------


async def test_end_delivers_what_is_left_then_end_of_stream() -> None:
    inbox = Inbox(4)
    events = _fill(inbox, 3)
    inbox.end()
    assert [await inbox.receive() for _ in range(3)] == events
    for _ in range(2):  # and keeps saying so
        with pytest.raises(anyio.EndOfStream):
            await inbox.receive()
    with pytest.raises(anyio.EndOfStream):
        inbox.receive_nowait()


async def test_end_wakes_a_waiting_receiver_with_end_of_stream() -> None:
    inbox = Inbox(4)
    outcome: list[BaseException] = []

    async def consumer() -> None:
        try:
            await inbox.receive()
        except anyio.EndOfStream as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await anyio.wait_all_tasks_blocked()
        assert outcome == []
        inbox.end()
    assert len(outcome) == 1


async def test_async_for_yields_every_event_and_stops_at_end() -> None:
    inbox = Inbox(4)
    got: list[Any] = []

    async def consumer() -> None:
        async for event in inbox:
            got.append(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        events = []
        for i in range(10):
            events.append(_event(i))
            await inbox.put(events[-1])
        inbox.end()
    assert got == events


@pytest.mark.parametrize("how", ["close", "aclose"])
async def test_close_drops_events_and_receivers_get_closed_resource_error(how: str) -> None:
    inbox = Inbox(4)
    _fill(inbox, 2)
    await _close(inbox, how)
    with pytest.raises(anyio.ClosedResourceError):
        await inbox.receive()
    with pytest.raises(anyio.ClosedResourceError):
        inbox.receive_nowait()
    assert inbox.put_nowait(_event(9)) is True  # accepted and dropped
    assert not inbox.buffer
    with pytest.raises(anyio.ClosedResourceError):
        inbox.receive_nowait()


async def _close(inbox: Inbox, how: str) -> None:
    if how == "close":
        inbox.close()
    else:
        await inbox.aclose()


@pytest.mark.parametrize("how", ["close", "aclose"])
async def test_close_wakes_every_waiting_receiver_with_closed_resource_error(how: str) -> None:
    inbox = Inbox(1)
    closed_errors: list[BaseException] = []

    async def consumer() -> None:
        try:
            await inbox.receive()
        except anyio.ClosedResourceError as exc:
            closed_errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        tg.start_soon(consumer)
        await anyio.wait_all_tasks_blocked()
        assert closed_errors == []
        await _close(inbox, how)
    assert len(closed_errors) == 2


@pytest.mark.parametrize("how", ["close", "aclose"])
async def test_close_lets_a_parked_put_return_and_drops_its_event(how: str) -> None:
    inbox = Inbox(1)
    _fill(inbox, 1)
    put_done = anyio.Event()

    async def reader() -> None:
        await inbox.put(_event(1))
        put_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        assert inbox.reader_waiting
        await _close(inbox, how)
        await put_done.wait()
    assert inbox.reader_waiting is False
    assert not inbox.buffer  # neither the buffered nor the parked event survives
    with pytest.raises(anyio.ClosedResourceError):
        await inbox.receive()


async def test_close_after_end_still_means_closed() -> None:
    inbox = Inbox(2)
    _fill(inbox, 1)
    inbox.end()
    inbox.close()
    with pytest.raises(anyio.ClosedResourceError):
        await inbox.receive()


# -- several consumers ----------------------------------------------------------------


async def test_several_consumers_share_the_events_each_exactly_once() -> None:
    inbox = Inbox(3)
    count = 200
    per_consumer: list[list[Any]] = [[], [], []]

    async def consumer(got: list[Any]) -> None:
        async for event in inbox:
            got.append(event)
            await anyio.lowlevel.checkpoint()  # let the others take some too

    async with anyio.create_task_group() as tg:
        for got in per_consumer:
            tg.start_soon(consumer, got)
        for i in range(count):
            if not inbox.put_nowait(_event(i)):
                await inbox.put(_event(i))
        inbox.end()

    everything = [event for got in per_consumer for event in got]
    assert sorted(everything) == [_event(i) for i in range(count)]  # all, none twice
    for got in per_consumer:
        assert got == sorted(got)  # each consumer sees its share in order
    assert sum(1 for got in per_consumer if got) > 1


# -- property: a bounded deque --------------------------------------------------------

_OPS = st.lists(
    st.one_of(st.tuples(st.just("put"), st.integers(0, 1000)), st.just(("take",))),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 6), ops=_OPS, finish=st.sampled_from([None, "end", "close"]))
def test_any_interleaving_behaves_like_a_bounded_deque(
    anyio_backend: str, size: int, ops: list[tuple[Any, ...]], finish: str | None
) -> None:
    async def check() -> None:
        inbox = Inbox(size)
        model: deque[Any] = deque()
        for op in ops:
            if op[0] == "put":
                room = len(model) < size
                assert inbox.put_nowait(op[1]) is room
                if room:
                    model.append(op[1])
            elif model:
                assert inbox.receive_nowait() == model.popleft()
            else:
                with pytest.raises(anyio.WouldBlock):
                    inbox.receive_nowait()
            assert list(inbox.buffer) == list(model)

        if finish is None:
            while model:
                assert await inbox.receive() == model.popleft()
            with pytest.raises(anyio.WouldBlock):
                inbox.receive_nowait()
        elif finish == "end":
            inbox.end()
            while model:
                assert await inbox.receive() == model.popleft()
            with pytest.raises(anyio.EndOfStream):
                inbox.receive_nowait()
        else:
            inbox.close()
            assert inbox.put_nowait(-1) is True
            with pytest.raises(anyio.ClosedResourceError):
                inbox.receive_nowait()

    anyio.run(check, backend=anyio_backend)


# -- messages parsed as they are taken ------------------------------------------------------


def _parse(message: str) -> Any:
    """The engine's stand-in: ``"m<n>"`` is an event, anything else a frame it rejects."""
    return ("parsed", int(message[1:])) if message.startswith("m") else None


_MIXED = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 99).map(_event)),
        st.tuples(st.just("put"), st.integers(0, 99).map(lambda n: f"m{n}")),
        st.tuples(st.just("put"), st.just("bad")),
        st.tuples(st.just("take")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 6), ops=_MIXED, finish=st.sampled_from([None, "end", "close"]))
def test_messages_are_parsed_as_taken_in_order_and_rejected_ones_skipped(
    anyio_backend: str, size: int, ops: list[tuple[Any, ...]], finish: str | None
) -> None:
    def events(items: list[Any]) -> list[Any]:
        parsed = (_parse(item) if isinstance(item, str) else item for item in items)
        return [event for event in parsed if event is not None]

    async def check() -> None:
        inbox = Inbox(size, parse=_parse)
        model: deque[Any] = deque()
        for op in ops:
            if op[0] == "put":
                room = len(model) < size
                assert inbox.put_nowait(op[1]) is room
                if room:
                    model.append(op[1])
                continue
            expected = events(list(model))
            if expected:
                assert inbox.receive_nowait() == expected[0]
                while events([model.popleft()]) != [expected[0]]:
                    pass  # the rejected messages before it went too
            else:
                with pytest.raises(anyio.WouldBlock):
                    inbox.receive_nowait()
                model.clear()  # looking consumed the rejected ones
            assert list(inbox.buffer) == list(model)

        if finish == "close":
            assert inbox.close() == events(list(model))
            return
        if finish == "end":
            inbox.end()
        for event in events(list(model)):
            assert await inbox.receive() == event
        with pytest.raises(anyio.EndOfStream if finish == "end" else anyio.WouldBlock):
            inbox.receive_nowait()

    anyio.run(check, backend=anyio_backend)


async def test_a_waiting_receiver_skips_a_rejected_message_and_waits_on() -> None:
    inbox = Inbox(4, parse=_parse)
    received: list[Any] = []

    async def receive() -> None:
        received.append(await inbox.receive())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(receive)
        await anyio.wait_all_tasks_blocked()
        assert inbox.put_nowait("bad")
        await anyio.wait_all_tasks_blocked()
        assert received == []  # woken, found nothing it could deliver, waits again
        assert inbox.consumer_waiting
        assert inbox.put_nowait("m7")
    assert received == [("parsed", 7)]

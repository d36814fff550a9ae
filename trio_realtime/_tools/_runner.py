"""The tool runner: every function call of the model run in its own task, answered once.

``async with open_tool_runner(session, tools) as runner:`` watches the session's events
as the reader receives them (before the application's ``async for`` sees them; nothing
is taken from that stream), runs each call in a child task of a task group it owns
inside the block, sends exactly one ``function_call_output`` per ``call_id`` and asks
for the next response once all calls of a response are answered.

One task (the dispatcher) starts calls, cancels them and creates follow-up responses;
the event callback only records state and wakes it, so it never blocks the reader.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from .._errors import RealtimeError
from ..events import (
    ConversationItemAddedEvent,
    ConversationItemCreateEvent,
    ConversationItemDeletedEvent,
    ErrorEvent,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioBufferClearedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeEvent,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseDoneEvent,
    ResponseOutputItemDoneEvent,
)
from ._calls import (
    ToolCall,
    ToolEvent,
    ToolFinished,
    ToolOutcome,
    ToolPolicy,
    ToolRunnerStatistics,
    ToolStarted,
)
from ._registry import ToolArgumentsError, Tools

if TYPE_CHECKING:
    from .._session import RealtimeSession

__all__ = ["ToolRunner", "open_tool_runner"]

log = logging.getLogger("trio_realtime.tools")

_WATCHED: frozenset[type[RealtimeEvent]] = frozenset(
    (
        ResponseCreatedEvent,
        ResponseOutputItemDoneEvent,
        ResponseDoneEvent,
        ConversationItemAddedEvent,
        ConversationItemDeletedEvent,
        InputAudioBufferSpeechStartedEvent,
        InputAudioBufferSpeechStoppedEvent,
        InputAudioBufferCommittedEvent,
        InputAudioBufferClearedEvent,
        ErrorEvent,
    )
)
_NOT_SPEAKING = (
    InputAudioBufferSpeechStoppedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferClearedEvent,
)


class _Call:
    """A call's state: started, cancelled (and why), answered, delivered."""

    def __init__(self, call: ToolCall, group: _Group, *, complete: bool) -> None:
        self.call = call
        self.group = group
        self.complete = complete
        """False: the response ended before the call's arguments were complete."""
        self.scope: anyio.CancelScope | None = None
        self.cancel_reason: str | None = None
        self.gone = False
        self.answered = False
        """Its output is sent or being sent."""
        self.settled = False
        """Its output is acknowledged, rejected or not sendable: ``delivered`` is final."""
        self.delivered = False
        self.acked = anyio.Event()


class _Group:
    """The calls of one response; due a follow-up once all are answered after its done."""

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.calls: list[_Call] = []
        self.response_done = False
        self.interrupted = False

    @property
    def ready(self) -> bool:
        return self.response_done and all(call.settled for call in self.calls)

    @property
    def wanted(self) -> bool:
        """A follow-up makes sense: not interrupted, and an output reached the conversation."""
        return not self.interrupted and any(call.delivered for call in self.calls)


class ToolRunner:
    """Runs the model's function calls for one session; made by :func:`open_tool_runner`."""

    def __init__(
        self,
        session: RealtimeSession,
        tools: Tools,
        policy: ToolPolicy,
        on_event: Callable[[ToolEvent], object] | None,
        task_group: anyio.abc.TaskGroup,
    ) -> None:
        self.session = session
        self.tools = tools
        self.policy = policy
        self._on_event = on_event
        self._task_group = task_group
        self._groups: dict[str, _Group] = {}
        self._unanswered: dict[str, _Call] = {}
        """call_id → calls without an output yet (or whose output is not acknowledged)."""
        self._by_item: dict[str, _Call] = {}
        self._by_event_id: dict[str, _Call] = {}
        """The client event ids of outputs in flight → their calls."""
        self._out_of_band: set[str] = set()
        self._to_start: list[_Call] = []
        self._to_cancel: list[_Call] = []
        self._speaking = False
        self._follow_up_id: str | None = None
        """The event id of our ``response.create``, until its ``response.created``."""
        self._closing = False
        self._wake = anyio.Event()
        self._changed = anyio.Event()
        self._ids = f"tool_{secrets.token_hex(4)}_"
        self._next_id = 0
        self._counts = dict.fromkeys(
            ("calls", "succeeded", "failed", "invalid", "timed_out", "cancelled"), 0
        )
        self._undelivered = 0
        self._follow_ups = 0
        self._follow_ups_skipped = 0
        self._seconds_total = 0.0
        self._seconds_max = 0.0

    # -- public -----------------------------------------------------------------------

    def statistics(self) -> ToolRunnerStatistics:
        """Counters: calls by outcome, undelivered outputs, follow-ups, tool time."""
        counts = self._counts
        return ToolRunnerStatistics(
            calls=counts["calls"],
            running=len(self._unanswered),
            succeeded=counts["succeeded"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            timed_out=counts["timed_out"],
            cancelled=counts["cancelled"],
            undelivered=self._undelivered,
            follow_ups=self._follow_ups,
            follow_ups_skipped=self._follow_ups_skipped,
            tool_seconds_total=self._seconds_total,
            tool_seconds_max=self._seconds_max,
        )

    def unanswered(self) -> list[ToolCall]:
        """The calls taken whose output is not sent and acknowledged yet."""
        return [call.call for call in self._unanswered.values()]

    async def wait_idle(self) -> None:
        """Wait until every call taken is answered and no follow-up is due or in flight.

        Safe to wrap in ``move_on_after``.
        """
        while not self._idle():
            changed = self._changed
            await changed.wait()
        await anyio.lowlevel.checkpoint()

    # -- the event callback (runs in the session's reader: record and wake only) ---------

    def _handle(self, event: RealtimeEvent) -> None:
        try:
            self._record(event)
        except Exception:  # pragma: no cover - a bug here must not break the reader
            log.exception("the tool runner failed to handle %s", event.type)
        self._wake.set()

    def _record(self, event: RealtimeEvent) -> None:
        if isinstance(event, ResponseOutputItemDoneEvent):
            if isinstance(event.item, FunctionCallItem):
                self._take(event.response_id, event.item)
        elif isinstance(event, ResponseCreatedEvent):
            self._speaking = False
            self._follow_up_id = None
            response = event.response
            if response.conversation_id is None and response.id is not None:
                self._out_of_band.add(response.id)
        elif isinstance(event, ResponseDoneEvent):
            response_id = event.response.id or ""
            self._out_of_band.discard(response_id)
            group = self._groups.get(response_id)
            if group is not None:
                group.response_done = True
                if event.response.status == "cancelled":
                    self._interrupt(group, "the response was cancelled")
        elif isinstance(event, InputAudioBufferSpeechStartedEvent):
            self._speaking = True
            for group in self._groups.values():
                self._interrupt(group, "the user interrupted")
        elif isinstance(event, _NOT_SPEAKING):
            self._speaking = False
        elif isinstance(event, ConversationItemAddedEvent):
            item = event.item
            if isinstance(item, FunctionCallOutputItem):
                call = self._unanswered.get(item.call_id)
                if call is not None and call.answered:
                    call.delivered = True
                    call.acked.set()
                elif call is not None:  # the application answered it itself
                    call.gone = True
                    self._cancel(call, "the call was answered by someone else")
        elif isinstance(event, ConversationItemDeletedEvent):
            call = self._by_item.pop(event.item_id, None)
            if call is not None and not call.answered:
                call.gone = True
                self._cancel(call, "the call was deleted from the conversation")
        elif isinstance(event, ErrorEvent):
            self._rejected(event)

    def _take(self, response_id: str, item: FunctionCallItem) -> None:
        if response_id in self._out_of_band:
            log.debug("not running %s: its response is outside the conversation", item.name)
            return
        if item.call_id is None or item.call_id in self._unanswered:
            return
        call = ToolCall(
            name=item.name,
            call_id=item.call_id,
            arguments=item.arguments,
            item_id=item.id,
            response_id=response_id,
        )
        group = self._groups.get(response_id)
        if group is None:
            group = self._groups[response_id] = _Group(response_id)
        state = _Call(call, group, complete=item.status in (None, "completed"))
        group.calls.append(state)
        self._unanswered[call.call_id] = state
        if item.id is not None:
            self._by_item[item.id] = state
        self._counts["calls"] += 1
        self._to_start.append(state)
        if group.interrupted and self.policy.on_interrupt == "cancel":
            self._cancel(state, "the user interrupted")

    def _interrupt(self, group: _Group, reason: str) -> None:
        group.interrupted = True
        if self.policy.on_interrupt == "cancel":
            for call in group.calls:
                self._cancel(call, reason)

    def _cancel(self, call: _Call, reason: str) -> None:
        if call.cancel_reason is None and not call.answered:
            call.cancel_reason = reason
            self._to_cancel.append(call)

    def _rejected(self, event: ErrorEvent) -> None:
        event_id = event.error.event_id
        if event_id is not None and event_id == self._follow_up_id:
            self._follow_up_id = None
            log.info("follow-up response not created: %s", event.error.message)
            return
        call = self._by_event_id.pop(event_id or "", None)
        if call is None:
            return
        log.warning("the output for %s was rejected: %s", call.call.name, event.error.message)
        call.acked.set()

    # -- the dispatcher ---------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            to_cancel, self._to_cancel = self._to_cancel, []
            for call in to_cancel:
                if call.scope is not None:
                    call.scope.cancel()
            to_start, self._to_start = self._to_start, []
            for call in to_start:
                self._task_group.start_soon(self._run, call, name=f"tool {call.call.name}")
            await self._maybe_follow_up()
            self._notify()

    async def _maybe_follow_up(self) -> None:
        wanted = []
        for group in [group for group in self._groups.values() if group.ready]:
            if self.policy.follow_up and group.wanted:
                wanted.append(group)
            else:
                del self._groups[group.response_id]
                self._follow_ups_skipped += self.policy.follow_up
        if not wanted or self._closing:
            return
        if self._speaking or self._follow_up_id or self.session.active_response_id:
            return  # a later response.done / speech_stopped wakes us again
        for group in wanted:
            del self._groups[group.response_id]
        self._follow_up_id = event_id = self._new_id()
        try:
            await self.session.send(ResponseCreateEvent(event_id=event_id))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RealtimeError):
            self._follow_up_id = None
            return
        self._follow_ups += 1

    # -- one call ---------------------------------------------------------------------

    async def _run(self, call: _Call) -> None:
        self._emit(ToolStarted(call.call))
        start = anyio.current_time()
        outcome, output = await self._execute(call)
        seconds = anyio.current_time() - start
        self._counts[outcome] += 1
        self._seconds_total += seconds
        self._seconds_max = max(self._seconds_max, seconds)
        delivered = await self._answer(call, output)
        self._emit(ToolFinished(call.call, outcome, output, seconds, delivered))
        self._wake.set()

    async def _execute(self, call: _Call) -> tuple[ToolOutcome, str]:
        name = call.call.name
        if not call.complete:
            return "cancelled", f"Cancelled: the response ended before {name}'s arguments did."
        if call.cancel_reason is not None:
            return "cancelled", f"Cancelled: {call.cancel_reason} before {name} finished."
        spec = self.tools.get(name)
        if spec is None:
            known = ", ".join(self.tools.names()) or "none"
            return "invalid", f"Error: there is no tool named {name!r} (tools: {known})."
        try:
            arguments = spec.parse_arguments(call.call.arguments)
        except ToolArgumentsError as exc:
            return "invalid", f"Error: invalid arguments for {name}: {exc}"
        timeout = spec.timeout if spec.timeout is not None else self.policy.timeout
        with anyio.CancelScope() as scope:
            call.scope = scope
            if timeout is not None:
                scope.deadline = anyio.current_time() + timeout
            if call.cancel_reason is not None:
                scope.cancel()
            try:
                if spec.is_async:
                    result = await spec.function(**arguments)
                else:
                    result = await anyio.to_thread.run_sync(
                        functools.partial(spec.function, **arguments), abandon_on_cancel=True
                    )
                return "succeeded", spec.output_text(result)
            except Exception as exc:
                log.warning("tool %s (call %s) raised", name, call.call.call_id, exc_info=True)
                return "failed", self.policy.error_output(call.call, exc)
        call.scope = None
        if call.cancel_reason is not None:
            return "cancelled", f"Cancelled: {call.cancel_reason} before {name} finished."
        return "timed_out", f"Error: {name} timed out after {timeout:g} s."

    async def _answer(self, call: _Call, output: str) -> bool:
        """Send the one output of ``call``; True once the conversation has it."""
        call.answered = True
        delivered = False
        try:
            delivered = await self._deliver(call, output)
        finally:
            call.delivered, call.settled = delivered, True
            self._unanswered.pop(call.call.call_id, None)
            if call.call.item_id is not None:
                self._by_item.pop(call.call.item_id, None)
        self._undelivered += not delivered
        return delivered

    async def _deliver(self, call: _Call, output: str) -> bool:
        if call.gone:
            return False
        event_id = self._new_id()
        self._by_event_id[event_id] = call
        item = FunctionCallOutputItem(call_id=call.call.call_id, output=output)
        try:
            await self.session.send(ConversationItemCreateEvent(event_id=event_id, item=item))
            if not self._closing:
                await call.acked.wait()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RealtimeError):
            return False
        finally:
            self._by_event_id.pop(event_id, None)
        return call.delivered or self._closing

    # -- helpers ----------------------------------------------------------------------

    def _emit(self, event: ToolEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("the tool runner's on_event callback raised")

    def _new_id(self) -> str:
        self._next_id += 1
        return f"{self._ids}{self._next_id}"

    def _idle(self) -> bool:
        return not (
            self._unanswered
            or self._to_start
            or self._follow_up_id
            or any(group.ready and group.wanted for group in self._groups.values())
        )

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _close(self) -> None:
        """Leaving the block normally: cancel what runs, send its outputs, no follow-up."""
        self._closing = True
        for call in list(self._unanswered.values()):
            self._cancel(call, "the tool runner was closed")
            call.acked.set()
        self._wake.set()
        while self._unanswered or self._to_start:
            changed = self._changed
            await changed.wait()


@asynccontextmanager
async def open_tool_runner(
    session: RealtimeSession,
    tools: Tools,
    *,
    policy: ToolPolicy = ToolPolicy(),  # noqa: B008 - frozen
    on_event: Callable[[ToolEvent], object] | None = None,
) -> AsyncIterator[ToolRunner]:
    """Run the model's calls of ``tools`` for ``session`` while the block runs.

    Use inside the session's block and keep consuming the session's events as usual;
    the runner sees them as they are received (it takes none). Each call runs in its
    own task (a sync function in a worker thread) and gets exactly one
    ``function_call_output``: its result, its exception as text, invalid arguments,
    a timeout, or a cancellation. When every call of a response is answered and that
    response is done, the runner sends one ``response.create``, unless the user has
    spoken or the response was cancelled meanwhile (``policy``), and never while a
    response is active. ``on_event`` receives :class:`ToolStarted` and
    :class:`ToolFinished` (an exception it raises is logged).

    Entering does not block. Leaving normally cancels the calls still running and sends
    their outputs ("cancelled"); leaving by an exception or a cancellation cancels them
    without outputs (the session is usually closing too) and re-raises it unchanged.
    A ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``) raised by a
    tool propagates as itself, never inside a group.
    """
    user_exc: BaseException | None = None
    try:
        async with anyio.create_task_group() as task_group:
            runner = ToolRunner(session, tools, policy, on_event, task_group)
            stop = session._watch(runner._handle, _WATCHED)
            try:
                task_group.start_soon(runner._dispatch, name="tool runner")
                try:
                    yield runner
                except BaseException as exc:
                    user_exc = exc
                else:
                    await runner._close()
            finally:
                stop()
                task_group.cancel_scope.cancel("the tool runner is closed")
    except BaseExceptionGroup as group:
        raise _one_of(group) from None
    if user_exc is not None:
        raise user_exc


def _one_of(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to raise for a group (a tool's ``BaseException``): never a group."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = exc.exceptions
        else:
            leaves.append(exc)
    cancelled = anyio.get_cancelled_exc_class()
    return next((leaf for leaf in leaves if not isinstance(leaf, cancelled)), leaves[0])

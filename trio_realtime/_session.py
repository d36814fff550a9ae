"""Conversation sessions: :class:`RealtimeSession` and :class:`TranscriptionSession`
(opened by ``_connect``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from ._audio_input import input_format_of
from ._audio_session import AudioSession
from ._engine import ConversationOptions, Drop, ReplyTable
from ._resumer import WATCHED_EVENTS, Resumer
from ._transport import Transport
from ._usage import SessionUsage, UsageLedger
from .audio import PlaybackTracker
from .events import (
    SERVER_EVENT_CLASSES,
    ClientEventBase,
    ConversationItem,
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrievedEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioTranscriptionCompletedEvent,
    RealtimeEvent,
    ResponseAudioDeltaEvent,
    ResponseCancelEvent,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseCreateParams,
    ResponseDoneEvent,
    SessionConfig,
    SessionCreatedEvent,
    SessionObject,
    SessionUpdatedEvent,
    SessionUpdateEvent,
    TranscriptionSessionConfig,
    UserMessageItem,
    parse_server_event,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DEFAULT_MODEL", "RealtimeSession", "SessionInput", "TranscriptionSession"]

DEFAULT_MODEL = "gpt-realtime"
"""The model used when ``open_realtime_session`` is given none."""

_URGENT = frozenset({"response.cancel", "conversation.item.truncate", "output_audio_buffer.clear"})
_AUDIO_ORDERED = frozenset({"input_audio_buffer.commit", "input_audio_buffer.clear"})

_Watcher = tuple[frozenset[type[RealtimeEvent]], Callable[[RealtimeEvent], None]]

SessionInput = SessionConfig | TranscriptionSessionConfig | Mapping[str, Any]
"""A session configuration: a typed config or a dict of the wire shape."""


def _session_object(
    session: SessionInput | None, fields: Mapping[str, Any], default_type: str = "realtime"
) -> SessionObject:
    if isinstance(session, SessionConfig | TranscriptionSessionConfig):
        if not fields:
            return session
        data = session.model_dump(exclude_unset=True)
    else:
        data = dict(session or {})
    data.update(fields)
    if data.get("type") == "transcription":
        return TranscriptionSessionConfig.model_validate(data)
    data.setdefault("type", default_type)
    if data["type"] == "transcription":
        return TranscriptionSessionConfig.model_validate(data)
    return SessionConfig.model_validate(data)


class RealtimeSession(AudioSession):
    """An open conversation with the Realtime API; made by :func:`open_realtime_session`.

    Receive with ``async for event in session`` (or ``await session.receive()``; the
    stream is also ``session.events``); send with :meth:`send` or the helpers. Every
    send helper returns once its frame is queued for the writer; it is safe to wrap in
    ``move_on_after``: a cancelled call queues nothing. Helpers that wait for a reply
    (:meth:`update_session`, :meth:`retrieve_item`, ``cancel_active=True``) need the
    reader to see that reply, so keep consuming events (or leave room in
    ``event_buffer``) while they wait.
    """

    def __init__(self, options: ConversationOptions) -> None:
        super().__init__(
            parse=parse_server_event,
            classes=SERVER_EVENT_CLASSES,
            options=options,
            audio_chunk_ms=options["audio_chunk_ms"],
        )
        self.config: SessionObject | None = None
        """The effective configuration, from the latest ``session.created`` / ``updated``."""
        self._formats = ("audio/pcm", "audio/pcm")
        """The input and output audio formats of ``config`` (read once per config)."""
        self.active_response_id: str | None = None
        """The response in progress in the default conversation, if any."""
        self._response_done = self._replies.table(ReplyTable[ResponseDoneEvent]())
        self._retrievals = self._replies.table(ReplyTable[ConversationItemRetrievedEvent]())
        self._usage = UsageLedger()
        policy = options["resume"]
        self._resume = policy
        self._resumer = Resumer(self, policy) if policy is not None else None
        if self._resumer is not None:
            self._set_observed(self._observed | WATCHED_EVENTS)
        self._own_observed = self._observed
        """What the session itself observes; watchers add theirs (:meth:`_watch`)."""
        self._watchers: tuple[_Watcher, ...] = ()

    _default_session_type = "realtime"

    # -- state --------------------------------------------------------------------

    _observed: frozenset[type[RealtimeEvent]] = frozenset(
        (
            SessionCreatedEvent,
            SessionUpdatedEvent,
            ResponseCreatedEvent,
            ResponseDoneEvent,
            ConversationItemRetrievedEvent,
            InputAudioTranscriptionCompletedEvent,
        )
    )

    def _apply_config(self, config: SessionObject) -> None:
        """The server's effective configuration (``session.created`` / ``.updated``)."""
        self.config = config
        self._formats = (input_format_of(config), _output_format_of(config))
        self._note_session_id(config.id)

    def _observe(self, event: RealtimeEvent) -> bool | None:
        if self._resumer is not None and self._resumer.observe(event) is False:
            return False
        if isinstance(event, SessionCreatedEvent | SessionUpdatedEvent):
            self._apply_config(event.session)
            created = isinstance(event, SessionCreatedEvent)
            self._session_reported(event.session.id, created=created, event=event)
        elif isinstance(event, ResponseCreatedEvent):
            response = event.response
            if response.conversation_id is not None and response.id is not None:
                self.active_response_id = response.id
        elif isinstance(event, ResponseDoneEvent):
            self._usage.add_response(event.response, self.config)
            response_id = event.response.id
            if response_id is not None and response_id == self.active_response_id:
                self.active_response_id = None
            self._response_done.resolve(response_id, event)
        elif isinstance(event, ConversationItemRetrievedEvent):
            self._retrievals.resolve(event.item.id, event)
        elif isinstance(event, InputAudioTranscriptionCompletedEvent):
            self._usage.add_transcription(event.usage, self.config)
        for kinds, callback in self._watchers:
            if type(event) in kinds:
                callback(event)
        return None

    async def _resume_on(self, transport: Transport, drop: Drop, attempt: int) -> None:
        assert self._resumer is not None
        await self._resumer.bring_up(transport, drop, attempt)

    def _connection_tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        tasks = super()._connection_tasks()
        if self._resumer is not None and self._resumer.policy.rollover_before is not None:
            tasks.append(self._resumer.watch_expiry)
        return tasks

    def usage(self) -> SessionUsage:
        """The token usage reported so far: every ``response.done`` and input transcription.

        Summed per model (the session's, and the transcription model's); estimate a cost
        with ``session.usage().cost(prices)``. A frozen snapshot; cheap to call.
        """
        return self._usage.snapshot()

    # -- watchers (the tool runner) -----------------------------------------------------

    def _watch(
        self, callback: Callable[[RealtimeEvent], None], kinds: frozenset[type[RealtimeEvent]]
    ) -> Callable[[], None]:
        """Call ``callback`` with each received event of ``kinds``, before it is delivered.

        It runs where events are received (the reader task, or the transport's callback
        on asyncio), after the session's own state is updated: it must neither block nor
        raise. Returns the function that stops it.
        """
        watcher = (kinds, callback)

        def watch(watchers: tuple[_Watcher, ...]) -> None:
            self._watchers = watchers
            self._set_observed(self._own_observed.union(*(item[0] for item in watchers)))

        watch((*self._watchers, watcher))
        return lambda: watch(tuple(item for item in self._watchers if item is not watcher))

    # -- sending ------------------------------------------------------------------

    def _serialise(self, event: RealtimeEvent | Mapping[str, Any]) -> tuple[str, str]:
        if isinstance(event, RealtimeEvent):
            return event.type, event.to_json()
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            raise TypeError(
                "expected a client event (e.g. trio_realtime.events.ResponseCreateEvent) "
                f"or a mapping with a string 'type', got {type(event).__name__}"
            )
        return event["type"], json.dumps(event, separators=(",", ":"))

    async def send(self, event: ClientEventBase | RealtimeEvent | Mapping[str, Any]) -> None:
        """Queue any client event (a typed event or a wire dict) for the writer.

        Waits while the lane is full. ``input_audio_buffer.commit`` / ``.clear`` keep
        their place after audio already queued; ``response.cancel`` and
        ``conversation.item.truncate`` go ahead of queued audio.

        Raises:
            TypeError: ``event`` is neither a client event nor a mapping with a ``type``.
            anyio.ClosedResourceError: the session was closed.
            RealtimeError: the session failed (the failure itself).
        """
        kind, text = self._serialise(event)
        if kind in _AUDIO_ORDERED:
            await self._send_barrier(text)
        else:
            await self._send_frame(text, urgent=kind in _URGENT)

    def send_nowait(self, event: ClientEventBase | RealtimeEvent | Mapping[str, Any]) -> None:
        """Like :meth:`send`, but raises ``anyio.WouldBlock`` instead of waiting."""
        kind, text = self._serialise(event)
        if kind in _AUDIO_ORDERED:
            self._send_barrier_nowait(text)
        else:
            self._send_frame_nowait(text, urgent=kind in _URGENT)

    # -- session ------------------------------------------------------------------

    async def update_session(
        self, session: SessionInput | None = None, **fields: Any
    ) -> SessionObject:
        """Change the session configuration and return the server's effective config.

        ``session`` is a :class:`~trio_realtime.events.SessionConfig` (or a dict);
        keyword fields are merged into it. ``type`` defaults to ``"realtime"``.

        Raises:
            ServerError: the server rejected the update (the whole update is discarded).
        """
        event_id = self._new_event_id()
        config = _session_object(session, fields, self._default_session_type)
        event = SessionUpdateEvent(event_id=event_id, session=config)
        updated: SessionUpdatedEvent = await self._request_update(event, event_id)
        return updated.session

    # -- conversation -------------------------------------------------------------

    async def send_user_message(
        self, text: str, *, create_response: bool = True, cancel_active: bool = False
    ) -> None:
        """Add a user text message to the conversation and (by default) ask for a response.

        With ``cancel_active=True`` a response in progress is cancelled first (and its
        ``response.done`` awaited), instead of the service's
        ``conversation_already_has_active_response`` error.
        """
        if cancel_active:
            await self.cancel_active_response()
        item = UserMessageItem(content=[{"type": "input_text", "text": text}])
        await self.send(ConversationItemCreateEvent(item=item))
        if create_response:
            await self.send(ResponseCreateEvent())

    async def create_response(
        self,
        response: ResponseCreateParams | Mapping[str, Any] | None = None,
        *,
        cancel_active: bool = False,
        **fields: Any,
    ) -> None:
        """Ask the model for a response; ``response``/``fields`` override session settings.

        With ``cancel_active=True`` a response in progress is cancelled first.
        """
        if cancel_active:
            await self.cancel_active_response()
        params: ResponseCreateParams | None = None
        if response is not None or fields:
            data = (
                response.model_dump(exclude_unset=True)
                if isinstance(response, ResponseCreateParams)
                else dict(response or {})
            )
            data.update(fields)
            params = ResponseCreateParams.model_validate(data)
        event = ResponseCreateEvent() if params is None else ResponseCreateEvent(response=params)
        await self.send(event)

    async def cancel_response(self, response_id: str | None = None) -> None:
        """Send ``response.cancel`` (for ``response_id``, or the response in progress)."""
        event = (
            ResponseCancelEvent()
            if response_id is None
            else ResponseCancelEvent(response_id=response_id)
        )
        await self.send(event)

    async def cancel_active_response(self) -> None:
        """Cancel the response in progress, if any, and wait for its ``response.done``."""
        response_id = self.active_response_id
        if response_id is None:
            return
        reply = self._response_done.expect(response_id)
        event_id = self._new_event_id()
        self._replies.expect_error(event_id, reply)
        try:
            await self.send(ResponseCancelEvent(event_id=event_id, response_id=response_id))
            await reply.settled()  # done, or response_cancel_not_active: it ended anyway
        finally:
            self._replies.forget_error(event_id)
            self._response_done.forget(response_id, reply)
        self._life.check_open()

    async def create_item(
        self,
        item: ConversationItem | Mapping[str, Any],
        *,
        previous_item_id: str | None = None,
    ) -> None:
        """Add an item to the conversation, after ``previous_item_id`` (``"root"``: first)."""
        fields: dict[str, Any] = {"item": item}
        if previous_item_id is not None:
            fields["previous_item_id"] = previous_item_id
        await self.send(ConversationItemCreateEvent(**fields))

    async def retrieve_item(self, item_id: str) -> ConversationItem:
        """Fetch the server's full copy of an item, audio included.

        Raises:
            ServerError: no such item.
        """
        event_id = self._new_event_id()
        reply = self._retrievals.expect(item_id)
        self._replies.expect_error(event_id, reply)
        try:
            await self.send(ConversationItemRetrieveEvent(event_id=event_id, item_id=item_id))
            return (await reply.wait()).item
        finally:
            self._replies.forget_error(event_id)
            self._retrievals.forget(item_id, reply)

    async def delete_item(self, item_id: str) -> None:
        """Remove an item from the conversation."""
        await self.send(ConversationItemDeleteEvent(item_id=item_id))

    async def truncate_item(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard).

        Goes ahead of queued audio.
        """
        await self.send(
            ConversationItemTruncateEvent(
                item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
            )
        )

    async def send_function_output(
        self, call_id: str, output: str | Any, *, create_response: bool = False
    ) -> None:
        """Return a function call's result (``output``; non-strings are sent as JSON).

        The model does not answer a function output by itself: pass
        ``create_response=True`` (or call :meth:`create_response`) to get its reply.
        """
        text = output if isinstance(output, str) else json.dumps(output)
        await self.create_item({"type": "function_call_output", "call_id": call_id, "output": text})
        if create_response:
            await self.send(ResponseCreateEvent())

    # -- audio ------------------------------------------------------------------------

    def _input_format(self) -> str:
        return self._formats[0]

    def output_format(self) -> str:
        """The session's output audio format: ``audio/pcm``, ``audio/pcmu`` or ``audio/pcma``."""
        return self._formats[1]

    def decode_audio(self, event: ResponseAudioDeltaEvent) -> npt.NDArray[np.int16]:
        """The audio of a delta as int16 samples, decoding G.711 when the session uses it."""
        return event.pcm16(self._formats[1])

    async def truncate_to_played(
        self, tracker: PlaybackTracker, *, cancel: bool | None = None
    ) -> tuple[str, int, int] | None:
        """Barge-in: cut the item being played at what the user actually heard.

        Sends ``conversation.item.truncate`` for the tracker's current item with
        ``audio_end_ms`` clamped to the audio actually received (so the service never
        answers "already shorter than"), and, if the response is still active, cancels
        it. ``cancel=None`` (the default) cancels only when the session's turn detection
        does not interrupt responses by itself (server or semantic VAD with
        ``interrupt_response`` on already did, and a second cancel would only earn a
        ``response_cancel_not_active`` error). Returns ``(item_id, content_index,
        audio_end_ms)``, or None when nothing is being played. Resets the tracker.
        """
        point = tracker.truncate_point()
        if point is None:
            return None
        if self._resumer is not None and not self._resumer.knows(point[0]):
            tracker.reset()  # played on a connection the session has left: nothing to cut
            return None
        if cancel is None:
            cancel = not self._vad_interrupts_responses()
        if cancel and self.active_response_id is not None:
            await self.cancel_response(self.active_response_id)
        await self.truncate_item(*point)
        tracker.reset()
        return point

    def _vad_interrupts_responses(self) -> bool:
        audio_config = getattr(self.config, "audio", None)
        turn = getattr(getattr(audio_config, "input", None), "turn_detection", None)
        if turn is None:
            return False
        return turn.type in ("server_vad", "semantic_vad") and turn.interrupt_response is not False

    async def commit_audio(self) -> None:
        """Commit the input audio buffer, after all audio queued before this call."""
        await self.send(InputAudioBufferCommitEvent())

    async def clear_audio(self) -> None:
        """Discard input audio: what is still queued here, and the server's buffer."""
        self._discard_local_audio()
        await self.send(InputAudioBufferClearEvent())


class TranscriptionSession(RealtimeSession):
    """A transcription-only session (``?intent=transcription``); made by
    :func:`open_transcription_session`.

    No responses: append audio (and commit it, unless turn detection does), and read
    ``conversation.item.input_audio_transcription.delta`` / ``.completed`` /
    ``.failed`` / ``.segment`` events. ``update_session`` defaults to
    ``type: "transcription"``.
    """

    _default_session_type = "transcription"


# -- sideband sessions (telephony: joined by call_id) ----------------------------------


def _output_format_of(config: object) -> str:
    """The output audio format of a session config (``audio/pcm`` unless G.711)."""
    audio_config = getattr(config, "audio", None)
    output = getattr(audio_config, "output", None)
    fmt = getattr(getattr(output, "format", None), "type", None)
    return fmt if isinstance(fmt, str) else "audio/pcm"

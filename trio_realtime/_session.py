"""Conversation sessions: ``open_realtime_session()`` and :class:`RealtimeSession`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from ._audio_input import input_format_of
from ._audio_session import AUDIO_BUFFER_MS, AUDIO_CHUNK_MS, AudioSession
from ._endpoint import AzureEndpoint, TokenProvider
from ._engine import (
    CLOSE_TIMEOUT,
    CONNECT_TIMEOUT,
    EVENT_BUFFER,
    MAX_MESSAGE_SIZE,
    Heartbeat,
    _Reply,
    open_engine,
)
from ._errors import RealtimeError
from ._interceptors import Interceptor, InterceptorChain
from ._transport import TransportFactory
from .audio import PlaybackTracker
from .events import (
    ClientEventBase,
    ConversationItem,
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrievedEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
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

__all__ = [
    "DEFAULT_MODEL",
    "RealtimeSession",
    "SidebandSession",
    "TranscriptionSession",
    "open_realtime_session",
    "open_transcription_session",
]

DEFAULT_MODEL = "gpt-realtime"
"""The model used when ``open_realtime_session`` is given none."""

_URGENT = frozenset({"response.cancel", "conversation.item.truncate", "output_audio_buffer.clear"})
_AUDIO_ORDERED = frozenset({"input_audio_buffer.commit", "input_audio_buffer.clear"})

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

    def __init__(
        self,
        *,
        heartbeat: Heartbeat | None,
        close_timeout: float,
        event_buffer: int,
        audio_buffer_ms: int,
        audio_chunk_ms: int,
        interceptors: InterceptorChain | None = None,
    ) -> None:
        super().__init__(
            parse=parse_server_event,
            heartbeat=heartbeat,
            close_timeout=close_timeout,
            event_buffer=event_buffer,
            audio_buffer_ms=audio_buffer_ms,
            audio_chunk_ms=audio_chunk_ms,
            interceptors=interceptors,
        )
        self.config: SessionObject | None = None
        """The effective configuration, from the latest ``session.created`` / ``updated``."""
        self._formats = ("audio/pcm", "audio/pcm")
        """The input and output audio formats of ``config`` (read once per config)."""
        self.active_response_id: str | None = None
        """The response in progress in the default conversation, if any."""
        self._response_done: dict[str, _Reply[ResponseDoneEvent]] = {}
        self._retrievals: dict[str, _Reply[ConversationItemRetrievedEvent]] = {}

    _default_session_type = "realtime"

    # -- state --------------------------------------------------------------------

    _observed: frozenset[type[RealtimeEvent]] = frozenset(
        (
            SessionCreatedEvent,
            SessionUpdatedEvent,
            ResponseCreatedEvent,
            ResponseDoneEvent,
            ConversationItemRetrievedEvent,
        )
    )

    def _observe(self, event: RealtimeEvent) -> None:
        if isinstance(event, SessionCreatedEvent | SessionUpdatedEvent):
            self.config = event.session
            self._formats = (input_format_of(self.config), _output_format_of(self.config))
            created = isinstance(event, SessionCreatedEvent)
            self._session_reported(event.session.id, created=created, event=event)
        elif isinstance(event, ResponseCreatedEvent):
            response = event.response
            if response.conversation_id is not None and response.id is not None:
                self.active_response_id = response.id
        elif isinstance(event, ResponseDoneEvent):
            response_id = event.response.id
            if response_id is not None:
                if response_id == self.active_response_id:
                    self.active_response_id = None
                waiter = self._response_done.pop(response_id, None)
                if waiter is not None:
                    waiter.resolve(event)
        elif isinstance(event, ConversationItemRetrievedEvent):
            waiter_r = self._retrievals.pop(event.item.id or "", None)
            if waiter_r is not None:
                waiter_r.resolve(event)

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
        reply = self._response_done.get(response_id)
        if reply is None:
            reply = self._response_done[response_id] = _Reply()
        event_id = self._new_event_id()
        self._expect_error(event_id, reply)
        try:
            await self.send(ResponseCancelEvent(event_id=event_id, response_id=response_id))
            await reply.done.wait()  # done, or response_cancel_not_active: it ended anyway
        finally:
            self._error_waiters.pop(event_id, None)
            self._response_done.pop(response_id, None)

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
        reply: _Reply[ConversationItemRetrievedEvent] = _Reply()
        self._retrievals[item_id] = reply
        self._expect_error(event_id, reply)
        try:
            await self.send(ConversationItemRetrieveEvent(event_id=event_id, item_id=item_id))
            return (await reply.wait()).item
        finally:
            self._error_waiters.pop(event_id, None)
            self._retrievals.pop(item_id, None)

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


class SidebandSession(RealtimeSession):
    """A session joined to a live SIP or WebRTC call by ``call_id``: control, not audio.

    Made by :func:`open_realtime_session` (``call_id=``). Instructions, tools, items,
    responses, function calls and the call's events (``input_audio_buffer.dtmf_event_received``,
    ``output_audio_buffer.started`` / ``stopped`` / ``cleared``) work as on any session;
    the caller's audio and the model's replies travel on the call's media leg, so the
    audio helpers raise :class:`~trio_realtime.RealtimeError` here.
    """

    def __init__(self, *, call_id: str, **options: Any) -> None:
        super().__init__(**options)
        self.call_id = call_id
        """The call this session controls."""

    def _refuse_audio(self, helper: str) -> NoReturn:
        raise RealtimeError(
            f"{helper}() is not available on the sideband session of call {self.call_id}:"
            " the call's media leg (SIP/WebRTC) carries the caller's audio and plays the"
            " model's; use a session opened with model= to send audio yourself"
        )

    async def append_audio(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio")

    def append_audio_nowait(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio_nowait")

    def append_audio_threadsafe(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio_threadsafe")

    async def truncate_to_played(
        self, tracker: PlaybackTracker, *, cancel: bool | None = None
    ) -> tuple[str, int, int] | None:
        """Not available on a sideband session (the service truncates what the caller
        did not hear itself): raises RealtimeError."""
        self._refuse_audio("truncate_to_played")


@asynccontextmanager
async def open_realtime_session(
    model: str | None = None,
    *,
    session: SessionInput | None = None,
    api_key: str | TokenProvider | None = None,
    url: str | None = None,
    azure: AzureEndpoint | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    heartbeat: Heartbeat | None = Heartbeat(),  # noqa: B008 - frozen
    connect_timeout: float = CONNECT_TIMEOUT,
    close_timeout: float = CLOSE_TIMEOUT,
    event_buffer: int = EVENT_BUFFER,
    max_message_size: int = MAX_MESSAGE_SIZE,
    audio_buffer_ms: int = AUDIO_BUFFER_MS,
    audio_chunk_ms: int = AUDIO_CHUNK_MS,
    transport: str | TransportFactory | None = None,
    interceptors: Sequence[Interceptor] = (),
    call_id: str | None = None,
) -> AsyncIterator[RealtimeSession]:
    """Open a Realtime conversation session: ``async with open_realtime_session(...) as s:``.

    Entering connects, waits for ``session.created`` and, with ``session=``, sends it as
    ``session.update`` and waits for ``session.updated``, all within
    ``connect_timeout``. The block runs beside the session's reader, writer and
    heartbeat tasks; leaving it closes the connection (close 1000 within
    ``close_timeout``), also on error or cancellation.

    ``api_key`` defaults to ``OPENAI_API_KEY`` (an ephemeral ``ek_`` secret works, and so
    does a callable returning one); ``url`` to ``OPENAI_WEBSOCKET_BASE_URL`` /
    ``OPENAI_BASE_URL`` / ``wss://api.openai.com/v1`` (a base URL gets ``/realtime``
    appended; the local emulator's ``emulator.url`` works as is). ``heartbeat=None``
    turns pings off. Audio waits locally up to ``audio_buffer_ms`` and goes out in
    frames of ``audio_chunk_ms``.

    ``call_id`` (from a ``realtime.call.incoming`` webhook, after
    ``client.calls.accept``) joins that call's session as its sideband instead
    (``?call_id=`` replaces ``?model=``): the session is a :class:`SidebandSession`.

    The block raises exactly one exception, never a group: its own exception
    unchanged, a cancellation from outside unchanged, or one of the errors below. A
    failure carries what was queued but not written in ``.unsent``.

    Raises:
        ConnectError: the connection could not be opened (DNS, TCP, TLS, handshake).
        AuthenticationError: the service refused the credentials.
        ConnectTimeout: no session within ``connect_timeout``.
        SessionClosed: the server closed with a code other than 1000.
        HeartbeatTimeout: the peer stopped answering pings.
        ServerError: the initial ``session=`` was rejected.
        InterceptorError: an interceptor's hook raised.
    """
    options: dict[str, Any] = {
        "heartbeat": heartbeat,
        "close_timeout": close_timeout,
        "event_buffer": event_buffer,
        "audio_buffer_ms": audio_buffer_ms,
        "audio_chunk_ms": audio_chunk_ms,
        "interceptors": InterceptorChain(interceptors),
    }
    if call_id is not None and (not isinstance(call_id, str) or not call_id):
        raise ValueError(f"call_id must be a non-empty string, got {call_id!r}")
    async with open_engine(
        (lambda: SidebandSession(call_id=call_id, **options))
        if call_id
        else (lambda: RealtimeSession(**options)),
        path="realtime",
        query=(
            {"call_id": call_id}
            if call_id
            else {"model": model or (None if azure is not None else DEFAULT_MODEL)}
        ),
        session=session,
        api_key=api_key,
        url=url,
        azure=azure,
        headers=headers,
        max_message_size=max_message_size,
        connect_timeout=connect_timeout,
        transport=transport,
    ) as opened:
        yield opened


@asynccontextmanager
async def open_transcription_session(
    *,
    session: SessionInput | None = None,
    api_key: str | TokenProvider | None = None,
    url: str | None = None,
    azure: AzureEndpoint | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    heartbeat: Heartbeat | None = Heartbeat(),  # noqa: B008 - frozen
    connect_timeout: float = CONNECT_TIMEOUT,
    close_timeout: float = CLOSE_TIMEOUT,
    event_buffer: int = EVENT_BUFFER,
    max_message_size: int = MAX_MESSAGE_SIZE,
    audio_buffer_ms: int = AUDIO_BUFFER_MS,
    audio_chunk_ms: int = AUDIO_CHUNK_MS,
    transport: str | TransportFactory | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> AsyncIterator[TranscriptionSession]:
    """Open a transcription session: ``async with open_transcription_session(...) as s:``.

    Connects with ``?intent=transcription`` (no model); ``session`` (a
    :class:`~trio_realtime.events.TranscriptionSessionConfig` or a dict: transcription
    model, language, prompt, delay, turn detection or ``None`` for manual commit, noise
    reduction, ``include`` for logprobs) is sent as ``session.update`` before the block
    starts. Options, closing rules and exceptions are those of
    :func:`open_realtime_session`.
    """
    async with open_engine(
        lambda: TranscriptionSession(
            heartbeat=heartbeat,
            close_timeout=close_timeout,
            event_buffer=event_buffer,
            audio_buffer_ms=audio_buffer_ms,
            audio_chunk_ms=audio_chunk_ms,
            interceptors=InterceptorChain(interceptors),
        ),
        path="realtime",
        query={"intent": "transcription"},
        session=session,
        api_key=api_key,
        url=url,
        azure=azure,
        headers=headers,
        max_message_size=max_message_size,
        connect_timeout=connect_timeout,
        transport=transport,
    ) as opened:
        yield opened


def _output_format_of(config: object) -> str:
    """The output audio format of a session config (``audio/pcm`` unless G.711)."""
    audio_config = getattr(config, "audio", None)
    output = getattr(audio_config, "output", None)
    fmt = getattr(getattr(output, "format", None), "type", None)
    return fmt if isinstance(fmt, str) else "audio/pcm"

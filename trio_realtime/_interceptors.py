"""Interceptors: hooks into a session's connect, send, receive and close.

An interceptor overrides any of :class:`Interceptor`'s hooks, sync or async. They run in
order, inside the session's own tasks: ``on_send`` in the writer just before a frame is
written, ``on_receive`` in the reader just after an event is parsed, so a slow hook
slows its own direction only. A hook that raises ends the session: the ``async with``
raises :class:`~trio_realtime.InterceptorError` with the hook's exception as the cause.
With no interceptor installed nothing here runs at all.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import IO, Any, Protocol, TypeAlias

from ._recording import RecordingEntry, RecordingWriter, redact_url
from ._transport import ConnectRequest
from ._usage import TokenUsage
from .events import (
    ConversationItemCreateEvent,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioBufferCommitEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeEvent,
    ResponseAudioDeltaEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseDoneEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    SessionCreatedEvent,
)

__all__ = [
    "HOOKS",
    "HasOnClose",
    "HasOnConnect",
    "HasOnReceive",
    "HasOnSend",
    "Interceptor",
    "InterceptorChain",
    "InterceptorLike",
    "LoggingInterceptor",
    "MetricsInterceptor",
    "MetricsSummary",
    "RecordingInterceptor",
    "TurnMetrics",
]

_SECRET_HEADERS = frozenset({"authorization", "api-key", "openai-organization", "openai-project"})

_ConnectHook = Callable[[ConnectRequest], ConnectRequest | Awaitable[ConnectRequest]]
_EventHook = Callable[[RealtimeEvent], RealtimeEvent | Awaitable[RealtimeEvent | None] | None]
_CloseHook = Callable[[int, str], Awaitable[None] | None]


class Interceptor:
    """Base class of interceptors: every hook passes its input through unchanged.

    Override the hooks you need; each may be a plain or an ``async`` method.
    """

    def on_connect(self, request: ConnectRequest) -> ConnectRequest | Awaitable[ConnectRequest]:
        """Called before connecting; may return a changed request (URL, headers)."""
        return request

    def on_send(
        self, event: RealtimeEvent
    ) -> RealtimeEvent | Awaitable[RealtimeEvent | None] | None:
        """Called just before a client event is written; return it (changed) or None to drop it."""
        return event

    def on_receive(
        self, event: RealtimeEvent
    ) -> RealtimeEvent | Awaitable[RealtimeEvent | None] | None:
        """Called when an event arrived; return it (changed) or None to hide it from the user."""
        return event

    def on_close(self, code: int, reason: str) -> Awaitable[None] | None:
        """Called once when the connection closes, with the close code and reason."""
        return None


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class HasOnConnect(Protocol):
    """Any object with an ``on_connect`` hook is an interceptor."""

    def on_connect(self, request: ConnectRequest, /) -> Any:
        """As :meth:`Interceptor.on_connect`."""


class HasOnSend(Protocol):
    """Any object with an ``on_send`` hook is an interceptor."""

    def on_send(self, event: RealtimeEvent, /) -> Any:
        """As :meth:`Interceptor.on_send`."""


class HasOnReceive(Protocol):
    """Any object with an ``on_receive`` hook is an interceptor."""

    def on_receive(self, event: RealtimeEvent, /) -> Any:
        """As :meth:`Interceptor.on_receive`."""


class HasOnClose(Protocol):
    """Any object with an ``on_close`` hook is an interceptor."""

    def on_close(self, code: int, reason: str, /) -> Any:
        """As :meth:`Interceptor.on_close`."""


InterceptorLike: TypeAlias = Interceptor | HasOnConnect | HasOnSend | HasOnReceive | HasOnClose
"""What ``interceptors=`` takes: an :class:`Interceptor`, or any object with some of its hooks."""

HOOKS = ("on_connect", "on_send", "on_receive", "on_close")
"""The hooks an interceptor may have (any subset; each sync or async)."""


def _hook(interceptor: object, name: str) -> Callable[..., Any] | None:
    """The interceptor's hook ``name``, or None where it has none (or the base's pass-through)."""
    if getattr(type(interceptor), name, None) is getattr(Interceptor, name):
        return None
    hook = getattr(interceptor, name, None)
    if hook is not None and not callable(hook):
        raise TypeError(f"{name} of {interceptor!r} is not callable")
    return hook


class InterceptorChain:
    """The installed interceptors, with each hook list computed once.

    Raises:
        TypeError: an object that is not an :class:`Interceptor` and has none of the hooks.
    """

    def __init__(self, interceptors: Sequence[InterceptorLike] = ()) -> None:
        self.interceptors: tuple[InterceptorLike, ...] = tuple(interceptors)
        hooks: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOKS}
        for interceptor in self.interceptors:
            found = {name: _hook(interceptor, name) for name in HOOKS}
            if not isinstance(interceptor, Interceptor) and not any(found.values()):
                raise TypeError(
                    f"{interceptor!r} is not an interceptor: it has none of the hooks "
                    f"{', '.join(HOOKS)} (subclass trio_realtime.Interceptor, or define some)"
                )
            for name, hook in found.items():
                if hook is not None:
                    hooks[name].append(hook)
        self.connect_hooks: list[_ConnectHook] = hooks["on_connect"]
        self.send_hooks: list[_EventHook] = hooks["on_send"]
        self.receive_hooks: list[_EventHook] = hooks["on_receive"]
        self.close_hooks: list[_CloseHook] = hooks["on_close"]

    async def connect(self, request: ConnectRequest) -> ConnectRequest:
        """Pass the request through every ``on_connect`` hook, in order."""
        for hook in self.connect_hooks:
            request = await _call(hook, request)
        return request

    async def send(self, event: RealtimeEvent) -> RealtimeEvent | None:
        """Pass a client event through every ``on_send`` hook; ``None`` if one dropped it."""
        for hook in self.send_hooks:
            result: RealtimeEvent | None = await _call(hook, event)
            if result is None:
                return None
            event = result
        return event

    async def receive(self, event: RealtimeEvent) -> RealtimeEvent | None:
        """Pass a server event through every ``on_receive`` hook; ``None`` if one hid it."""
        for hook in self.receive_hooks:
            result: RealtimeEvent | None = await _call(hook, event)
            if result is None:
                return None
            event = result
        return event

    async def close(self, code: int, reason: str) -> None:
        """Call every ``on_close`` hook with the close code and reason."""
        for hook in self.close_hooks:
            await _call(hook, code, reason)


# -- logging ------------------------------------------------------------------------------


def _audio_summary(value: str) -> str:
    return f"<{len(value) * 3 // 4} bytes of audio>"


def summarise(obj: Any, *, audio_delta: bool = False) -> Any:
    """The wire object with base64 audio replaced by its size (for logs)."""
    if isinstance(obj, dict):
        kind = obj.get("type")
        is_audio_delta = isinstance(kind, str) and kind.endswith(("audio.delta",))
        out = {}
        for key, value in obj.items():
            if isinstance(value, str) and (key == "audio" or (key == "delta" and is_audio_delta)):
                out[key] = _audio_summary(value)
            else:
                out[key] = summarise(value)
        return out
    if isinstance(obj, list):
        return [summarise(value) for value in obj]
    return obj


class LoggingInterceptor(Interceptor):
    """Logs every frame at DEBUG on ``trio_realtime.wire``: audio as its size, keys redacted."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger: logging.Logger = logger or logging.getLogger("trio_realtime.wire")

    def on_connect(self, request: ConnectRequest) -> ConnectRequest:
        """Log the URL and headers, with the secret ones redacted."""
        if self.logger.isEnabledFor(logging.DEBUG):
            headers = {
                name: ("***" if name.lower() in _SECRET_HEADERS else value)
                for name, value in request.headers
            }
            self.logger.debug("connect %s headers=%s", redact_url(request.url), headers)
        return request

    def on_send(self, event: RealtimeEvent) -> RealtimeEvent:
        """Log the client event, audio as its size."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("send %s", json.dumps(summarise(event.to_dict())))
        return event

    def on_receive(self, event: RealtimeEvent) -> RealtimeEvent:
        """Log the server event, audio as its size."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("recv %s", json.dumps(summarise(event.to_dict())))
        return event

    def on_close(self, code: int, reason: str) -> None:
        """Log the close code and reason."""
        self.logger.debug("closed %d %s", code, reason)


# -- recording ----------------------------------------------------------------------------


class RecordingInterceptor(Interceptor):
    """Records every frame both ways to a JSONL file (read it with ``read_recording``).

    Each line after a header is ``{"t", "dir": "send" | "recv", "session_id", "event"}``
    with ``t`` in seconds since connect; the last is the close (``"dir": "close"``, its
    code and reason; who sent it first is not known here, so a replay reproduces it
    unless its code is 1000). Audio is kept, so a call can be reproduced
    (``trio-realtime serve --replay FILE``); the API key never is. A ``{n}`` in
    ``path`` numbers the sessions of one interceptor (1, 2, ...); without it, later
    sessions are appended after the first.
    """

    def __init__(self, path: str | Path) -> None:
        self.path: str = str(path)
        self.sessions: int = 0
        self._writer: RecordingWriter | None = None
        self._file: IO[str] | None = None
        self._start = 0.0
        self._session_id: str | None = None

    def on_connect(self, request: ConnectRequest) -> ConnectRequest:
        """Open the recording file of this session and write its header."""
        self.sessions += 1
        path = self.path.format(n=self.sessions) if "{n}" in self.path else self.path
        self._file = open(path, "a" if path == self.path and self.sessions > 1 else "w")  # noqa: SIM115
        url = request.url
        kind = (
            "translation"
            if "/translations" in url
            else "transcription"
            if "intent=transcription" in url
            else "realtime"
        )
        self._start = time.monotonic()
        self._writer = RecordingWriter(self._file, kind=kind, url=url, started_at=time.time())
        self._session_id = None
        return request

    def _record(self, direction: str, event: RealtimeEvent) -> None:
        if self._writer is not None:
            self._writer.write(
                time.monotonic() - self._start,
                "send" if direction == "send" else "recv",
                event.to_dict(),
                self._session_id,
            )

    def on_send(self, event: RealtimeEvent) -> RealtimeEvent:
        """Record the client event."""
        self._record("send", event)
        return event

    def on_receive(self, event: RealtimeEvent) -> RealtimeEvent:
        """Record the server event (``session.created`` gives the session id)."""
        if isinstance(event, SessionCreatedEvent):
            self._session_id = event.session.id
        self._record("recv", event)
        return event

    def on_close(self, code: int, reason: str) -> None:
        """Record the close, then close the recording file."""
        if self._writer is not None:
            close = RecordingEntry.for_close(time.monotonic() - self._start, code, reason, None)
            self._writer.write(close.t, close.dir, close.event, self._session_id)
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


# -- metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnMetrics:
    """The latency figures of one response, in milliseconds.

    ``turn_end`` is the end of the user's turn: the server's ``speech_stopped`` or the
    client's commit / ``response.create``, whichever came last before the response.
    """

    response_id: str | None
    status: str | None
    first_audio_ms: float | None
    """Turn end to the first audio delta."""
    first_text_ms: float | None
    """Turn end to the first text or transcript delta."""
    duration_ms: float
    """``response.created`` to ``response.done``."""
    usage: TokenUsage = field(default_factory=TokenUsage)
    """The tokens the response used, as its ``response.done`` reported them."""
    tool_ms: float | None = None
    """Time spent in tools before this response: from the first ``function_call`` item
    done to the last ``function_call_output`` sent (None: no tool output came first)."""


@dataclass(frozen=True)
class MetricsSummary:
    """Medians and worst cases over the turns seen so far."""

    turns: int
    median_first_audio_ms: float | None
    max_first_audio_ms: float | None
    median_first_text_ms: float | None
    median_duration_ms: float | None
    usage: TokenUsage = field(default_factory=TokenUsage)
    """The turns' token usage, summed."""
    median_tool_ms: float | None = None
    """Over the turns that followed tool calls."""


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


@dataclass
class _Turn:
    end: float
    created: float | None = None
    response_id: str | None = None
    first_audio: float | None = None
    first_text: float | None = None
    tool_ms: float | None = None


class MetricsInterceptor(Interceptor):
    """Measures the voice-agent latencies of every turn.

    Each finished response becomes a :class:`TurnMetrics` in :attr:`turns` and is passed
    to ``on_turn`` (for your metrics system); :meth:`statistics` summarises them.
    ``clock`` is the time source in seconds (default ``time.monotonic``).
    """

    def __init__(
        self,
        on_turn: Callable[[TurnMetrics], object] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_turn = on_turn
        self.turns: list[TurnMetrics] = []
        self._clock = clock
        self._turn: _Turn | None = None
        self._tools_start: float | None = None
        self._tools_end: float | None = None

    def _turn_ended(self) -> None:
        if self._turn is None or self._turn.created is not None:
            self._turn = _Turn(end=self._clock())
        else:
            self._turn.end = self._clock()

    def on_send(self, event: RealtimeEvent) -> RealtimeEvent:
        """Note the end of the user's turn (a commit or ``response.create``)."""
        if isinstance(event, InputAudioBufferCommitEvent | ResponseCreateEvent):
            self._turn_ended()
        elif isinstance(event, ConversationItemCreateEvent) and isinstance(
            event.item, FunctionCallOutputItem
        ):
            self._tools_end = self._clock()
        return event

    def on_receive(self, event: RealtimeEvent) -> RealtimeEvent:
        """Time the response: created, first audio, first text, done."""
        now = self._clock()
        if isinstance(event, InputAudioBufferSpeechStoppedEvent):
            self._turn_ended()
        elif isinstance(event, ResponseCreatedEvent):
            if self._turn is None or self._turn.created is not None:
                self._turn = _Turn(end=now)
            self._turn.created = now
            self._turn.response_id = event.response.id
            if self._tools_start is not None and self._tools_end is not None:
                self._turn.tool_ms = (self._tools_end - self._tools_start) * 1000
                self._tools_start = self._tools_end = None
        elif isinstance(event, ResponseOutputItemDoneEvent):
            if isinstance(event.item, FunctionCallItem) and self._tools_start is None:
                self._tools_start = now
        elif self._turn is not None and self._turn.created is not None:
            if isinstance(event, ResponseAudioDeltaEvent):
                self._turn.first_audio = self._turn.first_audio or now
            elif isinstance(event, ResponseTextDeltaEvent | ResponseAudioTranscriptDeltaEvent):
                self._turn.first_text = self._turn.first_text or now
            elif isinstance(event, ResponseDoneEvent):
                self._finish(event, now)
        return event

    def _finish(self, event: ResponseDoneEvent, now: float) -> None:
        turn = self._turn
        assert turn is not None and turn.created is not None

        def since_end(moment: float | None) -> float | None:
            return None if moment is None else (moment - turn.end) * 1000

        metrics = TurnMetrics(
            response_id=turn.response_id,
            status=event.response.status,
            first_audio_ms=since_end(turn.first_audio),
            first_text_ms=since_end(turn.first_text),
            duration_ms=(now - turn.created) * 1000,
            usage=TokenUsage.from_report(event.response.usage),
            tool_ms=turn.tool_ms,
        )
        self.turns.append(metrics)
        self._turn = None
        if self.on_turn is not None:
            self.on_turn(metrics)

    def statistics(self) -> MetricsSummary:
        """Medians and worst cases over :attr:`turns`."""
        audio = [t.first_audio_ms for t in self.turns if t.first_audio_ms is not None]
        text = [t.first_text_ms for t in self.turns if t.first_text_ms is not None]
        return MetricsSummary(
            turns=len(self.turns),
            median_first_audio_ms=_median(audio),
            max_first_audio_ms=max(audio) if audio else None,
            median_first_text_ms=_median(text),
            median_duration_ms=_median([t.duration_ms for t in self.turns]),
            usage=sum((t.usage for t in self.turns), TokenUsage()),
            median_tool_ms=_median([t.tool_ms for t in self.turns if t.tool_ms is not None]),
        )

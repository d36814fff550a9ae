"""Translation sessions (``/v1/realtime/translations``) on the shared engine.

Audio goes in continuously; translated audio and transcripts come out. There is no
conversation: the helpers are ``append_audio``, ``update_session`` and the graceful
``close_session``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Unpack

import anyio

from . import audio
from ._audio_session import AudioSession
from ._engine import DRAIN_TIMEOUT, TranslationOptions, open_engine, resolve
from ._usage import SessionUsage, UsageLedger
from .events import (
    TRANSLATION_SERVER_EVENT_CLASSES,
    RealtimeEvent,
    TranslationInputTranscriptDeltaEvent,
    TranslationOutputAudioDeltaEvent,
    TranslationOutputTranscriptDeltaEvent,
    TranslationSession,
    TranslationSessionClosedEvent,
    TranslationSessionConfig,
    TranslationSessionCreatedEvent,
    TranslationSessionUpdatedEvent,
    TranslationSessionUpdateEvent,
    parse_translation_server_event,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_TRANSLATION_MODEL",
    "DRAIN_TIMEOUT",
    "TRANSLATION_CHUNK_MS",
    "TranslationResult",
    "TranslationSegment",
    "RealtimeTranslationSession",
    "open_translation_session",
]

DEFAULT_TRANSLATION_MODEL = "gpt-realtime-translate"
TRANSLATION_CHUNK_MS = 200
"""The service processes translation audio in 200 ms frames (9,600 bytes at 24 kHz)."""
TranslationInput = TranslationSessionConfig | Mapping[str, Any]


class RealtimeTranslationSession(AudioSession):
    """An open translation session; made by :func:`open_translation_session`.

    Receive with ``async for event in t`` (translation events from
    :mod:`trio_realtime.events`); send audio with :meth:`append_audio`. End gracefully
    with :meth:`close_session` while something keeps consuming the events.
    """

    _append_type = "session.input_audio_buffer.append"

    def __init__(self, options: TranslationOptions) -> None:
        super().__init__(
            parse=parse_translation_server_event,
            classes=TRANSLATION_SERVER_EVENT_CLASSES,
            options=options,
            audio_chunk_ms=TRANSLATION_CHUNK_MS,
        )
        self.config: TranslationSession | None = None
        """The session as the server last reported it."""
        self._session_closed = anyio.Event()
        self._drain_timeout = options["drain_timeout"]

    _observed: frozenset[type[RealtimeEvent]] = frozenset(
        (
            TranslationSessionCreatedEvent,
            TranslationSessionUpdatedEvent,
            TranslationSessionClosedEvent,
        )
    )

    def _observe(self, event: RealtimeEvent) -> None:
        if isinstance(event, TranslationSessionCreatedEvent | TranslationSessionUpdatedEvent):
            self.config = event.session
            created = isinstance(event, TranslationSessionCreatedEvent)
            self._session_reported(event.session.id, created=created, event=event)
        elif isinstance(event, TranslationSessionClosedEvent):
            self._session_closed.set()

    def usage(self) -> SessionUsage:
        """What this session used: the seconds of audio sent, filed under its model.

        The translation service reports no token usage; the audio sent is what a
        per-minute price applies to (``ModelPrice.audio_minute``). A frozen snapshot.
        """
        return UsageLedger.for_audio(self.config, self.statistics().audio_sent_ms / 1000)

    async def update_session(
        self, session: TranslationInput | None = None, **fields: Any
    ) -> TranslationSession:
        """Change the target language, transcription or noise reduction; returns the session.

        Omitted fields keep their value; to turn transcription or noise reduction off,
        pass ``None`` explicitly (e.g. ``{"audio": {"input": {"noise_reduction": None}}}``).

        Raises:
            ServerError: the server rejected the update.
        """
        if isinstance(session, TranslationSessionConfig) and not fields:
            config = session
        else:
            data = (
                session.model_dump(exclude_unset=True)
                if isinstance(session, TranslationSessionConfig)
                else dict(session or {})
            )
            data.update(fields)
            config = TranslationSessionConfig.model_validate(data)
        event_id = self._new_event_id()
        event = TranslationSessionUpdateEvent(event_id=event_id, session=config)
        updated: TranslationSessionUpdatedEvent = await self._request_update(event, event_id)
        return updated.session

    async def set_language(self, language: str) -> TranslationSession:
        """Change the target language (e.g. ``"es"``) mid-session."""
        return await self.update_session({"audio": {"output": {"language": language}}})

    async def close_session(self) -> bool:
        """End gracefully: send ``session.close`` after all queued audio, await ``session.closed``.

        The server flushes what it has pending; keep consuming events (in another task)
        until the stream ends, which it does when the server closes the socket after
        ``session.closed``. Returns False if ``session.closed`` did not come within the
        session's ``drain_timeout`` (the block's end then closes it the abrupt way).
        """
        await self._send_barrier(json.dumps({"type": "session.close"}))
        with anyio.move_on_after(self._drain_timeout):
            await self._session_closed.wait()
        return self._session_closed.is_set()


@dataclass(frozen=True)
class TranslationSegment:
    """What was said and its translation within one ``elapsed_ms`` step of the source."""

    elapsed_ms: int | None
    source: str
    target: str


@dataclass
class TranslationResult:
    """Collects a translation's output: ``result.add(event)`` for every event received.

    Gives the translated audio as int16 samples (or a WAV), the source and target
    transcripts as text, and both aligned by ``elapsed_ms``.
    """

    sample_rate: int = 24000
    _chunks: list[npt.NDArray[np.int16]] = field(default_factory=list)
    _source: list[tuple[int | None, str]] = field(default_factory=list)
    _target: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, event: RealtimeEvent) -> None:
        """Take one event; events that carry no output are ignored."""
        if isinstance(event, TranslationOutputAudioDeltaEvent):
            self._chunks.append(event.pcm16())
            if event.sample_rate:
                self.sample_rate = event.sample_rate
        elif isinstance(event, TranslationOutputTranscriptDeltaEvent):
            self._target.append((event.elapsed_ms, event.delta))
        elif isinstance(event, TranslationInputTranscriptDeltaEvent):
            self._source.append((event.elapsed_ms, event.delta))

    @property
    def audio(self) -> npt.NDArray[np.int16]:
        """The translated audio so far, mono int16 at ``sample_rate``."""
        import numpy as np  # here, not at import: `import trio_realtime` stays fast

        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)

    @property
    def source_text(self) -> str:
        """The transcript of the source audio (when transcription is configured)."""
        return "".join(delta for _, delta in self._source)

    @property
    def target_text(self) -> str:
        """The transcript of the translation."""
        return "".join(delta for _, delta in self._target)

    def segments(self) -> list[TranslationSegment]:
        """Source and target text grouped by ``elapsed_ms``, in order."""
        order: list[int | None] = []
        source: dict[int | None, list[str]] = {}
        target: dict[int | None, list[str]] = {}
        for table, deltas in ((source, self._source), (target, self._target)):
            for elapsed, delta in deltas:
                if elapsed not in source and elapsed not in target:
                    order.append(elapsed)
                table.setdefault(elapsed, []).append(delta)
        order.sort(key=lambda elapsed: -1 if elapsed is None else elapsed)
        return [
            TranslationSegment(e, "".join(source.get(e, [])), "".join(target.get(e, [])))
            for e in order
        ]

    def write_wav(self, path_or_file: str | Path | BinaryIO) -> None:
        """Write the translated audio as a 16-bit mono WAV."""
        audio.write_wav(path_or_file, self.audio, self.sample_rate)


@asynccontextmanager
async def open_translation_session(
    model: str = DEFAULT_TRANSLATION_MODEL,
    *,
    session: TranslationInput | None = None,
    **options: Unpack[TranslationOptions],
) -> AsyncIterator[RealtimeTranslationSession]:
    """Open a Realtime translation session: ``async with open_translation_session(...) as t:``.

    ``session`` (a :class:`~trio_realtime.events.TranslationSessionConfig` or a dict)
    is sent as ``session.update`` once ``session.created`` arrived, and the block starts
    after ``session.updated``. Audio goes out in the service's 200 ms frames;
    ``close_session()`` waits up to ``drain_timeout`` for the last output. The other
    options, the closing rules and the exceptions are those of
    :func:`~trio_realtime.open_realtime_session`.

    Raises:
        ValueError: ``azure=`` without ``url=``: the Azure translation endpoint is not
            documented (the official client refuses it); pass its ``url=`` if you have one.
    """
    resolved = resolve(TranslationOptions, options)
    if resolved["azure"] is not None and resolved["url"] is None:
        raise ValueError(
            "translation sessions over Azure have no documented endpoint (the official "
            "client refuses them): pass url= with your resource's translation WebSocket URL"
        )
    async with open_engine(
        RealtimeTranslationSession,
        resolved,
        path="realtime/translations",
        query={"model": model},
        session=session,
    ) as opened:
        yield opened

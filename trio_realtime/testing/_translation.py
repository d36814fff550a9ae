"""Translation sessions (``/v1/realtime/translations``): audio in, translated audio out.

Input is processed in 200 ms frames (9600 bytes of PCM16 at 24 kHz). Each frame yields
translated audio (voice-like where the frame holds speech, silence elsewhere), a word of
the target-language transcript per speech frame and, when transcription is configured, a
word of the source transcript; ``elapsed_ms`` advances 200 ms a frame.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import (
    RealtimeEvent,
    TranslationInputAudioBufferAppendEvent,
    TranslationInputTranscriptDeltaEvent,
    TranslationOutputAudioDeltaEvent,
    TranslationOutputTranscriptDeltaEvent,
    TranslationSession,
    TranslationSessionClosedEvent,
    TranslationSessionCreatedEvent,
    TranslationSessionUpdatedEvent,
    TranslationSessionUpdateEvent,
    WireModel,
    parse_translation_client_event,
)
from ._apierrors import ApiError
from ._link import Link
from ._validators import enum, nullable, number, object_of, string

__all__ = ["TranslationSessionState", "apply_translation_update", "default_translation_session"]

_FRAME_BYTES = 9600
_FRAME_MS = 200
_SPEECH_FRACTION = 0.3
_SOURCE_WORDS = [
    "hello",
    "this",
    "is",
    "a",
    "test",
    "of",
    "the",
    "realtime",
    "translation",
    "emulator",
]
_TARGET_WORDS = {
    "es": [
        "hola",
        "esto",
        "es",
        "una",
        "prueba",
        "del",
        "emulador",
        "de",
        "traducción",
        "en",
        "tiempo",
        "real",
    ],
    "fr": [
        "bonjour",
        "ceci",
        "est",
        "un",
        "essai",
        "de",
        "l'émulateur",
        "de",
        "traduction",
        "en",
        "temps",
        "réel",
    ],
    "de": ["hallo", "das", "ist", "ein", "Test", "des", "Übersetzungsemulators", "in", "Echtzeit"],
    "it": [
        "ciao",
        "questa",
        "è",
        "una",
        "prova",
        "dell'emulatore",
        "di",
        "traduzione",
        "in",
        "tempo",
        "reale",
    ],
    "pt": [
        "olá",
        "isto",
        "é",
        "um",
        "teste",
        "do",
        "emulador",
        "de",
        "tradução",
        "em",
        "tempo",
        "real",
    ],
}
_TRANSLATION_UPDATE = object_of(
    {
        "audio": object_of(
            {
                "input": object_of(
                    {
                        "transcription": nullable(
                            object_of({"model": string, "language": string}, required=("model",))
                        ),
                        "noise_reduction": nullable(
                            object_of(
                                {"type": enum("near_field", "far_field"), "strength": number(0.0)},
                                required=("type",),
                            )
                        ),
                    }
                ),
                "output": object_of({"language": string}),
            }
        )
    }
)


@functools.cache
def _translated_voice() -> npt.NDArray[np.int16]:
    from ..audio import voice_like

    return voice_like(10_000, seed=11, pitch_hz=200.0)


class TranslationSessionState:
    """The state machine of a translation connection."""

    supported = frozenset({"session.update", "session.input_audio_buffer.append", "session.close"})
    checks_events = True

    def __init__(self, link: Link, *, config: dict[str, Any] | None = None) -> None:
        self.link = link
        session_id = link.ids.make("sess_")
        expires_at = int(time.time() + link.options.session_max_s)
        if config is not None:
            self.config: dict[str, Any] = {
                **copy.deepcopy(config),
                "id": session_id,
                "expires_at": expires_at,
            }
        else:
            self.config = default_translation_session(
                session_id, link.model or "gpt-realtime-translate", expires_at
            )
        self._pending = bytearray()
        self._frames = 0
        self._speech_frames = 0
        self._closed = False

    def parse(self, obj: dict[str, Any]) -> RealtimeEvent:
        return parse_translation_client_event(obj)

    def config_model(self) -> WireModel:
        return TranslationSession.model_validate(self.config)

    async def start(self) -> None:
        await self.link.emit(TranslationSessionCreatedEvent, session=self.config)

    async def handle(self, event: RealtimeEvent, raw: dict[str, Any]) -> None:
        if self._closed:
            return
        if isinstance(event, TranslationSessionUpdateEvent):
            self.config = apply_translation_update(self.config, raw.get("session"))
            await self.link.emit(TranslationSessionUpdatedEvent, session=self.config)
        elif isinstance(event, TranslationInputAudioBufferAppendEvent):
            await self._append(event.audio)
        elif event.type == "session.close":
            self._closed = True
            if self._pending:
                frame = bytes(self._pending) + bytes(_FRAME_BYTES - len(self._pending))
                self._pending.clear()
                await self._frame(frame)
            await self.link.emit(TranslationSessionClosedEvent)
            await self.link.close(1000, "")

    async def _append(self, audio: str) -> None:
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(
                "invalid_value", "Invalid 'audio': expected base64-encoded audio data.", "audio"
            ) from exc
        self.link.record.input_audio_bytes += len(data)
        self._pending += data
        while len(self._pending) >= _FRAME_BYTES:
            frame = bytes(self._pending[:_FRAME_BYTES])
            del self._pending[:_FRAME_BYTES]
            await self._frame(frame)

    async def _frame(self, frame: bytes) -> None:
        from ..audio import frame_energy, pcm16_bytes, pcm16_from_bytes, silence

        self._frames += 1
        elapsed_ms = self._frames * _FRAME_MS
        samples = pcm16_from_bytes(frame)
        speech = float(np.mean(frame_energy(samples, 240) >= 0.5)) >= _SPEECH_FRACTION
        link = self.link
        if speech:
            index = self._speech_frames
            self._speech_frames += 1
            if self.config["audio"]["input"]["transcription"] is not None:
                word = _SOURCE_WORDS[index % len(_SOURCE_WORDS)]
                await link.emit(
                    TranslationInputTranscriptDeltaEvent,
                    delta=word if index == 0 else f" {word}",
                    elapsed_ms=elapsed_ms,
                )
            language = str(self.config["audio"]["output"].get("language") or "en")
            words = _TARGET_WORDS.get(language.split("-")[0].lower(), _SOURCE_WORDS)
            word = words[index % len(words)]
            await link.emit(
                TranslationOutputTranscriptDeltaEvent,
                delta=word if index == 0 else f" {word}",
                elapsed_ms=elapsed_ms,
            )
            voice = _translated_voice()
            start = (index * 4800) % (voice.size - 4800)
            out = voice[start : start + 4800]
        else:
            out = silence(_FRAME_MS)
        await link.emit(
            TranslationOutputAudioDeltaEvent,
            delta=base64.b64encode(pcm16_bytes(out)).decode("ascii"),
            sample_rate=24000,
            channels=1,
            format="pcm16",
            elapsed_ms=elapsed_ms,
        )


def default_translation_session(session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """A translation session as ``session.created`` reports it (reference 1.6)."""
    return {
        "id": session_id,
        "type": "translation",
        "model": model,
        "expires_at": expires_at,
        "audio": {
            "input": {"transcription": None, "noise_reduction": None},
            "output": {"language": "en"},
        },
    }


def apply_translation_update(
    current: dict[str, Any], update: Any, *, creating: bool = False
) -> dict[str, Any]:
    """Validate a translation ``session`` object and return the new effective session.

    Only ``audio.output.language``, ``audio.input.transcription`` and
    ``audio.input.noise_reduction`` change; ``creating`` (a client secret's session)
    also allows ``model`` and ``type: "translation"``, which the caller applies.

    Raises:
        ApiError: the update is invalid; ``current`` is unchanged.
    """
    if not isinstance(update, dict):
        raise ApiError.invalid_type("session", "an object", update)
    for key in update:
        if creating and key == "model":
            if not isinstance(update[key], str):
                raise ApiError.invalid_type("session.model", "a string", update[key])
            continue
        if creating and key == "type":
            if update[key] != "translation":
                raise ApiError.invalid_value(update[key], ("translation",), "session.type")
            continue
        if key in ("type", "model", "id"):
            raise ApiError(
                "invalid_value",
                f"'session.{key}' cannot be changed after the session has been created.",
                f"session.{key}",
            )
        if key != "audio":
            raise ApiError.unknown_parameter(f"session.{key}")
    checked = _TRANSLATION_UPDATE(
        {key: value for key, value in update.items() if key == "audio"}, "session"
    )
    changes: dict[str, dict[str, Any]] = checked.get("audio") or {}
    session = copy.deepcopy(current)
    for section, values in changes.items():
        session["audio"][section].update(values)
    return session

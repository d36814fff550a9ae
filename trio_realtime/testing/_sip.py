"""The media leg of an emulated SIP call: the caller who speaks, presses keys and listens.

A call's session runs on its sideband connection. The caller's audio goes into the
session's input buffer (server VAD, transcription) as a carrier would put it there; the
model's audio never reaches the sideband: it plays to the caller, who records what it
heard, while the sideband gets ``output_audio_buffer.started`` / ``stopped`` /
``cleared`` and DTMF as ``input_audio_buffer.dtmf_event_received``.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import trio

from ..events import (
    ConversationItemTruncatedEvent,
    InputAudioBufferDtmfEventReceivedEvent,
    OutputAudioBufferClearedEvent,
    OutputAudioBufferStartedEvent,
    OutputAudioBufferStoppedEvent,
    ResponseAudioDeltaEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseDoneEvent,
    ServerEventBase,
)
from ._apierrors import ApiError
from ._calls import EmulatedCall, HeardReply
from ._formats import bytes_per_ms, to_output_format
from ._input_audio import Transcription
from ._link import Link
from ._realtime import EmulatedSession

__all__ = ["CallLink", "CallSession", "SimulatedCaller", "caller_voice", "scripted_caller"]

log = logging.getLogger("trio_realtime.testing")

_CHUNK_MS = 100
_DTMF_KEYS = frozenset("0123456789*#ABCD")
_VOICE_MS_PER_CHARACTER = 60
_TRAILING_SILENCE_MS = 300
"""Silence after an utterance beyond the VAD's ``silence_duration_ms``."""


@functools.cache
def _voiced_frames(seed: int) -> npt.NDArray[np.int16]:
    from ..audio import frame_energy, voice_like

    long = voice_like(20_000, seed=seed, pitch_hz=120.0)
    frame = 240
    usable = len(long) // frame * frame
    frames = long[:usable].reshape(-1, frame)
    voiced = frame_energy(long[:usable], frame) >= 0.5
    return np.ascontiguousarray(frames[voiced].reshape(-1))


def caller_voice(text: str, *, seed: int = 3) -> npt.NDArray[np.int16]:
    """Speech-like PCM16 at 24 kHz for ``text`` (~60 ms a character), with no pause in it.

    Pauses inside one utterance would make server VAD cut it in two turns, so only the
    voiced frames of :func:`~trio_realtime.audio.voice_like` are kept.
    """
    ms = max(400, min(15_000, len(text) * _VOICE_MS_PER_CHARACTER))
    return _voiced_frames(seed)[: ms * 24]


@dataclasses.dataclass
class _Playback:
    """A reply on its way to the caller's ear."""

    response_id: str
    item_id: str = ""
    started_at: float | None = None
    chunks: list[npt.NDArray[np.int16]] = dataclasses.field(default_factory=list)
    transcript: list[str] = dataclasses.field(default_factory=list)
    finishing: trio.CancelScope | None = None

    def audio(self) -> npt.NDArray[np.int16]:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


class CallLink(Link):
    """A sideband connection: the model's audio goes to the caller, not to the socket."""

    def __init__(self, *args: Any, call: EmulatedCall, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        self._playing: dict[str, _Playback] = {}

    def _playback(self, response_id: str) -> _Playback:
        playback = self._playing.get(response_id)
        if playback is None:
            playback = self._playing[response_id] = _Playback(response_id)
        return playback

    def _output_format(self) -> str:
        session = self.session
        if isinstance(session, EmulatedSession):
            return str(session.config["audio"]["output"]["format"]["type"])
        return "audio/pcm"

    async def send(self, event: ServerEventBase) -> None:
        if isinstance(event, ResponseAudioDeltaEvent):
            playback = self._playback(event.response_id)
            if playback.started_at is None:
                playback.started_at = trio.current_time()
                playback.item_id = event.item_id
                await super().send(
                    self.event(OutputAudioBufferStartedEvent, response_id=event.response_id)
                )
                self.call.playing = event.response_id
                self.call._notify()
            pcm = event.pcm16(self._output_format())
            if self._output_format() != "audio/pcm" and pcm.size:
                from ..audio import resample

                pcm = resample(pcm, 8000, 24000)
            playback.chunks.append(pcm)
            return
        if isinstance(event, ResponseAudioTranscriptDeltaEvent):
            self._playback(event.response_id).transcript.append(event.delta)
        await super().send(event)
        if isinstance(event, ResponseDoneEvent) and event.response.id is not None:
            await self._response_done(event.response.id, event.response.status)

    async def _response_done(self, response_id: str, status: str | None) -> None:
        playback = self._playing.get(response_id)
        if playback is None or playback.started_at is None:
            self._playing.pop(response_id, None)
            return
        if status == "cancelled":
            await self._cleared(playback, self._played_samples(playback))
        else:
            self.nursery.start_soon(self._play_out, playback)

    async def _play_out(self, playback: _Playback) -> None:
        """Wait while the caller hears the rest (at the emulator's ``audio_pace``)."""
        pace = self.options.audio_pace
        assert playback.started_at is not None
        with trio.CancelScope() as playback.finishing:
            if pace:
                ms = len(playback.audio()) / 24
                await trio.sleep_until(playback.started_at + ms / 1000 / pace)
            else:
                await trio.lowlevel.checkpoint()
        if playback.finishing.cancelled_caught:
            return
        self._playing.pop(playback.response_id, None)
        await super().send(
            self.event(OutputAudioBufferStoppedEvent, response_id=playback.response_id)
        )
        self._heard(playback, len(playback.audio()), interrupted=False)

    def _played_samples(self, playback: _Playback) -> int:
        """How much of a reply the caller has heard by now (all of it without a pace)."""
        total = sum(len(chunk) for chunk in playback.chunks)
        pace = self.options.audio_pace
        if not pace or playback.started_at is None:
            return total
        return min(total, int((trio.current_time() - playback.started_at) * 24000 * pace))

    async def _cleared(self, playback: _Playback, played_samples: int) -> None:
        self._playing.pop(playback.response_id, None)
        await super().send(
            self.event(OutputAudioBufferClearedEvent, response_id=playback.response_id)
        )
        self._heard(playback, played_samples, interrupted=True)

    def _heard(self, playback: _Playback, samples: int, *, interrupted: bool) -> None:
        if self.call.playing == playback.response_id:
            self.call.playing = None
        self.call.heard.append(
            HeardReply(
                response_id=playback.response_id,
                transcript="".join(playback.transcript),
                audio=playback.audio()[:samples],
                interrupted=interrupted,
                started_at=playback.started_at or 0.0,
            )
        )
        self.call._notify()

    async def barge_in(self, session: EmulatedSession) -> None:
        """The caller spoke over a reply still playing: clear it, truncate it as heard."""
        for playback in list(self._playing.values()):
            if playback.finishing is None or playback.started_at is None:
                continue
            playback.finishing.cancel("barge-in")
            played_ms = self._played_samples(playback) // 24
            await self._cleared(playback, played_ms * 24)
            output = session.config["audio"]["output"]["format"]["type"]
            try:
                session.conversation.truncate(playback.item_id, 0, played_ms, bytes_per_ms(output))
            except ApiError:
                continue
            await self.emit(
                ConversationItemTruncatedEvent,
                item_id=playback.item_id,
                content_index=0,
                audio_end_ms=played_ms,
            )

    async def send_dtmf(self, key: str) -> None:
        """A key press on the caller's keypad, as the service reports it (no event_id)."""
        await super().send(
            InputAudioBufferDtmfEventReceivedEvent(event=key, received_at=int(time.time()))
        )


class CallSession(EmulatedSession):
    """The session of an answered call: the caller's words are known, the caller talks."""

    def __init__(self, link: CallLink, *, call: EmulatedCall, config: dict[str, Any]) -> None:
        super().__init__(link, transcription=False, config=config)
        self.call_link = link
        self.call = call
        self._pending_words: deque[str] = deque()
        self._words: dict[str, str] = {}

    async def start(self) -> None:
        await super().start()
        script = self.call.caller
        if script is not None:
            self.link.nursery.start_soon(self._run_caller, script)

    async def _run_caller(self, script: Callable[[SimulatedCaller], Any]) -> None:
        await script(SimulatedCaller(self))

    # -- what the caller said --------------------------------------------------------------

    async def _commit(self, item_id: str, *, start: int, end: int) -> None:
        if self._pending_words and item_id not in self._words:
            self._words[item_id] = self._pending_words.popleft()
        await super()._commit(item_id, start=start, end=end)

    def transcription_of(self, item_id: str, audio: bytes, model: str) -> Transcription:
        heard = super().transcription_of(item_id, audio, model)
        words = self._words.get(item_id)
        if words is None:
            return heard
        pieces = words.split(" ")
        deltas = [piece if index == 0 else f" {piece}" for index, piece in enumerate(pieces)]
        return Transcription(deltas, words, heard.usage)

    def user_content(self, item: dict[str, Any]) -> tuple[str | None, Any]:
        text, audio = super().user_content(item)
        return (text or self._words.get(str(item.get("id")))), audio

    async def _speech_started(self, sample: int) -> None:
        await self.call_link.barge_in(self)
        await super()._speech_started(sample)

    async def speak(self, speech: npt.NDArray[np.int16], silence_ms: int, words: str) -> float:
        """Put the caller's speech, then silence, into the input buffer at the emulator's
        audio pace; return when the speech ended (``trio.current_time()``)."""
        self._pending_words.append(words)
        await self._feed(speech)
        ended = trio.current_time()
        await self._feed(np.zeros(silence_ms * 24, np.int16))
        return ended

    async def _feed(self, pcm: npt.NDArray[np.int16]) -> None:
        pace = self.link.options.audio_pace
        start = trio.current_time()
        step = 24 * _CHUNK_MS
        for index, offset in enumerate(range(0, len(pcm), step)):
            if pace:
                await trio.sleep_until(start + index * _CHUNK_MS / 1000 / pace)
            data = to_output_format(pcm[offset : offset + step], self.input_format)
            await self._append(base64.b64encode(data).decode("ascii"))
        if pace and len(pcm):
            await trio.sleep_until(start + len(pcm) / 24000 / pace)


class _Keypad(Protocol):
    """Where a caller's key presses go: the call's media leg."""

    async def send_dtmf(self, key: str) -> None:
        """Report one key press on the caller's keypad to the call's sideband."""


class _CallLine(Protocol):
    """What a :class:`SimulatedCaller` drives: an answered call's session (``CallSession``)."""

    @property
    def call(self) -> EmulatedCall:
        """The call this session answered."""

    @property
    def config(self) -> dict[str, Any]:
        """The session's configuration, in the wire shape."""

    @property
    def call_link(self) -> _Keypad:
        """The call's media leg, where key presses go."""

    async def speak(self, speech: npt.NDArray[np.int16], silence_ms: int, words: str) -> float:
        """Put the caller's speech, then silence, into the input buffer; return when it ended."""


class SimulatedCaller:
    """The person on the phone, for a caller script: speaks, presses keys, listens, hangs up.

    Given to ``place_call(caller=script)``'s script once the call's sideband joined::

        async def script(caller):
            await caller.say("I'd like to check my order")
            reply = await caller.wait_reply()
            await caller.press("1")
            await caller.hang_up()
    """

    def __init__(self, session: _CallLine) -> None:
        self._session = session
        self.call: EmulatedCall = session.call
        self._replies_read = 0

    async def say(self, text: str, *, audio: npt.NDArray[np.int16] | None = None) -> float:
        """Speak ``text`` (speech-like audio, or ``audio`` as PCM16 at 24 kHz), then pause.

        Server VAD hears it; its transcript (if the session transcribes) is ``text``.
        Returns once the pause is over, with the time the speech itself ended
        (``trio.current_time()``: measure the wait for an answer from there).
        """
        pcm = caller_voice(text) if audio is None else np.asarray(audio, dtype=np.int16)
        turn = self._session.config["audio"]["input"].get("turn_detection") or {}
        silence_ms = int(turn.get("silence_duration_ms") or 500) + _TRAILING_SILENCE_MS
        self.call.said.append(text)
        self.call._notify()
        return await self._session.speak(pcm, silence_ms, text)

    async def press(self, keys: str) -> None:
        """Press DTMF keys (``0-9``, ``*``, ``#``, ``A-D``), one event each.

        Raises:
            ValueError: a character that is not a DTMF key.
        """
        bad = sorted(set(keys) - _DTMF_KEYS)
        if bad:
            raise ValueError(f"not DTMF keys: {''.join(bad)!r} (expected 0-9, *, #, A-D)")
        for key in keys:
            self.call.keys_pressed += key
            await self._session.call_link.send_dtmf(key)

    async def wait_playing(self) -> str:
        """Wait until a reply is playing (to talk over it); return its response id."""
        return await self.call.wait_playing()

    async def wait_reply(self) -> HeardReply:
        """Wait for the next reply the caller has not read yet, once it has played out."""
        self._replies_read += 1
        return await self.call.wait_heard(self._replies_read)

    async def hang_up(self) -> None:
        """Hang up: the call ends and its sideband closes (this script ends with it)."""
        await self.call.hang_up()


def scripted_caller(*lines: str, hang_up: bool = True) -> Callable[[SimulatedCaller], Any]:
    """A caller script: hear the greeting, then say each line and hear its answer.

    A line of DTMF keys only (``"1"``, ``"#"``) is pressed instead of spoken. The caller
    hangs up at the end (unless ``hang_up=False``: it waits for the agent to end the call).
    """

    async def script(caller: SimulatedCaller) -> None:
        await caller.wait_reply()
        for line in lines:
            if line and set(line) <= _DTMF_KEYS:
                await caller.press(line)
            else:
                await caller.say(line)
            await caller.wait_reply()
        if hang_up:
            await caller.hang_up()
        else:
            await caller.call.wait_ended()

    return script

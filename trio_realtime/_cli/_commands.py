"""What the CLI's commands do (``__main__`` only parses arguments and calls these)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt
import trio

from .. import audio, events as ev
from .._audio_session import AudioSession
from .._connect import open_realtime_session, open_transcription_session
from .._prices import ModelPrice
from .._translation import TranslationResult, open_translation_session
from ._report import Progress, Reporting, print_usage

__all__ = [
    "CommandError",
    "Target",
    "record_events",
    "speak_file",
    "target",
    "transcribe_file",
    "translate_file",
]

STREAM_CHUNK_MS = 100
_ONE_TURN = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
"""A session where the client ends the turn: pauses in a long file do not split it."""


@dataclass(frozen=True)
class Target:
    """Where a command connects: a URL and key, and whether it is the embedded emulator."""

    url: str | None
    api_key: str | None
    emulator: bool

    def describe(self) -> str:
        return (
            "the embedded emulator (no API key set)"
            if self.emulator
            else (self.url or "the OpenAI Realtime API")
        )


@asynccontextmanager
async def target(
    url: str | None, api_key: str | None, *, force_emulator: bool = False
) -> AsyncIterator[Target]:
    """The service to use: the given URL/key, or the embedded emulator when no key is set."""
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if force_emulator or (key is None and url is None):
        from ..testing import open_emulator
        from ..testing._retention import SERVE_RETENTION

        async with open_emulator(retention=SERVE_RETENTION) as emulator:
            yield Target(emulator.url, "sk-local", emulator=True)
    else:
        yield Target(url, key, emulator=False)


async def _stream(
    samples: npt.NDArray[np.int16],
    rate: int,
    session: AudioSession,
    *,
    fast: bool,
    progress: Progress,
) -> None:
    """Append ``samples`` in 100 ms pieces, at real-time pace unless ``fast``."""
    step = rate * STREAM_CHUNK_MS // 1000
    start = trio.current_time()
    for index, offset in enumerate(range(0, len(samples), step)):
        if not fast:
            await trio.sleep_until(start + index * STREAM_CHUNK_MS / 1000)
        piece = samples[offset : offset + step]
        await session.append_audio(piece, sample_rate=rate)
        progress.sent(len(piece) / rate)


def _seconds(pcm16: bytes, rate: int = 24000) -> float:
    return len(pcm16) / 2 / rate


async def translate_file(
    source: Path,
    output: Path,
    *,
    language: str,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime-translate",
    fast: bool = False,
    emulator: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> TranslationResult:
    """Translate a WAV file into ``output`` (WAV), printing the translation as it streams."""
    samples, rate = audio.read_wav(source)
    config = ev.TranslationSessionConfig.model_validate(
        {
            "audio": {
                "output": {"language": language},
                "input": {"transcription": {"model": "gpt-realtime-whisper"}},
            }
        }
    )
    result = TranslationResult()
    report = Reporting(out, err, as_json, prices)
    progress = report.progress(len(samples) / rate)
    async with target(url, api_key, force_emulator=emulator) as where:
        report.note(f"translating {source} to {language!r} with {where.describe()}")
        async with open_translation_session(
            model, url=where.url, api_key=where.api_key, session=config
        ) as session:

            async def feed() -> None:
                await _stream(samples, rate, session, fast=fast, progress=progress)
                if not await session.close_session():
                    print("warning: the service did not confirm the close", file=err)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                async for event in session:
                    result.add(event)
                    if isinstance(event, ev.TranslationOutputTranscriptDeltaEvent):
                        report.text(progress, event.delta)
                    elif isinstance(event, ev.TranslationOutputAudioDeltaEvent):
                        progress.received(_seconds(event.audio_bytes(), event.sample_rate or 24000))
        usage = session.usage()
    progress.finish()
    result.write_wav(output)
    seconds = len(result.audio) / result.sample_rate
    report.note(f"wrote {seconds:.1f} s of audio to {output}")
    report.result(
        "translate",
        usage,
        input=str(source),
        output=str(output),
        language=language,
        text=result.target_text,
        source_text=result.source_text,
        audio_seconds=seconds,
    )
    return result


async def transcribe_file(
    source: Path,
    *,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-4o-transcribe",
    language: str | None = None,
    fast: bool = False,
    emulator: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> list[str]:
    """Transcribe a WAV file, printing each completed transcript on its own line."""
    samples, rate = audio.read_wav(source)
    transcription: dict[str, object] = {"model": model}
    if language:
        transcription["language"] = language
    config = ev.TranscriptionSessionConfig.model_validate(
        {
            "type": "transcription",
            "audio": {"input": {"transcription": transcription, "turn_detection": None}},
        }
    )
    texts: list[str] = []
    report = Reporting(out, err, as_json, prices)
    progress = report.progress(len(samples) / rate)
    async with target(url, api_key, force_emulator=emulator) as where:
        report.note(f"transcribing {source} with {where.describe()}")
        async with open_transcription_session(
            url=where.url, api_key=where.api_key, session=config
        ) as session:
            await _stream(samples, rate, session, fast=fast, progress=progress)
            await session.commit_audio()
            progress.finish()
            async for event in session:
                if isinstance(event, ev.InputAudioTranscriptionDeltaEvent):
                    if out.isatty() and not as_json:
                        out.write(event.delta or "")
                        out.flush()
                elif isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                    texts.append(event.transcript)
                    if not as_json:
                        out.write(("\r" if out.isatty() else "") + event.transcript + "\n")
                        out.flush()
                    break
                elif isinstance(event, ev.InputAudioTranscriptionFailedEvent | ev.ErrorEvent):
                    raise CommandError(f"transcription failed: {event.to_json()}")
        usage = session.usage()
    report.result(
        "transcribe",
        usage,
        input=str(source),
        text="\n".join(texts),
    )
    return texts


class CommandError(Exception):
    """A command could not do its job; the CLI prints the message and exits with 1."""


async def speak_file(
    source: Path,
    output: Path,
    *,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> str:
    """Say a WAV file to the model (one turn, however long) and write its spoken reply."""
    samples, rate = audio.read_wav(source)
    chunks: list[npt.NDArray[np.int16]] = []
    transcript: list[str] = []
    report = Reporting(out, err, as_json, prices)
    progress = report.progress(len(samples) / rate)
    async with target(url, api_key, force_emulator=emulator) as where:
        report.note(f"speaking {source} to {where.describe()}")
        async with open_realtime_session(
            model, url=where.url, api_key=where.api_key, session=_ONE_TURN
        ) as session:
            await _stream(samples, rate, session, fast=True, progress=progress)
            await session.commit_audio()
            await session.create_response()
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    chunks.append(session.decode_audio(event))
                    progress.received(len(chunks[-1]) / 24000)
                elif isinstance(event, ev.ResponseAudioTranscriptDeltaEvent):
                    transcript.append(event.delta)
                    report.text(progress, event.delta)
                elif isinstance(event, ev.ResponseDoneEvent):
                    break
        usage = session.usage()
    progress.finish()
    reply = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    audio.write_wav(output, reply, 24000)
    report.note(f"wrote {len(reply) / 24000:.1f} s of reply audio to {output}")
    report.result(
        "speak",
        usage,
        input=str(source),
        output=str(output),
        transcript="".join(transcript),
        reply_seconds=len(reply) / 24000,
    )
    return "".join(transcript)


async def record_events(
    *,
    message: str | None = None,
    output: Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print a live session's raw events as JSON lines (and record them to ``output``).

    With ``message``, sends it and stops after the response; otherwise runs until
    Ctrl-C. Only the API key is kept out of the recording. The usage goes to ``err``
    (``out`` holds the events, and ``response.done`` carries each response's usage).
    """
    from .._interceptors import RecordingInterceptor

    interceptors = [RecordingInterceptor(output)] if output is not None else []
    count = 0
    async with target(url, api_key, force_emulator=emulator) as where:
        print(f"events from {where.describe()}", file=err)
        async with open_realtime_session(
            model, url=where.url, api_key=where.api_key, interceptors=interceptors
        ) as session:
            if message is not None:
                await session.send_user_message(message)
            with trio.CancelScope() as scope, trio.open_signal_receiver(signal.SIGINT) as sigint:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_cancel_on_signal, sigint, scope)
                    async for event in session:
                        out.write(event.to_json() + "\n")
                        out.flush()
                        count += 1
                        if message is not None and isinstance(event, ev.ResponseDoneEvent):
                            break
                    nursery.cancel_scope.cancel()
        usage = session.usage()
    if output is not None:
        print(f"recorded {count} events (both directions) to {output}", file=err)
    print_usage(usage, prices, err)
    return count


async def _cancel_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel("Ctrl-C")
        return

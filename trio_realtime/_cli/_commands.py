"""What the CLI's commands do (``__main__`` only parses arguments and calls these)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt
import trio

from .. import audio, events as ev
from .._session import open_realtime_session, open_transcription_session
from .._translation import TranslationResult, open_translation_session

__all__ = [
    "CommandError",
    "Target",
    "chat",
    "record_events",
    "speak_file",
    "target",
    "transcribe_file",
    "translate_file",
]

STREAM_CHUNK_MS = 100


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


def _progress(out: TextIO, done_ms: float, total_ms: float) -> None:
    if out.isatty():
        width = 30
        filled = int(width * done_ms / max(total_ms, 1))
        out.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done_ms / 1000:5.1f}/"
            f"{total_ms / 1000:.1f} s "
        )
        out.flush()


async def _stream(
    samples: npt.NDArray[np.int16],
    rate: int,
    send: object,
    *,
    fast: bool,
    progress: TextIO,
) -> None:
    """Append ``samples`` in 100 ms pieces, at real-time pace unless ``fast``."""
    append = send.append_audio  # type: ignore[attr-defined]
    step = rate * STREAM_CHUNK_MS // 1000
    total_ms = len(samples) * 1000 / rate
    start = trio.current_time()
    for index, offset in enumerate(range(0, len(samples), step)):
        if not fast:
            await trio.sleep_until(start + index * STREAM_CHUNK_MS / 1000)
        await append(samples[offset : offset + step], sample_rate=rate)
        _progress(progress, min(total_ms, (index + 1) * STREAM_CHUNK_MS), total_ms)
    if progress.isatty():
        progress.write("\n")


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
    async with target(url, api_key, force_emulator=emulator) as where:
        print(f"translating {source} to {language!r} with {where.describe()}", file=err)
        async with open_translation_session(
            model, url=where.url, api_key=where.api_key, session=config
        ) as session:

            async def feed() -> None:
                await _stream(samples, rate, session, fast=fast, progress=err)
                if not await session.close_session():
                    print("warning: the service did not confirm the close", file=err)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                async for event in session:
                    result.add(event)
                    if isinstance(event, ev.TranslationOutputTranscriptDeltaEvent):
                        out.write(event.delta)
                        out.flush()
    out.write("\n")
    result.write_wav(output)
    print(f"wrote {len(result.audio) / result.sample_rate:.1f} s of audio to {output}", file=err)
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
    async with target(url, api_key, force_emulator=emulator) as where:
        print(f"transcribing {source} with {where.describe()}", file=err)
        async with open_transcription_session(
            url=where.url, api_key=where.api_key, session=config
        ) as session:
            await _stream(samples, rate, session, fast=fast, progress=err)
            await session.commit_audio()
            async for event in session:
                if isinstance(event, ev.InputAudioTranscriptionDeltaEvent) and out.isatty():
                    out.write(event.delta or "")
                    out.flush()
                elif isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                    texts.append(event.transcript)
                    out.write(("\r" if out.isatty() else "") + event.transcript + "\n")
                    out.flush()
                    break
                elif isinstance(event, ev.InputAudioTranscriptionFailedEvent | ev.ErrorEvent):
                    raise CommandError(f"transcription failed: {event.to_json()}")
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
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> str:
    """Say a WAV file to the model (one turn, server VAD) and write its spoken reply."""
    samples, rate = audio.read_wav(source)
    chunks: list[npt.NDArray[np.int16]] = []
    transcript: list[str] = []
    async with target(url, api_key, force_emulator=emulator) as where:
        print(f"speaking {source} to {where.describe()}", file=err)
        async with open_realtime_session(model, url=where.url, api_key=where.api_key) as session:
            await _stream(samples, rate, session, fast=True, progress=err)
            await session.append_audio(audio.silence(1000))  # let server VAD end the turn
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    chunks.append(session.decode_audio(event))
                elif isinstance(event, ev.ResponseAudioTranscriptDeltaEvent):
                    transcript.append(event.delta)
                    out.write(event.delta)
                    out.flush()
                elif isinstance(event, ev.ResponseDoneEvent):
                    break
    out.write("\n")
    reply = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    audio.write_wav(output, reply, 24000)
    print(f"wrote {len(reply) / 24000:.1f} s of reply audio to {output}", file=err)
    return "".join(transcript)


async def record_events(
    *,
    message: str | None = None,
    output: Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print a live session's raw events as JSON lines (and record them to ``output``).

    With ``message``, sends it and stops after the response; otherwise runs until
    interrupted. Only the API key is kept out of the recording.
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
            async for event in session:
                out.write(event.to_json() + "\n")
                out.flush()
                count += 1
                if message is not None and isinstance(event, ev.ResponseDoneEvent):
                    break
    if output is not None:
        print(f"recorded {count} events (both directions) to {output}", file=err)
    return count


async def chat(
    *,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    lines: AsyncIterator[str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> None:
    """An interactive text chat; ``/audio FILE.wav`` sends a file, ``/quit`` (or EOF) ends."""
    config = ev.SessionConfig(output_modalities=["text"])
    async with target(url, api_key, force_emulator=emulator) as where:
        print(
            f"chatting with {where.describe()}; /audio FILE.wav sends audio, /quit ends", file=err
        )
        async with open_realtime_session(
            model, url=where.url, api_key=where.api_key, session=config
        ) as session:
            async for line in lines if lines is not None else _stdin_lines():
                text = line.strip()
                if not text:
                    continue
                if text in ("/quit", "/exit"):
                    break
                if text.startswith("/audio "):
                    samples, rate = audio.read_wav(Path(text.split(" ", 1)[1]))
                    await session.append_audio(samples, sample_rate=rate)
                    await session.commit_audio()
                    await session.create_response(cancel_active=True)
                else:
                    await session.send_user_message(text, cancel_active=True)
                out.write("assistant: ")
                async for event in session:
                    if isinstance(event, ev.ResponseTextDeltaEvent):
                        out.write(event.delta)
                        out.flush()
                    elif isinstance(event, ev.ErrorEvent):
                        out.write(f"[error: {event.error.message}]")
                    elif isinstance(event, ev.ResponseDoneEvent):
                        break
                out.write("\n")
                out.flush()


async def _stdin_lines() -> AsyncIterator[str]:
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        yield line

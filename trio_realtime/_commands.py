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

from . import audio, events as ev
from ._session import open_transcription_session
from ._translation import TranslationResult, open_translation_session

__all__ = ["CommandError", "Target", "target", "transcribe_file", "translate_file"]

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
        from .testing import open_emulator

        async with open_emulator(record=False) as emulator:
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

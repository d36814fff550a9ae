"""Talk to the Realtime API with a WAV file: the reply comes back as a WAV and a transcript.

Shows a voice turn end to end with trio_realtime: a WAV of any sample rate and channel
count streamed into a session with server VAD (``append_audio`` resamples and mixes down;
its backpressure paces the upload), the server detecting the end of speech and answering,
the reply's audio deltas decoded with ``session.decode_audio`` into a WAV, and the
transcripts printed (the assistant's, and yours when input transcription is on).

Run it::

    python examples/voice_file.py input.wav -o reply.wav              # your own recording
    python examples/voice_file.py demo.wav --generate -o reply.wav    # writes a demo input
    python examples/voice_file.py input.wav --realtime                # upload at 1x speed

Without ``OPENAI_API_KEY`` it talks to the local emulator (``trio_realtime.testing``),
started in-process: no network, no key, and a deterministic reply ("I heard N.N seconds
of audio."). With the key set it talks to the real service (``--model``, default
gpt-realtime). The transcript goes to stdout, progress to stderr. Exit status 1 when no
reply arrives (no speech in the file?), 2 for an unreadable input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import trio

import trio_realtime as rt
from trio_realtime import audio, events as ev

CHUNK_MS = 100
"""Milliseconds of input per ``append_audio`` call."""
SILENCE_DURATION_MS = 700
"""Server VAD: a pause this long ends your turn (pauses inside the file are shorter)."""
TRAILING_SILENCE_MS = SILENCE_DURATION_MS + 500
"""Silence sent after the file, so the server hears your turn end."""
OUTPUT_RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


def session_config() -> dict[str, Any]:
    """Audio in and out, server VAD with a turn-ending pause, input transcription on."""
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Answer the user briefly.",
        "audio": {
            "input": {
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": SILENCE_DURATION_MS,
                },
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            }
        },
    }


def generate_demo(path: Path) -> None:
    """Write a 2.5 s speech-like WAV at 44.1 kHz stereo (rate and channels get converted)."""
    voice = audio.voice_like(2500, sample_rate=44100, seed=7)
    lead_in = audio.silence(300, sample_rate=44100)
    mono = np.concatenate([lead_in, voice, lead_in])
    audio.write_wav(path, np.stack([mono, mono], axis=1), 44100)
    seconds = len(mono) / 44100
    print(f"wrote demo input {path} ({seconds:.1f} s, 44.1 kHz stereo)", file=sys.stderr)


@contextlib.asynccontextmanager
async def endpoint(model: str) -> AsyncIterator[dict[str, Any]]:
    """Connection options: the real service with OPENAI_API_KEY, else a local emulator."""
    if os.environ.get("OPENAI_API_KEY"):
        print(f"using the OpenAI Realtime API ({model})", file=sys.stderr)
        yield {"model": model}
        return
    from trio_realtime.testing import open_emulator

    async with open_emulator() as emulator:
        print(
            f"OPENAI_API_KEY is not set: using the local emulator at {emulator.url}",
            file=sys.stderr,
        )
        yield {"model": model, "url": emulator.url, "api_key": "sk-local"}


async def stream_file(
    session: rt.RealtimeSession,
    samples: npt.NDArray[np.int16],
    rate: int,
    *,
    realtime: bool,
) -> None:
    """Append the file in 100 ms pieces (paced at 1x with ``realtime``), then silence."""
    step = rate * CHUNK_MS // 1000
    start = trio.current_time()
    for index, offset in enumerate(range(0, len(samples), step)):
        if realtime:
            await trio.sleep_until(start + index * CHUNK_MS / 1000)
        await session.append_audio(samples[offset : offset + step], sample_rate=rate)
    await session.append_audio(audio.silence(TRAILING_SILENCE_MS), sample_rate=24000)


class Reply:
    """What the assistant answered: audio per response, and its transcript."""

    def __init__(self) -> None:
        self.pcm: list[npt.NDArray[np.int16]] = []
        self.transcript: list[str] = []
        self.statuses: list[str] = []

    @property
    def samples(self) -> npt.NDArray[np.int16]:
        return np.concatenate(self.pcm) if self.pcm else np.zeros(0, np.int16)


async def converse(
    session: rt.RealtimeSession, samples: npt.NDArray[np.int16], rate: int, *, realtime: bool
) -> Reply:
    """Send the file, then collect replies until every turn it held has been answered."""
    reply = Reply()
    sent = trio.Event()
    speaking = False
    unanswered = 0  # turns committed by server VAD whose response is not done yet

    async def send() -> None:
        await stream_file(session, samples, rate, realtime=realtime)
        sent.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        async for event in session:
            if isinstance(event, ev.InputAudioBufferSpeechStartedEvent):
                speaking = True
                print(f"[speech started at {event.audio_start_ms} ms]", file=sys.stderr)
            elif isinstance(event, ev.InputAudioBufferSpeechStoppedEvent):
                speaking = False
                print(f"[speech stopped at {event.audio_end_ms} ms]", file=sys.stderr)
            elif isinstance(event, ev.InputAudioBufferCommittedEvent):
                unanswered += 1
            elif isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                print(f"you: {event.transcript.strip()}", flush=True)
            elif isinstance(event, ev.ResponseAudioDeltaEvent):
                reply.pcm.append(session.decode_audio(event))
            elif isinstance(event, ev.ResponseAudioTranscriptDeltaEvent):
                reply.transcript.append(event.delta)
            elif isinstance(event, ev.ResponseDoneEvent):
                unanswered -= 1
                status = event.response.status or "completed"
                reply.statuses.append(status)
                text = _response_transcript(event) or "".join(reply.transcript)
                print(
                    f"assistant: {text.strip()}"
                    + ("" if status == "completed" else f" [{status}]"),
                    flush=True,
                )
                reply.transcript.clear()
                if sent.is_set() and not speaking and unanswered <= 0:
                    break
            elif isinstance(event, ev.ErrorEvent):
                print(f"[server error: {event.error.message}]", file=sys.stderr)
        nursery.cancel_scope.cancel()
    return reply


def _response_transcript(event: ev.ResponseDoneEvent) -> str:
    """The transcript of a finished response, from its output items."""
    parts = []
    for item in event.response.output or []:
        for content in getattr(item, "content", None) or []:
            parts.append(
                getattr(content, "transcript", None) or getattr(content, "text", None) or ""
            )
    return "".join(parts)


async def run(args: argparse.Namespace) -> int:
    try:
        samples, rate = audio.read_wav(args.input)
    except (OSError, ValueError) as error:
        print(f"cannot read {args.input}: {error}", file=sys.stderr)
        return 2
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    print(
        f"input {args.input}: {len(samples) / rate:.2f} s, {rate} Hz, {channels} channel(s)",
        file=sys.stderr,
    )
    async with endpoint(args.model) as options:
        async with rt.open_realtime_session(session=session_config(), **options) as session:
            with trio.move_on_after(args.timeout) as scope:
                reply = await converse(session, samples, rate, realtime=args.realtime)
            output_rate = OUTPUT_RATES.get(session.output_format(), 24000)
    if scope.cancelled_caught:
        print(
            f"no reply within {args.timeout:g} s: is there speech in {args.input}?", file=sys.stderr
        )
        return 1
    audio.write_wav(args.output, reply.samples, output_rate)
    print(
        f"wrote {args.output}: {len(reply.samples) / output_rate:.2f} s of reply audio "
        f"({output_rate} Hz)",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("input", type=Path, help="the WAV to send (any rate, any channels)")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("reply.wav"), help="reply WAV (reply.wav)"
    )
    parser.add_argument(
        "--generate", action="store_true", help="first write a demo speech-like WAV to INPUT"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="upload at real-time speed (default: as fast as allowed)",
    )
    parser.add_argument("--model", default="gpt-realtime", help="the model (gpt-realtime)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the reply (60)"
    )
    args = parser.parse_args(argv)
    if args.generate:
        generate_demo(args.input)
    try:
        return trio.run(run, args)
    except* KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())

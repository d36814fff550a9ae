"""A voice conversation through your microphone and speaker, with barge-in.

Shows a live voice loop with trio_realtime and ``sounddevice`` (PortAudio):

- the microphone's callback thread hands each block to the session with
  ``session.append_audio_threadsafe`` (never blocks the audio thread; the device's own
  rate is resampled to 24 kHz by the session);
- the reply's audio deltas, decoded with ``session.decode_audio``, are queued for the
  speaker, whose callback thread plays them and reports what it actually played;
- a ``PlaybackTracker`` is fed with the audio received and the audio played; when you
  start talking over the assistant (``input_audio_buffer.speech_started``), playback
  stops at once and ``session.truncate_to_played(tracker)`` cuts the assistant's item at
  what you heard, so the model knows where it was interrupted.

Run it (use headphones, or the assistant hears itself and interrupts itself)::

    pip install "trio-realtime[audio]"              # sounddevice; Linux: apt install libportaudio2
    python examples/microphone.py                   # talk; Ctrl-C to stop
    python examples/microphone.py --seconds 30      # stop after 30 s
    python examples/microphone.py --dry-run         # no devices needed (see below)

Without ``OPENAI_API_KEY`` it talks to the local emulator (``trio_realtime.testing``),
started in-process, which answers "I heard N.N seconds of audio."; with the key, the
real service (``--model``, default gpt-realtime).

``--dry-run`` replaces the devices with stand-ins running on their own threads in real
time, through the same callbacks: a microphone that says something, pauses for the reply,
then talks over it (a barge-in), and a speaker that plays into nothing (``--speaker-wav``
keeps what it played). sounddevice is not needed; it stops after 9 s unless ``--seconds``
says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import trio

import trio_realtime as rt
from trio_realtime import audio, events as ev

OUTPUT_RATE = 24000
"""The session's output: PCM16 mono at 24 kHz, played as is."""
BLOCK_MS = 20
"""Milliseconds per device callback."""
DRY_RUN_SECONDS = 9.0

InputCallback = Callable[[npt.NDArray[np.float32]], None]
OutputCallback = Callable[[npt.NDArray[np.int16]], None]
PartKey = tuple[str, int]


def session_config() -> dict[str, Any]:
    """Audio in and out; server VAD; your words transcribed."""
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a friendly voice assistant. Keep answers short.",
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": OUTPUT_RATE}},
        },
    }


# -- playback ---------------------------------------------------------------------------


class Player:
    """The speaker's queue: filled by the session, drained by the output callback thread.

    It counts what the callback actually played, per assistant audio part, for the
    PlaybackTracker (which is not thread-safe, so it is fed from the Trio side).
    """

    def __init__(self, rate: int = OUTPUT_RATE) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._queue: deque[tuple[PartKey, npt.NDArray[np.int16]]] = deque()
        self._offset = 0
        self._played: dict[PartKey, int] = {}
        self.played_samples = 0

    def enqueue(self, item_id: str, content_index: int, samples: npt.NDArray[np.int16]) -> None:
        with self._lock:
            self._queue.append(((item_id, content_index), samples))

    def fill(self, out: npt.NDArray[np.int16]) -> None:
        """The output callback: write the next samples into ``out`` ((frames, 1) int16)."""
        frames = len(out)
        written = 0
        with self._lock:
            while written < frames and self._queue:
                key, samples = self._queue[0]
                take = min(frames - written, len(samples) - self._offset)
                out[written : written + take, 0] = samples[self._offset : self._offset + take]
                written += take
                self._offset += take
                self._played[key] = self._played.get(key, 0) + take
                if self._offset == len(samples):
                    self._queue.popleft()
                    self._offset = 0
            self.played_samples += written
        out[written:] = 0

    def take_played(self) -> list[tuple[PartKey, float]]:
        """Milliseconds played per part since the last call."""
        with self._lock:
            played, self._played = self._played, {}
        return [(key, samples * 1000 / self.rate) for key, samples in played.items()]

    def clear(self) -> float:
        """Stop playing: drop everything queued; returns the milliseconds dropped."""
        with self._lock:
            left = sum(len(samples) for _, samples in self._queue) - self._offset
            self._queue.clear()
            self._offset = 0
        return left * 1000 / self.rate


# -- devices ----------------------------------------------------------------------------


class Devices(Protocol):
    """A microphone and a speaker calling back from their own threads."""

    input_rate: int

    def start(self, on_input: InputCallback, on_output: OutputCallback) -> None: ...

    def stop(self) -> None: ...


class SoundDevices:
    """The real microphone and speaker, through sounddevice (PortAudio)."""

    def __init__(self, input_device: str | int | None, output_device: str | int | None) -> None:
        self.sd = load_sounddevice()
        try:
            info = self.sd.query_devices(input_device, kind="input")
            self.sd.query_devices(output_device, kind="output")
        except (ValueError, self.sd.PortAudioError) as error:
            raise SystemExit(
                f"no usable microphone or speaker ({error}). List the devices with "
                "`python -m sounddevice`, pick them with --input-device/--output-device, "
                "or try --dry-run."
            ) from None
        self.input_rate = int(info["default_samplerate"])
        self.input_device = input_device
        self.output_device = output_device
        self._streams: list[Any] = []

    def start(self, on_input: InputCallback, on_output: OutputCallback) -> None:
        def input_callback(indata: Any, frames: int, when: Any, status: Any) -> None:
            on_input(indata)

        def output_callback(outdata: Any, frames: int, when: Any, status: Any) -> None:
            on_output(outdata)

        try:
            self._streams = [
                self.sd.OutputStream(
                    device=self.output_device,
                    samplerate=OUTPUT_RATE,
                    channels=1,
                    dtype="int16",
                    blocksize=OUTPUT_RATE * BLOCK_MS // 1000,
                    callback=output_callback,
                ),
                self.sd.InputStream(
                    device=self.input_device,
                    samplerate=self.input_rate,
                    channels=1,
                    dtype="float32",
                    blocksize=self.input_rate * BLOCK_MS // 1000,
                    callback=input_callback,
                ),
            ]
            for stream in self._streams:
                stream.start()
        except self.sd.PortAudioError as error:
            self.stop()
            raise SystemExit(f"cannot open the audio devices: {error}") from None

    def stop(self) -> None:
        for stream in self._streams:
            stream.stop()
            stream.close()
        self._streams = []


def load_sounddevice() -> Any:
    """Import sounddevice, or exit with what to install."""
    try:
        sounddevice = importlib.import_module("sounddevice")
    except ImportError:
        raise SystemExit(
            "this example needs sounddevice: pip install 'trio-realtime[audio]' "
            "(or pip install sounddevice); or try --dry-run, which needs no devices"
        ) from None
    except OSError as error:  # sounddevice is there, the PortAudio library is not
        raise SystemExit(
            f"sounddevice cannot load PortAudio ({error}): install it (Debian/Ubuntu: "
            "apt install libportaudio2; macOS: brew install portaudio), or try --dry-run"
        ) from None
    return sounddevice


class FakeDevices:
    """Stand-ins for a microphone and a speaker: threads calling back in real time.

    The microphone says ``signal`` (float32 mono at ``input_rate``), then stays silent;
    the speaker keeps what it played in ``played``.
    """

    def __init__(self, signal: npt.NDArray[np.float32], input_rate: int) -> None:
        self.signal = signal
        self.input_rate = input_rate
        self.played: list[npt.NDArray[np.int16]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, on_input: InputCallback, on_output: OutputCallback) -> None:
        in_block = self.input_rate * BLOCK_MS // 1000
        out_block = OUTPUT_RATE * BLOCK_MS // 1000
        position = 0

        def microphone() -> None:
            nonlocal position
            block = np.zeros((in_block, 1), np.float32)
            chunk = self.signal[position : position + in_block]
            block[: len(chunk), 0] = chunk
            position += in_block
            on_input(block)

        def speaker() -> None:
            block = np.empty((out_block, 1), np.int16)
            on_output(block)
            self.played.append(block[:, 0].copy())

        self._threads = [
            threading.Thread(target=self._clocked, args=(microphone,), daemon=True),
            threading.Thread(target=self._clocked, args=(speaker,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _clocked(self, callback: Callable[[], None]) -> None:
        period = BLOCK_MS / 1000
        due = time.monotonic()
        while not self._stop.is_set():
            callback()
            due += period
            self._stop.wait(max(0.0, due - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def dry_run_signal(rate: int = 48000) -> npt.NDArray[np.float32]:
    """What the fake microphone hears: a turn, a pause for the reply, then a barge-in."""
    parts = [
        audio.silence(300, sample_rate=rate),
        audio.voice_like(1500, sample_rate=rate, seed=1),
        audio.silence(1600, sample_rate=rate),  # the reply starts playing in here...
        audio.voice_like(1200, sample_rate=rate, seed=2),  # ...and you talk over it
    ]
    return (np.concatenate(parts) / 32768).astype(np.float32)


# -- the conversation -------------------------------------------------------------------


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


async def converse(session: rt.RealtimeSession, devices: Devices, seconds: float | None) -> None:
    """Run the voice loop until ``seconds`` pass (or forever); stop the devices after."""
    player = Player()
    tracker = audio.PlaybackTracker(sample_rate=OUTPUT_RATE)
    barge_ins = 0

    def on_input(block: npt.NDArray[np.float32]) -> None:
        session.append_audio_threadsafe(block, sample_rate=devices.input_rate)

    def catch_up_with_playback() -> None:
        for (item_id, content_index), ms in player.take_played():
            tracker.on_played(item_id, content_index, ms=ms)

    devices.start(on_input, player.fill)
    print("listening: talk now", file=sys.stderr)
    try:
        with trio.move_on_after(seconds if seconds is not None else float("inf")):
            async for event in session:
                catch_up_with_playback()
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    samples = session.decode_audio(event)
                    tracker.on_audio_received(
                        event.item_id, event.content_index, ms=len(samples) * 1000 / OUTPUT_RATE
                    )
                    player.enqueue(event.item_id, event.content_index, samples)
                elif isinstance(event, ev.InputAudioBufferSpeechStartedEvent):
                    unplayed_ms = player.clear()
                    catch_up_with_playback()
                    point = await session.truncate_to_played(tracker)
                    if point is not None:
                        barge_ins += 1
                        print(
                            f"[barge-in: reply cut at {point[2]} ms, "
                            f"{unplayed_ms:.0f} ms unplayed]",
                            file=sys.stderr,
                        )
                    else:
                        print("[you are speaking]", file=sys.stderr)
                elif isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                    print(f"you: {event.transcript.strip()}", flush=True)
                elif isinstance(event, ev.ResponseAudioTranscriptDoneEvent):
                    print(f"assistant: {event.transcript.strip()}", flush=True)
                elif isinstance(event, ev.ConversationItemTruncatedEvent):
                    print(
                        f"[the assistant now knows you heard {event.audio_end_ms} ms]",
                        file=sys.stderr,
                    )
                elif isinstance(event, ev.ErrorEvent):
                    if event.error.code == "response_cancel_not_active":
                        continue  # server VAD (interrupt_response) had cancelled it already
                    print(f"[server error: {event.error.message}]", file=sys.stderr)
    finally:
        await trio.to_thread.run_sync(devices.stop)
    stats = session.statistics()
    print(
        f"sent {stats.audio_sent_ms / 1000:.1f} s of microphone audio "
        f"(dropped {stats.audio_dropped_ms:.0f} ms); played "
        f"{player.played_samples / OUTPUT_RATE:.1f} s of replies; {barge_ins} barge-in(s)",
        file=sys.stderr,
    )


async def run(args: argparse.Namespace) -> int:
    devices: Devices
    seconds = args.seconds
    if args.dry_run:
        devices = fake = FakeDevices(dry_run_signal(48000), 48000)
        seconds = DRY_RUN_SECONDS if seconds is None else seconds
    else:
        devices = SoundDevices(args.input_device, args.output_device)
    async with endpoint(args.model) as options:
        async with rt.open_realtime_session(session=session_config(), **options) as session:
            await converse(session, devices, seconds)
    if args.dry_run and args.speaker_wav is not None:
        audio.write_wav(args.speaker_wav, np.concatenate(fake.played), OUTPUT_RATE)
        print(f"wrote what the speaker played to {args.speaker_wav}", file=sys.stderr)
    return 0


def device(value: str) -> str | int:
    """A device index or a substring of its name, as sounddevice takes them."""
    return int(value) if value.isdigit() else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--model", default="gpt-realtime", help="the model (gpt-realtime)")
    parser.add_argument(
        "--input-device", type=device, default=None, help="microphone (index or name)"
    )
    parser.add_argument(
        "--output-device", type=device, default=None, help="speaker (index or name)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="stand-in devices with a generated voice"
    )
    parser.add_argument(
        "--speaker-wav", type=Path, default=None, help="with --dry-run: save what was played"
    )
    args = parser.parse_args(argv)
    try:
        return trio.run(run, args)
    except* KeyboardInterrupt:  # Ctrl-C: the way to stop it
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

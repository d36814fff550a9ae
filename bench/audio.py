"""Benchmark: audio ingestion speed, trio_realtime against the official client.

Usage::

    python bench/audio.py            # full run: 60 s of audio, median of 9 runs (~10 s)
    python bench/audio.py --quick    # short run (< 15 s), for smoke tests
    python bench/audio.py --json     # machine-readable output

The source is what a voice app holds: 48 kHz float32 stereo numpy audio (speech-like,
from ``trio_realtime.audio.voice_like``), in blocks of 100 ms. Each client turns it into
24 kHz PCM16 mono, sends it in 100 ms ``input_audio_buffer.append`` events, commits it
by hand and waits for ``input_audio_buffer.committed``. Timed from the first append to
that event, in the client's process (wall clock and ``time.process_time``); the emulator
runs in a process of its own (``python -m trio_realtime serve --port 0``), so its CPU is
not counted.

Contenders, in the same run, interleaved (in a rotating order), against the same emulator:

- ``trio_realtime``: ``await session.append_audio(block, sample_rate=48000)`` per block
  (mix-down, streaming soxr resampling, PCM16, framing and base64 in the library), then
  ``await session.commit_audio()``; default transport.
- ``trio_realtime[trio-websocket]``: the same on the trio-websocket transport.
- ``openai``: the official client as its docs and examples show: per block, mix down and
  resample with the same library (a streaming ``soxr.ResampleStream``, float32), convert
  to int16, base64-encode and ``await connection.input_audio_buffer.append(audio=...)``;
  then ``await connection.input_audio_buffer.commit()``.
- ``convert only``: the ``openai`` row's numpy + soxr + base64 work with no socket and
  no client: the floor any client pays.

Reported per contender (median of the runs): seconds of audio ingested per wall second
(x real time) and client CPU milliseconds per second of audio; and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import openai  # noqa: E402
import soxr  # type: ignore[import-untyped]  # noqa: E402
import trio  # noqa: E402

import trio_realtime as rt  # noqa: E402
from trio_realtime import audio, events as ev  # noqa: E402

MODEL = "gpt-realtime"
API_KEY = "sk-local"
SOURCE_RATE = 48_000
TARGET_RATE = 24_000
CHANNELS = 2
BLOCK_MS = 100
EMULATOR_START_TIMEOUT = 30.0
RUN_TIMEOUT = 120.0

MANUAL_COMMIT = ev.SessionConfig.model_validate(
    {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None}},
    }
)
"""No server VAD: the benchmark commits by hand, so no responses cost client CPU."""

Block = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Measurement:
    """One timed ingestion: wall and client CPU seconds, and milliseconds of audio sent."""

    wall_s: float
    cpu_s: float
    audio_sent_ms: float


def source_blocks(seconds: float) -> list[Block]:
    """``seconds`` of 48 kHz float32 stereo speech-like audio, in 100 ms blocks."""
    voice = audio.voice_like(seconds * 1000, sample_rate=SOURCE_RATE).astype(np.float32)
    voice /= 32768.0
    stereo = np.stack([voice, 0.8 * voice], axis=1)
    step = SOURCE_RATE * BLOCK_MS // 1000
    return [np.ascontiguousarray(stereo[i : i + step]) for i in range(0, len(stereo), step)]


# -- the emulator, in its own process ---------------------------------------------------


@contextmanager
def emulator_process() -> Iterator[str]:
    """Run ``python -m trio_realtime serve --port 0``; yield its URL; stop it at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "trio_realtime", "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = _first_line(process, EMULATOR_START_TIMEOUT)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise SystemExit(f"the emulator printed no URL within {timeout:.0f} s")
    line = process.stdout.readline().strip()
    if not line.startswith("ws://"):
        raise SystemExit(f"the emulator did not start (exit code {process.poll()}): {line!r}")
    return line


# -- the contenders ---------------------------------------------------------------------


def run_trio_realtime(url: str, blocks: list[Block], transport: str | None) -> Measurement:
    """trio_realtime: append numpy blocks at 48 kHz, commit, wait for ``committed``."""

    async def main() -> Measurement:
        with trio.fail_after(RUN_TIMEOUT):
            async with rt.open_realtime_session(
                MODEL, url=url, api_key=API_KEY, session=MANUAL_COMMIT, transport=transport
            ) as session:
                wall, cpu = time.perf_counter(), time.process_time()
                for block in blocks:
                    await session.append_audio(block, sample_rate=SOURCE_RATE)
                await session.commit_audio()
                async for event in session:
                    if isinstance(event, ev.InputAudioBufferCommittedEvent):
                        break
                    if isinstance(event, ev.ErrorEvent):
                        raise SystemExit(f"trio_realtime: server error {event.error.message}")
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                return Measurement(wall, cpu, session.statistics().audio_sent_ms)

    return trio.run(main)


def pcm16_blocks(blocks: list[Block]) -> Iterator[npt.NDArray[np.int16]]:
    """What a user of the official client writes: mix down, soxr (streaming), int16."""
    resampler = soxr.ResampleStream(SOURCE_RATE, TARGET_RATE, 1, dtype="float32")
    for index, block in enumerate(blocks):
        mono = block.mean(axis=1)
        resampled = resampler.resample_chunk(mono, last=index == len(blocks) - 1)
        yield (np.clip(resampled, -1.0, 1.0) * 32767).astype(np.int16)


def run_floor(url: str, blocks: list[Block]) -> Measurement:
    """The conversion alone, as in the official client's path, with no socket: the floor."""
    wall, cpu = time.perf_counter(), time.process_time()
    samples = 0
    for pcm in pcm16_blocks(blocks):
        samples += len(pcm)
        base64.b64encode(pcm.tobytes()).decode("ascii")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Measurement(wall, cpu, samples * 1000 / TARGET_RATE)


def run_openai(url: str, blocks: list[Block]) -> Measurement:
    """The official client, as its examples do it: resample, int16, base64, append."""

    async def main() -> Measurement:
        client = openai.AsyncOpenAI(api_key=API_KEY, websocket_base_url=url)
        async with asyncio.timeout(RUN_TIMEOUT):
            async with client.realtime.connect(model=MODEL) as connection:
                await connection.session.update(
                    session={
                        "type": "realtime",
                        "output_modalities": ["text"],
                        "audio": {"input": {"turn_detection": None}},
                    }
                )
                async for event in connection:
                    if event.type == "session.updated":
                        break
                wall, cpu = time.perf_counter(), time.process_time()
                samples_sent = 0
                for pcm in pcm16_blocks(blocks):
                    samples_sent += len(pcm)
                    await connection.input_audio_buffer.append(
                        audio=base64.b64encode(pcm.tobytes()).decode("ascii")
                    )
                await connection.input_audio_buffer.commit()
                async for event in connection:
                    if event.type == "input_audio_buffer.committed":
                        break
                    if event.type == "error":
                        raise SystemExit(f"openai: server error {event.error.message}")
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await client.close()
        return Measurement(wall, cpu, samples_sent * 1000 / TARGET_RATE)

    return asyncio.run(main())


def contenders() -> dict[str, Callable[[str, list[Block]], Measurement]]:
    return {
        "trio_realtime": lambda url, blocks: run_trio_realtime(url, blocks, None),
        "trio_realtime[trio-websocket]": lambda url, blocks: run_trio_realtime(
            url, blocks, "trio-websocket"
        ),
        "openai": run_openai,
        "convert only": run_floor,
    }


# -- the report -------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    seconds, runs = (20.0, 3) if quick else (60.0, 9)
    blocks = source_blocks(seconds)
    audio_s = sum(len(block) for block in blocks) / SOURCE_RATE
    measured: dict[str, list[Measurement]] = {name: [] for name in contenders()}
    with emulator_process() as url:
        for contender in contenders().values():  # warm-up: imports, validators
            contender(url, blocks[:5])
        names = list(contenders())
        for run_index in range(runs):  # a different order each run: no contender always first
            shift = run_index % len(names)
            for name in names[shift:] + names[:shift]:
                measured[name].append(contenders()[name](url, blocks))
    results: dict[str, dict[str, Any]] = {}
    for name, rows in measured.items():
        results[name] = {
            "x_realtime": statistics.median(audio_s / row.wall_s for row in rows),
            "cpu_ms_per_audio_s": statistics.median(row.cpu_s * 1000 / audio_s for row in rows),
            "wall_s": [row.wall_s for row in rows],
            "cpu_s": [row.cpu_s for row in rows],
            "audio_sent_ms": rows[-1].audio_sent_ms,
        }
    theirs = results["openai"]
    ratios: dict[str, float] = {}
    for name in ("trio_realtime", "trio_realtime[trio-websocket]"):
        ours = results[name]
        ratios[f"{name}_speed_over_openai"] = ours["x_realtime"] / theirs["x_realtime"]
        ratios[f"openai_cpu_over_{name}"] = (
            theirs["cpu_ms_per_audio_s"] / ours["cpu_ms_per_audio_s"]
        )
    return {
        "quick": quick,
        "python": platform.python_version(),
        "openai": openai.__version__,
        "trio_realtime": rt.__version__,
        "soxr": soxr.__version__,
        "numpy": np.__version__,
        "source": {
            "sample_rate": SOURCE_RATE,
            "channels": CHANNELS,
            "dtype": "float32",
            "block_ms": BLOCK_MS,
        },
        "target": {"sample_rate": TARGET_RATE, "format": "audio/pcm", "append_ms": BLOCK_MS},
        "audio_s": audio_s,
        "runs": runs,
        "results": results,
        "ratios": ratios,
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Python {report['python']}, openai {report['openai']}, "
        f"trio_realtime {report['trio_realtime']}, soxr {report['soxr']}, "
        f"numpy {report['numpy']}{' (quick run)' if report['quick'] else ''}",
        f"{report['audio_s']:.0f} s of 48 kHz float32 stereo -> 24 kHz PCM16, 100 ms appends, "
        f"manual commit; median of {report['runs']} runs",
        "",
        f"{'client':<32}{'x real time':>12}{'CPU ms / audio s':>18}{'audio sent':>12}",
    ]
    for name, row in report["results"].items():
        lines.append(
            f"{name:<32}{row['x_realtime']:>11.0f}x{row['cpu_ms_per_audio_s']:>18.2f}"
            f"{row['audio_sent_ms'] / 1000:>11.2f}s"
        )
    lines.append("")
    for name, value in report["ratios"].items():
        lines.append(f"{name}: {value:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (< 15 s)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    report = run(quick=args.quick)
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

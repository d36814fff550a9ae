"""Benchmark: parsing Realtime server events, trio_realtime against the official client.

Usage::

    python bench/parse.py            # full run (~20 s)
    python bench/parse.py --quick    # short run (< 5 s), for smoke tests
    python bench/parse.py --json     # machine-readable output

The mix is one realistic audio response: 10 audio deltas (100 ms of 24 kHz PCM16 each,
4800 bytes raw, base64), 10 audio-transcript deltas and 3 text deltas (with the
``obfuscation`` padding the live service adds) and 1 ``response.done`` with usage. Every
frame arrives as ``bytes``, as a WebSocket reader gets it.

Contenders, all in the same process and run, interleaved:

- ``trio_realtime``: :func:`trio_realtime.parse_server_event` (validates, typed models).
- ``openai``: the official client's own path, ``AsyncRealtimeConnection.parse_event``
  (``json.loads`` then ``construct_type_unchecked``, no validation), called unbound
  without a connection.
- ``json.loads``: decoding alone, the floor.

Also measured, each in fresh subprocesses (best of several): the cold ``import
trio_realtime`` and the one-time cost of the first parse (the validator build).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import platform
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
import pydantic  # noqa: E402
from openai.resources.realtime.realtime import AsyncRealtimeConnection  # noqa: E402

import trio_realtime  # noqa: E402
from trio_realtime import events  # noqa: E402

MIX = {"audio_delta": 10, "transcript_delta": 10, "text_delta": 3, "response_done": 1}
"""Frames of each kind in one response, in the proportions of a real audio response."""

AUDIO_MS = 100
SAMPLE_RATE = 24_000

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _live_id(prefix: str, n: int) -> str:
    """An id shaped like the live service's: prefix + 21 base62 characters."""
    value = (n + 1) * 0x9E3779B97F4A7C15
    chars = []
    for _ in range(21):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
        value = value * 31 + n + 7
    return f"{prefix}_{''.join(chars)}"


def _pcm16_base64(ms: int, freq: float) -> str:
    samples = SAMPLE_RATE * ms // 1000
    raw = b"".join(
        struct.pack("<h", int(9000 * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
        for i in range(samples)
    )
    return base64.b64encode(raw).decode()


TRANSCRIPT = (
    "The weather in Paris is sunny and twenty two degrees with a light breeze from "
    "the west so it is a good afternoon for a walk along the river"
)
WORDS = TRANSCRIPT.split()


def build_response_frames(n: int) -> list[tuple[str, bytes]]:
    """The frames of one audio response, as (kind, bytes), interleaved like the live wire."""
    response_id, item_id = _live_id("resp", n), _live_id("item", n)
    base = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    counter = iter(range(n * 100, n * 100 + 100))

    def frame(kind: str, payload: dict[str, Any]) -> tuple[str, bytes]:
        event = {"type": payload.pop("type"), "event_id": _live_id("event", next(counter))}
        event.update(payload)
        return kind, json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()

    transcript: list[str] = []
    frames: list[tuple[str, bytes]] = []
    for i in range(MIX["audio_delta"]):
        word = " " + WORDS[(n + i) % len(WORDS)]
        transcript.append(word)
        frames.append(
            frame(
                "transcript_delta",
                {
                    "type": "response.output_audio_transcript.delta",
                    **base,
                    "delta": word,
                    "obfuscation": _live_id("o", i)[2 : 2 + 16 - len(word) % 16],
                },
            )
        )
        frames.append(
            frame(
                "audio_delta",
                {
                    "type": "response.output_audio.delta",
                    **base,
                    "delta": _pcm16_base64(AUDIO_MS, 180.0 + 20 * ((n + i) % 7)),
                },
            )
        )
    for i in range(MIX["text_delta"]):
        frames.append(
            frame(
                "text_delta",
                {
                    "type": "response.output_text.delta",
                    **base,
                    "delta": " " + WORDS[(n + i + 3) % len(WORDS)],
                    "obfuscation": _live_id("o", 50 + i)[2:14],
                },
            )
        )
    frames.append(
        frame(
            "response_done",
            {
                "type": "response.done",
                "response": {
                    "object": "realtime.response",
                    "id": response_id,
                    "status": "completed",
                    "status_details": None,
                    "output": [
                        {
                            "id": item_id,
                            "type": "message",
                            "status": "completed",
                            "role": "assistant",
                            "content": [
                                {"type": "output_audio", "transcript": "".join(transcript)}
                            ],
                        }
                    ],
                    "conversation_id": _live_id("conv", 0),
                    "output_modalities": ["audio"],
                    "max_output_tokens": "inf",
                    "audio": {
                        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}
                    },
                    "usage": {
                        "total_tokens": 1422,
                        "input_tokens": 1206,
                        "output_tokens": 216,
                        "input_token_details": {
                            "text_tokens": 1081,
                            "audio_tokens": 125,
                            "image_tokens": 0,
                            "cached_tokens": 1024,
                            "cached_tokens_details": {
                                "text_tokens": 1024,
                                "audio_tokens": 0,
                                "image_tokens": 0,
                            },
                        },
                        "output_token_details": {"text_tokens": 43, "audio_tokens": 173},
                    },
                    "metadata": None,
                },
            },
        )
    )
    return frames


EXPECTED_CLASS = {
    "audio_delta": events.ResponseAudioDeltaEvent,
    "transcript_delta": events.ResponseAudioTranscriptDeltaEvent,
    "text_delta": events.ResponseTextDeltaEvent,
    "response_done": events.ResponseDoneEvent,
}


def official_parse_event(data: bytes) -> Any:
    """The official connection's parse_event, exactly; it does not touch ``self``."""
    return AsyncRealtimeConnection.parse_event(None, data)  # type: ignore[arg-type]


CONTENDERS: dict[str, Callable[[bytes], Any]] = {
    "trio_realtime": trio_realtime.parse_server_event,
    "openai": official_parse_event,
    "json.loads": json.loads,
}


def check_mix(frames: list[tuple[str, bytes]]) -> None:
    """Fail loudly if a contender does not produce what a user would get."""
    for kind, data in frames:
        ours = trio_realtime.parse_server_event(data)
        if type(ours) is not EXPECTED_CLASS[kind]:
            raise SystemExit(f"trio_realtime parsed a {kind} frame as {type(ours).__name__}")
        theirs = official_parse_event(data)
        if theirs.type != ours.type:
            raise SystemExit(f"openai parsed a {kind} frame as {theirs.type}")


def time_contender(parse: Callable[[bytes], Any], frames: list[bytes], rounds: int) -> float:
    """Seconds per event for ``rounds`` passes over ``frames``."""
    start = time.perf_counter()
    for _ in range(rounds):
        for data in frames:
            parse(data)
    return (time.perf_counter() - start) / (rounds * len(frames))


def measure_throughput(
    frames: list[bytes], rounds: int, repeats: int
) -> dict[str, dict[str, float]]:
    best: dict[str, float] = {name: math.inf for name in CONTENDERS}
    for parse in CONTENDERS.values():
        time_contender(parse, frames, 1)
    for _ in range(repeats):
        for name, parse in CONTENDERS.items():
            best[name] = min(best[name], time_contender(parse, frames, rounds))
    return {
        name: {"events_per_s": 1.0 / seconds, "us_per_event": seconds * 1e6}
        for name, seconds in best.items()
    }


def measure_by_kind(
    frames: list[tuple[str, bytes]], events_per_timing: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Microseconds per event of each kind, for every contender.

    Each timing covers about ``events_per_timing`` events whatever the kind's share of
    the mix, so the rare ``response.done`` is timed as precisely as the audio deltas.
    """
    best: dict[str, dict[str, float]] = {kind: dict.fromkeys(CONTENDERS, math.inf) for kind in MIX}
    for _ in range(repeats):
        for kind in MIX:
            data = [d for k, d in frames if k == kind]
            rounds = max(1, events_per_timing // len(data))
            for name, parse in CONTENDERS.items():
                seconds = time_contender(parse, data, rounds)
                best[kind][name] = min(best[kind][name], seconds * 1e6)
    return best


_COLD_SNIPPET = """
import sys, time
sys.path.insert(0, {root!r})
frame = {frame!r}
t0 = time.perf_counter()
{import_statement}
t1 = time.perf_counter()
{parse_call}
t2 = time.perf_counter()
{parse_call}
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

COLD_CASES = {
    "trio_realtime": ("import trio_realtime", "trio_realtime.parse_server_event(frame)"),
    "openai": (
        "from openai.resources.realtime.realtime import AsyncRealtimeConnection",
        "AsyncRealtimeConnection.parse_event(None, frame)",
    ),
}


def measure_cold(frame: bytes, repeats: int) -> dict[str, dict[str, float]]:
    """Import time, first parse (validator build) and second parse, in fresh interpreters.

    Each figure is the best of ``repeats`` subprocesses.
    """
    results: dict[str, dict[str, float]] = {}
    for name, (import_statement, parse_call) in COLD_CASES.items():
        code = _COLD_SNIPPET.format(
            root=str(ROOT), frame=frame, import_statement=import_statement, parse_call=parse_call
        )
        runs = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
            runs.append([float(x) for x in out.split()])
        results[name] = {
            "import_s": min(r[0] for r in runs),
            "first_parse_s": min(r[1] for r in runs),
            "second_parse_s": min(r[2] for r in runs),
        }
    return results


def run(quick: bool) -> dict[str, Any]:
    responses = 4 if quick else 20
    kinded = [f for n in range(responses) for f in build_response_frames(n)]
    frames = [data for _, data in kinded]
    check_mix(kinded)
    rounds, repeats = (3, 3) if quick else (25, 7)
    throughput = measure_throughput(frames, rounds, repeats)
    by_kind = measure_by_kind(kinded, rounds * len(frames) // 2, repeats)
    done_frame = next(d for k, d in kinded if k == "response_done")
    cold = measure_cold(done_frame, 1 if quick else 7)
    ours = throughput["trio_realtime"]["us_per_event"]
    return {
        "quick": quick,
        "python": platform.python_version(),
        "pydantic": pydantic.VERSION,
        "openai": openai.__version__,
        "trio_realtime": trio_realtime.__version__,
        "mix": dict(MIX),
        "events": len(frames),
        "mean_frame_bytes": sum(map(len, frames)) / len(frames),
        "results": throughput,
        "by_kind_us": by_kind,
        "ratios": {
            "openai_us_over_trio_realtime_us": throughput["openai"]["us_per_event"] / ours,
            "trio_realtime_us_over_json_loads_us": ours / throughput["json.loads"]["us_per_event"],
        },
        "cold": cold,
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Python {report['python']}, pydantic {report['pydantic']}, openai {report['openai']}, "
        f"trio_realtime {report['trio_realtime']}{' (quick run)' if report['quick'] else ''}",
        f"Mix per response: {report['mix']}; {report['events']} frames, "
        f"mean {report['mean_frame_bytes']:.0f} bytes",
        "",
        f"{'parser':<16}{'events/s':>12}{'us/event':>11}",
    ]
    for name, row in report["results"].items():
        lines.append(f"{name:<16}{row['events_per_s']:>12,.0f}{row['us_per_event']:>11.2f}")
    ratios = report["ratios"]
    lines += [
        "",
        f"openai / trio_realtime time per event: {ratios['openai_us_over_trio_realtime_us']:.2f}x",
        f"trio_realtime / json.loads time per event: "
        f"{ratios['trio_realtime_us_over_json_loads_us']:.2f}x",
        "",
        f"{'us/event by kind':<20}" + "".join(f"{name:>15}" for name in CONTENDERS),
    ]
    for kind, row in report["by_kind_us"].items():
        lines.append(f"{kind:<20}" + "".join(f"{row[name]:>15.2f}" for name in CONTENDERS))
    lines += [
        "",
        f"{'cold start (fresh process)':<28}{'import':>10}{'1st parse':>11}{'2nd parse':>11}",
    ]
    for name, row in report["cold"].items():
        lines.append(
            f"{name:<28}{row['import_s'] * 1e3:>8.1f}ms{row['first_parse_s'] * 1e3:>9.2f}ms"
            f"{row['second_parse_s'] * 1e6:>9.0f}us"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (< 5 s)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    report = run(quick=args.quick)
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

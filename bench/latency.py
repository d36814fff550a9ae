"""Benchmark: event delivery latency, from the server's send to the user's ``async for`` body.

Usage::

    python bench/latency.py            # full run (~1 min)
    python bench/latency.py --quick    # short run (~15 s)
    python bench/latency.py --json     # machine-readable output

The server (bench/_server.py, a process of its own, pinned to the second core when there
is one) stamps every event with ``time.monotonic_ns()`` just before writing it; the
client (pinned to the first core) takes ``time.monotonic_ns()`` as the first statement of
its loop body. Both read CLOCK_MONOTONIC, one clock for the whole machine, so the
difference is the delivery latency: kernel, event loop wake-up, WebSocket framing,
parsing and the library's queues.

Scenarios, each a fresh connection:

- ``idle``: one small event (an audio transcript delta) every 10 ms, nothing else;
- ``streaming``: 24 kHz audio streams out at real time (a 100 ms delta every 100 ms)
  with a transcript delta every 10 ms;
- ``duplex``: ``streaming`` while the client also sends microphone audio at real time
  (``append_audio`` of 100 ms in every 100 ms slot, at a random point of the slot: the
  microphone's clock is not the server's), what a voice agent does.

In ``streaming`` and ``duplex`` the voice-agent figure is also taken: from the server's
send of a ``response.output_audio.delta`` to the samples being ready for a playback
callback (``session.decode_audio(event)`` returned an int16 array; the peers:
``base64.b64decode`` + ``numpy.frombuffer``).

Clients: ``trio_realtime`` on each transport and backend; the official ``openai``
client (``async for event in connection``); ``websockets+json`` (raw asyncio
``websockets`` and ``json.loads``: the floor). Each client runs in a fresh process,
interleaved over rounds; figures pool the samples of all rounds.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import (  # noqa: E402
    API_KEY,
    CHUNK_MS,
    MODEL,
    SAMPLE_RATE,
    ServerProcess,
    child_main,
    cpus,
    machine_info,
    median,
    pin_to_cpu,
    run_child,
    summarize_us,
)

SMALL_MS = 10
SCENARIOS: dict[str, dict[str, Any]] = {
    "idle": {"spec": {"audio_ms": 0, "small_ms": SMALL_MS}, "mic": False},
    "streaming": {
        "spec": {"audio_ms": CHUNK_MS, "period_ms": CHUNK_MS, "small_ms": SMALL_MS},
        "mic": False,
    },
    "duplex": {
        "spec": {"audio_ms": CHUNK_MS, "period_ms": CHUNK_MS, "small_ms": SMALL_MS},
        "mic": True,
    },
}
CLIENTS: dict[str, str] = {
    "trio_realtime[websockets/trio]": "trio",
    "trio_realtime[trio-websocket/trio]": "trio",
    "trio_realtime[websockets/asyncio]": "asyncio",
    "openai": "asyncio",
    "websockets+json": "asyncio",
}
DEFAULT_CLIENT = "trio_realtime[websockets/trio]"
AUDIO_TYPE = "response.output_audio.delta"


class Samples:
    """What one connection measured, in nanoseconds."""

    def __init__(self) -> None:
        self.delivery: list[int] = []
        self.audio_delivery: list[int] = []
        self.playback: list[int] = []
        self.server_late: list[int] = []
        self.mic_late: list[int] = []

    def record(self, now: int, ts: int, due: int) -> None:
        self.delivery.append(now - ts)
        self.server_late.append(ts - due)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "delivery": self.delivery,
            "audio_delivery": self.audio_delivery,
            "playback": self.playback,
            "server_late": self.server_late,
            "mic_late": self.mic_late,
        }


def _phase() -> int:
    """A random offset within the period, drawn for every microphone append.

    The microphone's clock and the server's audio clock are unrelated: drawing the
    phase afresh each time samples every alignment, instead of the one that the
    order of a client's connection steps happens to give (an append that lands on an
    audio delta delays it by the append's own cost).
    """
    return random.randrange(CHUNK_MS * 1_000_000)


def _mic_chunk() -> Any:
    import numpy as np

    t = np.arange(SAMPLE_RATE * CHUNK_MS // 1000) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 180 * t) * 6000).astype(np.int16)


# -- the clients (each runs in a child process) ----------------------------------------------


def trio_realtime_client(transport: str) -> Callable[..., Coroutine[Any, Any, Samples]]:
    async def run(url: str, duration: float, warmup: float, mic: bool) -> Samples:
        import anyio

        import trio_realtime as rt

        samples = Samples()
        chunk = _mic_chunk()
        monotonic_ns = time.monotonic_ns
        async with rt.open_realtime_session(
            MODEL, api_key=API_KEY, url=url, transport=transport
        ) as session:
            start = monotonic_ns() + int(warmup * 1e9)
            end = start + int(duration * 1e9)

            async def microphone() -> None:
                due = monotonic_ns()
                while True:
                    await session.append_audio(chunk, sample_rate=SAMPLE_RATE)
                    due += CHUNK_MS * 1_000_000
                    wake = due + _phase()
                    await anyio.sleep(max(0.0, (wake - monotonic_ns()) / 1e9))
                    samples.mic_late.append(monotonic_ns() - wake)

            async with anyio.create_task_group() as tasks:
                if mic:
                    tasks.start_soon(microphone)
                async for event in session:
                    now = monotonic_ns()
                    ts = getattr(event, "bench_ts", None)
                    if ts is None or now < start:
                        continue
                    samples.record(now, ts, event.bench_due)  # type: ignore[attr-defined]
                    if event.type == AUDIO_TYPE:
                        samples.audio_delivery.append(now - ts)
                        session.decode_audio(event)  # type: ignore[arg-type]
                        samples.playback.append(monotonic_ns() - ts)
                    if now > end:
                        break
                tasks.cancel_scope.cancel()
        return samples

    return run


async def official_client(url: str, duration: float, warmup: float, mic: bool) -> Samples:
    import asyncio

    import numpy as np
    from openai import AsyncOpenAI

    samples = Samples()
    chunk = _mic_chunk().tobytes()
    monotonic_ns = time.monotonic_ns
    client = AsyncOpenAI(api_key=API_KEY, websocket_base_url=url)
    async with client.realtime.connect(model=MODEL) as connection:
        start = monotonic_ns() + int(warmup * 1e9)
        end = start + int(duration * 1e9)

        async def microphone() -> None:
            due = monotonic_ns()
            while True:
                audio = base64.b64encode(chunk).decode("ascii")
                await connection.input_audio_buffer.append(audio=audio)
                due += CHUNK_MS * 1_000_000
                wake = due + _phase()
                await asyncio.sleep(max(0.0, (wake - monotonic_ns()) / 1e9))
                samples.mic_late.append(monotonic_ns() - wake)

        task = asyncio.create_task(microphone()) if mic else None
        try:
            async for event in connection:
                now = monotonic_ns()
                ts = getattr(event, "bench_ts", None)
                if ts is None or now < start:
                    continue
                samples.record(now, ts, event.bench_due)  # type: ignore[union-attr]
                if event.type == AUDIO_TYPE:
                    samples.audio_delivery.append(now - ts)
                    np.frombuffer(base64.b64decode(event.delta), dtype=np.int16)  # type: ignore[union-attr,arg-type]
                    samples.playback.append(monotonic_ns() - ts)
                if now > end:
                    break
        finally:
            if task is not None:
                task.cancel()
    return samples


async def websockets_client(url: str, duration: float, warmup: float, mic: bool) -> Samples:
    import asyncio

    import numpy as np
    import websockets

    samples = Samples()
    chunk = _mic_chunk().tobytes()
    monotonic_ns = time.monotonic_ns
    async with websockets.connect(f"{url}/realtime", max_size=None, compression=None) as ws:
        start = monotonic_ns() + int(warmup * 1e9)
        end = start + int(duration * 1e9)

        async def microphone() -> None:
            due = monotonic_ns()
            while True:
                audio = base64.b64encode(chunk).decode("ascii")
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
                due += CHUNK_MS * 1_000_000
                wake = due + _phase()
                await asyncio.sleep(max(0.0, (wake - monotonic_ns()) / 1e9))
                samples.mic_late.append(monotonic_ns() - wake)

        task = asyncio.create_task(microphone()) if mic else None
        try:
            async for message in ws:
                now = monotonic_ns()
                event = json.loads(message)
                ts = event.get("bench_ts")
                if ts is None or now < start:
                    continue
                samples.record(now, ts, event["bench_due"])
                if event["type"] == AUDIO_TYPE:
                    samples.audio_delivery.append(now - ts)
                    np.frombuffer(base64.b64decode(event["delta"]), dtype=np.int16)
                    samples.playback.append(monotonic_ns() - ts)
                if now > end:
                    break
        finally:
            if task is not None:
                task.cancel()
    return samples


CLIENT_RUNNERS: dict[str, Callable[..., Coroutine[Any, Any, Samples]]] = {
    "trio_realtime[websockets/trio]": trio_realtime_client("websockets"),
    "trio_realtime[trio-websocket/trio]": trio_realtime_client("trio-websocket"),
    "trio_realtime[websockets/asyncio]": trio_realtime_client("websockets"),
    "openai": official_client,
    "websockets+json": websockets_client,
}


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One client, every scenario, one connection each (runs in a fresh process)."""
    pin_to_cpu(spec["cpu"])
    name = spec["client"]
    runner = CLIENT_RUNNERS[name]
    results: dict[str, Any] = {}
    for scenario, url in spec["urls"].items():
        args = (url, spec["duration"], spec["warmup"], SCENARIOS[scenario]["mic"])
        wait0, wall0 = _runqueue_wait(), time.perf_counter()
        if CLIENTS[name] == "trio":
            import trio

            samples = trio.run(runner, *args)
        else:
            import asyncio

            samples = asyncio.run(runner(*args))
        results[scenario] = samples.as_dict()
        results[scenario]["runqueue_wait_share"] = (_runqueue_wait() - wait0) / (
            time.perf_counter() - wall0
        )
    return results


def _runqueue_wait() -> float:
    """Seconds this process was runnable but waited for a CPU (Linux schedstat)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


# -- the run ------------------------------------------------------------------------------------


def run(quick: bool, pin: bool = False) -> dict[str, Any]:
    """Every client, every scenario, interleaved over rounds.

    Unpinned by default: on a shared machine the kernel may then move a woken client to
    whichever core is free (``pin=True`` puts client and server on cores of their own).
    """
    duration, warmup, rounds = (1.0, 0.3, 1) if quick else (2.5, 0.5, 3)
    client_cpu, server_cpu = cpus() if pin else (None, None)
    pooled: dict[str, dict[str, dict[str, list[int]]]] = {
        name: {s: {} for s in SCENARIOS} for name in CLIENTS
    }
    round_p99: dict[str, dict[str, list[float]]] = {
        name: {s: [] for s in SCENARIOS} for name in CLIENTS
    }
    waits: dict[str, dict[str, list[float]]] = {
        name: {s: [] for s in SCENARIOS} for name in CLIENTS
    }
    errors: dict[str, str] = {}
    with ServerProcess(server_cpu) as server:
        urls = {name: server.url(**s["spec"]) for name, s in SCENARIOS.items()}
        for _ in range(rounds):
            for name in CLIENTS:
                spec = {
                    "client": name,
                    "urls": urls,
                    "duration": duration,
                    "warmup": warmup,
                    "cpu": client_cpu,
                }
                result = run_child("latency", spec, timeout=60 + 10 * duration)
                if "error" in result:
                    errors[name] = result["error"]
                    continue
                for scenario, samples in result.items():
                    waits[name][scenario].append(samples.pop("runqueue_wait_share"))
                    round_p99[name][scenario].append(summarize_us(samples["delivery"])["p99_us"])
                    for key, values in samples.items():
                        pooled[name][scenario].setdefault(key, []).extend(values)
    results: dict[str, Any] = {}
    for name, scenarios in pooled.items():
        if name in errors and not round_p99[name]["idle"]:
            results[name] = {"error": errors[name]}
            continue
        results[name] = {}
        for scenario, samples in scenarios.items():
            delivery: dict[str, Any] = dict(summarize_us(samples.get("delivery", [])))
            delivery["p99_pooled_us"] = delivery["p99_us"]
            delivery["p99_us"] = median(round_p99[name][scenario])
            delivery["p99_rounds_us"] = round_p99[name][scenario]
            results[name][scenario] = {
                "delivery": delivery,
                "audio_delivery": summarize_us(samples.get("audio_delivery", [])),
                "playback": summarize_us(samples.get("playback", [])),
                "server_late_max_us": max(samples.get("server_late", [0]), default=0) / 1e3,
                "mic_late": summarize_us(samples.get("mic_late", [])),
                "runqueue_wait_share": median(waits[name][scenario]),
            }
    target_p99 = None
    default = results.get(DEFAULT_CLIENT, {})
    if "error" not in default:
        target_p99 = max(default[s]["delivery"]["p99_us"] for s in ("streaming", "duplex"))
    return {
        "quick": quick,
        "rounds": rounds,
        "duration_s": duration,
        "small_event_ms": SMALL_MS,
        "audio_delta_ms": CHUNK_MS,
        "pinned": pin,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "clients": list(CLIENTS),
        "scenarios": list(SCENARIOS),
        "results": results,
        "target": {
            "client": DEFAULT_CLIENT,
            "p99_streaming_us": target_p99,
            "limit_us": 1000.0,
            "met": target_p99 is not None and target_p99 < 1000.0,
        },
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Delivery latency, µs (server send -> async for body); {report['rounds']} round(s) of "
        f"{report['duration_s']:g} s per scenario{' (quick run)' if report['quick'] else ''}; "
        "p99: median of the rounds' p99; rq wait: share of the time the client was runnable "
        "but waited for a CPU (other processes)",
        "",
        f"{'client':<36}{'scenario':<11}{'p50':>8}{'p99':>9}{'max':>9}"
        f"{'play p50':>10}{'play p99':>10}{'n':>7}{'rq wait':>9}",
    ]
    for name, scenarios in report["results"].items():
        if "error" in scenarios:
            lines.append(f"{name:<36}error: {scenarios['error']}")
            continue
        for scenario, row in scenarios.items():
            d, p = row["delivery"], row["playback"]
            play = f"{p['p50_us']:>10.0f}{p['p99_us']:>10.0f}" if p["n"] else f"{'-':>10}{'-':>10}"
            lines.append(
                f"{name:<36}{scenario:<11}{d['p50_us']:>8.0f}{d['p99_us']:>9.0f}"
                f"{d['max_us']:>9.0f}{play}{d['n']:>7}{row['runqueue_wait_share']:>9.1%}"
            )
    target = report["target"]
    if target["p99_streaming_us"] is not None:
        lines += [
            "",
            f"{target['client']}: p99 while streaming {target['p99_streaming_us']:.0f} µs "
            f"(target < 1000): {'met' if target['met'] else 'MISSED'}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--pin", action="store_true", help="client and server on own cores")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(child)
        return
    report = run(quick=args.quick, pin=args.pin)
    report["machine"] = machine_info()
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

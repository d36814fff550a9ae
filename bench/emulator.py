"""Benchmark: the emulator itself (``trio-realtime serve``) as a long-running server.

Usage::

    python bench/emulator.py            # full run (~3 min on a 2-core VM)
    python bench/emulator.py --quick    # short run (~15 s)
    python bench/emulator.py --json     # machine-readable output

The server is ``python -m trio_realtime serve --port 0`` in a process of its own, pinned
to its own core when there are two; the clients are raw asyncio ``websockets`` in this
process (on the other core), so what is measured is the emulator's cost.

- ``retention``: one client runs three sessions one after another, each of ``TURNS``
  turns (600; quick: 30). A turn is a user text message and a response, then 1 s of
  audio appended in 100 ms chunks, a commit and a response (both responses with audio
  and a transcript, as fast as the emulator makes them). The server's RSS is read after
  each session closed: a server that lets go of closed sessions stays within
  ``FLAT_MIB`` (50 MiB) of its RSS after the first session.
- ``load``: N concurrent sessions with audio both ways at real-time pace (the server runs
  with ``--audio-pace 1``): each client appends 100 ms of audio every 100 ms (1 s of
  speech, then 2 s of silence, over and over; server VAD answers each utterance with a
  spoken reply, which the next utterance may interrupt) for ``SECONDS`` (10 s; quick:
  3 s), after a warm-up session that is not reported. Reported per N: events per second
  both ways, the server's CPU per session (ms of CPU per second of session) and its RSS
  per session, and whether every client kept its real-time pace. ``sessions_per_core``
  projects how many such sessions one core of the emulator drives.

The machine is shared and noisy: the figures are for orientation, not for comparison
across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import (  # noqa: E402
    API_KEY,
    CHUNK_MS,
    MODEL,
    ROOT,
    SAMPLE_RATE,
    cpu_seconds,
    cpus,
    end_process,
    machine_info,
    rss_bytes,
)

MIB = 1024 * 1024
FLAT_MIB = 50.0
TURNS = 600
QUICK_TURNS = 30
SESSIONS = 3
LOAD_SESSIONS = (10, 25, 50, 100)
QUICK_LOAD_SESSIONS = (2, 6)
SECONDS = 10.0
QUICK_SECONDS = 3.0
SPEECH_S, SILENCE_S = 1, 2
WARM_UP_S = SPEECH_S + SILENCE_S + 0.5
"""A first session (one utterance and its reply), not reported: one-time costs (imports,
validators, buffers) are not counted."""
SETTLE_S = 1.0
"""How long after a session closes the server's RSS is read (it frees at close)."""


def _speech_chunks() -> list[str]:
    """100 ms chunks of 1 s of voice-like audio, base64 (24 kHz PCM16)."""
    from trio_realtime.audio import pcm16_bytes, voice_like

    audio = pcm16_bytes(voice_like(1000))
    step = SAMPLE_RATE * 2 * CHUNK_MS // 1000
    return [
        base64.b64encode(audio[start : start + step]).decode("ascii")
        for start in range(0, len(audio), step)
    ]


def _silence_chunk() -> str:
    return base64.b64encode(bytes(SAMPLE_RATE * 2 * CHUNK_MS // 1000)).decode("ascii")


# -- the server -----------------------------------------------------------------------------


class EmulatorProcess:
    """``python -m trio_realtime serve --port 0`` in a process of its own."""

    def __init__(self, *arguments: str, cpu: int | None = None) -> None:
        command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", *arguments]

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            preexec_fn=pin if cpu is not None else None,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("ws://"):
            self.close()
            raise RuntimeError("trio-realtime serve did not start")
        self.pid = self._process.pid

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def close(self) -> None:
        end_process(self._process)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- a client -------------------------------------------------------------------------------


class Client:
    """One raw WebSocket session against the emulator, counting events both ways."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.sent = 0
        self.received = 0

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))
        self.sent += 1

    async def receive(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await self.ws.recv())
        self.received += 1
        if event["type"] == "error":
            raise RuntimeError(f"the emulator answered an error: {event['error']}")
        return event

    async def until(self, kind: str) -> None:
        while (await self.receive())["type"] != kind:
            pass


@contextlib.asynccontextmanager
async def _session(url: str) -> Any:
    import websockets

    async with websockets.connect(
        f"{url}/realtime?model={MODEL}",
        max_size=None,
        compression=None,
        close_timeout=5,
        additional_headers={"Authorization": f"Bearer {API_KEY}"},
    ) as ws:
        client = Client(ws)
        await client.until("session.created")
        yield client


# -- retention: sequential long sessions ------------------------------------------------------


async def _long_session(url: str, turns: int, speech: list[str]) -> dict[str, int]:
    async with _session(url) as client:
        manual = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        await client.send({"type": "session.update", "session": manual})
        await client.until("session.updated")
        for turn in range(1, turns + 1):
            text = {"type": "input_text", "text": f"Turn {turn}: tell me something."}
            item = {"type": "message", "role": "user", "content": [text]}
            await client.send({"type": "conversation.item.create", "item": item})
            await client.send({"type": "response.create"})
            await client.until("response.done")
            for chunk in speech:
                await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            await client.send({"type": "input_audio_buffer.commit"})
            await client.send({"type": "response.create"})
            await client.until("response.done")
        return {"events_sent": client.sent, "events_received": client.received}


def retention(quick: bool) -> dict[str, Any]:
    turns = QUICK_TURNS if quick else TURNS
    speech = _speech_chunks()
    client_cpu, server_cpu = cpus()
    sessions: list[dict[str, Any]] = []
    with EmulatorProcess(cpu=server_cpu) as server:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        rss_start = server.rss_bytes()
        for _ in range(SESSIONS):
            started = time.perf_counter()
            counts = asyncio.run(_long_session(server.url, turns, speech))
            elapsed = time.perf_counter() - started
            time.sleep(SETTLE_S)
            sessions.append(
                {
                    **counts,
                    "seconds": elapsed,
                    "rss_after_mib": server.rss_bytes() / MIB,
                }
            )
    growth = sessions[-1]["rss_after_mib"] - sessions[0]["rss_after_mib"]
    return {
        "turns_per_session": turns,
        "audio_per_turn_s": SPEECH_S,
        "rss_start_mib": rss_start / MIB,
        "sessions": sessions,
        "growth_after_first_mib": growth,
        "flat_mib": FLAT_MIB,
        "flat": growth <= FLAT_MIB,
        "command": "python -m trio_realtime serve --port 0",
    }


# -- load: concurrent real-time sessions -------------------------------------------------------


async def _realtime_session(
    url: str, seconds: float, speech: list[str], silence: str, lateness: list[float]
) -> Client:
    cycle = speech + [silence] * (SILENCE_S * 1000 // CHUNK_MS)
    async with _session(url) as client:

        async def read() -> None:
            while True:
                await client.receive()

        reader = asyncio.create_task(read())
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            chunks = int(seconds * 1000 / CHUNK_MS)
            for index in range(chunks):
                due = start + index * CHUNK_MS / 1000
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                lateness.append(max(0.0, loop.time() - due))
                chunk = cycle[index % len(cycle)]
                await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return client


async def _load_step(server: EmulatorProcess, sessions: int, seconds: float) -> dict[str, Any]:
    speech, silence = _speech_chunks(), _silence_chunk()
    lateness: list[float] = []
    rss_idle = server.rss_bytes()
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    peak = rss_idle

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.rss_bytes())
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    try:
        clients = await asyncio.gather(
            *(
                _realtime_session(server.url, seconds, speech, silence, lateness)
                for _ in range(sessions)
            )
        )
    finally:
        sampler.cancel()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before
    events = sum(c.sent + c.received for c in clients)
    lateness.sort()
    p99_late_ms = lateness[int(0.99 * (len(lateness) - 1))] * 1e3 if lateness else float("nan")
    session_seconds = sessions * seconds
    return {
        "sessions": sessions,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "server_cpu_share": cpu / elapsed,
        "cpu_ms_per_session_s": cpu * 1e3 / session_seconds,
        "rss_idle_mib": rss_idle / MIB,
        "rss_peak_mib": peak / MIB,
        "rss_per_session_mib": (peak - rss_idle) / MIB / sessions,
        "append_p99_late_ms": p99_late_ms,
        # Real time kept: appends no later than a chunk behind, the server under one core.
        "sustained": p99_late_ms < CHUNK_MS and cpu / elapsed < 0.9,
    }


def load(quick: bool) -> dict[str, Any]:
    steps = QUICK_LOAD_SESSIONS if quick else LOAD_SESSIONS
    seconds = QUICK_SECONDS if quick else SECONDS
    client_cpu, server_cpu = cpus()
    results: list[dict[str, Any]] = []
    with EmulatorProcess("--audio-pace", "1", cpu=server_cpu) as server:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        asyncio.run(_load_step(server, 1, WARM_UP_S))
        for sessions in steps:
            results.append(asyncio.run(_load_step(server, sessions, seconds)))
            time.sleep(SETTLE_S)
    sustained = [row for row in results if row["sustained"]]
    best = max(sustained, key=lambda row: row["sessions"]) if sustained else None
    return {
        "seconds_per_step": seconds,
        "results": results,
        "largest_sustained": best["sessions"] if best else None,
        "sessions_per_core": round(1000 / best["cpu_ms_per_session_s"]) if best else None,
        "command": "python -m trio_realtime serve --port 0 --audio-pace 1",
    }


# -- the run ----------------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    return {"quick": quick, "retention": retention(quick), "load": load(quick)}


def render(report: dict[str, Any]) -> str:
    kept = report["retention"]
    lines = [
        f"trio-realtime serve, {SESSIONS} sessions of {kept['turns_per_session']} turns "
        f"(text + {kept['audio_per_turn_s']} s of audio each), one after another"
        f"{' (quick run)' if report['quick'] else ''}: server RSS at start "
        f"{kept['rss_start_mib']:.0f} MiB",
    ]
    for number, session in enumerate(kept["sessions"], start=1):
        lines.append(
            f"  after session {number}: {session['rss_after_mib']:.0f} MiB "
            f"({session['events_sent'] + session['events_received']} events in "
            f"{session['seconds']:.1f} s)"
        )
    lines.append(
        f"  growth after the first: {kept['growth_after_first_mib']:+.1f} MiB "
        f"({'flat' if kept['flat'] else 'NOT flat'}: within {kept['flat_mib']:.0f} MiB)"
    )
    heavy = report["load"]
    lines += [
        "",
        f"Concurrent real-time voice sessions ({heavy['command']}), "
        f"{heavy['seconds_per_step']:g} s per step:",
        f"{'sessions':>9}{'events/s':>10}{'server CPU':>12}{'CPU ms/s':>10}"
        f"{'RSS/session':>13}{'late p99':>10}  sustained",
    ]
    for row in heavy["results"]:
        lines.append(
            f"{row['sessions']:>9}{row['events_per_s']:>10,.0f}"
            f"{row['server_cpu_share']:>11.0%} {row['cpu_ms_per_session_s']:>9.2f}"
            f"{row['rss_per_session_mib']:>11.2f}MB{row['append_p99_late_ms']:>8.1f}ms"
            f"  {'yes' if row['sustained'] else 'NO'}"
        )
    lines.append(
        f"largest sustained: {heavy['largest_sustained']}; projected sessions per core: "
        f"{heavy['sessions_per_core']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer turns, shorter steps")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    report = run(quick=args.quick)
    report["machine"] = machine_info()
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

"""Benchmark: client memory when one side stalls (it must stay flat: everything is bounded).

Usage::

    python bench/memory.py            # full run: 1 GB offered, 10 s stalls (~1.5 min)
    python bench/memory.py --quick    # 100 MB offered, 2 s stalls
    python bench/memory.py --json     # machine-readable output

Each client runs in a fresh process that samples its own RSS every 20 ms from a thread.

- ``stalled_consumer``: the server (bench/_server.py, its own process) pushes audio deltas
  (100 ms of 24 kHz PCM16 each, 6.4 KB of base64) as fast as the socket takes them, up to
  ~1 GB, at a client that reads nothing for 10 s; then the client drains for a while. A
  bounded client holds at most its event buffer plus what the kernel's TCP buffers take
  (which are not in its RSS); an unbounded one would swallow the whole gigabyte.
- ``stalled_server``: the local emulator (``trio_realtime.testing``, in its own process)
  with ``Faults(stall_after_events=1)`` stops reading after the first append, while the
  client appends 100 ms of audio as fast as it may for 10 s. ``append_audio`` must wait
  once ``audio_buffer_ms`` (5 s) is queued and the TCP buffers are full.

Reported: RSS when the stall began, its peak during the stall, the growth (peak minus
start) and the growth over the stall's second half (a leak keeps growing; a bound does
not), and what the client took in or handed over. ``flat``: growth under 32 MiB and under
2 MiB over the second half. Peers: the official ``openai`` client and raw asyncio
``websockets`` in the same scenarios.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
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
    RssSampler,
    ServerProcess,
    bench_main,
    end_process,
    run_child,
)

MIB = 1024 * 1024
FLAT_GROWTH = 32 * MIB
FLAT_LATE_GROWTH = 2 * MIB
CLIENTS = ("trio_realtime", "openai", "websockets+json")
BACKEND = {"trio_realtime": "trio", "openai": "asyncio", "websockets+json": "asyncio"}


def _chunk_bytes() -> bytes:
    import numpy as np

    t = np.arange(SAMPLE_RATE * CHUNK_MS // 1000) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 180 * t) * 6000).astype(np.int16).tobytes()


# -- the clients (each in a fresh process) ------------------------------------------------------


class Connection:
    """The few operations the scenarios need, over each client's own API."""

    async def receive(self) -> int | None:
        """One event's size in bytes (an estimate for typed events), None at the end."""
        raise NotImplementedError

    async def append(self, chunk: bytes) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {}


@contextlib.asynccontextmanager
async def _open(client: str, url: str) -> AsyncIterator[Connection]:
    """Connect ``client``; leaving closes it (bounded; a failed close is not the point)."""
    if client == "trio_realtime":
        import numpy as np

        import trio_realtime as rt

        async with rt.open_realtime_session(
            MODEL, api_key=API_KEY, url=url, close_timeout=1.0
        ) as session:

            class TrioRealtime(Connection):
                async def receive(self) -> int | None:
                    try:
                        event = await session.receive()
                    except Exception:
                        return None
                    return len(getattr(event, "delta", "") or "")

                async def append(self, chunk: bytes) -> None:
                    pcm = np.frombuffer(chunk, np.int16)
                    await session.append_audio(pcm, sample_rate=SAMPLE_RATE)

                def stats(self) -> dict[str, Any]:
                    s = session.statistics()
                    return {
                        "bytes_received": s.bytes_received,
                        "events_buffered": s.events_buffered,
                        "event_buffer_size": s.event_buffer_size,
                        "audio_queued_ms": s.audio_queued_ms,
                        "audio_sent_ms": s.audio_sent_ms,
                    }

            yield TrioRealtime()
        return
    if client == "openai":
        from openai import AsyncOpenAI

        openai_client = AsyncOpenAI(api_key=API_KEY, websocket_base_url=url)
        async with openai_client.realtime.connect(
            model=MODEL,
            websocket_connection_options={"close_timeout": 1.0},  # type: ignore[typeddict-unknown-key]
        ) as connection:

            class Official(Connection):
                async def receive(self) -> int | None:
                    try:
                        event = await connection.recv()
                    except Exception:
                        return None
                    return len(getattr(event, "delta", "") or "")

                async def append(self, chunk: bytes) -> None:
                    audio = base64.b64encode(chunk).decode("ascii")
                    await connection.input_audio_buffer.append(audio=audio)

            yield Official()
        return
    import websockets

    async with websockets.connect(
        f"{url}/realtime?model={MODEL}",
        max_size=None,
        compression=None,
        close_timeout=1.0,
        additional_headers={"Authorization": f"Bearer {API_KEY}"},
    ) as ws:

        class Raw(Connection):
            async def receive(self) -> int | None:
                try:
                    message = await ws.recv()
                except Exception:
                    return None
                return len(message)

            async def append(self, chunk: bytes) -> None:
                audio = base64.b64encode(chunk).decode("ascii")
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

        yield Raw()


def _growth(sampler: RssSampler, start: str, end: str) -> dict[str, float]:
    """RSS over ``start``..``end``, growth measured from before the connection opened."""
    samples = sampler.between(start, end)
    begin = sampler.at("start")
    half = samples[len(samples) // 2 :] or [begin]
    first = samples[: len(samples) // 2] or [begin]
    peak = max(samples, default=begin)
    return {
        "rss_before_connect_mib": begin / MIB,
        "rss_at_phase_start_mib": sampler.at(start) / MIB,
        "rss_peak_mib": peak / MIB,
        "growth_mib": (peak - begin) / MIB,
        "late_growth_mib": max(0, max(half) - max(first)) / MIB,
    }


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import anyio

    client, scenario = spec["client"], spec["scenario"]
    result: dict[str, Any] = {"client": client, "scenario": scenario}

    async def stalled_consumer(connection: Connection, sampler: RssSampler) -> None:
        sampler.mark("stall")
        await anyio.sleep(spec["stall_s"])
        sampler.mark("stall_end")
        result["stats_after_stall"] = connection.stats()
        received = events = 0
        deadline = time.monotonic() + spec["drain_s"]
        while time.monotonic() < deadline:
            size = await connection.receive()
            if size is None:
                break
            received += size
            events += 1
        sampler.mark("drained")
        result["drained_events"] = events
        result["drained_payload_mib"] = received / MIB

    async def stalled_server(connection: Connection, sampler: RssSampler) -> None:
        chunk = _chunk_bytes()
        handed = 0
        sampler.mark("stall")
        last_progress = time.monotonic()
        with anyio.move_on_after(spec["stall_s"]):
            while True:
                await connection.append(chunk)
                handed += 1
                last_progress = time.monotonic()
        sampler.mark("stall_end")
        result["audio_handed_over_s"] = handed * CHUNK_MS / 1000
        result["blocked_for_s"] = time.monotonic() - last_progress
        result["stats_after_stall"] = connection.stats()

    async def main() -> None:
        with RssSampler() as sampler:
            sampler.mark("start")
            try:
                async with _open(client, spec["url"]) as connection:
                    if scenario == "stalled_consumer":
                        await stalled_consumer(connection, sampler)
                    else:
                        await stalled_server(connection, sampler)
                    sampler.mark("closing")
            except Exception as exc:
                if "closing" not in sampler.marks:
                    raise
                result["close_error"] = f"{type(exc).__name__}: {exc}"
        result["stall"] = _growth(sampler, "stall", "stall_end")
        if scenario == "stalled_consumer":
            result["drain"] = _growth(sampler, "stall_end", "drained")

    _warm(client)
    anyio.run(main, backend=BACKEND[client])
    stall = result["stall"]
    result["flat"] = (
        stall["growth_mib"] * MIB < FLAT_GROWTH
        and stall["late_growth_mib"] * MIB < FLAT_LATE_GROWTH
    )
    return result


def _warm(client: str) -> None:
    """Imports and one-time validator builds happen before the first RSS sample."""
    if client == "trio_realtime":
        from _server import SESSION_CREATED

        import trio_realtime as rt

        rt.parse_server_event(json.dumps(SESSION_CREATED))
    elif client == "openai":
        import openai.resources.realtime.realtime  # noqa: F401
    import websockets.asyncio.client  # noqa: F401


# -- the emulator with a stall (its own process) -----------------------------------------------


_EMULATOR = """
import sys, trio
sys.path.insert(0, {root!r})
from trio_realtime.testing import Faults, Retention, serve_emulator

async def main():
    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(lambda task_status: serve_emulator(
            faults=Faults(stall_after_events=1), retention=Retention(events=False),
            ping_interval=None, task_status=task_status))
        print(emulator.url, flush=True)

trio.run(main)
"""


class StalledEmulator:
    """``trio_realtime.testing`` with ``Faults(stall_after_events=1)``, in its own process."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _EMULATOR.format(root=str(ROOT))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url:
            self.close()
            raise RuntimeError("the emulator did not start")

    def close(self) -> None:
        end_process(self._process)


# -- the run ------------------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    volume = 100 * MIB if quick else 1024 * MIB
    stall_s, drain_s = (2.0, 2.0) if quick else (10.0, 5.0)
    results: dict[str, dict[str, Any]] = {"stalled_consumer": {}, "stalled_server": {}}
    with ServerProcess() as server:
        url = server.url(audio_ms=CHUNK_MS, period_ms=0, total_bytes=volume, close=True)
        for client in CLIENTS:
            spec = {
                "client": client,
                "scenario": "stalled_consumer",
                "url": url,
                "stall_s": stall_s,
                "drain_s": drain_s,
            }
            results["stalled_consumer"][client] = run_child(
                "memory", spec, timeout=60 + stall_s + drain_s
            )
    emulator = StalledEmulator()
    try:
        for client in CLIENTS:
            spec = {
                "client": client,
                "scenario": "stalled_server",
                "url": emulator.url,
                "stall_s": stall_s,
            }
            results["stalled_server"][client] = run_child("memory", spec, timeout=60 + stall_s)
    finally:
        emulator.close()
    ours = [results[s].get("trio_realtime", {}) for s in results]
    return {
        "quick": quick,
        "offered_mib": volume / MIB,
        "stall_s": stall_s,
        "drain_s": drain_s,
        "flat_growth_mib": FLAT_GROWTH / MIB,
        "flat_late_growth_mib": FLAT_LATE_GROWTH / MIB,
        "results": results,
        "target": {
            "client": "trio_realtime",
            "met": all(row.get("flat") for row in ours),
            "stalled_consumer_flat": bool(ours[0].get("flat")),
            "stalled_server_flat": bool(ours[1].get("flat")),
        },
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Memory under stalls: {report['offered_mib']:.0f} MiB offered, "
        f"{report['stall_s']:g} s stalls{' (quick run)' if report['quick'] else ''}",
        "",
        f"{'scenario':<18}{'client':<18}{'RSS before':>10}{'peak':>9}{'growth':>9}"
        f"{'2nd half':>10}  flat  detail",
    ]
    for scenario, clients in report["results"].items():
        for client, row in clients.items():
            if "error" in row:
                lines.append(f"{scenario:<18}{client:<18}error: {row['error']}")
                continue
            s = row["stall"]
            if scenario == "stalled_consumer":
                detail = (
                    f"drained {row['drained_events']} events in {report['drain_s']:g} s, "
                    f"drain growth {row['drain']['growth_mib']:.1f} MiB"
                )
            else:
                detail = (
                    f"{row['audio_handed_over_s']:.0f} s of audio handed over, then blocked "
                    f"{row['blocked_for_s']:.1f} s"
                )
            lines.append(
                f"{scenario:<18}{client:<18}{s['rss_before_connect_mib']:>8.1f}MB{s['rss_peak_mib']:>7.1f}MB"
                f"{s['growth_mib']:>7.1f}MB{s['late_growth_mib']:>8.1f}MB  "
                f"{'yes ' if row['flat'] else 'NO  '}  {detail}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    bench_main(
        argv,
        doc=__doc__,
        quick_help="smaller volumes, shorter stalls",
        run=run,
        render=render,
        child=child,
    )


if __name__ == "__main__":
    main()

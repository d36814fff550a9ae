"""Benchmark: many real-time voice sessions in one client process on one core.

Usage::

    python bench/concurrency.py                 # full run: N = 10, 100, 500, 1000 (and on)
    python bench/concurrency.py --quick         # N = 10, 50
    python bench/concurrency.py --json          # machine-readable output
    python bench/concurrency.py --sessions 200  # one N only
    python bench/concurrency.py --profile out.prof --sessions 1000   # cProfile the client

Each session does what a voice agent's call does: it receives 24 kHz audio at real time
(the server, bench/_server.py in its own process on the other core, sends a 100 ms
``response.output_audio.delta`` every 100 ms per connection, at a random phase), decodes
every delta for playback (``session.decode_audio(event)``), and sends microphone audio at
real time (``append_audio`` of 100 ms every 100 ms, int16 at 24 kHz). The client process
is pinned to one core (``os.sched_setaffinity``); each N runs in a fresh process.

Per N, over a measured window after a warm-up (all sessions open): events delivered per
second, the client's CPU share of its core, RSS per session (RSS in the window minus RSS
before the first session, over N), delivery latency p50/p99/max (server send to the
``async for`` body), and how many sessions fell behind real time. A session is behind
when, in the window, it received under 90% of the audio the server's schedule sent, an
event reached it more than 100 ms after the send (it missed its slot in a 100 ms jitter
buffer), its microphone loop woke more than 100 ms late, or the server had received more
than 3 chunks (300 ms) less microphone audio than the session had appended. The server's
own lateness (send time minus schedule) is reported too; above 50 ms the run is
server-bound, not a client result.

Clients: ``trio_realtime`` (default transport, Trio); ``trio_realtime[asyncio]`` (the same
code on AnyIO's asyncio backend); the official ``openai`` client (asyncio);
``websockets+json`` (raw asyncio ``websockets``, ``json.loads``, base64 by hand: the
floor); ``websockets+json[trio]`` (the same on Trio: ``websockets``' sans-I/O protocol
on a Trio socket stream, the Trio floor). N grows until a client falls behind (then
stops for that client); in a full run, a client that keeps up at 1000 goes on (1500,
2000, ...) to find its limit.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
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
    pin_to_cpu,
    rss_bytes,
    run_child,
    summarize_us,
)

AUDIO_TYPE = "response.output_audio.delta"
FULL_SESSIONS = (10, 100, 500, 1000)
QUICK_SESSIONS = (10, 50)
EXTEND_FACTOR = 1.5
EXTEND_CAP = 3000
REFINE_STEPS = 3
CONNECT_CONCURRENCY = 64
BEHIND_LATENCY_NS = 100_000_000
BEHIND_MIC_NS = 100_000_000
BEHIND_IN_CHUNKS = 3
SERVER_BOUND_NS = 50_000_000
CLIENTS = (
    "trio_realtime",
    "trio_realtime[asyncio]",
    "openai",
    "websockets+json",
    "websockets+json[trio]",
    "trio_realtime[uvloop]",
    "websockets+json[uvloop]",
)
BACKEND = {
    "trio_realtime": "trio",
    "trio_realtime[asyncio]": "asyncio",
    "openai": "asyncio",
    "websockets+json": "asyncio",
    "websockets+json[trio]": "trio",
    "trio_realtime[uvloop]": "asyncio",
    "websockets+json[uvloop]": "asyncio",
}
UVLOOP = ("trio_realtime[uvloop]", "websockets+json[uvloop]")
"""Clients on asyncio with uvloop's event loop (as uvicorn runs asyncio when it is installed)."""


class Control:
    """The run's clock and shared samples (one instance per child process)."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.opened = 0
        self.failed = 0
        self.closed = 0
        self.window_start = math.inf
        self.window_end = math.inf
        self.stop = False
        self.latency: list[int] = []
        self.playback: list[int] = []
        self.server_late: list[int] = []
        self.events = 0
        self.appends = 0
        self.states: list[SessionState] = []

    def in_window(self, now: int) -> bool:
        return self.window_start <= now < self.window_end


class SessionState:
    """One session's counters in the window."""

    __slots__ = ("appended", "audio_events", "in_lag_max", "latency_max", "mic_late_max")

    def __init__(self) -> None:
        self.appended = 0
        self.audio_events = 0
        self.latency_max = 0
        self.mic_late_max = 0
        self.in_lag_max = 0

    def on_event(self, control: Control, now: int, ts: int, due: int, rx: int) -> None:
        """Record an event that arrived at ``now`` (its stamps: sent, due, rx count)."""
        if control.window_start <= now < control.window_end:
            latency = now - ts
            control.latency.append(latency)
            control.server_late.append(ts - due)
            control.events += 1
            if latency > self.latency_max:
                self.latency_max = latency
            lag = self.appended - rx
            if lag > self.in_lag_max:
                self.in_lag_max = lag

    def behind(self, window_ns: int) -> bool:
        expected = window_ns / (CHUNK_MS * 1_000_000)
        return (
            self.audio_events < 0.9 * expected - 1
            or self.latency_max > BEHIND_LATENCY_NS
            or self.mic_late_max > BEHIND_MIC_NS
            or self.in_lag_max > BEHIND_IN_CHUNKS
        )


def _mic_chunk() -> Any:
    import numpy as np

    t = np.arange(SAMPLE_RATE * CHUNK_MS // 1000) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 180 * t) * 6000).astype(np.int16)


async def _microphone(
    control: Control, state: SessionState, append: Callable[[], Awaitable[None]]
) -> None:
    """Append 100 ms every 100 ms, on a schedule at a random phase (it never drifts)."""
    import anyio

    period = CHUNK_MS * 1_000_000
    due = time.monotonic_ns() + random.randrange(period)
    while not control.stop:
        await anyio.sleep(max(0.0, (due - time.monotonic_ns()) / 1e9))
        now = time.monotonic_ns()
        if control.window_start <= now < control.window_end:
            late = now - due
            if late > state.mic_late_max:
                state.mic_late_max = late
            control.appends += 1
        await append()
        state.appended += 1
        due += period


# -- the clients: one session each ------------------------------------------------------------


async def trio_realtime_session(url: str, control: Control, ready: Callable[[], None]) -> None:
    import anyio

    import trio_realtime as rt

    state = SessionState()
    control.states.append(state)
    chunk = _mic_chunk()
    monotonic_ns = time.monotonic_ns
    async with rt.open_realtime_session(MODEL, api_key=API_KEY, url=url) as session:
        ready()

        async def append() -> None:
            await session.append_audio(chunk, sample_rate=SAMPLE_RATE)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_microphone, control, state, append)
            async for event in session:
                now = monotonic_ns()
                ts = getattr(event, "bench_ts", None)
                if ts is None:
                    continue
                state.on_event(control, now, ts, event.bench_due, event.bench_rx)  # type: ignore[attr-defined]
                if event.type == AUDIO_TYPE:
                    session.decode_audio(event)  # type: ignore[arg-type]
                    if control.window_start <= now < control.window_end:
                        state.audio_events += 1
                        control.playback.append(monotonic_ns() - ts)
                if control.stop:
                    break
            tasks.cancel_scope.cancel()


async def official_session(url: str, control: Control, ready: Callable[[], None]) -> None:
    import anyio
    import numpy as np
    from openai import AsyncOpenAI

    state = SessionState()
    control.states.append(state)
    chunk = _mic_chunk().tobytes()
    monotonic_ns = time.monotonic_ns
    client = _official_client(url, AsyncOpenAI)
    async with client.realtime.connect(model=MODEL) as connection:
        ready()

        async def append() -> None:
            audio = base64.b64encode(chunk).decode("ascii")
            await connection.input_audio_buffer.append(audio=audio)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_microphone, control, state, append)
            async for event in connection:
                now = monotonic_ns()
                ts = getattr(event, "bench_ts", None)
                if ts is None:
                    continue
                state.on_event(control, now, ts, event.bench_due, event.bench_rx)
                if event.type == AUDIO_TYPE:
                    np.frombuffer(base64.b64decode(event.delta), dtype=np.int16)
                    if control.window_start <= now < control.window_end:
                        state.audio_events += 1
                        control.playback.append(monotonic_ns() - ts)
                if control.stop:
                    break
            tasks.cancel_scope.cancel()


_OFFICIAL: dict[str, Any] = {}


def _official_client(url: str, factory: Any) -> Any:
    """One AsyncOpenAI per process, as an application holds it."""
    client = _OFFICIAL.get(url)
    if client is None:
        client = _OFFICIAL[url] = factory(api_key=API_KEY, websocket_base_url=url)
    return client


def _on_json_message(control: Control, state: SessionState, message: str | bytes) -> None:
    """What the floors do with a message: ``json.loads``, the bookkeeping, base64 by hand."""
    import numpy as np

    now = time.monotonic_ns()
    event = json.loads(message)
    ts = event.get("bench_ts")
    if ts is None:
        return
    state.on_event(control, now, ts, event["bench_due"], event["bench_rx"])
    if event["type"] == AUDIO_TYPE:
        np.frombuffer(base64.b64decode(event["delta"]), dtype=np.int16)
        if control.window_start <= now < control.window_end:
            state.audio_events += 1
            control.playback.append(time.monotonic_ns() - ts)


async def websockets_session(url: str, control: Control, ready: Callable[[], None]) -> None:
    import anyio
    import websockets

    state = SessionState()
    control.states.append(state)
    chunk = _mic_chunk().tobytes()
    async with websockets.connect(f"{url}/realtime", max_size=None, compression=None) as ws:
        await ws.recv()  # session.created
        ready()

        async def append() -> None:
            audio = base64.b64encode(chunk).decode("ascii")
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_microphone, control, state, append)
            async for message in ws:
                _on_json_message(control, state, message)
                if control.stop:
                    break
            tasks.cancel_scope.cancel()


async def trio_floor_session(url: str, control: Control, ready: Callable[[], None]) -> None:
    """The floor on Trio: websockets' sans-I/O protocol on a Trio socket stream, inline."""
    from collections import deque

    import trio
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.uri import parse_uri

    state = SessionState()
    control.states.append(state)
    chunk = _mic_chunk().tobytes()
    uri = parse_uri(f"{url}/realtime")
    stream = await trio.open_tcp_stream(uri.host, uri.port)
    protocol = ClientProtocol(uri, max_size=None)
    protocol.send_request(protocol.connect())
    messages: deque[bytes] = deque()

    async def flush() -> None:
        data = b"".join(protocol.data_to_send())
        if data:
            await stream.send_all(data)

    async def receive() -> bytes:
        while not messages:
            protocol.receive_data(await stream.receive_some(65536))
            for frame in protocol.events_received():
                if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT:
                    messages.append(frame.data)
        return messages.popleft()

    async with stream:
        await flush()
        await receive()  # session.created
        ready()

        async def append() -> None:
            audio = base64.b64encode(chunk).decode("ascii")
            protocol.send_text(
                json.dumps({"type": "input_audio_buffer.append", "audio": audio}).encode()
            )
            await flush()

        async with trio.open_nursery() as tasks:
            tasks.start_soon(_microphone, control, state, append)
            while True:
                message = await receive()
                _on_json_message(control, state, message)
                if control.stop:
                    break
            tasks.cancel_scope.cancel()


SESSIONS: dict[str, Callable[[str, Control, Callable[[], None]], Awaitable[None]]] = {
    "trio_realtime": trio_realtime_session,
    "trio_realtime[asyncio]": trio_realtime_session,
    "openai": official_session,
    "websockets+json": websockets_session,
    "websockets+json[trio]": trio_floor_session,
    "trio_realtime[uvloop]": trio_realtime_session,
    "websockets+json[uvloop]": websockets_session,
}


# -- one N, in a child process ----------------------------------------------------------------


def _warm(client: str) -> None:
    """Imports and one-time builds, before the baseline RSS (every client pays them once)."""
    import numpy  # noqa: F401

    if client.startswith("trio_realtime"):
        from _server import SESSION_CREATED

        import trio_realtime as rt

        rt.parse_server_event(json.dumps(SESSION_CREATED))
        rt.parse_server_event(
            b'{"type":"response.output_audio.delta","event_id":"e","response_id":"r",'
            b'"item_id":"i","output_index":0,"content_index":0,"delta":"AAAA"}'
        )
    elif client == "openai":
        import openai.resources.realtime.realtime  # noqa: F401
        import websockets.asyncio.client
    else:
        import websockets.asyncio.client  # noqa: F401


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run N sessions of one client; measure the window (runs in a fresh process)."""
    import anyio

    pinned = pin_to_cpu(spec["cpu"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    client = spec["client"]
    _warm(client)
    control = Control(spec["sessions"])
    result: dict[str, Any] = {}

    async def main() -> None:
        session = SESSIONS[client]
        limiter = anyio.Semaphore(CONNECT_CONCURRENCY)
        all_open = anyio.Event()
        all_closed = anyio.Event()

        async def one() -> None:
            await limiter.acquire()
            released = False

            def ready() -> None:
                nonlocal released
                limiter.release()
                released = True
                control.opened += 1
                if control.opened == control.sessions:
                    all_open.set()

            try:
                await session(spec["url"], control, ready)
            except Exception as exc:
                control.failed += 1
                result.setdefault("session_error", f"{type(exc).__name__}: {exc}")
                if control.opened + control.failed >= control.sessions:
                    all_open.set()
            finally:
                if not released:
                    limiter.release()
                control.closed += 1
                if control.closed == control.sessions:
                    all_closed.set()

        async with anyio.create_task_group() as tasks:
            baseline = rss_bytes()
            started = time.perf_counter()
            for _ in range(control.sessions):
                tasks.start_soon(one)
            with anyio.move_on_after(spec["open_timeout"]):
                await all_open.wait()
            result["open_s"] = time.perf_counter() - started
            result["opened"] = control.opened
            await anyio.sleep(spec["warmup"])
            server_cpu0 = _server_cpu(spec["server_pid"])
            wait0 = _runqueue_wait()
            sampler = _window_profiler(spec.get("pyinstrument"))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            control.window_start = time.monotonic_ns()
            control.window_end = control.window_start + int(spec["window"] * 1e9)
            await anyio.sleep(spec["window"])
            cpu1, wall1 = time.process_time(), time.perf_counter()
            if sampler is not None:
                sampler.stop()
                sampler.last_session.save(spec["pyinstrument"])
            wait1 = _runqueue_wait()
            server_cpu1 = _server_cpu(spec["server_pid"])
            rss = rss_bytes()
            control.stop = True
            wall = wall1 - wall0
            result.update(
                baseline_rss=baseline,
                rss=rss,
                rss_per_session=(rss - baseline) / max(1, control.opened),
                wall_s=wall,
                cpu_s=cpu1 - cpu0,
                cpu_share=(cpu1 - cpu0) / wall,
                runqueue_wait_share=(wait1 - wait0) / wall,
                server_cpu_share=(server_cpu1 - server_cpu0) / wall,
            )
            with anyio.move_on_after(spec["close_timeout"]):
                await all_closed.wait()  # each session leaves at its next event
            result["unclosed"] = control.sessions - control.closed
            tasks.cancel_scope.cancel()

    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    backend = BACKEND[client]
    anyio.run(
        main, backend=backend, backend_options={"use_uvloop": True} if client in UVLOOP else {}
    )
    if spec.get("profile"):
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    window_ns = int(result.get("wall_s", 0) * 1e9)
    behind = sum(state.behind(window_ns) for state in control.states)
    server_late = sorted(control.server_late)
    result.update(
        client=client,
        backend=backend,
        sessions=control.sessions,
        failed=control.failed,
        pinned=pinned,
        events=control.events,
        events_per_s=control.events / result["wall_s"] if result.get("wall_s") else 0.0,
        appends_per_s=control.appends / result["wall_s"] if result.get("wall_s") else 0.0,
        cpu_us_per_event=result["cpu_s"] * 1e6 / max(1, control.events + control.appends)
        if "cpu_s" in result
        else float("nan"),
        latency=summarize_us(control.latency),
        playback=summarize_us(control.playback),
        server_late_p99_us=(server_late[int(0.99 * (len(server_late) - 1))] / 1e3)
        if server_late
        else float("nan"),
        behind=behind,
    )
    if result.get("cpu_s"):
        per_session = result["cpu_s"] / (result["wall_s"] * max(1, control.opened))
        result["cpu_ms_per_session_s"] = per_session * 1e3
        result["projected_sessions_per_core"] = 1 / per_session
    result["server_bound"] = result["server_late_p99_us"] > SERVER_BOUND_NS / 1e3
    result["sustained"] = (
        control.failed == 0
        and result.get("opened") == control.sessions
        and behind == 0
        and not result["server_bound"]
    )
    return result


def _window_profiler(path: str | None) -> Any:
    """A started pyinstrument profiler for the measured window (``--pyinstrument``)."""
    if not path:
        return None
    from pyinstrument import Profiler  # a developer tool, not a dependency

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    return profiler


def _runqueue_wait() -> float:
    """Seconds this process was runnable but waiting for its core (Linux schedstat).

    Other processes on the same core (the machine is shared) show up here, not as CPU.
    """
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def _server_cpu(pid: int) -> float:
    try:
        import os

        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


# -- the sweep ----------------------------------------------------------------------------------


def run_one(
    server: ServerProcess,
    client: str,
    sessions: int,
    quick: bool,
    profile: str | None = None,
    pyinstrument: str | None = None,
) -> dict[str, Any]:
    client_cpu, _ = cpus()
    warmup, window = (0.5, 1.5) if quick else (1.0, 3.0)
    spec = {
        "client": client,
        "sessions": sessions,
        "url": server.url(audio_ms=CHUNK_MS, period_ms=CHUNK_MS, jitter=True),
        "warmup": warmup,
        "window": window,
        "open_timeout": 30.0 + sessions * 0.05,
        "close_timeout": 10.0,
        "cpu": client_cpu,
        "server_pid": server.pid,
        "profile": profile,
        "pyinstrument": pyinstrument,
    }
    result = run_child("concurrency", spec, timeout=120 + sessions * 0.2)
    result.setdefault("client", client)
    result.setdefault("sessions", sessions)
    if "error" in result:
        result["sustained"] = False
    return result


def sweep(
    server: ServerProcess, client: str, quick: bool, only: list[int] | None
) -> list[dict[str, Any]]:
    """Grow N until the client falls behind, then narrow the limit down.

    Past 1000 (full run) N grows by x1.5 up to the cap; after a failure, up to
    ``REFINE_STEPS`` geometric midpoints between the last N sustained and the first not.
    """
    rows: list[dict[str, Any]] = []
    plan = list(only or (QUICK_SESSIONS if quick else FULL_SESSIONS))
    index = 0
    while index < len(plan):
        n = plan[index]
        row = run_one(server, client, n, quick)
        rows.append(row)
        index += 1
        if not row.get("sustained"):
            break
        if index == len(plan) and not quick and only is None and n < EXTEND_CAP:
            plan.append(min(EXTEND_CAP, int(n * EXTEND_FACTOR)))
    if quick or only is not None:
        return rows
    for _ in range(REFINE_STEPS):
        passed = [r["sessions"] for r in rows if r.get("sustained")]
        failed = [r["sessions"] for r in rows if not r.get("sustained")]
        if not passed or not failed:
            break
        low, high = max(passed), min(failed)
        middle = int(round(math.sqrt(low * high) / 10) * 10)
        if not low < middle < high or high - low <= max(20, low // 5):
            break
        rows.append(run_one(server, client, middle, quick))
    rows.sort(key=lambda row: row["sessions"])
    return rows


def largest_sustained(rows: list[dict[str, Any]]) -> int:
    return max((row["sessions"] for row in rows if row.get("sustained")), default=0)


def run(
    quick: bool, only: list[int] | None = None, clients: tuple[str, ...] = CLIENTS
) -> dict[str, Any]:
    _, server_cpu = cpus()
    results: dict[str, list[dict[str, Any]]] = {}
    with ServerProcess(server_cpu) as server:
        for client in clients:
            results[client] = sweep(server, client, quick, only)
    largest = {client: largest_sustained(rows) for client, rows in results.items()}
    tested = {
        client: max((row["sessions"] for row in rows), default=0)
        for client, rows in results.items()
    }
    projected = {}
    for client, rows in results.items():
        sustained = [r for r in rows if r.get("sustained") and "projected_sessions_per_core" in r]
        best = max(sustained, key=lambda r: r["sessions"], default=None)
        projected[client] = best["projected_sessions_per_core"] if best else None
    target_rows = [r for r in results.get("trio_realtime", []) if r["sessions"] >= 1000]
    return {
        "quick": quick,
        "chunk_ms": CHUNK_MS,
        "sample_rate": SAMPLE_RATE,
        "clients": list(clients),
        "results": results,
        "largest_sustained": largest,
        "largest_tested": tested,
        "projected_sessions_per_core": projected,
        "target": {
            "client": "trio_realtime",
            "sessions": 1000,
            "met": any(r.get("sustained") for r in target_rows),
            "tested": bool(target_rows),
        },
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        "Real-time voice sessions in one process on one core "
        f"(100 ms audio in and out every 100 ms){' (quick run)' if report['quick'] else ''}",
        "",
        f"{'client':<24}{'N':>6}{'events/s':>10}{'CPU':>7}{'wait':>6}{'µs/ev':>7}{'RSS/sess':>10}"
        f"{'p50 µs':>9}{'p99 µs':>10}{'max µs':>10}{'behind':>8}{'srv CPU':>9}",
    ]
    for client, rows in report["results"].items():
        for row in rows:
            if "error" in row:
                lines.append(f"{client:<24}{row['sessions']:>6}  error: {row['error']}")
                continue
            lat = row["latency"]
            lines.append(
                f"{client:<24}{row['sessions']:>6}{row['events_per_s']:>10,.0f}"
                f"{row['cpu_share']:>7.0%}{row['runqueue_wait_share']:>6.0%}"
                f"{row['cpu_us_per_event']:>7.0f}{row['rss_per_session'] / 1024:>8.0f}KB"
                f"{lat['p50_us']:>9.0f}{lat['p99_us']:>10.0f}{lat['max_us']:>10.0f}"
                f"{row['behind']:>8}{row['server_cpu_share']:>9.0%}"
                + ("  server-bound" if row.get("server_bound") else "")
            )
    lines.append("")
    for client, n in report["largest_sustained"].items():
        projection = report["projected_sessions_per_core"].get(client)
        lines.append(
            f"{client}: largest N sustained {n} (largest tried {report['largest_tested'][client]})"
            + (
                f"; its CPU cost projects {projection:,.0f} sessions on a whole core"
                if projection
                else ""
            )
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str | Path) -> None:
    """events/s, p99 latency and CPU share against sessions, one line per client (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.4), dpi=110)
    for client, rows in report["results"].items():
        good = [row for row in rows if "error" not in row]
        if not good:
            continue
        xs = [row["sessions"] for row in good]
        left.plot(xs, [row["events_per_s"] for row in good], marker="o", label=client)
        middle.plot(xs, [row["latency"]["p99_us"] / 1000 for row in good], marker="o", label=client)
        right.plot(xs, [100 * row["cpu_share"] for row in good], marker="o", label=client)
    behind = [
        (row["sessions"], row["latency"]["p99_us"] / 1000)
        for rows in report["results"].values()
        for row in rows
        if "error" not in row and not row.get("sustained")
    ]
    if behind:
        middle.scatter(
            *zip(*behind, strict=True),
            marker="x",
            s=70,
            color="black",
            zorder=5,
            label="fell behind real time",
        )
    all_n = sorted({row["sessions"] for rows in report["results"].values() for row in rows})
    ideal = [n * 1000 / CHUNK_MS for n in all_n]
    left.plot(all_n, ideal, linestyle=":", color="grey", label="real time (10 deltas/s each)")
    for axis in (left, middle, right):
        axis.set_xscale("log")
        axis.set_xlabel("concurrent voice sessions (one process, one core)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    left.set_yscale("log")
    left.set_ylabel("audio deltas delivered / s")
    left.set_title("Events delivered (audio in and out at real time)", fontsize=10)
    middle.set_yscale("log")
    middle.set_ylabel("p99 delivery latency (ms)")
    middle.set_title("p99 latency: server send -> async for body", fontsize=10)
    middle.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    middle.axhline(100.0, color="crimson", linestyle=":", linewidth=1)
    right.set_ylabel("client CPU, % of its one core")
    right.set_ylim(0, 105)
    right.set_title("Client CPU (pinned to one core)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N = 10, 50; short windows")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--sessions", type=int, action="append", help="run only this N")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated")
    parser.add_argument("--plot", help="write the events/s and p99 plot to this PNG")
    parser.add_argument("--profile", help="cProfile one run of a client (with --sessions)")
    parser.add_argument(
        "--pyinstrument", help="sample the measured window with pyinstrument (a .pyisession)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(child)
        return
    if args.profile or args.pyinstrument:
        n = (args.sessions or [1000])[0]
        client = args.clients.split(",")[0]
        _, server_cpu = cpus()
        with ServerProcess(server_cpu) as server:
            row = run_one(
                server, client, n, args.quick, profile=args.profile, pyinstrument=args.pyinstrument
            )
        print(json.dumps(row, indent=2))
        return
    clients = tuple(c for c in args.clients.split(",") if c)
    report = run(quick=args.quick, only=args.sessions, clients=clients)
    report["machine"] = machine_info()
    if args.plot:
        plot(report, args.plot)
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

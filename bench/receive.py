"""Benchmark: receiving Realtime events over a real socket, client CPU per event.

Usage::

    python bench/receive.py                 # full run (about a minute)
    python bench/receive.py --quick         # short run (< 20 s)
    python bench/receive.py --json          # machine-readable output
    python bench/receive.py --events 5000   # events per connection

A local *blaster* server runs in its own process, so its CPU is not the client's: it
performs the WebSocket handshake, then writes pre-built frames as fast as the socket
takes them: ``session.created``, then N events of a realistic mix (the mix of
``bench/parse.py``: 100 ms audio deltas of 4800 bytes PCM16 as base64, transcript and
text deltas with ``obfuscation``, ``response.done`` with usage), then a close 1000.

Clients, each in turn on a fresh event loop in this process, interleaved across runs:

- ``openai``: the official client, ``AsyncOpenAI(...).realtime.connect(model=...)``,
  ``async for event in connection`` (asyncio, ``websockets`` underneath);
- ``websockets+json`` (the floor): the raw asyncio ``websockets`` client and
  ``json.loads``, dicts and no models;
- ``trio-websocket+json``: the raw trio-websocket client and ``json.loads``;
- ``trio_realtime[<transport>/<backend>]``: ``async for event in session`` (typed,
  validated events through the session engine), on each transport and backend;
- ``transport+parse[websockets/<backend>]``: the ``websockets`` transport's
  ``receive()`` and ``parse_server_event``, without the engine: what the adapter costs,
  to tell it apart from what the engine adds.

Reported per client: events/s (wall) and client CPU µs per event
(``time.process_time`` of this process from connected to the close), the median of
the runs, and ratios against the official client and the floor.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for path in (ROOT, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_MESSAGE = 16 * 2**20


# -- the blaster (runs in its own process) ------------------------------------------------


def _server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _read_handshake(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the client left during the handshake")
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    key = next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")[1:]
        if line.lower().startswith("sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def _wait_for_client_close(conn: socket.socket) -> None:
    """Read the client's (masked) frames until its close frame or EOF."""
    buffer = b""
    while True:
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, 2)
                offset = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, 2)
                offset = 10
            end = offset + 4 + length
            if len(buffer) < end:
                break
            if opcode == 0x8:
                return
            buffer = buffer[end:]
        chunk = conn.recv(65536)
        if not chunk:
            return
        buffer += chunk


def serve(blob_path: str) -> None:
    """The blaster: for each connection, handshake, write the blob, await the close."""
    blob = Path(blob_path).read_bytes()
    parent = os.getppid()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        listener.settimeout(1.0)
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if os.getppid() != parent:
                    return  # the benchmark died without stopping us
                continue
            conn.settimeout(None)
            with conn:
                try:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conn.sendall(_read_handshake(conn))
                    conn.sendall(blob)
                    _wait_for_client_close(conn)
                except OSError:
                    pass


# -- the wire -----------------------------------------------------------------------------


def build_blob(events: int) -> tuple[bytes, dict[str, int], float]:
    """session.created + ``events`` events of the mix + close 1000, as server frames."""
    from parse import MIX, build_response_frames

    created = {
        "type": "session.created",
        "event_id": "event_0",
        "session": {"type": "realtime", "object": "realtime.session", "id": "sess_bench"},
    }
    frames: list[bytes] = []
    response = 0
    while len(frames) < events:
        frames.extend(data for _, data in build_response_frames(response))
        response += 1
    frames = frames[:events]
    wire = [_server_frame(json.dumps(created).encode())]
    wire += [_server_frame(frame) for frame in frames]
    wire.append(_server_frame(struct.pack("!H", 1000), opcode=0x8))
    return b"".join(wire), dict(MIX), sum(map(len, frames)) / len(frames)


class Blaster:
    """The blaster process, serving one connection at a time."""

    def __init__(self, blob: bytes) -> None:
        handle, self._path = tempfile.mkstemp(prefix="trio-realtime-bench-", suffix=".bin")
        with os.fdopen(handle, "wb") as file:
            file.write(blob)
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--serve", self._path],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())
        self.url = f"ws://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
        assert self._process.stdout is not None
        self._process.stdout.close()
        os.unlink(self._path)


# -- the clients --------------------------------------------------------------------------


class Measure:
    """Wall and CPU time of this process from ``start()`` to ``stop()``."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


async def official(url: str, measure: Measure) -> int:
    from openai import AsyncOpenAI

    count = 0
    async with (
        AsyncOpenAI(api_key="sk-x", websocket_base_url=url) as client,
        client.realtime.connect(model="gpt-realtime") as connection,
    ):
        measure.start()
        async for _ in connection:
            count += 1
    return count


async def websockets_json(url: str, measure: Measure) -> int:
    import websockets

    count = 0
    async with websockets.connect(f"{url}/realtime", max_size=_MAX_MESSAGE) as ws:
        measure.start()
        async for message in ws:
            json.loads(message)
            count += 1
    return count


async def trio_websocket_json(url: str, measure: Measure) -> int:
    import trio_websocket

    count = 0
    async with trio_websocket.open_websocket_url(
        f"{url}/realtime", max_message_size=_MAX_MESSAGE
    ) as ws:
        measure.start()
        try:
            while True:
                json.loads(await ws.get_message())
                count += 1
        except trio_websocket.ConnectionClosed:
            pass
    return count


def trio_realtime_client(transport: str) -> Callable[[str, Measure], Awaitable[int]]:
    async def run(url: str, measure: Measure) -> int:
        import trio_realtime

        count = 0
        async with trio_realtime.open_realtime_session(
            "gpt-realtime", api_key="sk-x", url=url, transport=transport
        ) as session:
            measure.start()
            async for _ in session:
                count += 1
        return count

    return run


async def transport_parse(url: str, measure: Measure) -> int:
    """The websockets transport and the typed parser, without the session engine."""
    from trio_realtime import parse_server_event
    from trio_realtime._transport import ConnectRequest, TransportClosed
    from trio_realtime._transport._websockets import open_websockets

    count = 0
    async with open_websockets(ConnectRequest(f"{url}/realtime")) as transport:
        measure.start()
        try:
            while True:
                parse_server_event(await transport.receive())
                count += 1
        except TransportClosed:
            pass
        await transport.aclose()
    return count


CLIENTS: dict[str, tuple[str, Callable[[str, Measure], Awaitable[int]]]] = {
    "openai": ("asyncio", official),
    "websockets+json": ("asyncio", websockets_json),
    "trio-websocket+json": ("trio", trio_websocket_json),
    "trio_realtime[websockets/trio]": ("trio", trio_realtime_client("websockets")),
    "trio_realtime[websockets/asyncio]": ("asyncio", trio_realtime_client("websockets")),
    "trio_realtime[trio-websocket/trio]": ("trio", trio_realtime_client("trio-websocket")),
    "transport+parse[websockets/trio]": ("trio", transport_parse),
    "transport+parse[websockets/asyncio]": ("asyncio", transport_parse),
}
OFFICIAL = "openai"
FLOOR = "websockets+json"
DEFAULT = {"trio": "trio_realtime[websockets/trio]", "asyncio": "trio_realtime[websockets/asyncio]"}


def run_client(name: str, url: str, expected: int) -> tuple[float, float]:
    """One connection: (wall seconds, CPU seconds) from connected to the close."""
    backend, client = CLIENTS[name]
    measure = Measure()

    async def main() -> tuple[float, float]:
        count = await client(url, measure)
        elapsed = measure.stop()
        if count != expected:
            raise SystemExit(f"{name} received {count} events, expected {expected}")
        return elapsed

    gc.collect()
    if backend == "trio":
        import trio

        return trio.run(main)
    import asyncio

    return asyncio.run(main())


def run(quick: bool, events: int | None) -> dict[str, Any]:
    import openai
    import pydantic
    import trio_websocket  # noqa: F401
    import websockets

    import trio_realtime

    events = events or (3000 if quick else 20_000)
    repeats = 3 if quick else 7
    blob, mix, mean_bytes = build_blob(events)
    blaster = Blaster(blob)
    try:
        for name in CLIENTS:  # warm up: imports, validators, first connections
            run_client(name, blaster.url, events + 1)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
        for _ in range(repeats):
            for name in CLIENTS:
                samples[name].append(run_client(name, blaster.url, events + 1))
    finally:
        blaster.close()
    delivered = events + 1
    results = {}
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        results[name] = {
            "backend": CLIENTS[name][0],
            "events_per_s": delivered / wall,
            "cpu_us_per_event": cpu / delivered * 1e6,
            "wall_us_per_event": wall / delivered * 1e6,
        }
    official_rate = results[OFFICIAL]["events_per_s"]
    floor_cpu = results[FLOOR]["cpu_us_per_event"]
    ratios = {
        name: {
            "events_per_s_over_openai": row["events_per_s"] / official_rate,
            "cpu_over_floor": row["cpu_us_per_event"] / floor_cpu,
        }
        for name, row in results.items()
    }
    targets = {
        backend: {
            "client": name,
            "events_per_s_over_openai": ratios[name]["events_per_s_over_openai"],
            "cpu_over_floor": ratios[name]["cpu_over_floor"],
            "met": ratios[name]["events_per_s_over_openai"] >= 5
            and ratios[name]["cpu_over_floor"] <= 1.3,
        }
        for backend, name in DEFAULT.items()
    }
    return {
        "quick": quick,
        "events": events,
        "runs": repeats,
        "mix": mix,
        "mean_frame_bytes": mean_bytes,
        "python": platform.python_version(),
        "versions": {
            "trio_realtime": trio_realtime.__version__,
            "openai": openai.__version__,
            "websockets": websockets.__version__,
            "pydantic": pydantic.VERSION,
        },
        "results": results,
        "ratios": ratios,
        "targets": targets,
    }


def render(report: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    lines = [
        f"Python {report['python']}, {versions}{' (quick run)' if report['quick'] else ''}",
        f"{report['events']} events per connection (mean {report['mean_frame_bytes']:.0f} "
        f"bytes), median of {report['runs']} runs",
        "",
        f"{'client':<36}{'events/s':>10}{'CPU us/event':>14}{'x openai':>10}{'x floor CPU':>13}",
    ]
    for name, row in report["results"].items():
        ratio = report["ratios"][name]
        lines.append(
            f"{name:<36}{row['events_per_s']:>10,.0f}{row['cpu_us_per_event']:>14.2f}"
            f"{ratio['events_per_s_over_openai']:>10.2f}{ratio['cpu_over_floor']:>13.2f}"
        )
    lines.append("")
    for backend, target in report["targets"].items():
        lines.append(
            f"default transport on {backend}: {target['events_per_s_over_openai']:.1f}x the "
            f"official client's events/s (target >= 5), {target['cpu_over_floor']:.2f}x the "
            f"floor's CPU (target <= 1.3): {'met' if target['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (< 20 s)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--events", type=int, default=None, help="events per connection")
    parser.add_argument("--serve", metavar="BLOB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    report = run(quick=args.quick, events=args.events)
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()

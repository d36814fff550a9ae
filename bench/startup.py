"""Benchmark: start-up: import time, and from opening a session to its first event.

Usage::

    python bench/startup.py            # full run (~30 s)
    python bench/startup.py --quick    # short run (~10 s)
    python bench/startup.py --json     # machine-readable output

- **import**: ``import trio_realtime`` in a fresh interpreter, timed inside it with
  ``time.perf_counter`` (best of 7; quick: 3); the peers import what they need to open a
  Realtime connection. ``python -c pass`` (the interpreter alone, timed from outside) is
  given for scale. trio_realtime's bytecode is compiled first, as ``pip install`` does
  and as the peers' is: run from a checkout under ``PYTHONDONTWRITEBYTECODE`` (or with
  its ``__pycache__`` stale), every import would compile its ~100 modules again.
- **first event**: from calling ``open_realtime_session(...)`` to the first event
  (``session.created``) in the ``async for`` body, on loopback against bench/_server.py
  (its own process; it answers the upgrade at once and sends a ``session.created`` of the
  live service's shape). ``cold``: the first session of a fresh process (after the import,
  which builds the server events' validator: includes the lazily imported transport);
  ``warm``: the median of the next sessions in the same process. The peers: the official client
  (``client.realtime.connect(...)`` to the first ``recv()``) and raw ``websockets`` +
  ``json.loads``.
- **first event, distant server**: the same with the server answering the upgrade
  ``DISTANT_MS`` later, as a service a few round trips away does (TCP, TLS and the
  upgrade to ``api.openai.com`` take about that): what the one-time costs of a cold
  start add to a real connection.
"""

from __future__ import annotations

import compileall
import json
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
    MODEL,
    ROOT,
    ServerProcess,
    bench_main,
    median,
    run_child,
)

IMPORTS = {
    "trio_realtime": "import trio_realtime",
    "trio_realtime + trio": "import trio, trio_realtime",
    "openai": (
        "from openai import AsyncOpenAI; import openai.resources.realtime.realtime; "
        "import websockets.asyncio.client"
    ),
    "websockets+json": "import json, websockets.asyncio.client",
}
CLIENTS = {"trio_realtime": "trio", "openai": "asyncio", "websockets+json": "asyncio"}
DISTANT_MS = 60

_IMPORT_SNIPPET = """
import sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
{statement}
print(time.perf_counter() - t0)
"""


def measure_import(statement: str, repeats: int) -> float:
    """Best of ``repeats`` fresh interpreters: seconds to run the import statement."""
    code = _IMPORT_SNIPPET.format(root=str(ROOT), statement=statement)
    best = float("inf")
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        best = min(best, float(out.split()[-1]))
    return best


def measure_interpreter(repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


# -- first event (in a child process per client) -------------------------------------------------


async def _trio_realtime_first(url: str) -> float:
    import trio_realtime as rt

    t0 = time.perf_counter()
    async with rt.open_realtime_session(MODEL, api_key=API_KEY, url=url) as session:
        async for _event in session:
            elapsed = time.perf_counter() - t0
            break
    return elapsed


async def _official_first(url: str) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=API_KEY, websocket_base_url=url)
    t0 = time.perf_counter()
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.recv()
        elapsed = time.perf_counter() - t0
    return elapsed


async def _websockets_first(url: str) -> float:
    import websockets

    t0 = time.perf_counter()
    async with websockets.connect(f"{url}/realtime", max_size=None, compression=None) as ws:
        json.loads(await ws.recv())
        elapsed = time.perf_counter() - t0
    return elapsed


FIRST = {
    "trio_realtime": _trio_realtime_first,
    "openai": _official_first,
    "websockets+json": _websockets_first,
}


def child(spec: dict[str, Any]) -> dict[str, Any]:
    client = spec["client"]
    if client == "trio_realtime":
        import trio

        import trio_realtime  # noqa: F401

        def once() -> float:
            return float(trio.run(_trio_realtime_first, spec["url"]))
    else:
        import asyncio

        if client == "openai":
            import openai.resources.realtime.realtime  # noqa: F401
        import websockets.asyncio.client  # noqa: F401

        def once() -> float:
            return asyncio.run(FIRST[client](spec["url"]))

    return {"cold_s": once(), "warm_s": [once() for _ in range(spec["warm"])]}


def run(quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 7
    compileall.compile_dir(ROOT / "trio_realtime", quiet=1)  # what an install does
    imports = {name: measure_import(statement, repeats) for name, statement in IMPORTS.items()}
    interpreter = measure_interpreter(repeats)
    with ServerProcess() as server:
        first = _first_events(server.url(audio_ms=0), quick)
        distant = _first_events(server.url(audio_ms=0, delay_ms=DISTANT_MS), quick)
    return {
        "quick": quick,
        "repeats": repeats,
        "interpreter_ms": interpreter * 1e3,
        "import_ms": {name: seconds * 1e3 for name, seconds in imports.items()},
        "import_statements": IMPORTS,
        "first_event": first,
        "distant_ms": DISTANT_MS,
        "first_event_distant": distant,
    }


def _first_events(url: str, quick: bool) -> dict[str, Any]:
    """Cold and warm open -> first event per client, each in fresh processes."""
    first: dict[str, Any] = {}
    cold: dict[str, list[float]] = {name: [] for name in CLIENTS}
    warm: dict[str, list[float]] = {name: [] for name in CLIENTS}
    errors: dict[str, str] = {}
    for _ in range(1 if quick else 3):
        for name in CLIENTS:
            result = run_child("startup", {"client": name, "url": url, "warm": 10}, 60)
            if "error" in result:
                errors[name] = result["error"]
                continue
            cold[name].append(result["cold_s"])
            warm[name].extend(result["warm_s"])
    for name in CLIENTS:
        if name in errors and not cold[name]:
            first[name] = {"error": errors[name]}
        else:
            first[name] = {
                "cold_ms": median(cold[name]) * 1e3,
                "warm_ms": median(warm[name]) * 1e3,
                "cold_runs": len(cold[name]),
                "warm_runs": len(warm[name]),
            }
    return first


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Start-up{' (quick run)' if report['quick'] else ''}: import best of "
        f"{report['repeats']} fresh interpreters; python -c pass: "
        f"{report['interpreter_ms']:.0f} ms",
        "",
        f"{'import':<24}{'ms':>8}",
    ]
    for name, ms in report["import_ms"].items():
        lines.append(f"{name:<24}{ms:>8.1f}")
    titles = {
        "first_event": "open -> first event",
        "first_event_distant": f"... upgrade +{report.get('distant_ms', 0)} ms",
    }
    for key, title in titles.items():
        lines += ["", f"{title:<24}{'cold ms':>9}{'warm ms':>9}"]
        for name, row in report.get(key, {}).items():
            if "error" in row:
                lines.append(f"{name:<24}error: {row['error']}")
            else:
                lines.append(f"{name:<24}{row['cold_ms']:>9.1f}{row['warm_ms']:>9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    bench_main(argv, doc=__doc__, quick_help="short run", run=run, render=render, child=child)


if __name__ == "__main__":
    main()

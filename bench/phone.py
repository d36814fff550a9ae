"""Phone calls per worker: the emulator rings examples/phone_agent.py under hypercorn's Trio worker.

For each worker count, ``hypercorn examples.phone_agent:app --worker-class trio --workers N``
runs as a child process; the emulator (in this process) places K concurrent calls whose
callers talk and listen at real-time pace: a greeting, two questions (each after a pause
of 0-2 s), two answers, a hang-up (about 15 s a call). Reported per (workers, K): calls
completed; the caller's wait from the end of a question to the first audio of the answer
(p50/p95, server VAD's end-of-speech silence included); the agent's CPU (all its
processes, from /proc) per call; the emulator's CPU and the machine's load average. A
load is "sustained" when every call completed and the p95 wait stayed under
``--max-wait-ms``.

Run:  python bench/phone.py [--workers 1 2] [--calls 10 20 40 80] [--quick] [--json]
      [--plot docs/bench-phone.png]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import API_KEY, ROOT, machine_info  # noqa: E402

from trio_realtime.testing import Retention, SimulatedCaller, open_emulator  # noqa: E402

SECRET = "whsec_" + "YmVuY2gtcGhvbmUtd2ViaG9vay1zZWNyZXQtMDEyMzQ1"
QUESTIONS = ("Hello, what are your opening hours", "Thank you, and where are you located")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree = {root}
    changed = True
    while changed:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        changed = bool(children)
        tree |= children
    return sum(cpu.get(pid, 0.0) for pid in tree)


@contextlib.contextmanager
def agent_workers(workers: int, http_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The phone agent under hypercorn's Trio worker; yields (process, webhook URL)."""
    port = _free_port()
    env = {
        **os.environ,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": http_url,
        "OPENAI_WEBHOOK_SECRET": SECRET,
    }
    command = [
        sys.executable,
        "-m",
        "hypercorn",
        "examples.phone_agent:app",
        "--worker-class",
        "trio",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        yield process, f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with trio.fail_after(30):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hypercorn exited with {process.returncode}")
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.1)  # a child process starting: nothing to wait on but time
                continue
            await stream.aclose()
            return


async def _calls(emulator: Any, url: str, count: int) -> dict[str, Any]:
    waits_ms: list[float] = []
    completed = 0

    rng = random.Random(count)

    async def caller(phone: SimulatedCaller) -> None:
        nonlocal completed
        await phone.wait_reply()  # the greeting
        for question in QUESTIONS:
            await trio.sleep(rng.uniform(0.0, 2.0))  # people pause: calls do not move in step
            speech_ended = await phone.say(question)
            answer = await phone.wait_reply()
            waits_ms.append((answer.started_at - speech_ended) * 1000)
        completed += 1
        await phone.hang_up()

    async def ring() -> None:
        call = await emulator.place_call(url, secret=SECRET, caller=caller)
        await call.wait_ended()

    started = trio.current_time()
    with trio.move_on_after(120):
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(ring)
                await trio.sleep(1.0 / count)  # the calls arrive over one second
    waits_ms.sort()
    return {
        "calls": count,
        "completed": completed,
        "seconds": round(trio.current_time() - started, 1),
        "wait_p50_ms": round(statistics.median(waits_ms), 1) if waits_ms else None,
        "wait_p95_ms": (
            round(waits_ms[min(len(waits_ms) - 1, int(len(waits_ms) * 0.95))], 1)
            if waits_ms
            else None
        ),
    }


async def run(workers_list: list[int], calls_list: list[int], max_wait_ms: float) -> Any:
    rows: list[dict[str, Any]] = []
    async with open_emulator(
        api_key=API_KEY, audio_pace=1.0, retention=Retention(events=False, closed_connections=4)
    ) as emulator:
        for workers in workers_list:
            with agent_workers(workers, emulator.http_url) as (process, url):
                await _wait_listening(url, process)
                for count in calls_list:
                    cpu_before = _tree_cpu_s(process.pid)
                    emulator_before = time.process_time()
                    row = await _calls(emulator, url, count)
                    cpu_s = _tree_cpu_s(process.pid) - cpu_before
                    emulator_s = time.process_time() - emulator_before
                    row.update(
                        workers=workers,
                        agent_cpu_s=round(cpu_s, 2),
                        agent_cpu_ms_per_call=round(cpu_s * 1000 / count, 1),
                        agent_cpu_percent=round(cpu_s * 100 / row["seconds"], 1),
                        emulator_cpu_percent=round(emulator_s * 100 / row["seconds"], 1),
                        load_average=round(os.getloadavg()[0], 2),
                    )
                    row["sustained"] = row["completed"] == count and (
                        row["wait_p95_ms"] is not None and row["wait_p95_ms"] <= max_wait_ms
                    )
                    rows.append(row)
                    print(_line(row), file=sys.stderr, flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    return (
        f"workers={row['workers']} calls={row['calls']:>4} completed={row['completed']:>4}"
        f" wait p50/p95={row['wait_p50_ms']}/{row['wait_p95_ms']} ms"
        f" agent CPU={row['agent_cpu_percent']}% ({row['agent_cpu_ms_per_call']} ms a call)"
        f" emulator CPU={row['emulator_cpu_percent']}% load={row['load_average']}"
        f" {'sustained' if row['sustained'] else 'NOT sustained'}"
    )


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Agent CPU and the caller's p95 wait against concurrent calls, one line per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cpu, wait) = plt.subplots(1, 2, figsize=(10, 4))
    for workers in sorted({row["workers"] for row in rows}):
        mine = [row for row in rows if row["workers"] == workers]
        calls = [row["calls"] for row in mine]
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        cpu.plot(calls, [row["agent_cpu_percent"] for row in mine], marker="o", label=label)
        wait.plot(calls, [row["wait_p95_ms"] for row in mine], marker="o", label=label)
    cpu.set(xlabel="concurrent calls", ylabel="agent CPU (% of one core)", title="Agent CPU")
    wait.set(xlabel="concurrent calls", ylabel="ms", title="Caller's p95 wait for an answer")
    for axis in (cpu, wait):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle("examples/phone_agent.py under hypercorn --worker-class trio (bench/phone.py)")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 20, 40, 80])
    parser.add_argument("--max-wait-ms", type=float, default=1000.0)
    parser.add_argument("--quick", action="store_true", help="1 worker, 3 calls (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", help="write the CPU and wait plot to this PNG")
    args = parser.parse_args()
    workers, calls = ([1], [3]) if args.quick else (args.workers, args.calls)
    started = time.time()
    rows = trio.run(run, workers, calls, args.max_wait_ms)
    best = {
        w: max((r["calls"] for r in rows if r["workers"] == w and r["sustained"]), default=0)
        for w in workers
    }
    busiest = {
        w: max((r for r in rows if r["workers"] == w), key=lambda r: r["calls"]) for w in workers
    }
    per_core = {
        w: round(100 * r["calls"] / r["agent_cpu_percent"] * w) if r["agent_cpu_percent"] else None
        for w, r in busiest.items()
    }
    report = {
        "command": "python bench/phone.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "quick": args.quick,
        "max_wait_ms": args.max_wait_ms,
        "rows": rows,
        "sustained_calls_by_workers": best,
        "calls_at_full_cpu_by_workers": per_core,
        "wall_s": round(time.time() - started, 1),
    }
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for row in rows:
            print(_line(row))
        print("sustained calls by workers:", best)
        print("calls at 100% of each worker's core (extrapolated from CPU):", per_core)


if __name__ == "__main__":
    main()

"""Helpers shared by the benchmarks: the server process, statistics, RSS, the machine."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for _path in (ROOT, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _server import spec_path  # noqa: E402

API_KEY = "sk-bench"
MODEL = "gpt-realtime"
SAMPLE_RATE = 24_000
CHUNK_MS = 100
"""Milliseconds of audio per delta and per microphone append."""


# -- the machine ------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: cores, CPU, load, Python and package versions."""
    versions: dict[str, str | None] = {}
    for name in (
        "trio-realtime",
        "openai",
        "websockets",
        "trio-websocket",
        "trio",
        "anyio",
        "pydantic",
        "pydantic-core",
        "numpy",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": versions,
        "load_average": load,
    }


def pin_to_cpu(cpu: int | None) -> bool:
    """Pin this process to one CPU (Linux); False when the machine cannot."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return False
    if cpu >= (os.cpu_count() or 1):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


def cpus() -> tuple[int | None, int | None]:
    """(client CPU, server CPU): separate cores when there are two or more."""
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        return 0, 1
    return None, None


# -- statistics ---------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize_us(values_ns: Iterable[int]) -> dict[str, float]:
    """p50 / p99 / max / mean in microseconds of nanosecond samples (and the count)."""
    values = sorted(values_ns)
    if not values:
        return {"n": 0, "p50_us": float("nan"), "p99_us": float("nan"), "max_us": float("nan")}
    return {
        "n": len(values),
        "p50_us": percentile(values, 0.50) / 1e3,
        "p90_us": percentile(values, 0.90) / 1e3,
        "p99_us": percentile(values, 0.99) / 1e3,
        "max_us": values[-1] / 1e3,
        "mean_us": statistics.fmean(values) / 1e3,
    }


def median(values: Iterable[float]) -> float:
    data = [v for v in values if v == v]
    return statistics.median(data) if data else float("nan")


# -- memory -------------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default) now (Linux: /proc/<pid>/statm)."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        if pid is not None:
            raise
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux); NaN where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        return float("nan")


def end_process(process: subprocess.Popen[str]) -> None:
    """Terminate a child process (kill it after 5 s) and close its output pipe."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


class RssSampler:
    """Samples this process's RSS from a thread every ``interval`` s (any event loop)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.marks: dict[str, float] = {}

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_bytes()))
            self._stop.wait(self.interval)

    def mark(self, name: str) -> None:
        """Note a moment (a phase boundary) on the sampler's clock."""
        self.samples.append((time.monotonic(), rss_bytes()))
        self.marks[name] = time.monotonic()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), rss_bytes()))

    def between(self, start: str, end: str | None = None) -> list[int]:
        """RSS samples between two marks (``end`` None: to the end)."""
        t0 = self.marks[start]
        t1 = self.marks[end] if end is not None else float("inf")
        return [rss for t, rss in self.samples if t0 <= t <= t1]

    def at(self, name: str) -> int:
        """The RSS sampled at a mark."""
        t0 = self.marks[name]
        return next(rss for t, rss in self.samples if t >= t0)


# -- processes ----------------------------------------------------------------------------


class ServerProcess:
    """The streaming server (bench/_server.py) in a process of its own."""

    def __init__(self, cpu: int | None = None) -> None:
        command = [sys.executable, str(BENCH / "_server.py")]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip():
            self.close()
            raise RuntimeError("the bench server did not start")
        self.port = int(line)
        self.pid = self._process.pid

    def url(self, **spec: Any) -> str:
        """A base URL (clients append ``/realtime``) whose connections stream ``spec``."""
        return f"ws://127.0.0.1:{self.port}{spec_path(**spec)}"

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux)."""
        return cpu_seconds(self.pid)

    def close(self) -> None:
        end_process(self._process)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_child(module: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``bench/<module>.py --child SPEC`` in a fresh interpreter; its JSON result.

    A child that fails or times out yields ``{"error": ...}`` instead of raising.
    """
    command = [sys.executable, str(BENCH / f"{module}.py"), "--child", json.dumps(spec)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-5:]
        return {"error": f"exit {completed.returncode}: " + " | ".join(tail)}
    try:
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no JSON result: " + completed.stdout[-300:]}
    return result


def child_main(run: Any) -> None:
    """Entry for ``--child SPEC``: run ``run(spec)`` and print its JSON on the last line."""
    spec = json.loads(sys.argv[sys.argv.index("--child") + 1])
    print(json.dumps(run(spec)), flush=True)


def bench_main(
    argv: list[str] | None,
    *,
    doc: str | None,
    quick_help: str,
    run: Callable[..., dict[str, Any]],
    render: Callable[[dict[str, Any]], str],
    child: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """The command line of a benchmark whose clients run in child processes.

    ``--quick`` and ``--json``; ``--child`` (internal) runs one client and reports.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(child)
        return
    report = run(quick=args.quick)
    report["machine"] = machine_info()
    print(json.dumps(report, indent=2) if args.json else render(report))

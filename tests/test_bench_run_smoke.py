"""The benchmark runner runs and reports what docs/benchmarks.md quotes (no timing asserts)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "bench" / "run.py"
LATENCY_CLIENTS = {
    "trio_realtime[websockets/trio]",
    "trio_realtime[trio-websocket/trio]",
    "trio_realtime[websockets/asyncio]",
    "openai",
    "websockets+json",
}
TARGETS = {
    "throughput_vs_official",
    "receive_cpu_vs_floor_trio",
    "receive_cpu_vs_floor_asyncio",
    "sessions_vs_floor_trio",
    "sessions_vs_floor_asyncio",
    "sessions_vs_floor_uvloop",
    "sessions_uvloop",
    "first_event_vs_official",
    "import_ms",
    "p99_latency_streaming",
    "flat_memory_stalled_consumer",
    "flat_memory_stalled_server",
}


def test_bench_runner_quick_json_startup_and_latency() -> None:
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--json", "--only", "startup,latency"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["quick"] is True
    assert report["command"].startswith("python -m bench")
    assert report["status"] == {"startup": "ok", "latency": "ok"}
    machine = report["machine"]
    assert machine["nproc"] >= 1
    assert machine["cpu_model"]
    assert machine["python"]
    assert {"trio-realtime", "openai", "websockets"} <= set(machine["packages"])

    latency = report["sections"]["latency"]
    assert set(latency["results"]) == LATENCY_CLIENTS
    for name, scenarios in latency["results"].items():
        assert "error" not in scenarios, (name, scenarios)
        assert set(scenarios) == {"idle", "streaming", "duplex"}
        for scenario, row in scenarios.items():
            delivery = row["delivery"]
            assert delivery["n"] > 0
            assert 0 < delivery["p50_us"] <= delivery["max_us"]
            if scenario != "idle":
                assert row["playback"]["n"] > 0  # audio deltas reached a playback callback
        assert scenarios["duplex"]["mic_late"]["n"] > 0  # the microphone loop ran
    assert latency["target"]["client"] == "trio_realtime[websockets/trio]"
    assert latency["target"]["p99_streaming_us"] > 0

    startup = report["sections"]["startup"]
    assert set(startup["import_ms"]) >= {"trio_realtime", "openai", "websockets+json"}
    assert all(ms > 0 for ms in startup["import_ms"].values())
    for row in startup["first_event"].values():
        assert row["cold_ms"] > 0
        assert row["warm_ms"] > 0

    assert set(report["targets"]) == TARGETS
    assert report["targets"]["p99_latency_streaming"]["met"] in (True, False)
    assert report["targets"]["sessions_uvloop"]["met"] is None  # not run here
    assert report["targets"]["first_event_vs_official"]["met"] in (True, False)
    assert report["targets"]["import_ms"]["met"] in (True, False)


def test_bench_runner_refuses_an_unknown_section() -> None:
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--only", "no-such-section"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "unknown section" in completed.stderr


def test_a_missing_or_failing_benchmark_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(RUNNER.parent))
    run = importlib.import_module("run")
    failing = tmp_path / "failing.py"
    failing.write_text("raise SystemExit('broken on purpose')\n")
    monkeypatch.setattr(run, "BENCH", tmp_path)
    monkeypatch.setitem(run.EXTERNAL, "receive", ("absent.py", 10))
    monkeypatch.setitem(run.EXTERNAL, "audio", ("failing.py", 10))

    assert run.run_external("receive", quick=True)["status"] == "missing"
    failed = run.run_external("audio", quick=True)
    assert failed["status"] == "failed"
    assert "broken on purpose" in failed["error"]
    targets = run.targets({"receive": {"status": "missing"}})
    assert targets["throughput_vs_official"]["met"] is None

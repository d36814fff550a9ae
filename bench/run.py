"""Run every benchmark, side by side with the peers, and check the targets.

Usage::

    python -m bench                      # everything (~8 min on a 2-core VM)
    python bench/run.py --quick          # short run (~2 min)
    python -m bench --json               # one machine-readable report
    python -m bench --only startup,latency --quick --json
    python -m bench --only concurrency --plot docs/bench-concurrency.png
    python -m bench --markdown           # the summary as Markdown tables

Sections: ``parse`` (bench/parse.py), ``receive`` (bench/receive.py), ``audio``
(bench/audio.py) and ``emulator`` (bench/emulator.py: the emulator itself as a server)
run as subprocesses with ``--json`` (and ``--quick``); a script that is
missing or fails is reported as such and the rest of the run goes on. ``latency``,
``concurrency``, ``memory`` and ``startup`` are bench/latency.py, bench/concurrency.py,
bench/memory.py and bench/startup.py, whose clients run in processes of their own.

The machine is shared and noisy: every figure is a ratio or a median within this one
run; never compare absolute numbers across runs or machines.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import machine_info  # noqa: E402

EXTERNAL = {
    "parse": ("parse.py", 300),
    "receive": ("receive.py", 900),
    "audio": ("audio.py", 600),
    "emulator": ("emulator.py", 900),
}
"""Sections owned by other benchmarks: script and timeout (seconds)."""
OWN = ("latency", "concurrency", "memory", "startup")
SECTIONS = (*EXTERNAL, *OWN)


def run_external(name: str, quick: bool) -> dict[str, Any]:
    """Run another benchmark script with --json; its report, or why there is none."""
    script, timeout = EXTERNAL[name]
    path = BENCH / script
    if not path.exists():
        return {"status": "missing", "error": f"bench/{script} does not exist"}
    command = [sys.executable, str(path), "--json", *(["--quick"] if quick else [])]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"timed out after {timeout} s"}
    if completed.returncode != 0:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return {"status": "failed", "error": f"exit {completed.returncode}: {tail}"}
    try:
        report: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        return {"status": "failed", "error": "its output is not JSON"}
    report["status"] = "ok"
    return report


def run_own(name: str, quick: bool) -> dict[str, Any]:
    """Run one of this runner's sections in-process (its clients run in children)."""
    try:
        module = __import__(name)
        report: dict[str, Any] = module.run(quick=quick)
    except Exception as exc:  # a broken section must not sink the others
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    report["status"] = "ok"
    return report


def _get(report: dict[str, Any], *keys: str) -> Any:
    value: Any = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


SESSION_FLOORS = {
    "trio": ("trio_realtime", "websockets+json[trio]"),
    "asyncio": ("trio_realtime[asyncio]", "websockets+json"),
    "uvloop": ("trio_realtime[uvloop]", "websockets+json[uvloop]"),
}
"""Per backend: trio_realtime's client and the raw floor on the same event loop."""


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else ours / theirs


def _sessions(concurrency: dict[str, Any], client: str) -> tuple[int | None, bool]:
    """(largest N sustained, whether the sweep found the client's limit)."""
    rows = _get(concurrency, "results", client) or []
    largest = _get(concurrency, "largest_sustained", client)
    return largest, any(not row.get("sustained") for row in rows)


def targets(sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issues' targets, each met (True), missed (False) or not measured (None)."""
    receive = sections.get("receive", {})
    latency = sections.get("latency", {})
    concurrency = sections.get("concurrency", {})
    memory = sections.get("memory", {})
    startup = sections.get("startup", {})
    throughput = _get(receive, "targets", "trio", "events_per_s_over_openai")
    p99 = _get(latency, "target", "p99_streaming_us")
    consumer = _get(memory, "results", "stalled_consumer", "trio_realtime", "flat")
    server = _get(memory, "results", "stalled_server", "trio_realtime", "flat")
    found: dict[str, dict[str, Any]] = {
        "throughput_vs_official": {
            "what": "typed-event throughput, x the official client (bench/receive.py)",
            "target": ">= 5x",
            "value": throughput,
            "met": None if throughput is None else throughput >= 5,
        },
    }
    for backend in ("trio", "asyncio"):
        cpu = _get(receive, "targets", backend, "cpu_over_floor")
        found[f"receive_cpu_vs_floor_{backend}"] = {
            "what": f"CPU per typed event on {backend}, x raw websockets + json.loads "
            "(bench/receive.py)",
            "target": "<= 1.0x",
            "value": cpu,
            "met": None if cpu is None else cpu <= 1.0,
        }
    for backend, (ours, floor) in SESSION_FLOORS.items():
        mine, mine_limited = _sessions(concurrency, ours)
        theirs, theirs_limited = _sessions(concurrency, floor)
        ratio = _ratio(mine, theirs)
        # Equal sustained counts where neither reached its limit say nothing.
        measured = ratio is not None and (mine_limited or theirs_limited)
        found[f"sessions_vs_floor_{backend}"] = {
            "what": f"real-time voice sessions sustained on one core on {backend}, "
            "x the raw floor on the same loop (bench/concurrency.py)",
            "target": ">= 1.0x",
            "value": ratio,
            "met": ratio >= 1.0 if measured and ratio is not None else None,
        }
    largest, fell_behind = _sessions(concurrency, "trio_realtime[uvloop]")
    found["sessions_uvloop"] = {
        "what": "real-time voice sessions (audio in and out) on one core on uvloop, none behind",
        "target": ">= 1000",
        "value": largest,
        # The sweep stops at the first N that falls behind: behind below 1000 is a miss;
        # all sustained but none as large as 1000 (a quick run) is not measured.
        "met": None if largest is None or (largest < 1000 and not fell_behind) else largest >= 1000,
    }
    cold = _get(startup, "first_event", "trio_realtime", "cold_ms")
    official = _get(startup, "first_event", "openai", "cold_ms")
    found["first_event_vs_official"] = {
        "what": "open_realtime_session -> first event in a fresh process (cold), x the "
        "official client's (bench/startup.py)",
        "target": "<= 1.0x",
        "value": _ratio(cold, official),
        "met": None if cold is None or official is None else cold <= official,
    }
    imported = _get(startup, "import_ms", "trio_realtime")
    found["import_ms"] = {
        "what": "import trio_realtime in a fresh interpreter, ms (bench/startup.py)",
        "target": "<= 100 ms",
        "value": imported,
        "met": None if imported is None else imported <= 100,
    }
    found["p99_latency_streaming"] = {
        "what": "p99 delivery latency on loopback while streaming, µs",
        "target": "< 1000 µs",
        "value": p99,
        "met": None if p99 is None else p99 < 1000,
    }
    found["flat_memory_stalled_consumer"] = {
        "what": "RSS flat while a consumer reads nothing and the server pushes",
        "target": "flat",
        "value": _get(memory, "results", "stalled_consumer", "trio_realtime", "stall"),
        "met": consumer,
    }
    found["flat_memory_stalled_server"] = {
        "what": "RSS flat while the server stops reading and the client appends audio",
        "target": "flat",
        "value": _get(memory, "results", "stalled_server", "trio_realtime", "stall"),
        "met": server,
    }
    return found


def run(quick: bool, only: list[str], command: str) -> dict[str, Any]:
    started = time.time()
    sections: dict[str, dict[str, Any]] = {}
    for name in only:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        sections[name] = run_external(name, quick) if name in EXTERNAL else run_own(name, quick)
        sections[name]["elapsed_s"] = time.perf_counter() - t0
        print(
            f"[bench] {name}: {sections[name]['status']} ({sections[name]['elapsed_s']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "command": command,
        "quick": quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": time.time() - started,
        "machine": machine_info(),
        "status": {name: report["status"] for name, report in sections.items()},
        "sections": sections,
        "targets": targets(sections),
    }


# -- rendering --------------------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".1f", unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "-"
    return f"{value:{spec}}{unit}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, trio_realtime, peers, verdict) rows of the summary table."""
    s = report["sections"]
    t = report["targets"]
    rows: list[tuple[str, str, str, str]] = []
    parse = s.get("parse", {})
    if parse.get("status") == "ok":
        res = parse["results"]
        rows.append(
            (
                "parse: µs/event (bench/parse.py)",
                _fmt(_get(res, "trio_realtime", "us_per_event"), ".2f"),
                f"openai {_fmt(_get(res, 'openai', 'us_per_event'), '.2f')}; json.loads "
                f"{_fmt(_get(res, 'json.loads', 'us_per_event'), '.2f')}",
                f"openai takes "
                f"{_fmt(_get(parse, 'ratios', 'openai_us_over_trio_realtime_us'), '.1f', 'x')}",
            )
        )
    receive = s.get("receive", {})
    if receive.get("status") == "ok":
        res = receive["results"]
        ours = res.get("trio_realtime[websockets/trio]", {})
        rows.append(
            (
                "receive: events/s (CPU µs/event)",
                f"{_fmt(ours.get('events_per_s'), ',.0f')} ({_fmt(ours.get('cpu_us_per_event'))})",
                f"openai {_fmt(res['openai']['events_per_s'], ',.0f')} "
                f"({_fmt(res['openai']['cpu_us_per_event'])}); websockets+json "
                f"{_fmt(res['websockets+json']['events_per_s'], ',.0f')} "
                f"({_fmt(res['websockets+json']['cpu_us_per_event'])})",
                f"{_fmt(t['throughput_vs_official']['value'], '.1f', 'x')} openai "
                f"(>= 5x: {_verdict(t['throughput_vs_official']['met'])}); floor CPU "
                + ", ".join(
                    f"{backend} {_fmt(t[key]['value'], '.2f', 'x')} "
                    f"(<= 1.0x: {_verdict(t[key]['met'])})"
                    for backend in ("trio", "asyncio")
                    for key in [f"receive_cpu_vs_floor_{backend}"]
                ),
            )
        )
    audio = s.get("audio", {})
    if audio.get("status") == "ok":
        res = audio["results"]

        def ingest(name: str) -> str:
            return (
                f"{_fmt(_get(res, name, 'x_realtime'), ',.0f', 'x')} real time "
                f"({_fmt(_get(res, name, 'cpu_ms_per_audio_s'), '.2f')} ms CPU/audio s)"
            )

        rows.append(
            (
                "audio ingestion: speed (CPU per audio second) (bench/audio.py)",
                ingest("trio_realtime"),
                f"openai {ingest('openai')}; convert only {ingest('convert only')}",
                "",
            )
        )
    latency = s.get("latency", {})
    if latency.get("status") == "ok":
        res = latency["results"]
        ours = res.get("trio_realtime[websockets/trio]", {})

        def lat(row: dict[str, Any], scenario: str, key: str = "delivery") -> str:
            if "error" in row or scenario not in row:
                return "-"
            d = row[scenario][key]
            return f"{_fmt(d['p50_us'], '.0f')} / {_fmt(d['p99_us'], '.0f')}"

        for scenario in ("idle", "streaming", "duplex"):
            rows.append(
                (
                    f"latency {scenario}: p50 / p99 µs",
                    lat(ours, scenario),
                    f"openai {lat(res.get('openai', {}), scenario)}; websockets+json "
                    f"{lat(res.get('websockets+json', {}), scenario)}",
                    ""
                    if scenario == "idle"
                    else f"< 1000 µs: {_verdict(t['p99_latency_streaming']['met'])}",
                )
            )

        def voice(row: dict[str, Any]) -> str:
            if "error" in row or "audio_delivery" not in row.get("duplex", {}):
                return lat(row, "duplex", "playback")
            delivery = lat(row, "duplex", "audio_delivery")
            return f"{lat(row, 'duplex', 'playback')} (delivery {delivery})"

        rows.append(
            (
                "voice agent, duplex: audio delta sent -> PCM for playback, p50 / p99 µs",
                voice(ours),
                f"openai {voice(res.get('openai', {}))}; websockets+json "
                f"{voice(res.get('websockets+json', {}))}",
                "",
            )
        )
    concurrency = s.get("concurrency", {})
    if concurrency.get("status") == "ok":
        largest = concurrency["largest_sustained"]
        tested = concurrency["largest_tested"]
        peers = "; ".join(
            f"{name} {largest[name]} (tried {tested[name]})"
            for name in largest
            if name != "trio_realtime"
        )
        verdicts = "; ".join(
            f"{backend} {_fmt(t[key]['value'], '.2f', 'x')} the floor "
            f"(>= 1.0x: {_verdict(t[key]['met'])})"
            for backend in SESSION_FLOORS
            for key in [f"sessions_vs_floor_{backend}"]
        )
        rows.append(
            (
                "real-time voice sessions sustained on one core (largest tried)",
                f"{largest.get('trio_realtime')} (tried {tested.get('trio_realtime')})",
                peers,
                f"{verdicts}; uvloop >= 1000: {_verdict(t['sessions_uvloop']['met'])}",
            )
        )
        projected = concurrency.get("projected_sessions_per_core", {})

        def cost(name: str) -> str:
            sustained = [
                r
                for r in concurrency["results"].get(name, [])
                if r.get("sustained") and "cpu_ms_per_session_s" in r
            ]
            if not sustained:
                return "-"
            row = max(sustained, key=lambda r: r["sessions"])
            return (
                f"{row['cpu_ms_per_session_s']:.2f} ms at N={row['sessions']} "
                f"(~{_fmt(projected.get(name), ',.0f')} per core)"
            )

        rows.append(
            (
                "client CPU per voice session, per second (projected sessions per core)",
                cost("trio_realtime"),
                "; ".join(
                    f"{name} {cost(name)}"
                    for name in concurrency["results"]
                    if name != "trio_realtime"
                ),
                "",
            )
        )
    memory = s.get("memory", {})
    if memory.get("status") == "ok":
        for scenario, key in (
            ("stalled_consumer", "flat_memory_stalled_consumer"),
            ("stalled_server", "flat_memory_stalled_server"),
        ):
            res = memory["results"][scenario]

            def growth(row: dict[str, Any]) -> str:
                if "error" in row:
                    return "error"
                return f"+{row['stall']['growth_mib']:.1f} MiB"

            rows.append(
                (
                    f"memory, {scenario.replace('_', ' ')}: RSS growth",
                    growth(res.get("trio_realtime", {"error": 1})),
                    "; ".join(
                        f"{name} {growth(row)}"
                        for name, row in res.items()
                        if name != "trio_realtime"
                    ),
                    f"flat: {_verdict(t[key]['met'])}",
                )
            )
    emulator = s.get("emulator", {})
    if emulator.get("status") == "ok":
        kept = emulator["retention"]
        after = ", ".join(f"{row['rss_after_mib']:.0f}" for row in kept["sessions"])
        rows.append(
            (
                f"emulator (serve): RSS after each of {len(kept['sessions'])} sessions of "
                f"{kept['turns_per_session']} turns, MiB (bench/emulator.py)",
                f"{after} ({kept['growth_after_first_mib']:+.0f} after the first)",
                "",
                f"within {kept['flat_mib']:.0f} MiB: {_verdict(kept['flat'])}",
            )
        )
        heavy = emulator["load"]
        sustained = [row for row in heavy["results"] if row["sustained"]]
        if sustained:
            row = max(sustained, key=lambda r: r["sessions"])
            rows.append(
                (
                    "emulator: real-time voice sessions, CPU per session-second "
                    "(events/s; projected sessions per core)",
                    f"{row['cpu_ms_per_session_s']:.2f} ms at N={row['sessions']} "
                    f"({row['events_per_s']:,.0f}/s; ~{heavy['sessions_per_core']})",
                    "",
                    "",
                )
            )
    startup = s.get("startup", {})
    if startup.get("status") == "ok":
        imp = startup["import_ms"]
        rows.append(
            (
                "import, ms (best of fresh interpreters)",
                _fmt(imp.get("trio_realtime"), ".0f"),
                f"openai {_fmt(imp.get('openai'), '.0f')}; websockets "
                f"{_fmt(imp.get('websockets+json'), '.0f')}",
                f"<= 100 ms: {_verdict(t['import_ms']['met'])}",
            )
        )
        first = startup["first_event"]

        def fe(row: dict[str, Any]) -> str:
            if "error" in row:
                return "error"
            return f"{row['cold_ms']:.1f} / {row['warm_ms']:.2f}"

        rows.append(
            (
                "open -> first event, cold / warm ms",
                fe(first.get("trio_realtime", {"error": 1})),
                "; ".join(f"{n} {fe(r)}" for n, r in first.items() if n != "trio_realtime"),
                f"cold {_fmt(t['first_event_vs_official']['value'], '.2f', 'x')} openai's "
                f"(<= 1.0x: {_verdict(t['first_event_vs_official']['met'])})",
            )
        )
    for name in SECTIONS:
        section = s.get(name)
        if section is not None and section.get("status") != "ok":
            rows.append((f"{name}", section["status"], section.get("error", ""), ""))
    return rows


def render_text(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"{report['command']}",
        f"{m['nproc']} CPUs, {m['cpu_model']}, load {m['load_average']}; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        "",
    ]
    for figure, ours, peers, verdict in summary_rows(report):
        lines.append(
            f"- {figure}: trio_realtime {ours}; {peers}" + (f" [{verdict}]" if verdict else "")
        )
    lines.append("")
    for name, target in report["targets"].items():
        lines.append(f"target {name}: {_verdict(target['met'])} ({target['target']})")
    for name in OWN:
        section = report["sections"].get(name)
        if section is not None and section.get("status") == "ok":
            lines += ["", __import__(name).render(section)]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    lines = [
        f"Command: `{report['command']}`; {m['nproc']} CPUs ({m['cpu_model']}), load average "
        f"{', '.join(map(str, m['load_average']))} at the end; Python {m['python']}; {packages}.",
        "",
        "| figure | trio_realtime | peers | target |",
        "|---|---|---|---|",
    ]
    for figure, ours, peers, verdict in summary_rows(report):
        lines.append(f"| {figure} | {ours} | {peers} | {verdict} |")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": lambda report: json.dumps(report, indent=2),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run of everything")
    parser.add_argument("--json", action="store_true", help="print one JSON report")
    parser.add_argument("--markdown", action="store_true", help="print the summary as Markdown")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections: {','.join(SECTIONS)}"
    )
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    parser.add_argument("--plot", help="write the concurrency plot (PNG) here")
    parser.add_argument("--save", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    unknown = [name for name in [*only, *skip] if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    only = [name for name in SECTIONS if name in only and name not in skip]
    command = shlex.join(["python", "-m", "bench", *argv])
    report = run(args.quick, only, command)
    if args.plot and report["sections"].get("concurrency", {}).get("status") == "ok":
        import concurrency

        concurrency.plot(report["sections"]["concurrency"], args.plot)
    if args.save:
        Path(args.save).write_text(json.dumps(report, indent=2))
    style = "json" if args.json else "markdown" if args.markdown else "text"
    print(RENDERERS[style](report))


if __name__ == "__main__":
    main()

"""The ``python -m trio_realtime serve`` command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import trio_realtime as rt
from trio_realtime._cli import EMULATOR_KEY_VARIABLE, build_parser, emulator_key

from .test_emulator_trio import connect, receive


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.api_key, args.audio_pace) == ("127.0.0.1", 8765, None, None)


def test_serve_takes_its_key_from_the_flag_then_the_environment() -> None:
    parser = build_parser()
    environ = {EMULATOR_KEY_VARIABLE: "sk-env"}
    assert emulator_key(parser.parse_args(["serve"]), {}) is None
    assert emulator_key(parser.parse_args(["serve"]), environ) == "sk-env"
    assert emulator_key(parser.parse_args(["serve", "--api-key", "sk-flag"]), environ) == "sk-flag"
    assert emulator_key(parser.parse_args(["serve"]), {EMULATOR_KEY_VARIABLE: ""}) is None


@asynccontextmanager
async def serving(
    *arguments: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[trio.Process, str]]:
    """``serve --port 0`` in a process of its own: the process and the URL it printed."""
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", *arguments]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        output = b""
        while b"\n" not in output:
            data = await process.stdout.receive_some()
            assert data, "the command exited before printing its URL"
            output += data
        yield process, output.split(b"\n", 1)[0].decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()
        await process.stderr.aclose()


async def stop_cleanly(process: trio.Process) -> bytes:
    """Ctrl-C: the exit status is 0; what it wrote to stderr."""
    assert process.stderr is not None
    process.send_signal(signal.SIGINT)
    assert await process.wait() == 0
    errors = b""
    while data := await process.stderr.receive_some():
        errors += data
    return errors


@pytest.mark.parametrize("key_from", ["flag", "environment"])
async def test_serve_prints_the_url_and_exits_cleanly_on_ctrl_c(key_from: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != EMULATOR_KEY_VARIABLE}
    arguments = ["--api-key", "sk-cli"] if key_from == "flag" else []
    if key_from == "environment":
        env[EMULATOR_KEY_VARIABLE] = "sk-cli"
    async with serving(*arguments, env=env) as (process, url):
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1")
        async with connect(
            url + "/realtime?model=gpt-realtime", [(b"Authorization", b"Bearer sk-cli")]
        ) as ws:
            assert (await receive(ws))["type"] == "session.created"
        with pytest.raises(rt.AuthenticationError):  # only that key
            async with rt.open_realtime_session("gpt-realtime", api_key="sk-other", url=url):
                pass
        assert b"Traceback" not in await stop_cleanly(process)


async def test_serve_verbose_logs_each_closed_connection_with_its_counts() -> None:
    async with serving("--verbose") as (process, url):
        async with rt.open_realtime_session("gpt-realtime", api_key="sk-any", url=url) as session:
            await session.send_user_message("Hi", create_response=False)
        errors = await stop_cleanly(process)
    line = next(x for x in errors.decode().splitlines() if "connection #1 closed" in x)
    # The item's events may or may not have gone out before the client's close.
    assert re.search(r"closed \(by client\): events in 1, out \d+; input audio 0 bytes", line)

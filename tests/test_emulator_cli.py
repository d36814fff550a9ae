"""The ``python -m trio_realtime serve`` command."""

from __future__ import annotations

import signal
import subprocess
import sys

import trio

from trio_realtime.__main__ import build_parser

from .test_emulator_trio import connect, receive


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.api_key, args.audio_pace) == ("127.0.0.1", 8765, None, None)


async def test_serve_prints_the_url_and_exits_cleanly_on_ctrl_c() -> None:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", "--api-key", "sk-cli"]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        output = b""
        while b"\n" not in output:
            data = await process.stdout.receive_some()
            assert data, "the command exited before printing its URL"
            output += data
        url = output.split(b"\n", 1)[0].decode()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1")
        async with connect(
            url + "/realtime?model=gpt-realtime", [(b"Authorization", b"Bearer sk-cli")]
        ) as ws:
            assert (await receive(ws))["type"] == "session.created"
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0
        errors = b""
        while data := await process.stderr.receive_some():
            errors += data
        assert b"Traceback" not in errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()
        await process.stderr.aclose()

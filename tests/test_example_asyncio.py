"""trio_realtime from asyncio: the example runs as documented, and an asyncio test suite
can use the emulator (``run_emulator_in_thread``) the way docs/asyncio.md shows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import run_emulator_in_thread

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "anyio_asyncio.py"


def test_the_asyncio_example_holds_a_conversation_with_the_emulator() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("connected on asyncio: sess_")
    assert "assistant: You said: What is AnyIO?" in lines
    assert "assistant: You said: And which event loop runs this?" in lines
    assert lines[-1] == "the emulator saw close code 1000"
    assert "Run:" in EXAMPLE.read_text().split('"""')[1]


def test_an_asyncio_test_can_drive_a_session_against_the_emulator() -> None:
    """No Trio in the test's thread: asyncio.run, the emulator on its own thread."""

    async def conversation(url: str) -> list[str]:
        async with (
            asyncio.timeout(20),
            rt.open_realtime_session(
                "gpt-realtime", url=url, api_key="sk-test", session={"output_modalities": ["text"]}
            ) as session,
        ):
            await session.send_user_message("from asyncio")
            kinds = []
            async for event in session:
                kinds.append(event.type)
                if isinstance(event, ev.ResponseDoneEvent):
                    assert event.response.status == "completed"
                    return kinds
        raise AssertionError("the session ended before response.done")

    with run_emulator_in_thread() as emulator:
        kinds = asyncio.run(conversation(emulator.url))
        connection = emulator.connections[0]
        assert connection.received_close_code == 1000
        assert [event.type for event in connection.received][-2:] == [
            "conversation.item.create",
            "response.create",
        ]
    assert kinds[0] == "session.created"
    assert "response.output_text.delta" in kinds

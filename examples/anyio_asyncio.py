"""An asyncio application on AnyIO: a text conversation run from a task group.

Shows: trio_realtime on asyncio (the default ``websockets`` transport runs on every
AnyIO backend, no Trio needed); one AnyIO task group holding a task that prints the
assistant's replies while the main flow asks questions and waits for each answer; the
local emulator started on a thread of its own (``run_emulator_in_thread``) when no
``OPENAI_API_KEY`` is set, so it runs offline; the server seeing a clean close 1000.

Run:  python examples/anyio_asyncio.py   (embedded emulator when OPENAI_API_KEY is unset)
"""

from __future__ import annotations

import os

import anyio
import sniffio
from anyio.streams.memory import MemoryObjectSendStream

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import run_emulator_in_thread

QUESTIONS = ["What is AnyIO?", "And which event loop runs this?"]


async def print_replies(session: rt.RealtimeSession, answers: MemoryObjectSendStream[str]) -> None:
    """Print the assistant's text as it streams; hand each whole answer to the asker."""
    text: list[str] = []
    async for event in session:
        if isinstance(event, ev.ResponseTextDeltaEvent):
            text.append(event.delta)
        elif isinstance(event, ev.ResponseDoneEvent):
            await answers.send("".join(text))
            text.clear()


async def converse(url: str | None, api_key: str | None) -> None:
    async with rt.open_realtime_session(
        url=url, api_key=api_key, session={"output_modalities": ["text"]}
    ) as session:
        print(f"connected on {sniffio.current_async_library()}: {session.session_id}")
        send, answers = anyio.create_memory_object_stream[str](1)
        with send, answers:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(print_replies, session, send)
                for question in QUESTIONS:
                    print(f"user: {question}")
                    await session.send_user_message(question)
                    with anyio.fail_after(30):
                        print(f"assistant: {await answers.receive()}")
                tasks.cancel_scope.cancel("the conversation is over")
    # Leaving the session's block closed the WebSocket with 1000, cancellation or not.


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await converse(None, None)
        return
    # The emulator runs its own Trio loop on a thread; starting and stopping it takes
    # milliseconds, so doing it from the event loop's thread is fine here.
    with run_emulator_in_thread() as emulator:
        await converse(emulator.url, "sk-local")
        print(f"the emulator saw close code {emulator.connections[0].received_close_code}")


if __name__ == "__main__":
    anyio.run(main, backend="asyncio")

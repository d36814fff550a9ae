"""Text chat: send a few messages and stream the replies.

Shows: open_realtime_session with a text-only session, send_user_message, and reading
typed events with `async for`.

Run:  python examples/text_chat.py            (embedded emulator when OPENAI_API_KEY is unset)
      OPENAI_API_KEY=sk-... python examples/text_chat.py   (the real service)
"""

from __future__ import annotations

import os

import trio

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import open_emulator

QUESTIONS = ["Hello! Who are you?", "Say something about Trio in one sentence."]


async def chat(url: str | None, api_key: str | None) -> None:
    config = ev.SessionConfig(output_modalities=["text"], instructions="Be brief.")
    async with rt.open_realtime_session(url=url, api_key=api_key, session=config) as session:
        for question in QUESTIONS:
            print(f"you: {question}\nassistant: ", end="", flush=True)
            await session.send_user_message(question)
            async for event in session:
                if isinstance(event, ev.ResponseTextDeltaEvent):
                    print(event.delta, end="", flush=True)
                elif isinstance(event, ev.ResponseDoneEvent):
                    print()
                    break


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await chat(None, None)
    else:
        async with open_emulator() as emulator:
            await chat(emulator.url, "sk-local")


if __name__ == "__main__":
    trio.run(main)

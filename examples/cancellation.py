"""Cancellation: abandon a response mid-stream with a Trio cancel scope.

Shows: `trio.move_on_after` around the event loop, cancel_response(), and that the
session stays usable; then leaving everything with an outer timeout still closes the
connection cleanly (close 1000), with no task left behind.

Run:  python examples/cancellation.py   (embedded emulator when OPENAI_API_KEY is unset)
"""

from __future__ import annotations

import os

import trio

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import open_emulator


async def run(url: str | None, api_key: str | None) -> None:
    async with rt.open_realtime_session(url=url, api_key=api_key) as session:
        await session.send_user_message("Tell me a very long story.")
        audio_ms = 0.0
        with trio.move_on_after(0.3):  # the user lost interest
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    audio_ms += len(event.audio_bytes()) / 48
        abandoned = session.active_response_id
        print(f"abandoned after {audio_ms:.0f} ms of audio; cancelling the response")
        await session.cancel_active_response()  # waits until its response.done arrived
        print("active response now:", session.active_response_id)
        await session.send_user_message("Just say OK.")
        async for event in session:  # the abandoned response's late events come first
            if isinstance(event, ev.ResponseDoneEvent) and event.response.id != abandoned:
                print("second response:", event.response.status)
                break


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await run(None, None)
    else:
        async with open_emulator(audio_pace=1.0) as emulator:  # audio at real-time pace
            await run(emulator.url, "sk-local")
            await emulator.connections[0].closed.wait()
            print("server saw close code", emulator.connections[0].received_close_code)


if __name__ == "__main__":
    trio.run(main)

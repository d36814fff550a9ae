"""A call that outlives its connection: resume after drops and roll over before the cap.

Run it against the embedded emulator (no key), with a short session limit and a dropped
connection, so both moves happen within seconds:

    python examples/long_call.py

With ``OPENAI_API_KEY`` set and ``--real``, it talks to the service instead (a real
session lasts up to 60 minutes; the rollover then happens 5 minutes before that).
"""

from __future__ import annotations

import argparse
import os

import trio

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import Faults, open_emulator

POLICY = rt.ResumePolicy(rollover_before=300)
"""Move 5 minutes ahead of expires_at, at a turn boundary; resume after drops."""


async def converse(session: rt.RealtimeSession, turns: int) -> None:
    """Ask ``turns`` questions, printing replies and every move to a new connection."""
    for n in range(turns):
        await session.send_user_message(f"Question {n + 1}: what is {n} + {n}?")
        async for event in session:
            if isinstance(event, ev.SessionResumedEvent):
                print(
                    f"  [moved to {event.session_id}: {event.reason}, close {event.close_code},"
                    f" {event.items_carried} items carried, {event.replayed_events} events"
                    f" replayed, {event.gap_ms:.0f} ms]"
                )
                if event.interrupted_response_id is not None:
                    await session.create_response()  # the cut reply is not re-run by itself
            elif isinstance(event, ev.ResponseAudioTranscriptDoneEvent):
                print(f"assistant: {event.transcript}")
            elif isinstance(event, ev.ResponseDoneEvent):
                break
    print(f"resumptions: {session.statistics().resumptions}")


async def main(real: bool) -> None:
    if real:
        async with rt.open_realtime_session("gpt-realtime", resume=POLICY) as session:
            await converse(session, turns=3)
        return
    # The emulator's sessions last 8 s here, and the first connection drops early.
    async with open_emulator(session_max_s=8, faults=Faults(drop_after_events=6)) as emu:
        async with rt.open_realtime_session(
            url=emu.url, api_key="sk-emulator", resume=rt.ResumePolicy(rollover_before=3)
        ) as session:
            emu.faults = Faults()  # only the first connection drops
            await converse(session, turns=3)
            await trio.sleep(6)  # idle across the rollover point
            await converse(session, turns=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="use the service (OPENAI_API_KEY)")
    args = parser.parse_args()
    if args.real and not os.environ.get("OPENAI_API_KEY"):
        parser.error("--real needs OPENAI_API_KEY")
    trio.run(main, args.real)

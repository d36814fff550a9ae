"""Usage and cost: what a conversation used, per model and per response, and its price.

Shows: session.usage() (tokens by modality, cached tokens, per response), a price
table of your own (ModelPrice) turned into a cost estimate, and RealtimeClient.usage()
across sessions. The rates below are placeholders: copy yours from the price list.

Run:  python examples/usage_and_cost.py            (embedded emulator when OPENAI_API_KEY is unset)
      OPENAI_API_KEY=sk-... python examples/usage_and_cost.py   (the real service)
"""

from __future__ import annotations

import os

import trio

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import open_emulator

PRICES = {  # US dollars per million tokens (placeholders: use your provider's rates)
    "gpt-realtime": rt.ModelPrice(
        text_input=4.0,
        text_cached_input=0.4,
        text_output=16.0,
        audio_input=32.0,
        audio_cached_input=0.4,
        audio_output=64.0,
    ),
    "gpt-4o-transcribe": rt.ModelPrice(audio_input=6.0, text_output=10.0),
}
SESSION = {
    "output_modalities": ["text"],
    "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
}


async def until_done(session: rt.RealtimeSession) -> None:
    async for event in session:
        if isinstance(event, ev.ResponseDoneEvent):
            return


async def converse(client: rt.RealtimeClient) -> None:
    async with client.connect("gpt-realtime", session=SESSION) as session:
        await session.send_user_message("Hello! Who are you?")
        await until_done(session)
        await session.append_audio(audio.voice_like(1500))  # a spoken turn
        await session.append_audio(audio.silence(1000))  # server VAD ends it
        await until_done(session)
        usage = session.usage()
    for response in usage.responses:
        tokens = response.usage
        print(
            f"{response.response_id}: {tokens.input_text_tokens} text + "
            f"{tokens.input_audio_tokens} audio tokens in ({tokens.cached_tokens} cached), "
            f"{tokens.output_tokens} out"
        )
    for model, tokens in usage.by_model.items():
        print(f"{model}: {tokens.requests} reports, {tokens.total_tokens} tokens")
    estimate = usage.cost(PRICES)
    print(f"estimated cost: ${estimate.usd:.6f}")
    if not estimate.complete:
        print("not priced:", ", ".join(estimate.unpriced))


async def two_calls(client: rt.RealtimeClient) -> None:
    await converse(client)
    await converse(client)
    print(f"the client's sessions: {client.usage().total.total_tokens} tokens")


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await two_calls(rt.RealtimeClient())
    else:
        async with open_emulator() as emulator:
            await two_calls(rt.RealtimeClient(api_key="sk-local", base_url=emulator.url))


if __name__ == "__main__":
    trio.run(main)

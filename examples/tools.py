"""Function calling: the model calls a tool, the app runs it and returns the result.

Shows: tools in the session config, reading the function call from response.done,
send_function_output(..., create_response=True) for the model's follow-up answer.

Run:  python examples/tools.py   (embedded emulator when OPENAI_API_KEY is unset)
"""

from __future__ import annotations

import json
import os
from typing import Any

import trio

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import open_emulator

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temp_c": 18, "sky": "clear"}


async def run(url: str | None, api_key: str | None) -> None:
    config = ev.SessionConfig.model_validate(
        {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER]}
    )
    async with rt.open_realtime_session(url=url, api_key=api_key, session=config) as session:
        await session.send_user_message("Use get_weather: what is the weather in Paris?")
        while True:
            calls: list[ev.FunctionCallItem] = []
            async for event in session:
                if isinstance(event, ev.ResponseTextDeltaEvent):
                    print(event.delta, end="", flush=True)
                elif isinstance(event, ev.ResponseDoneEvent):
                    calls = [
                        i for i in event.response.output or [] if isinstance(i, ev.FunctionCallItem)
                    ]
                    break
            if not calls:
                print()
                return
            for call in calls:
                result = get_weather(**json.loads(call.arguments))
                print(f"[tool] {call.name}({call.arguments}) -> {result}")
                await session.send_function_output(call.call_id or "", result, create_response=True)


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await run(None, None)
    else:
        async with open_emulator() as emulator:
            await run(emulator.url, "sk-local")


if __name__ == "__main__":
    trio.run(main)

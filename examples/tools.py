"""Function calling with the tool runner: typed Python functions, every call answered once.

Shows: rt.Tools() with @tools.function on a sync and an async function (the JSON schema
comes from the type hints and the docstring), SessionConfig(tools=tools.definitions()), and
open_tool_runner inside the session's block: it runs each call in its own task, sends
its output and asks for the model's follow-up answer, while the app keeps reading
events as usual. on_event prints when a tool starts and finishes.

Run:  python examples/tools.py   (embedded emulator when OPENAI_API_KEY is unset)
      OPENAI_API_KEY=sk-... python examples/tools.py   (the real service)
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import trio

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import open_emulator

tools = rt.Tools()


@tools.function
def get_weather(
    city: Annotated[str, "The city, e.g. Paris"],
    unit: Literal["celsius", "fahrenheit"] = "celsius",
) -> dict[str, Any]:
    """The current weather in a city."""
    return {"city": city, "temp_c": 18, "sky": "clear", "unit": unit}


@tools.function(timeout=10)
async def get_time(zone: Annotated[str, "An IANA time zone, e.g. Europe/Paris"]) -> str:
    """The local time in a time zone."""
    await trio.sleep(0.1)  # a real tool would ask a service here
    return f"12:00 in {zone}"


def show(event: rt.ToolEvent) -> None:
    if isinstance(event, rt.ToolStarted):
        print(f"[tool] {event.call.name}({event.call.arguments}) ...")
    else:
        print(f"[tool] {event.call.name} -> {event.outcome}: {event.output}")


async def run(url: str | None, api_key: str | None) -> None:
    config = ev.SessionConfig(output_modalities=["text"], tools=tools.definitions())
    async with (
        rt.open_realtime_session(url=url, api_key=api_key, session=config) as session,
        rt.open_tool_runner(session, tools, on_event=show) as runner,
    ):
        await session.send_user_message("Use get_weather: what is the weather in Paris?")
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                print(event.delta, end="", flush=True)
            elif isinstance(event, ev.ResponseDoneEvent):
                output = event.response.output or []
                if not any(isinstance(item, ev.FunctionCallItem) for item in output):
                    print()
                    break  # the answer after the tools
        print(runner.statistics())


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await run(None, None)
    else:
        async with open_emulator() as emulator:
            await run(emulator.url, "sk-local")


if __name__ == "__main__":
    trio.run(main)

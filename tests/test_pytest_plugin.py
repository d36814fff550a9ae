"""The shipped pytest plugin, used the way a user would (pytester runs a user's test file)."""

from __future__ import annotations

import pytest

USER_TESTS = '''
import anyio
import pytest
import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import BrainReply, Faults


async def my_voice_agent(question: str) -> str:
    """The user's app: connects with the defaults (environment), asks, returns the text."""
    config = ev.SessionConfig(output_modalities=["text"])
    async with rt.open_realtime_session(session=config) as session:
        await session.send_user_message(question)
        text = ""
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                text += event.delta
            elif isinstance(event, ev.ResponseDoneEvent):
                return text
    return text


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])
async def test_agent_answers(realtime_emulator, anyio_backend):
    assert "ping" in await my_voice_agent("ping")
    assert realtime_emulator.connections[0].received[0].type == "session.update"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.realtime_emulator(brain=lambda request: BrainReply(text="scripted answer"))
async def test_scripted_brain(realtime_emulator, anyio_backend):
    assert await my_voice_agent("anything") == "scripted answer"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.realtime_emulator(faults=Faults(close_after_events=2, close_code=1011))
async def test_agent_sees_a_server_failure(realtime_emulator, anyio_backend):
    with pytest.raises(rt.SessionClosed):
        await my_voice_agent("x")
'''


def test_a_users_tests_run_against_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_app=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "anyio")
    result.assert_outcomes(passed=4)


def test_the_plugin_is_inert_unless_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
import os

def test_environment_untouched():
    assert "OPENAI_WEBSOCKET_BASE_URL" not in os.environ or os.environ.get("KEEP") == "1"
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)

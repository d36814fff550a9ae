"""RealtimeClient and interceptors against the emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import trio

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import Emulator, open_emulator

TEXT = ev.SessionConfig(output_modalities=["text"])
MANUAL = ev.SessionConfig.model_validate(
    {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
)


@pytest.fixture
async def emulator() -> Any:
    async with open_emulator() as emulator:
        yield emulator


async def reply(session: rt.RealtimeSession) -> str:
    text = []
    async for event in session:
        if isinstance(event, ev.ResponseTextDeltaEvent | ev.ResponseAudioTranscriptDeltaEvent):
            text.append(event.delta)
        elif isinstance(event, ev.ResponseDoneEvent):
            break
    return "".join(text)


def test_repr_never_shows_the_key() -> None:
    client = rt.RealtimeClient(api_key="sk-very-secret", base_url="ws://x/v1")
    assert "sk-very-secret" not in repr(client)
    assert "sk-very-secret" not in repr(client.with_options(connect_timeout=3))
    assert client.with_options(connect_timeout=3).options["connect_timeout"] == 3
    assert client.options["connect_timeout"] != 3  # immutable: the original is unchanged


async def test_many_sessions_from_one_client_with_per_session_overrides(
    emulator: Emulator,
) -> None:
    client = rt.RealtimeClient(api_key="sk-test", base_url=emulator.url, organization="org-1")
    async with (
        client.connect(session=TEXT) as first,
        client.connect("gpt-realtime-mini", session=TEXT, heartbeat=None) as second,
    ):
        assert first.session_id != second.session_id
        await first.send_user_message("one")
        await second.send_user_message("two")
        assert "one" in await reply(first)
        assert "two" in await reply(second)
    models = [c.query.get("model") for c in emulator.connections]
    assert models == ["gpt-realtime", "gpt-realtime-mini"]
    assert emulator.connections[0].headers.get("openai-organization") == "org-1"


async def test_the_key_provider_is_called_on_every_connect(emulator: Emulator) -> None:
    calls = []

    async def rotating_key() -> str:
        calls.append(1)
        return f"sk-rotated-{len(calls)}"

    client = rt.RealtimeClient(api_key=rotating_key, base_url=emulator.url)
    for _ in range(3):
        async with client.connect():
            pass
    assert len(calls) == 3


async def test_translation_and_transcription_from_the_client(emulator: Emulator) -> None:
    client = rt.RealtimeClient(api_key="sk-test", base_url=emulator.url)
    async with client.connect_translation(session={"audio": {"output": {"language": "es"}}}) as t:
        assert isinstance(t, rt.RealtimeTranslationSession)
    async with client.connect_transcription() as s:
        assert isinstance(s, rt.TranscriptionSession)
    assert [c.kind for c in emulator.connections] == ["translation", "transcription"]


async def test_recording_interceptor_writes_both_directions_without_the_key(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "call.jsonl"
    client = rt.RealtimeClient(
        api_key="sk-secret-key-123",
        base_url=emulator.url,
        interceptors=[rt.RecordingInterceptor(path)],
    )
    async with client.connect(session=TEXT.model_copy(update={"audio": MANUAL.audio})) as session:
        await session.append_audio(audio.tone(440, 200))
        await session.send_user_message("hello")
        await reply(session)
    text = path.read_text()
    assert "sk-secret-key-123" not in text
    recording = rt.read_recording(path)
    assert recording.kind == "realtime"
    directions = {entry.dir for entry in recording.entries}
    assert directions == {"send", "recv"}
    first = recording.entries[0]
    assert first.dir == "recv" and first.event["type"] == "session.created"
    sent_types = [e.event["type"] for e in recording.entries if e.dir == "send"]
    assert sent_types[0] == "session.update"
    assert {"input_audio_buffer.append", "conversation.item.create"} <= set(sent_types)
    appended = next(e for e in recording.entries if e.event["type"] == "input_audio_buffer.append")
    assert len(appended.event["audio"]) > 1000  # audio kept, for replay
    times = [entry.t for entry in recording.entries]
    assert times == sorted(times)
    assert all(entry.session_id for entry in recording.entries[1:])
    for line in text.splitlines()[1:]:
        assert set(json.loads(line)) == {"t", "dir", "session_id", "event"}


async def test_logging_interceptor_logs_sizes_not_audio_and_redacts_keys(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_realtime.wire")
    client = rt.RealtimeClient(
        api_key="sk-secret-key-456", base_url=emulator.url, interceptors=[rt.LoggingInterceptor()]
    )
    async with client.connect(session=MANUAL) as session:
        await session.append_audio(audio.tone(440, 100))
        await session.send_user_message("hi")
        await reply(session)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sk-secret-key-456" not in logged
    assert "Authorization" in logged and "***" in logged
    assert "bytes of audio>" in logged
    assert "response.output_audio.delta" in logged
    # no base64 payload longer than a few characters made it into the log
    assert not any(len(word) > 200 for word in logged.split())


async def test_metrics_interceptor_measures_each_turn(emulator: Emulator) -> None:
    seen: list[rt.TurnMetrics] = []
    metrics = rt.MetricsInterceptor(on_turn=seen.append)
    async with rt.open_realtime_session(
        api_key="sk-test", url=emulator.url, interceptors=[metrics]
    ) as session:
        for text in ("one", "two"):
            await session.send_user_message(text)
            await reply(session)
    assert len(seen) == 2 and metrics.turns == seen
    for turn in seen:
        assert turn.status == "completed"
        assert turn.first_audio_ms is not None and turn.first_audio_ms >= 0
        assert turn.first_text_ms is not None
        assert turn.duration_ms >= 0
    summary = metrics.statistics()
    assert summary.turns == 2 and summary.median_first_audio_ms is not None


class Rewrite(rt.Interceptor):
    """Drops unknown events, tags outgoing messages, records closes."""

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []
        self.urls: list[str] = []

    async def on_connect(self, request: rt.ConnectRequest) -> rt.ConnectRequest:
        self.urls.append(request.url)
        return rt.ConnectRequest(url=request.url, headers=[*request.headers, ("X-Trace", "t-1")])

    def on_send(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent | None:
        if isinstance(event, ev.ResponseCancelEvent):
            return None  # dropped
        return event

    def on_receive(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent | None:
        return None if isinstance(event, ev.RateLimitsUpdatedEvent) else event

    def on_close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


async def test_interceptors_rewrite_and_drop_both_ways(emulator: Emulator) -> None:
    hook = Rewrite()
    async with rt.open_realtime_session(
        api_key="sk-test", url=emulator.url, session=TEXT, interceptors=[hook]
    ) as session:
        await session.cancel_response()
        await session.send_user_message("x")
        await reply(session)
        await session.send_user_message("y", create_response=False)
        await emulator.connections[0].wait_for(ev.ConversationItemCreateEvent, count=2)
        kinds = []
        with trio.move_on_after(0.5):
            async for event in session:
                kinds.append(event.type)
        assert "rate_limits.updated" not in kinds
    connection = emulator.connections[0]
    assert connection.headers.get("x-trace") == "t-1"
    assert "response.cancel" not in [e.type for e in connection.received]
    assert hook.closes == [(1000, "")]
    assert hook.urls and "model=" in hook.urls[0]


class Exploding(rt.Interceptor):
    def on_receive(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent:
        if isinstance(event, ev.ResponseCreatedEvent):
            raise ZeroDivisionError("boom")
        return event


async def test_an_interceptor_that_raises_ends_the_session_with_one_clear_error(
    emulator: Emulator,
) -> None:
    with pytest.raises(rt.InterceptorError) as info:
        async with rt.open_realtime_session(
            api_key="sk-test", url=emulator.url, interceptors=[Exploding()]
        ) as session:
            await session.send_user_message("x")
            async for _ in session:
                pass
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert not isinstance(info.value, BaseExceptionGroup)
    connection = emulator.connections[0]
    await connection.closed.wait()
    assert connection.received_close_code == 1011


async def test_one_recording_interceptor_records_several_sessions(
    emulator: Emulator, tmp_path: Path
) -> None:
    numbered = rt.RecordingInterceptor(tmp_path / "call-{n}.jsonl")
    appended = rt.RecordingInterceptor(tmp_path / "all.jsonl")
    client = rt.RealtimeClient(
        api_key="sk-test", base_url=emulator.url, interceptors=[numbered, appended]
    )
    for text in ("first", "second"):
        async with client.connect(session=TEXT) as session:
            await session.send_user_message(text)
            await reply(session)
    for n, text in ((1, "first"), (2, "second")):
        one = rt.read_recording(tmp_path / f"call-{n}.jsonl")
        both = rt.read_recording(tmp_path / "all.jsonl", session=n)
        assert [e.event for e in one.entries] == [e.event for e in both.entries]
        assert any(text in json.dumps(e.event) for e in both.entries if e.dir == "send")
    with pytest.raises(ValueError, match="2 session"):
        rt.read_recording(tmp_path / "all.jsonl", session=3)


async def test_a_client_secret_minted_by_the_client_opens_a_session(emulator: Emulator) -> None:
    client = rt.RealtimeClient(api_key="sk-test", base_url=emulator.url)
    config = ev.SessionConfig(instructions="Speak like a pirate.", output_modalities=["text"])
    secret = await client.create_client_secret(config, expires_after=120)
    assert secret.value.startswith("ek_")
    assert secret.value not in repr(secret)
    assert isinstance(secret.session, ev.SessionConfig)
    browser = rt.RealtimeClient(api_key=secret.value, base_url=emulator.url)
    async with browser.connect() as session:
        assert isinstance(session.config, ev.SessionConfig)
        assert session.config.instructions == "Speak like a pirate."
    translation = await client.create_translation_client_secret(
        {"audio": {"output": {"language": "fr"}}}
    )
    assert translation.value.startswith("ek_")
    assert isinstance(translation.session, ev.TranslationSession)


async def test_client_secret_errors_are_typed(emulator: Emulator) -> None:
    async with open_emulator(api_key="sk-right") as strict:
        wrong = rt.RealtimeClient(api_key="sk-wrong", base_url=strict.url)
        with pytest.raises(rt.AuthenticationError):
            await wrong.create_client_secret()
    client = rt.RealtimeClient(api_key="sk-test", base_url=emulator.url)
    with pytest.raises(rt.ServerError) as info:
        await client.create_client_secret({"bogus_field": 1})
    assert info.value.code == "unknown_parameter"
    with pytest.raises(rt.ServerError):
        await client.create_client_secret(expires_after=5)  # below the 10 s minimum
    forged = rt.RealtimeClient(api_key="ek_not_a_real_secret", base_url=emulator.url)
    with pytest.raises(rt.AuthenticationError):
        async with forged.connect():
            pytest.fail("the block must not run")

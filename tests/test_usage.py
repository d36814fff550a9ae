"""Token usage and cost: what sessions and clients report, and what a price table makes of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime._usage import UsageLedger
from trio_realtime.testing import Emulator, open_emulator

GA_USAGE: dict[str, Any] = {
    # The service's own report (shared/protocol/realtime-protocol.md 5.5, observed).
    "total_tokens": 127,
    "input_tokens": 120,
    "output_tokens": 7,
    "input_token_details": {
        "text_tokens": 120,
        "audio_tokens": 0,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 7, "audio_tokens": 0},
}
PRICES = {
    "gpt-realtime": rt.ModelPrice(
        text_input=4.0,
        text_cached_input=0.4,
        text_output=16.0,
        audio_input=32.0,
        audio_cached_input=0.4,
        audio_output=64.0,
        image_input=5.0,
        image_cached_input=0.5,
    ),
    "gpt-4o-transcribe": rt.ModelPrice(text_input=2.5, audio_input=6.0, text_output=10.0),
    "gpt-realtime-translate": rt.ModelPrice(audio_minute=0.06),
}
WITH_TRANSCRIPTION = {
    "output_modalities": ["text"],
    "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
}


@pytest.fixture
async def emulator() -> Any:
    async with open_emulator() as emulator:
        yield emulator


# -- reading reports ----------------------------------------------------------------------


def test_a_response_report_is_read_by_modality_with_its_cached_tokens() -> None:
    usage = rt.TokenUsage.from_report(ev.Usage.model_validate(GA_USAGE))
    assert usage == rt.TokenUsage.from_report(GA_USAGE)  # typed model or wire dict
    assert (usage.requests, usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        1,
        120,
        7,
        127,
    )
    assert (usage.input_text_tokens, usage.input_audio_tokens, usage.input_image_tokens) == (
        120,
        0,
        0,
    )
    assert (usage.cached_tokens, usage.cached_text_tokens, usage.cached_audio_tokens) == (64, 64, 0)
    assert (usage.output_text_tokens, usage.output_audio_tokens) == (7, 0)


def test_transcription_reports_by_tokens_and_by_duration() -> None:
    tokens = rt.TokenUsage.from_report(
        {
            "type": "tokens",
            "total_tokens": 24,
            "input_tokens": 16,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 16},
            "output_tokens": 8,
        }
    )
    assert (tokens.input_audio_tokens, tokens.output_text_tokens, tokens.seconds) == (16, 8, 0)
    duration = rt.TokenUsage.from_report({"type": "duration", "seconds": 7})
    assert (duration.requests, duration.seconds, duration.total_tokens) == (1, 7.0, 0)
    assert rt.TokenUsage.from_report(None) == rt.TokenUsage()


# -- cost ---------------------------------------------------------------------------------


def test_the_cost_estimate_matches_a_hand_calculation() -> None:
    audio_turn = {
        "total_tokens": 1000,
        "input_tokens": 700,
        "output_tokens": 300,
        "input_token_details": {
            "text_tokens": 200,
            "audio_tokens": 500,
            "image_tokens": 0,
            "cached_tokens": 150,
            "cached_tokens_details": {"text_tokens": 50, "audio_tokens": 100, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 60, "audio_tokens": 240},
    }
    ledger = UsageLedger()
    ledger.add_response({"id": "r1", "status": "completed", "usage": GA_USAGE}, _model())
    ledger.add_response({"id": "r2", "status": "completed", "usage": audio_turn}, _model())
    ledger.add_transcription({"type": "duration", "seconds": 30}, _model())
    estimate = ledger.snapshot().cost(PRICES | {"whisper-1": rt.ModelPrice(audio_minute=0.006)})
    # By hand, US dollars per million tokens:
    # text in: (120 - 64 + 200 - 50) * 4 = 824; cached text: (64 + 50) * 0.4 = 45.6
    # text out: (7 + 60) * 16 = 1072; audio in: (500 - 100) * 32 = 12800
    # cached audio: 100 * 0.4 = 40; audio out: 240 * 64 = 15360; plus whisper 0.5 min
    expected = (824 + 45.6 + 1072 + 12800 + 40 + 15360) / 1e6
    assert estimate.by_model["gpt-realtime-2025-08-28"] == pytest.approx(expected)
    assert estimate.by_model["whisper-1"] == pytest.approx(0.5 * 0.006)
    assert estimate.usd == pytest.approx(expected + 0.003)
    assert estimate.complete


def _model() -> dict[str, Any]:
    return {
        "model": "gpt-realtime-2025-08-28",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}},
    }


def test_what_has_no_price_is_named_not_counted_as_free() -> None:
    ledger = UsageLedger()
    ledger.add_response({"usage": GA_USAGE}, {"model": "gpt-realtime"})
    ledger.add_response({"usage": GA_USAGE}, {"model": "gpt-new"})
    estimate = ledger.snapshot().cost({"gpt-realtime": rt.ModelPrice(text_output=16.0)})
    # The cached rate falls back to the uncached one, which is missing too.
    assert estimate.unpriced == (
        "gpt-realtime: text_input",
        "gpt-realtime: text_cached_input",
        "gpt-new",
    )
    assert not estimate.complete
    assert estimate.usd == pytest.approx(7 * 16.0 / 1e6)


def test_a_dated_model_is_priced_as_its_undated_name_unless_named() -> None:
    ledger = UsageLedger()
    ledger.add_response({"usage": GA_USAGE}, {"model": "gpt-realtime-mini-2025-10-06"})
    full = rt.ModelPrice(text_input=1, text_output=1)
    mini = rt.ModelPrice(text_input=0, text_output=0)
    snapshot = ledger.snapshot()
    assert snapshot.cost({"gpt-realtime": full, "gpt-realtime-mini": mini}).usd == 0.0
    assert snapshot.cost({"gpt-realtime": full}).unpriced == ("gpt-realtime-mini-2025-10-06",)
    dated = {"gpt-realtime-mini-2025-10-06": full, "gpt-realtime-mini": mini}
    assert snapshot.cost(dated).usd > 0


def test_prices_are_checked_and_read_from_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="text_input: expected a rate of 0 or more"):
        rt.ModelPrice(text_input=-1)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gpt-realtime": {"text_input": 4, "audio_output": 64}}))
    assert rt.read_price_table(path) == {
        "gpt-realtime": rt.ModelPrice(text_input=4, audio_output=64)
    }
    path.write_text(json.dumps({"gpt-realtime": {"text_in": 4}}))
    with pytest.raises(ValueError, match="'gpt-realtime': expected an object with keys among"):
        rt.read_price_table(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected an object of model names"):
        rt.read_price_table(path)


_counts = st.integers(min_value=0, max_value=10**7)
_reports = st.builds(
    lambda t, a, i, ct, ca, ot, oa: {
        "input_tokens": t + a + i,
        "output_tokens": ot + oa,
        "total_tokens": t + a + i + ot + oa,
        "input_token_details": {
            "text_tokens": t,
            "audio_tokens": a,
            "image_tokens": i,
            "cached_tokens": min(ct, t) + min(ca, a),
            "cached_tokens_details": {"text_tokens": min(ct, t), "audio_tokens": min(ca, a)},
        },
        "output_token_details": {"text_tokens": ot, "audio_tokens": oa},
    },
    _counts,
    _counts,
    _counts,
    _counts,
    _counts,
    _counts,
    _counts,
)


@given(st.lists(_reports, max_size=8))
def test_a_session_sums_its_reports_and_their_costs(reports: list[dict[str, Any]]) -> None:
    ledger = UsageLedger()
    for report in reports:
        ledger.add_response({"usage": report}, {"model": "gpt-realtime"})
    snapshot = ledger.snapshot()
    total = snapshot.total
    assert total.requests == len(reports)
    assert total.input_tokens == sum(r["input_tokens"] for r in reports)
    assert total.output_audio_tokens == sum(
        r["output_token_details"]["audio_tokens"] for r in reports
    )
    price = PRICES["gpt-realtime"]
    parts = sum(rt.TokenUsage.from_report(r).cost(price)[0] for r in reports)
    assert snapshot.cost(PRICES).usd == pytest.approx(parts)
    assert snapshot.cost(PRICES).usd >= 0


# -- sessions and clients, against the emulator -------------------------------------------


async def _until_done(session: rt.RealtimeSession, seen: list[ev.RealtimeEvent]) -> None:
    async for event in session:
        seen.append(event)
        if isinstance(event, ev.ResponseDoneEvent):
            return


async def test_session_usage_is_the_sum_of_its_response_done_reports(emulator: Emulator) -> None:
    seen: list[ev.RealtimeEvent] = []
    metrics = rt.MetricsInterceptor()
    async with rt.open_realtime_session(
        "gpt-realtime",
        api_key="sk-test",
        url=emulator.url,
        session=WITH_TRANSCRIPTION,
        interceptors=[metrics],
    ) as session:
        await session.send_user_message("Say hello")
        await _until_done(session, seen)
        await session.append_audio(audio.voice_like(1500))
        await session.append_audio(audio.silence(1000))  # server VAD ends the turn
        await _until_done(session, seen)
        await session.send_user_message("And once more, with feeling")
        await _until_done(session, seen)
        usage = session.usage()
    done = [e for e in seen if isinstance(e, ev.ResponseDoneEvent)]
    reports = [rt.TokenUsage.from_report(e.response.usage) for e in done]
    assert len(done) == 3 and all(r.total_tokens > 0 for r in reports)
    assert usage.by_model["gpt-realtime"] == sum(reports, rt.TokenUsage())
    assert usage.by_model["gpt-realtime"].input_audio_tokens > 0  # the spoken turn
    assert [r.response_id for r in usage.responses] == [e.response.id for e in done]
    assert [r.usage for r in usage.responses] == reports
    transcribed = [e for e in seen if isinstance(e, ev.InputAudioTranscriptionCompletedEvent)]
    assert len(transcribed) == 1
    assert usage.by_model["gpt-4o-transcribe"] == rt.TokenUsage.from_report(transcribed[0].usage)
    # MetricsInterceptor: each turn carries its response's usage.
    assert [turn.usage for turn in metrics.turns] == reports
    assert metrics.statistics().usage == usage.by_model["gpt-realtime"]


class _CachedReport(rt.Interceptor):
    """Replaces each response.done's usage with the service's own (cached) report."""

    def on_receive(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent:
        if isinstance(event, ev.ResponseDoneEvent):
            data = event.to_dict()
            data["response"]["usage"] = GA_USAGE
            return rt.parse_server_event(json.dumps(data))
        return event


async def test_cached_tokens_are_counted_and_priced(emulator: Emulator) -> None:
    async with rt.open_realtime_session(
        api_key="sk-test",
        url=emulator.url,
        session={"output_modalities": ["text"]},
        interceptors=[_CachedReport()],
    ) as session:
        for text in ("one", "two"):
            await session.send_user_message(text)
            await _until_done(session, [])
        usage = session.usage()
    total = usage.by_model["gpt-realtime"]
    assert (total.cached_tokens, total.cached_text_tokens, total.input_text_tokens) == (
        128,
        128,
        240,
    )
    assert usage.cost(PRICES).usd == pytest.approx(2 * (56 * 4 + 64 * 0.4 + 7 * 16) / 1e6)


async def test_a_client_sums_the_usage_of_every_session_it_opened(emulator: Emulator) -> None:
    client = rt.RealtimeClient(api_key="sk-test", base_url=emulator.url)
    async with client.connect(session={"output_modalities": ["text"]}) as first:
        await first.send_user_message("one")
        await _until_done(first, [])
        live = client.usage()
        assert live == first.usage()  # an open session counts as it stands
        first_usage = first.usage()
    async with client.with_options(heartbeat=None).connect(
        "gpt-realtime-mini", session={"output_modalities": ["text"]}
    ) as second:
        await second.send_user_message("two")
        await _until_done(second, [])
        second_usage = second.usage()
    async with client.connect_translation(session={"audio": {"output": {"language": "es"}}}) as t:
        await t.append_audio(audio.voice_like(2000))
        await t.close_session()
        async for _ in t:
            pass
    total = client.usage()
    assert total.by_model["gpt-realtime"] == first_usage.by_model["gpt-realtime"]
    assert total.by_model["gpt-realtime-mini"] == second_usage.by_model["gpt-realtime-mini"]
    # Translation reports no tokens: its usage is the audio sent, priced per minute.
    assert total.by_model["gpt-realtime-translate"].seconds == pytest.approx(2.0)
    assert total.responses == first_usage.responses + second_usage.responses
    estimate = total.cost(PRICES)
    assert estimate.unpriced == ("gpt-realtime-mini",)
    assert estimate.by_model["gpt-realtime-translate"] == pytest.approx(2 / 60 * 0.06)

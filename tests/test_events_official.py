"""Cross-check against the official ``openai`` client's Realtime models ("real parts").

- Every server-event fixture the official client knows validates against its models, and
  the official client reads the same values we do.
- Every client event trio_realtime can build serialises to JSON that the official
  client-event models accept, with no key they do not know (the service rejects unknown
  parameters with ``unknown_parameter``).

Fixtures outside the official GA unions (beta spellings and beta-only events) are skipped
by name, and a separate test checks that the official client really rejects them.
"""

from __future__ import annotations

import base64
import json
import typing
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai import BaseModel as OfficialModel
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.realtime_translation_client_event import RealtimeTranslationClientEvent
from openai.types.realtime.realtime_translation_server_event import RealtimeTranslationServerEvent
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)

import trio_realtime
from trio_realtime import RealtimeEvent, events as ev

FIXTURES = Path(__file__).parent / "fixtures" / "events"

OFFICIAL_SERVER = pydantic.TypeAdapter(RealtimeServerEvent)
OFFICIAL_CLIENT = pydantic.TypeAdapter(RealtimeClientEvent)
OFFICIAL_TRANSLATION_SERVER = pydantic.TypeAdapter(RealtimeTranslationServerEvent)
OFFICIAL_TRANSLATION_CLIENT = pydantic.TypeAdapter(RealtimeTranslationClientEvent)
OFFICIAL_RESPONSE_CREATE_WITH_REFERENCES = pydantic.TypeAdapter(
    ResponseCreateEventWithReferencesParam
)

OFFICIAL_ADAPTERS = {
    "server": OFFICIAL_SERVER,
    "server_beta": OFFICIAL_SERVER,
    "client": OFFICIAL_CLIENT,
    "translation_server": OFFICIAL_TRANSLATION_SERVER,
    "translation_client": OFFICIAL_TRANSLATION_CLIENT,
}
PARSERS = {
    "server": trio_realtime.parse_server_event,
    "server_beta": trio_realtime.parse_server_event,
    "client": trio_realtime.parse_client_event,
    "translation_server": trio_realtime.parse_translation_server_event,
    "translation_client": trio_realtime.parse_translation_client_event,
}

_BETA_NAME = "beta wire name; the GA union only has the response.output_* spelling"
NOT_IN_OFFICIAL_UNION = {
    "beta_text_delta": _BETA_NAME,
    "beta_text_done": _BETA_NAME,
    "beta_audio_delta": _BETA_NAME,
    "beta_audio_done": _BETA_NAME,
    "beta_audio_transcript_delta": _BETA_NAME,
    "beta_audio_transcript_done": _BETA_NAME,
    "beta_session_created": "beta flat session (no session.type); GA models require type",
    "beta_transcription_session_created": "transcription_session.* is beta-only",
    "beta_transcription_session_updated": "transcription_session.* is beta-only",
    "beta_item_created_assistant": "beta assistant content type 'text' (GA: output_text)",
    "beta_response_done": "beta item content type 'audio' (GA: output_audio)",
    "transcription_session_update": "transcription_session.update is beta-only",
}


def load(protocol: str) -> list[dict[str, Any]]:
    fixtures: list[dict[str, Any]] = json.loads(
        (FIXTURES / f"{protocol}.json").read_text(encoding="utf-8")
    )
    return fixtures


def fixture_params(*protocols: str) -> list[Any]:
    params = []
    for protocol in protocols:
        for fixture in load(protocol):
            name = fixture["name"]
            marks = []
            if name in NOT_IN_OFFICIAL_UNION:
                marks.append(pytest.mark.skip(reason=NOT_IN_OFFICIAL_UNION[name]))
            params.append(pytest.param(protocol, fixture, id=f"{protocol}:{name}", marks=marks))
    return params


def assert_no_unknown_keys(value: Any, path: str = "$") -> None:
    """Every key the official models parsed is one they declare (nothing landed in extras)."""
    if isinstance(value, OfficialModel):
        extra = value.model_extra or {}
        assert not extra, f"keys the official client does not know at {path}: {sorted(extra)}"
        for name in type(value).model_fields:
            assert_no_unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            assert_no_unknown_keys(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_no_unknown_keys(item, f"{path}.{key}")


# -- server events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "fixture"), fixture_params("server", "server_beta", "translation_server")
)
def test_server_fixture_validates_against_the_official_models(
    protocol: str, fixture: dict[str, Any]
) -> None:
    wire = fixture["event"]
    official = OFFICIAL_ADAPTERS[protocol].validate_python(wire)
    ours = PARSERS[protocol](json.dumps(wire))

    assert official.type == ours.type == wire["type"]
    assert official.to_dict(mode="json", exclude_unset=True) == wire
    assert official.to_dict(mode="json", exclude_unset=True) == ours.to_dict()


@pytest.mark.parametrize(
    ("protocol", "fixture"),
    [
        pytest.param(p, f, id=f"{p}:{f['name']}")
        for p in ("server_beta", "client")
        for f in load(p)
        if f["name"] in NOT_IN_OFFICIAL_UNION
    ],
)
def test_skipped_fixtures_are_really_outside_the_official_union(
    protocol: str, fixture: dict[str, Any]
) -> None:
    with pytest.raises(pydantic.ValidationError):
        OFFICIAL_ADAPTERS[protocol].validate_python(fixture["event"])
    assert type(PARSERS[protocol](fixture["event"])).__name__ == fixture["class"]


def test_skip_list_names_existing_fixtures() -> None:
    names = {f["name"] for p in OFFICIAL_ADAPTERS for f in load(p)}
    assert set(NOT_IN_OFFICIAL_UNION) <= names


def test_every_official_server_event_type_has_a_fixture() -> None:
    covered = {f["event"]["type"] for p in ("server", "server_beta") for f in load(p)}
    union = typing.get_args(RealtimeServerEvent)[0]
    official_types = set()
    for member in typing.get_args(union):
        official_types.update(typing.get_args(member.model_fields["type"].annotation))
    assert len(official_types) == 46
    assert official_types - covered == set()


# -- client events built in Python -------------------------------------------------------------

AUDIO_100MS = base64.b64encode(bytes(4800)).decode()
MCP_REQUEST = "mcpr_Ct1PBs3dF5gH7jK9lZ1x"

WEATHER_TOOL = ev.FunctionTool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)

BUILT_CLIENT_EVENTS: list[tuple[str, RealtimeEvent]] = [
    (
        "session_update_realtime",
        ev.SessionUpdateEvent(
            event_id="evt_cli_0001",
            session=ev.SessionConfig(
                model="gpt-realtime",
                output_modalities=["audio"],
                instructions="You are a friendly voice agent for a bakery.",
                audio=ev.AudioConfig(
                    input=ev.AudioInputConfig(
                        format=ev.AudioFormat(type="audio/pcm", rate=24000),
                        transcription=ev.TranscriptionConfig(
                            model="gpt-4o-transcribe", language="en"
                        ),
                        noise_reduction=ev.NoiseReduction(type="far_field"),
                        turn_detection=ev.TurnDetection(
                            type="server_vad",
                            threshold=0.6,
                            prefix_padding_ms=300,
                            silence_duration_ms=500,
                            idle_timeout_ms=6000,
                            create_response=True,
                            interrupt_response=True,
                        ),
                    ),
                    output=ev.AudioOutputConfig(
                        format=ev.AudioFormat(type="audio/pcmu"), voice="marin", speed=1.1
                    ),
                ),
                include=["item.input_audio_transcription.logprobs"],
                tracing=ev.TracingConfig(workflow_name="bakery-agent", group_id="shift-7"),
                tools=[
                    WEATHER_TOOL,
                    ev.McpTool(
                        server_label="deepwiki",
                        server_url="https://mcp.deepwiki.com/mcp",
                        allowed_tools=["ask_question"],
                        require_approval="never",
                    ),
                ],
                tool_choice="auto",
                parallel_tool_calls=False,
                reasoning=ev.ReasoningConfig(effort="low"),
                max_output_tokens=2048,
                truncation=ev.RetentionRatioTruncation(retention_ratio=0.8),
                prompt=ev.PromptConfig(id="pmpt_123", version="2", variables={"city": "Paris"}),
            ),
        ),
    ),
    (
        "session_update_semantic_vad_custom_voice",
        ev.SessionUpdateEvent(
            session=ev.SessionConfig(
                audio=ev.AudioConfig(
                    input=ev.AudioInputConfig(
                        turn_detection=ev.TurnDetection(type="semantic_vad", eagerness="high")
                    ),
                    output=ev.AudioOutputConfig(voice=ev.VoiceId(id="voice_1234")),
                ),
                tool_choice=ev.ToolChoice(type="function", name="get_weather"),
                tracing="auto",
                max_output_tokens="inf",
            )
        ),
    ),
    (
        "session_update_push_to_talk",
        ev.SessionUpdateEvent(
            session=ev.SessionConfig(
                instructions="",
                tools=[],
                audio=ev.AudioConfig(input=ev.AudioInputConfig(turn_detection=None)),
            )
        ),
    ),
    (
        "session_update_transcription",
        ev.SessionUpdateEvent(
            session=ev.TranscriptionSessionConfig(
                audio=ev.AudioConfig(
                    input=ev.AudioInputConfig(
                        format=ev.AudioFormat(rate=24000),
                        transcription=ev.TranscriptionConfig(
                            model="gpt-realtime-whisper", language="en", delay="low"
                        ),
                        noise_reduction=None,
                        turn_detection=None,
                    )
                ),
                include=["item.input_audio_transcription.logprobs"],
            )
        ),
    ),
    ("input_audio_buffer_append", ev.InputAudioBufferAppendEvent(audio=AUDIO_100MS)),
    ("input_audio_buffer_commit", ev.InputAudioBufferCommitEvent(event_id="evt_cli_0002")),
    ("input_audio_buffer_clear", ev.InputAudioBufferClearEvent()),
    ("output_audio_buffer_clear", ev.OutputAudioBufferClearEvent()),
    (
        "item_create_user_text_with_role",
        ev.ConversationItemCreateEvent(
            item=ev.UserMessageItem(
                role="user", content=[ev.ContentPart(type="input_text", text="Say hello")]
            )
        ),
    ),
    (
        "item_create_user_text",
        ev.ConversationItemCreateEvent(
            item=ev.UserMessageItem(content=[ev.ContentPart(type="input_text", text="Say hello")])
        ),
    ),
    (
        "item_create_system",
        ev.ConversationItemCreateEvent(
            previous_item_id="root",
            item=ev.SystemMessageItem(
                content=[ev.ContentPart(type="input_text", text="Answer in French.")]
            ),
        ),
    ),
    (
        "item_create_assistant",
        ev.ConversationItemCreateEvent(
            item=ev.AssistantMessageItem(
                content=[ev.ContentPart(type="output_text", text="Bonjour !")]
            ),
        ),
    ),
    (
        "item_create_user_audio_image",
        ev.ConversationItemCreateEvent(
            event_id="evt_cli_0003",
            item=ev.UserMessageItem(
                id="item_client_0001",
                role="user",
                content=[
                    ev.ContentPart(type="input_audio", audio=AUDIO_100MS),
                    ev.ContentPart(
                        type="input_image",
                        image_url="data:image/png;base64,iVBORw0KGgo=",
                        detail="high",
                    ),
                ],
            ),
        ),
    ),
    (
        "item_create_function_call_output",
        ev.ConversationItemCreateEvent(
            item=ev.FunctionCallOutputItem(
                call_id="call_Fw3kR9dLq2ZpX7yTb", output='{"temp":"72F"}'
            )
        ),
    ),
    (
        "item_create_function_call",
        ev.ConversationItemCreateEvent(
            item=ev.FunctionCallItem(
                call_id="call_Fw3kR9dLq2ZpX7yTb",
                name="get_weather",
                arguments='{"location":"Paris"}',
            )
        ),
    ),
    (
        "item_create_mcp_approval_response",
        ev.ConversationItemCreateEvent(
            item=ev.McpApprovalResponseItem(
                id="mcpa_client_0001", approval_request_id=MCP_REQUEST, approve=True
            )
        ),
    ),
    ("item_retrieve", ev.ConversationItemRetrieveEvent(item_id="item_Ct1P4mZ8qR7tY2wX5vB3c")),
    (
        "item_truncate",
        ev.ConversationItemTruncateEvent(
            item_id="item_Ct1P5nA1sD3fG5hJ7kL9m", content_index=0, audio_end_ms=1500
        ),
    ),
    ("item_delete", ev.ConversationItemDeleteEvent(item_id="item_Ct1P8aS2dF4gH6jK8lZ0x")),
    ("response_create", ev.ResponseCreateEvent()),
    (
        "response_create_overrides",
        ev.ResponseCreateEvent(
            event_id="evt_cli_0004",
            response=ev.ResponseCreateParams(
                output_modalities=["audio"],
                instructions="Read the forecast aloud.",
                audio=ev.ResponseAudioConfig(
                    output=ev.AudioOutputConfig(
                        format=ev.AudioFormat(type="audio/pcma"), voice="cedar"
                    )
                ),
                tools=[WEATHER_TOOL],
                tool_choice="required",
                max_output_tokens=512,
                conversation="auto",
                metadata={"purpose": "forecast"},
                reasoning=ev.ReasoningConfig(effort="minimal"),
                input=[
                    ev.FunctionCallOutputItem(call_id="call_Fw3kR9dLq2ZpX7yTb", output="{}"),
                ],
            ),
        ),
    ),
    ("response_cancel", ev.ResponseCancelEvent(response_id="resp_Ct1P5kJ3hG1fD9sA7pO5i")),
    (
        "transcription_session_update",
        ev.TranscriptionSessionUpdateEvent(
            session={"input_audio_transcription": {"model": "gpt-4o-transcribe"}}
        ),
    ),
]

ROLE_BUG = (
    "BUG: message items built in Python omit 'role' (only 'type' defaults are emitted); "
    "the official models (and the service) require it"
)
BUILT_XFAIL: dict[str, str] = {}

BUILT_TRANSLATION_CLIENT_EVENTS: list[tuple[str, RealtimeEvent]] = [
    (
        "tr_session_update",
        ev.TranslationSessionUpdateEvent(
            event_id="tr_cli_1",
            session=ev.TranslationSessionConfig(
                audio=ev.TranslationAudioConfig(
                    input=ev.TranslationAudioInputConfig(
                        transcription=ev.TranslationTranscriptionConfig(
                            model="gpt-realtime-whisper"
                        ),
                        noise_reduction=ev.NoiseReduction(type="near_field"),
                    ),
                    output=ev.TranslationAudioOutputConfig(language="es"),
                )
            ),
        ),
    ),
    (
        "tr_session_update_turn_off_transcription",
        ev.TranslationSessionUpdateEvent(
            session=ev.TranslationSessionConfig(
                audio=ev.TranslationAudioConfig(
                    input=ev.TranslationAudioInputConfig(transcription=None)
                )
            )
        ),
    ),
    ("tr_input_audio_append", ev.TranslationInputAudioBufferAppendEvent(audio=AUDIO_100MS * 2)),
    ("tr_session_close", ev.TranslationSessionCloseEvent()),
]


def test_every_client_class_is_built() -> None:
    built = {type(event) for _, event in BUILT_CLIENT_EVENTS}
    assert set(ev.CLIENT_EVENT_CLASSES) <= built
    built_translation = {type(event) for _, event in BUILT_TRANSLATION_CLIENT_EVENTS}
    assert set(ev.TRANSLATION_CLIENT_EVENT_CLASSES) <= built_translation


def _built_params() -> list[Any]:
    params = []
    for name, event in BUILT_CLIENT_EVENTS:
        marks = []
        if name in NOT_IN_OFFICIAL_UNION:
            marks.append(pytest.mark.skip(reason=NOT_IN_OFFICIAL_UNION[name]))
        if name in BUILT_XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=BUILT_XFAIL[name]))
        params.append(pytest.param(event, id=name, marks=marks))
    return params


@pytest.mark.parametrize("event", _built_params())
def test_built_client_event_validates_against_the_official_models(event: RealtimeEvent) -> None:
    wire = json.loads(event.to_json())
    official = OFFICIAL_CLIENT.validate_python(wire)
    assert official.type == event.type
    assert_no_unknown_keys(official)
    assert official.to_dict(mode="json", exclude_unset=True) == wire


@pytest.mark.parametrize(
    "event", [pytest.param(e, id=n) for n, e in BUILT_TRANSLATION_CLIENT_EVENTS]
)
def test_built_translation_client_event_validates_against_the_official_models(
    event: RealtimeEvent,
) -> None:
    wire = json.loads(event.to_json())
    official = OFFICIAL_TRANSLATION_CLIENT.validate_python(wire)
    assert official.type == event.type
    assert_no_unknown_keys(official)
    assert official.to_dict(mode="json", exclude_unset=True) == wire


def test_response_create_with_item_reference_matches_the_official_send_type() -> None:
    """``item_reference`` is only in the official *send* type, not in RealtimeClientEvent."""
    event = ev.ResponseCreateEvent(
        response=ev.ResponseCreateParams(
            conversation="none",
            output_modalities=["text"],
            metadata={"response_purpose": "summarization"},
            input=[
                ev.ItemReference(id="item_12345"),
                ev.UserMessageItem(
                    role="user",
                    content=[ev.ContentPart(type="input_text", text="Summarize in one sentence.")],
                ),
            ],
        )
    )
    wire = json.loads(event.to_json())

    validated = OFFICIAL_RESPONSE_CREATE_WITH_REFERENCES.validate_python(wire)
    reference, message = validated["response"]["input"]
    assert reference == {"type": "item_reference", "id": "item_12345"}
    assert message["role"] == "user"

    without_reference = json.loads(event.to_json())
    without_reference["response"]["input"] = without_reference["response"]["input"][1:]
    official = OFFICIAL_CLIENT.validate_python(without_reference)
    assert_no_unknown_keys(official)


@pytest.mark.parametrize(("protocol", "fixture"), fixture_params("client", "translation_client"))
def test_client_fixture_reserialised_validates_against_the_official_models(
    protocol: str, fixture: dict[str, Any]
) -> None:
    event = PARSERS[protocol](fixture["event"])
    wire = json.loads(event.to_json())
    if fixture["name"] == "response_create_out_of_band":
        validated = OFFICIAL_RESPONSE_CREATE_WITH_REFERENCES.validate_python(wire)
        assert len(list(validated["response"]["input"])) == 2
        return
    official = OFFICIAL_ADAPTERS[protocol].validate_python(wire)
    assert_no_unknown_keys(official)
    assert official.to_dict(mode="json", exclude_unset=True) == fixture["event"]


def test_unknown_keys_are_detected() -> None:
    """The no-unknown-keys check can fail: a beta flat field inside a GA session."""
    official = OFFICIAL_CLIENT.validate_python(
        {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}}
    )
    with pytest.raises(AssertionError, match="modalities"):
        assert_no_unknown_keys(official)

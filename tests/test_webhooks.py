"""trio_realtime.webhooks: what an application relies on when it answers phone calls.

A request signed with the secret verifies and parses into a typed event; a forged,
tampered or stale one raises the library's errors (never a third-party exception);
an event type this version does not know arrives as a value; the official client
agrees with us about what is signed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from hypothesis import given, strategies as st

import trio_realtime as rt
from trio_realtime import webhooks

SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY="
NOW = 1_760_000_000

INCOMING: dict[str, Any] = {
    "object": "event",
    "id": "evt_685343a1381c819085d44c354e1b330e",
    "type": "realtime.call.incoming",
    "created_at": NOW,
    "data": {
        "call_id": "rtc_479a275623b54bdb9b6fbae2f7cbd408",
        "sip_headers": [
            {"name": "Max-Forwards", "value": "63"},
            {"name": "From", "value": '"+14155550123" <sip:+14155550123@sip.example.com>'},
            {"name": "To", "value": "<sip:+18005550199@sip.api.openai.com>"},
            {"name": "X-Account", "value": "first"},
            {"name": "x-account", "value": "second"},
        ],
        "sip_media_security": "srtp",
    },
}


def signed(body: bytes, *, timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return webhooks.sign(body, secret=secret, webhook_id="wh_123", timestamp=timestamp)


def test_a_signed_incoming_call_parses_into_a_typed_event() -> None:
    body = json.dumps(INCOMING).encode()
    event = webhooks.unwrap(body, signed(body), secret=SECRET, now=NOW + 10)
    assert isinstance(event, webhooks.RealtimeCallIncomingEvent)
    assert event.data.call_id == "rtc_479a275623b54bdb9b6fbae2f7cbd408"
    assert [h.name for h in event.data.sip_headers][:3] == ["Max-Forwards", "From", "To"]
    assert event.data.header("from") == '"+14155550123" <sip:+14155550123@sip.example.com>'
    assert event.data.headers("X-ACCOUNT") == ["first", "second"]
    assert event.data.sip_media_security == "srtp"
    assert event.to_dict() == INCOMING


def test_asgi_style_byte_headers_are_accepted() -> None:
    body = json.dumps(INCOMING).encode()
    pairs = [(k.encode(), v.encode()) for k, v in signed(body).items()]
    event = webhooks.unwrap(
        body, [(b"content-type", b"application/json"), *pairs], secret=SECRET, now=NOW
    )
    assert isinstance(event, webhooks.RealtimeCallIncomingEvent)


def test_a_forged_or_tampered_request_is_refused() -> None:
    body = json.dumps(INCOMING).encode()
    headers = signed(body)
    with pytest.raises(rt.WebhookSignatureError, match="does not match"):
        webhooks.unwrap(body.replace(b"rtc_", b"rtx_"), headers, secret=SECRET, now=NOW)
    other = "whsec_" + "b3RoZXItc2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU="
    with pytest.raises(rt.WebhookSignatureError):
        webhooks.unwrap(body, signed(body, secret=other), secret=SECRET, now=NOW)
    with pytest.raises(rt.WebhookSignatureError, match="webhook-signature"):
        webhooks.unwrap(body, {**headers, "webhook-signature": ""}, secret=SECRET, now=NOW)
    with pytest.raises(rt.WebhookSignatureError, match="Unix seconds"):
        webhooks.verify(body, {**headers, "webhook-timestamp": "soon"}, secret=SECRET)


def test_a_stale_or_future_request_is_refused_with_its_age() -> None:
    body = json.dumps(INCOMING).encode()
    headers = signed(body)
    with pytest.raises(rt.WebhookTimestampError, match="old") as stale:
        webhooks.unwrap(body, headers, secret=SECRET, now=NOW + 301)
    assert stale.value.age_s == 301
    with pytest.raises(rt.WebhookTimestampError, match="future"):
        webhooks.unwrap(body, headers, secret=SECRET, now=NOW - 400)
    webhooks.verify(body, headers, secret=SECRET, now=NOW + 3000, tolerance=3600)
    assert isinstance(stale.value, rt.WebhookError) and isinstance(stale.value, rt.RealtimeError)


def test_the_secret_never_appears_in_an_error() -> None:
    body = b"{}"
    for headers in ({}, signed(b"other")):
        with pytest.raises(rt.WebhookError) as caught:
            webhooks.unwrap(body, headers, secret=SECRET, now=NOW)
        assert SECRET.removeprefix("whsec_") not in str(caught.value)
    with pytest.raises(ValueError, match="whsec_") as bad:
        webhooks.verify(body, signed(body), secret="whsec_!!!not base64")
    assert "not base64" not in str(bad.value)


def test_unknown_event_types_and_odd_payloads_are_values() -> None:
    for obj in (
        {"id": "evt_1", "type": "batch.completed", "created_at": NOW, "data": {"id": "b"}},
        {"id": "evt_2", "type": "realtime.call.incoming", "created_at": NOW, "data": {}},
    ):
        body = json.dumps(obj).encode()
        event = webhooks.unwrap(body, signed(body), secret=SECRET, now=NOW)
        assert isinstance(event, webhooks.UnknownWebhookEvent)
        assert event.type == obj["type"] and event.id == obj["id"] and event.to_dict() == obj
    assert event.error is not None  # the known type whose payload did not validate
    for junk in (b"[1, 2]", b"not json"):
        with pytest.raises(rt.WebhookError, match="JSON"):
            webhooks.unwrap(junk, signed(junk), secret=SECRET, now=NOW)


def test_the_official_client_accepts_our_signature() -> None:
    body = json.dumps(INCOMING).encode()
    client = openai.OpenAI(api_key="sk-test", webhook_secret=SECRET)
    event = client.webhooks.unwrap(body, signed(body, timestamp=int(time.time())))
    assert event.type == "realtime.call.incoming"


@given(
    body=st.binary(max_size=512),
    webhook_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
    key=st.binary(min_size=1, max_size=64),
    flip=st.integers(min_value=0),
)
def test_sign_then_verify_round_trips_and_any_changed_byte_is_refused(
    body: bytes, webhook_id: str, key: bytes, flip: int
) -> None:
    import base64

    secret = "whsec_" + base64.b64encode(key).decode()
    headers = webhooks.sign(body, secret=secret, webhook_id=webhook_id, timestamp=NOW)
    webhooks.verify(body, headers, secret=secret, now=NOW)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
        with pytest.raises(rt.WebhookSignatureError):
            webhooks.verify(changed, headers, secret=secret, now=NOW)

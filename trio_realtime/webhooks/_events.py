"""Webhook events of the OpenAI platform that trio_realtime types: the incoming SIP call."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pydantic
from pydantic import ConfigDict

from ..events import WireModel

__all__ = [
    "RealtimeCallIncomingData",
    "RealtimeCallIncomingEvent",
    "SipHeader",
    "UnknownWebhookEvent",
    "WebhookEvent",
    "WebhookEventBase",
]


class WebhookEventBase(WireModel):
    """Fields every webhook event carries: its id, type and creation time."""

    id: str
    """The event's id (``evt_...``); retries of one delivery carry the same id."""
    type: str
    created_at: int
    """Unix time (seconds) the event was created."""
    object: Literal["event"] | None = None


class SipHeader(WireModel):
    """One header of the SIP INVITE, as the caller's carrier sent it (untrusted)."""

    name: str
    value: str


class RealtimeCallIncomingData(WireModel):
    """The incoming call: its id (for accept/reject and the sideband) and SIP details."""

    call_id: str
    """Pass it unchanged to ``client.calls.accept`` / ``reject`` and to
    ``client.connect(call_id=...)``."""
    sip_headers: list[SipHeader] = pydantic.Field(default_factory=list)
    """The INVITE's headers in their order, repeats kept (authorization headers removed)."""
    sip_media_security: str | None = None
    """``"srtp"``, ``"rtp"``, None when unknown; other values may appear (treat as unknown)."""

    def header(self, name: str) -> str | None:
        """The first SIP header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((h.value for h in self.sip_headers if h.name.lower() == wanted), None)

    def headers(self, name: str) -> list[str]:
        """Every SIP header called ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return [h.value for h in self.sip_headers if h.name.lower() == wanted]


class RealtimeCallIncomingEvent(WebhookEventBase):
    """``realtime.call.incoming``: a SIP call to your project waits to be accepted or rejected."""

    type: Literal["realtime.call.incoming"] = "realtime.call.incoming"
    data: RealtimeCallIncomingData


class UnknownWebhookEvent(WireModel):
    """A verified webhook event this version does not type (or whose payload did not validate).

    The raw object is in :attr:`raw`; :attr:`error` holds the validation error when the
    type was known but the payload did not fit. Never raised: an application ignores
    or logs it and answers 2xx, so the service does not retry it.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, frozen=True
    )

    type: str = ""
    id: str | None = None
    raw: dict[str, Any]
    error: pydantic.ValidationError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The raw object, unchanged."""
        return self.raw


WebhookEvent = RealtimeCallIncomingEvent | UnknownWebhookEvent
"""What :func:`~trio_realtime.webhooks.unwrap` returns."""

_TYPED: dict[str, type[WebhookEventBase]] = {
    "realtime.call.incoming": RealtimeCallIncomingEvent,
}


def parse_webhook_event(obj: dict[str, Any]) -> WebhookEvent:
    """A decoded webhook body as its typed event, or an :class:`UnknownWebhookEvent`."""
    kind = obj.get("type")
    event_id = obj.get("id")
    unknown_fields = {
        "type": kind if isinstance(kind, str) else "",
        "id": event_id if isinstance(event_id, str) else None,
        "raw": obj,
    }
    model = _TYPED.get(kind) if isinstance(kind, str) else None
    if model is None:
        return UnknownWebhookEvent(**unknown_fields)
    try:
        event = model.model_validate(obj)
    except pydantic.ValidationError as exc:
        return UnknownWebhookEvent(**unknown_fields, error=exc)
    assert isinstance(event, RealtimeCallIncomingEvent)
    return event

"""Verify (and, for the emulator, sign) Standard Webhooks requests.

The signature is the ``standardwebhooks`` library's (HMAC-SHA256 over
``"{webhook-id}.{webhook-timestamp}.{body}"`` with the base64 key of a ``whsec_...``
secret); the timestamp window is checked here so its tolerance and clock can be chosen
and a stale request gets its own error.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

from .._errors import WebhookError, WebhookSignatureError, WebhookTimestampError
from ._events import WebhookEvent, parse_webhook_event

__all__ = ["DEFAULT_TOLERANCE", "Headers", "sign", "unwrap", "verify"]

DEFAULT_TOLERANCE = 300.0
"""Seconds a webhook's timestamp may differ from now (the official clients' 5 minutes)."""

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: a mapping, or (name, value) pairs as ASGI gives them (bytes or str)."""


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except Exception as exc:  # binascii.Error, its EmptyWebhookSecretError, RuntimeError
        raise ValueError("the webhook secret must be 'whsec_' followed by base64") from exc


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _lower(headers: Headers) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {_text(name).lower(): _text(value) for name, value in pairs}


def verify(
    body: bytes | str,
    headers: Headers,
    *,
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check that a webhook request was signed with ``secret`` within ``tolerance`` seconds.

    ``body`` is the raw request body exactly as received. ``now`` (Unix seconds) defaults
    to the wall clock. The secret never appears in an error.

    Raises:
        WebhookSignatureError: a ``webhook-*`` header is missing or malformed, or no
            signature matches.
        WebhookTimestampError: the timestamp is more than ``tolerance`` seconds away.
        ValueError: ``secret`` is not a ``whsec_`` secret.
    """
    webhook = _webhook(secret)
    lowered = _lower(headers)
    missing = [
        name
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if not lowered.get(name)
    ]
    if missing:
        raise WebhookSignatureError(f"missing webhook header(s): {', '.join(missing)}")
    webhook_id = lowered["webhook-id"]
    stamp = lowered["webhook-timestamp"].strip()
    try:
        seconds = int(stamp)
    except ValueError:
        raise WebhookSignatureError(
            f"webhook-timestamp must be Unix seconds, got {stamp[:32]!r}"
        ) from None
    age = (time.time() if now is None else now) - seconds
    if abs(age) > tolerance:
        when = "old" if age > 0 else "far in the future"
        raise WebhookTimestampError(
            f"the webhook is {abs(age):.0f} s {when} (tolerance {tolerance:.0f} s):"
            " a stale or replayed request",
            age_s=age,
        )
    expected = webhook.sign(webhook_id, datetime.fromtimestamp(seconds, UTC), body).encode()
    offered = lowered["webhook-signature"].split()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in offered):
        raise WebhookSignatureError(
            "the webhook signature does not match: not sent by the service, or the wrong secret"
        )


def unwrap(
    body: bytes | str,
    headers: Headers,
    *,
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Verify a webhook request (see :func:`verify`) and parse its body into an event.

    Returns a :class:`RealtimeCallIncomingEvent` for ``realtime.call.incoming`` and an
    :class:`UnknownWebhookEvent` for any other (or not validating) event type.

    Raises:
        WebhookSignatureError, WebhookTimestampError: as :func:`verify`.
        WebhookError: the verified body is not a JSON object.
        ValueError: ``secret`` is not a ``whsec_`` secret.
    """
    verify(body, headers, secret=secret, tolerance=tolerance, now=now)
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise WebhookError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise WebhookError(f"the webhook body is a JSON {type(obj).__name__}, not an object")
    return parse_webhook_event(obj)


def sign(
    body: bytes | str, *, secret: str, webhook_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The ``webhook-*`` headers that make ``body`` a valid webhook for ``secret``.

    For tests and the emulator, which plays the service's side. ``timestamp`` defaults
    to now (Unix seconds).

    Raises:
        ValueError: ``secret`` is not a ``whsec_`` secret.
    """
    seconds = int(time.time()) if timestamp is None else int(timestamp)
    signature = _webhook(secret).sign(webhook_id, datetime.fromtimestamp(seconds, UTC), body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signature,
    }

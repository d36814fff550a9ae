"""Verify and parse the platform's webhooks: ``realtime.call.incoming`` for SIP calls.

```python
from trio_realtime import webhooks

event = webhooks.unwrap(body, headers, secret=os.environ["OPENAI_WEBHOOK_SECRET"])
if isinstance(event, webhooks.RealtimeCallIncomingEvent):
    await client.calls.accept(event.data.call_id, session=...)
```

Requests follow Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``); a forged request raises
:class:`~trio_realtime.WebhookSignatureError`, a stale one
:class:`~trio_realtime.WebhookTimestampError`, an event type this version does not know
arrives as :class:`UnknownWebhookEvent`. Sans-I/O: bring the body and headers from any
web framework.
"""

from __future__ import annotations

from ._events import (
    RealtimeCallIncomingData as RealtimeCallIncomingData,
    RealtimeCallIncomingEvent as RealtimeCallIncomingEvent,
    SipHeader as SipHeader,
    UnknownWebhookEvent as UnknownWebhookEvent,
    WebhookEvent as WebhookEvent,
    WebhookEventBase as WebhookEventBase,
    parse_webhook_event as parse_webhook_event,
)
from ._verify import (
    DEFAULT_TOLERANCE as DEFAULT_TOLERANCE,
    Headers as Headers,
    sign as sign,
    unwrap as unwrap,
    verify as verify,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "Headers",
    "RealtimeCallIncomingData",
    "RealtimeCallIncomingEvent",
    "SipHeader",
    "UnknownWebhookEvent",
    "WebhookEvent",
    "WebhookEventBase",
    "parse_webhook_event",
    "sign",
    "unwrap",
    "verify",
]

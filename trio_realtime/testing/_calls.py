"""Emulated phone calls: the ``realtime.call.incoming`` webhook and the call-control REST API.

The emulator plays the service's side of a SIP call: it POSTs a signed webhook to the
application's URL (retrying as Standard Webhooks senders do), serves
``/v1/realtime/calls/{call_id}/accept|reject|refer|hangup`` and admits the sideband
WebSocket (``?call_id=``). What the simulated caller does and hears is in ``_sip``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import trio

from ..webhooks import sign
from ._apierrors import ApiError
from ._config import apply_session_update, default_realtime_session
from ._http import HttpRequest, HttpResponse, error_response
from ._ids import IdFactory

if TYPE_CHECKING:
    from ._link import Link
    from ._sip import SimulatedCaller

__all__ = [
    "CallRegistry",
    "CallState",
    "CallerScript",
    "EmulatedCall",
    "HeardReply",
    "WebhookDelivery",
]

log = logging.getLogger("trio_realtime.testing")

CallState = Literal["ringing", "accepted", "rejected", "referred", "ended"]
CallerScript = Callable[["SimulatedCaller"], Awaitable[None]]
"""What the caller does once the call is answered: ``async def script(caller): ...``."""

RETRY_DELAYS = (0.5, 2.0, 8.0)
"""Seconds between webhook delivery attempts after a failed one (the emulator's schedule)."""
_CALL_PATH = re.compile(r"^(?P<base>.*)/calls/(?P<call_id>[^/]+)/(?P<action>[a-z]+)$")
_ACTIONS = ("accept", "reject", "refer", "hangup")
_SIP_DOMAIN = "sip.api.openai.com"


@dataclasses.dataclass(frozen=True)
class HeardReply:
    """One reply of the model as the caller heard it on the phone."""

    response_id: str
    transcript: str
    """The reply's audio transcript (what the model said, in full)."""
    audio: npt.NDArray[np.int16] = dataclasses.field(repr=False)
    """What reached the caller's ear: PCM16 at 24 kHz, cut where it was interrupted."""
    interrupted: bool
    """True if the output buffer was cleared (barge-in or cancel) before it played out."""
    started_at: float = 0.0
    """When its first audio reached the caller (``trio.current_time()``)."""

    @property
    def audio_ms(self) -> int:
        """Milliseconds of audio the caller heard."""
        return len(self.audio) * 1000 // 24000


@dataclasses.dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to deliver the call's webhook: the HTTP status, or why it failed."""

    attempt: int
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the application answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


class EmulatedCall:
    """A simulated SIP call placed by :meth:`Emulator.place_call`, as the test sees it."""

    def __init__(
        self,
        call_id: str,
        *,
        sip_headers: list[tuple[str, str]],
        caller: CallerScript | None,
    ) -> None:
        self.call_id = call_id
        self.sip_headers = sip_headers
        """The INVITE's headers sent in the webhook, in order."""
        self.state: CallState = "ringing"
        self.ended_by: str | None = None
        """Who ended it: ``"agent"`` (hangup), ``"caller"``, ``"transfer"``, ``"webhook"``
        (never delivered), ``"emulator"`` (the emulator stopped)."""
        self.session: dict[str, Any] | None = None
        """The session configuration the call was accepted with (the effective one)."""
        self.reject_status: int | None = None
        self.referred_to: str | None = None
        """The ``target_uri`` of a transfer (SIP REFER)."""
        self.deliveries: list[WebhookDelivery] = []
        """Every webhook delivery attempt, in order."""
        self.heard: list[HeardReply] = []
        """The model's replies as the caller heard them, in order."""
        self.said: list[str] = []
        """What the caller said, in order."""
        self.keys_pressed = ""
        """The DTMF keys the caller pressed, in order."""
        self.sidebands: int = 0
        """Sideband WebSocket connections admitted for this call."""
        self.playing: str | None = None
        """The response whose audio is playing to the caller right now, if any."""
        self.caller = caller
        """The caller's script, run when the sideband joins (may be set until then)."""
        self._links: list[Link] = []
        self._changed = trio.Event()

    def __repr__(self) -> str:
        return f"<EmulatedCall {self.call_id} {self.state}>"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_state(self, *states: CallState) -> CallState:
        """Wait until the call is in one of ``states``; return it."""
        while self.state not in states:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self.state

    async def wait_ended(self) -> CallState:
        """Wait until the call is over (rejected, referred or ended); return the state."""
        return await self.wait_state("rejected", "referred", "ended")

    async def wait_heard(self, n: int = 1) -> HeardReply:
        """Wait until the caller heard ``n`` replies; return the ``n``-th (1-based)."""
        while len(self.heard) < n:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self.heard[n - 1]

    async def wait_playing(self) -> str:
        """Wait until a reply is playing to the caller; return its response id."""
        while self.playing is None:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self.playing

    async def hang_up(self) -> None:
        """The caller hangs up now (before or after the call was answered)."""
        await self._end("ended", "caller")

    async def _end(self, state: CallState, by: str) -> None:
        if self.state in ("rejected", "referred", "ended"):
            await trio.lowlevel.checkpoint()
            return
        self.state = state
        self.ended_by = by
        self._notify()
        log.info("emulator: call %s %s (%s)", self.call_id, state, by)
        links, self._links = self._links, []
        for link in links:
            await link.close(1000, f"call {state}")

    def _attach(self, link: Link) -> None:
        self.sidebands += 1
        self._links.append(link)
        self._notify()


def _default_sip_headers(call_id: str, from_number: str, to_number: str) -> list[tuple[str, str]]:
    return [
        ("Via", f"SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bK{call_id[-12:]}"),
        ("Max-Forwards", "69"),
        ("From", f'"{from_number}" <sip:{from_number}@carrier.example.com>;tag=e{call_id[-8:]}'),
        ("To", f"<sip:{to_number}@{_SIP_DOMAIN}>"),
        ("Call-ID", f"{call_id[-16:]}@198.51.100.7"),
        ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:{from_number}@198.51.100.7:5061;transport=tls>"),
        ("Content-Type", "application/sdp"),
    ]


class CallRegistry:
    """Every call of one emulator: placing them, the REST endpoints, sideband admission."""

    def __init__(self, *, port: int) -> None:
        self.calls: dict[str, EmulatedCall] = {}
        self._ids = IdFactory(f"calls-{port}")

    # -- placing a call ---------------------------------------------------------------

    async def place(
        self,
        webhook_url: str,
        *,
        secret: str,
        caller: CallerScript | None,
        from_number: str,
        to_number: str,
        sip_headers: Sequence[tuple[str, str]] | None,
        sip_media_security: str | None,
        retry_delays: Sequence[float],
        duplicate_delivery: bool,
    ) -> EmulatedCall:
        call_id = "rtc_" + secrets.token_hex(16)
        headers = (
            list(sip_headers)
            if sip_headers is not None
            else _default_sip_headers(call_id, from_number, to_number)
        )
        call = EmulatedCall(call_id, sip_headers=headers, caller=caller)
        self.calls[call_id] = call
        data: dict[str, Any] = {
            "call_id": call_id,
            "sip_headers": [{"name": name, "value": value} for name, value in headers],
        }
        if sip_media_security is not None:
            data["sip_media_security"] = sip_media_security
        event = {
            "object": "event",
            "id": self._ids.make("evt_", 32),
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": data,
        }
        body = json.dumps(event).encode()
        webhook_id = self._ids.make("wh_", 24)
        delivered = await _deliver(call, webhook_url, body, secret, webhook_id, retry_delays)
        if delivered and duplicate_delivery:
            await _deliver(call, webhook_url, body, secret, webhook_id, ())
        if not delivered:
            await call._end("ended", "webhook")
        return call

    # -- REST ---------------------------------------------------------------------------

    def route(self, path: str, bases: Sequence[str]) -> tuple[str, str] | None:
        """``(call_id, action)`` if ``path`` is a call-control endpoint, else None."""
        match = _CALL_PATH.match(path.rstrip("/"))
        if match is None or match["base"] not in bases:
            return None
        return match["call_id"], match["action"]

    async def handle(self, request: HttpRequest, call_id: str, action: str) -> HttpResponse:
        """Answer an authenticated ``POST /realtime/calls/{call_id}/{action}``."""
        await trio.lowlevel.checkpoint()
        if request.method != "POST" or action not in _ACTIONS:
            return error_response(
                404, ApiError(None, f"Invalid URL ({request.method} {request.path})")
            )
        call = self.calls.get(call_id)
        if call is None:
            return error_response(404, ApiError("call_not_found", f"Call '{call_id}' not found."))
        try:
            body: Any = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return error_response(400, ApiError(None, "The request body is not valid JSON."))
        if not isinstance(body, dict):
            return error_response(400, ApiError.invalid_type("body", "an object", body))
        try:
            await getattr(self, f"_{action}")(call, body)
        except _Refused as refused:
            return error_response(refused.status, refused.error)
        except ApiError as error:
            return error_response(400, error)
        return HttpResponse(200, {})

    async def _accept(self, call: EmulatedCall, body: dict[str, Any]) -> None:
        _expect(call, "ringing", "accepted")
        update = dict(body)
        model = update.pop("model", None) or "gpt-realtime"
        if not isinstance(model, str):
            raise ApiError.invalid_type("model", "a string", model)
        update.setdefault("type", "realtime")
        base = default_realtime_session(self._ids.make("sess_"), model, int(time.time()) + 3600)
        call.session = apply_session_update(base, update)
        call.state = "accepted"
        call._notify()
        await trio.lowlevel.checkpoint()

    async def _reject(self, call: EmulatedCall, body: dict[str, Any]) -> None:
        _expect(call, "ringing", "rejected")
        status = body.get("status_code", 603)
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 699:
            raise ApiError(
                "invalid_value",
                f"Invalid 'status_code': expected a SIP error status (400-699), got {status!r}.",
                "status_code",
            )
        call.reject_status = status
        await call._end("rejected", "agent")

    async def _refer(self, call: EmulatedCall, body: dict[str, Any]) -> None:
        _expect(call, "accepted", "referred")
        target = body.get("target_uri")
        if not isinstance(target, str) or not target:
            raise ApiError.missing_parameter("target_uri")
        if not target.startswith(("tel:", "sip:", "sips:")):
            raise ApiError(
                "invalid_value",
                f"Invalid 'target_uri': expected a tel: or sip: URI, got {target!r}.",
                "target_uri",
            )
        call.referred_to = target
        await call._end("referred", "transfer")

    async def _hangup(self, call: EmulatedCall, body: dict[str, Any]) -> None:
        _expect(call, "accepted", "ended")
        await call._end("ended", "agent")

    # -- sideband -------------------------------------------------------------------------

    def sideband(self, call_id: str) -> EmulatedCall | ApiError:
        """The accepted call a ``?call_id=`` WebSocket joins, or why it cannot."""
        call = self.calls.get(call_id)
        if call is None:
            return ApiError("call_not_found", f"Call '{call_id}' not found.", "call_id")
        if call.state != "accepted":
            detail = "has not been accepted" if call.state == "ringing" else f"is {call.state}"
            return ApiError("call_not_active", f"Call '{call_id}' {detail}.", "call_id")
        return call


class _Refused(Exception):
    def __init__(self, status: int, error: ApiError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


def _expect(call: EmulatedCall, state: CallState, action: str) -> None:
    """Refuse an action the call's state does not allow: 404 once over, 409 otherwise."""
    if call.state == state:
        return
    if call.state in ("rejected", "referred", "ended"):
        how = "the caller hung up" if call.ended_by == "caller" else f"it was {call.state}"
        raise _Refused(404, ApiError("call_not_found", f"Call '{call.call_id}' has ended ({how})."))
    raise _Refused(
        409,
        ApiError(
            "call_state_conflict",
            f"Call '{call.call_id}' is {call.state}; it cannot be {action}.",
        ),
    )


async def _deliver(
    call: EmulatedCall,
    url: str,
    body: bytes,
    secret: str,
    webhook_id: str,
    retry_delays: Sequence[float],
) -> bool:
    """POST the webhook, retrying after each failure; True once answered 2xx."""
    import httpx

    delays = [0.0, *retry_delays]
    async with httpx.AsyncClient(timeout=10.0) as http:
        for delay in delays:
            await trio.sleep(delay)
            headers = {
                "content-type": "application/json",
                "user-agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
                **sign(body, secret=secret, webhook_id=webhook_id),
            }
            attempt = len(call.deliveries) + 1
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                delivery = WebhookDelivery(attempt, None, f"{type(exc).__name__}: {exc}")
            else:
                delivery = WebhookDelivery(attempt, response.status_code)
            call.deliveries.append(delivery)
            call._notify()
            log.info("emulator: webhook for %s, attempt %d: %s", call.call_id, attempt, delivery)
            if delivery.ok:
                return True
    return False

"""Call control for SIP (and WebRTC) calls: accept, reject, refer, hang up.

``client.calls`` on :class:`~trio_realtime.RealtimeClient`. A call arrives as a
``realtime.call.incoming`` webhook (:mod:`trio_realtime.webhooks`); the application
accepts it with a session configuration, then controls it over a sideband session
(``client.connect(call_id=...)``) and ends it with :meth:`RealtimeCalls.hangup` or
:meth:`RealtimeCalls.refer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._rest import RestTarget, post_json
from .events import SessionConfig

__all__ = ["DEFAULT_REJECT_STATUS", "RealtimeCalls"]

DEFAULT_REJECT_STATUS = 603
"""SIP status of a rejection when none is given: 603 Decline (the service's default)."""


def _path(call_id: str, action: str) -> str:
    if not isinstance(call_id, str) or not call_id:
        raise ValueError(f"call_id must be a non-empty string, got {call_id!r}")
    return f"realtime/calls/{quote(call_id, safe='')}/{action}"


class RealtimeCalls:
    """The ``/v1/realtime/calls/{call_id}/...`` endpoints, with a client's configuration.

    Every method is a single POST; each is safe to wrap in ``move_on_after`` (a
    cancelled request may still have reached the service). They raise the library's
    errors: :class:`~trio_realtime.AuthenticationError` (401/403),
    :class:`~trio_realtime.NotFoundError` (404: unknown or ended call),
    :class:`~trio_realtime.ConflictError` (409: e.g. already accepted),
    :class:`~trio_realtime.APIStatusError` (other statuses),
    :class:`~trio_realtime.ConnectError` (unreachable), and ``ValueError`` for an empty
    ``call_id``.
    """

    def __init__(self, target: RestTarget) -> None:
        self._target = target

    def __repr__(self) -> str:
        return f"<RealtimeCalls {self._target.base}>"

    async def accept(
        self,
        call_id: str,
        *,
        session: SessionConfig | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Answer an incoming call with a session configuration.

        ``session`` is a :class:`~trio_realtime.events.SessionConfig` or a dict of the
        wire shape (``instructions``, ``tools``, ``audio``, ``model``...); ``fields``
        are added to it (``accept(call_id, instructions="...")``). ``type`` defaults to
        ``"realtime"``.
        """
        body = _session_body(session, fields)
        await post_json(self._target, _path(call_id, "accept"), body)

    async def reject(self, call_id: str, *, status_code: int | None = None) -> None:
        """Decline an incoming call with a SIP status (the service uses 603 when None)."""
        body = None if status_code is None else {"status_code": int(status_code)}
        await post_json(self._target, _path(call_id, "reject"), body)

    async def refer(self, call_id: str, target_uri: str) -> None:
        """Transfer the call with a SIP REFER to ``target_uri`` (``tel:+1...``, ``sip:...``)."""
        if not target_uri:
            raise ValueError("target_uri must be a non-empty tel: or sip: URI")
        await post_json(self._target, _path(call_id, "refer"), {"target_uri": target_uri})

    async def hangup(self, call_id: str) -> None:
        """End the call (SIP BYE to the caller); its sideband session closes."""
        await post_json(self._target, _path(call_id, "hangup"), None)


def _session_body(
    session: SessionConfig | Mapping[str, Any] | None, fields: Mapping[str, Any]
) -> dict[str, Any]:
    body = session.to_dict() if isinstance(session, SessionConfig) else dict(session or {})
    for name, value in fields.items():
        body[name] = value.to_dict() if hasattr(value, "to_dict") else value
    body.setdefault("type", "realtime")
    return body

"""Ephemeral client secrets (``POST /v1/realtime/client_secrets``): minting and checking.

A secret is minted with an API key over plain HTTP on the emulator's port and opens
WebSocket sessions (``Authorization: Bearer ek_…``) with the session it was minted for,
until it expires on the emulator's clock (Trio's clock from a wall-clock anchor, so a
``MockClock`` test can expire one).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Any, Literal

import trio

from ._apierrors import ApiError
from ._config import apply_session_update, default_realtime_session, default_transcription_session
from ._connection import ConnectionKind
from ._ids import IdFactory
from ._translation import apply_translation_update, default_translation_session

__all__ = [
    "REALTIME_MODELS",
    "ClientSecret",
    "EmulatorClock",
    "SecretEndpoint",
    "build_secret_session",
    "model_supported",
]

SecretEndpoint = Literal["realtime", "translation"]
"""``/realtime/client_secrets`` or ``/realtime/translations/client_secrets``."""

REALTIME_MODELS = frozenset(
    {
        "gpt-realtime",
        "gpt-realtime-1.5",
        "gpt-realtime-2",
        "gpt-realtime-2.1",
        "gpt-realtime-2.1-mini",
        "gpt-realtime-2025-08-28",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
        "gpt-realtime-mini",
        "gpt-realtime-mini-2025-10-06",
        "gpt-realtime-mini-2025-12-15",
        "gpt-audio-1.5",
        "gpt-audio-mini",
        "gpt-audio-mini-2025-10-06",
        "gpt-audio-mini-2025-12-15",
    }
)
"""The GA model names of reference 1.1; any other ``gpt-…`` name is accepted too."""

_MIN_SECONDS = 10
_MAX_SECONDS = 7200
_DEFAULT_SECONDS = 600
_DEFAULT_MODEL = "gpt-realtime"


def model_supported(model: str, kind: ConnectionKind) -> bool:
    """Whether the emulated service serves ``model`` on an endpoint of ``kind``."""
    if kind == "translation":
        return model.startswith("gpt-")
    if model in REALTIME_MODELS:
        return True
    return model.startswith("gpt-") and "transcribe" not in model and "whisper" not in model


class EmulatorClock:
    """Unix time on Trio's clock: a wall-clock anchor plus Trio time elapsed since."""

    def __init__(self) -> None:
        self._wall = time.time()
        self._trio = trio.current_time()

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees it."""
        return self._wall + (trio.current_time() - self._trio)


@dataclasses.dataclass(frozen=True)
class ClientSecret:
    """One minted ``ek_`` secret: the session it opens and when it stops working."""

    value: str = dataclasses.field(repr=False)
    kind: ConnectionKind
    session: dict[str, Any]
    """The effective session, as returned when minted."""
    expires_at: float
    """Unix time (on the emulator's clock) from which the secret is refused."""

    def response(self) -> dict[str, Any]:
        """The body of the mint response: ``{"value", "expires_at", "session"}``."""
        return {"value": self.value, "expires_at": int(self.expires_at), "session": self.session}


def new_secret_value() -> str:
    """A fresh ``ek_`` value (32 hex digits, as the service's look)."""
    return "ek_" + secrets.token_hex(16)


def build_secret_session(
    endpoint: SecretEndpoint, body: Any, ids: IdFactory
) -> tuple[ConnectionKind, dict[str, Any], int]:
    """Validate a mint request's JSON body; return the session's kind, the session, seconds.

    Raises:
        ApiError: an unknown parameter, a bad value, seconds outside 10..7200.
    """
    if not isinstance(body, dict):
        raise ApiError.invalid_type("body", "an object", body)
    for key in body:
        if key not in ("expires_after", "session"):
            raise ApiError.unknown_parameter(key)
    seconds = _expires_after(body.get("expires_after"))
    session = body.get("session")
    session_id = ids.make("sess_")
    if endpoint == "translation":
        if session is None:
            raise ApiError.missing_parameter("session")
        return "translation", _translation_session(session, session_id), seconds
    if session is None:
        session = {"type": "realtime"}
    if not isinstance(session, dict):
        raise ApiError.invalid_type("session", "an object", session)
    if "type" not in session:
        raise ApiError.missing_parameter("session.type")
    kind = session["type"]
    if kind == "transcription":
        config = apply_session_update(default_transcription_session(session_id, 0), session)
        return "transcription", config, seconds
    if kind != "realtime":
        raise ApiError.invalid_value(kind, ("realtime", "transcription"), "session.type")
    model = session.get("model", _DEFAULT_MODEL)
    if not isinstance(model, str):
        raise ApiError.invalid_type("session.model", "a string", model)
    if not model_supported(model, "realtime"):
        raise ApiError(
            "invalid_model", f'Model "{model}" is not supported in realtime mode.', "session.model"
        )
    config = apply_session_update(default_realtime_session(session_id, model, 0), session)
    return "realtime", config, seconds


def _translation_session(session: Any, session_id: str) -> dict[str, Any]:
    if not isinstance(session, dict):
        raise ApiError.invalid_type("session", "an object", session)
    if "model" not in session:
        raise ApiError.missing_parameter("session.model")
    model = session["model"]
    if not isinstance(model, str):
        raise ApiError.invalid_type("session.model", "a string", model)
    if not model_supported(model, "translation"):
        raise ApiError(
            "invalid_model",
            f'Model "{model}" is not supported in translation mode.',
            "session.model",
        )
    default = default_translation_session(session_id, model, 0)
    return apply_translation_update(default, session, creating=True)


def _expires_after(value: Any) -> int:
    if value is None:
        return _DEFAULT_SECONDS
    if not isinstance(value, dict):
        raise ApiError.invalid_type("expires_after", "an object", value)
    for key in value:
        if key not in ("anchor", "seconds"):
            raise ApiError.unknown_parameter(f"expires_after.{key}")
    anchor = value.get("anchor", "created_at")
    if anchor != "created_at":
        raise ApiError.invalid_value(anchor, ("created_at",), "expires_after.anchor")
    seconds = value.get("seconds", _DEFAULT_SECONDS)
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ApiError.invalid_type("expires_after.seconds", "an integer", seconds)
    if seconds < _MIN_SECONDS:
        raise ApiError.below_minimum("expires_after.seconds", _MIN_SECONDS, seconds)
    if seconds > _MAX_SECONDS:
        raise ApiError.above_maximum("expires_after.seconds", _MAX_SECONDS, seconds)
    return seconds

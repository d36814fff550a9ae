"""The service's error events: codes, messages and close reasons, in one place."""

from __future__ import annotations

from typing import Any

from .._errors import RealtimeError

__all__ = ["ApiError", "SUPPORTED_CLIENT_EVENTS", "quote_list"]

SUPPORTED_CLIENT_EVENTS = (
    "session.update",
    "session.close",
    "input_audio_buffer.append",
    "session.input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
)
"""The 12 client event types the service names in its "unknown type" error."""


def quote_list(values: tuple[str, ...] | list[str]) -> str:
    """Format values as the service does: ``'a', 'b', and 'c'``."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


class ApiError(RealtimeError):
    """A request the emulated service refuses: becomes an ``error`` event, never escapes."""

    def __init__(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        *,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.type = type

    @property
    def close_reason(self) -> str:
        """The close reason the service pairs with a fatal error: ``<type>.<code>``."""
        return self.type if self.code is None else f"{self.type}.{self.code}"

    def details(self, event_id: str | None) -> dict[str, Any]:
        """The ``error`` object, naming the client event that caused it (or null)."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }

    # -- the codes the emulator uses ------------------------------------------------------

    @classmethod
    def invalid_value(cls, value: Any, supported: tuple[str, ...], param: str) -> ApiError:
        return cls(
            "invalid_value",
            f"Invalid value: '{value}'. Supported values are: {quote_list(supported)}.",
            param,
        )

    @classmethod
    def unknown_parameter(cls, param: str) -> ApiError:
        return cls("unknown_parameter", f"Unknown parameter: '{param}'.", param)

    @classmethod
    def missing_parameter(cls, param: str) -> ApiError:
        return cls("missing_required_parameter", f"Missing required parameter: '{param}'.", param)

    @classmethod
    def invalid_type(cls, param: str, expected: str, value: Any) -> ApiError:
        return cls(
            "invalid_type",
            f"Invalid type for '{param}': expected {expected}, but got {_json_kind(value)}"
            " instead.",
            param,
        )

    @classmethod
    def below_minimum(cls, param: str, minimum: float, value: Any) -> ApiError:
        kind = "integer" if isinstance(minimum, int) else "decimal"
        return cls(
            f"{kind}_below_min_value",
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {minimum},"
            f" but got {value} instead.",
            param,
        )

    @classmethod
    def above_maximum(cls, param: str, maximum: float, value: Any) -> ApiError:
        kind = "integer" if isinstance(maximum, int) else "decimal"
        return cls(
            f"{kind}_above_max_value",
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {maximum},"
            f" but got {value} instead.",
            param,
        )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"

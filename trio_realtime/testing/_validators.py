"""Validation of the JSON a client sends: one checker per value, the service's errors.

Each validator checks one value at a dotted ``path`` and returns the value to keep, or
raises :class:`ApiError` with the service's code, message and ``param``. Objects apply
the rule the official models imply for every optional field: ``null`` means absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._apierrors import ApiError

__all__ = [
    "Nullable",
    "Validator",
    "array",
    "boolean",
    "enum",
    "integer",
    "nullable",
    "number",
    "object_of",
    "string",
    "string_or",
    "tagged",
]

Validator = Callable[[Any, str], Any]
"""Checks the value at a dotted path; returns what to keep or raises :class:`ApiError`."""


def string(value: Any, path: str) -> Any:
    """A JSON string."""
    if not isinstance(value, str):
        raise ApiError.invalid_type(path, "a string", value)
    return value


def boolean(value: Any, path: str) -> Any:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise ApiError.invalid_type(path, "a boolean", value)
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """An integer (a whole float is taken) within the bounds given."""

    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ApiError.invalid_type(path, "an integer", value)
        if minimum is not None and value < minimum:
            raise ApiError.below_minimum(path, minimum, value)
        if maximum is not None and value > maximum:
            raise ApiError.above_maximum(path, maximum, value)
        return value

    return check


def number(minimum: float | None = None, maximum: float | None = None) -> Validator:
    """A number within the bounds given."""

    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ApiError.invalid_type(path, "a number", value)
        if minimum is not None and value < minimum:
            raise ApiError.below_minimum(path, float(minimum), value)
        if maximum is not None and value > maximum:
            raise ApiError.above_maximum(path, float(maximum), value)
        return value

    return check


def enum(*values: str) -> Validator:
    """One of ``values``."""

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise ApiError.invalid_type(path, "a string", value)
        if value not in values:
            raise ApiError.invalid_value(value, values, path)
        return value

    return check


class Nullable:
    """A field whose ``null`` is a value (it turns a feature off), not an absent field."""

    def __init__(self, inner: Validator) -> None:
        self.inner = inner

    def __call__(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner(value, path)


def nullable(inner: Validator) -> Validator:
    """``inner``, or ``null`` kept as a value (it turns a feature off)."""
    return Nullable(inner)


def array(inner: Validator) -> Validator:
    """A JSON array whose items ``inner`` checks."""

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise ApiError.invalid_type(path, "an array", value)
        return [inner(item, f"{path}[{index}]") for index, item in enumerate(value)]

    return check


def object_of(
    fields: dict[str, Validator], *, required: tuple[str, ...] = (), open: bool = False
) -> Validator:
    """An object with known ``fields``; ``open`` keeps unknown keys as given.

    Nullable means absent: a ``null`` for a known field is dropped, as if the field had
    not been sent (the official models type every optional field ``Optional``), unless
    the field is :func:`nullable`, where ``null`` turns a feature off.
    """

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise ApiError.invalid_type(path, "an object", value)
        result: dict[str, Any] = {}
        for key, item in value.items():
            validator = fields.get(key)
            if validator is None:
                if not open:
                    raise ApiError.unknown_parameter(f"{path}.{key}")
                result[key] = item
            elif item is not None or isinstance(validator, Nullable):
                result[key] = validator(item, f"{path}.{key}")
        for key in required:
            if key not in result:
                raise ApiError.missing_parameter(f"{path}.{key}")
        return result

    return check


def tagged(tag: str, variants: dict[str, Validator], *, default: str | None = None) -> Validator:
    """An object whose ``tag`` field picks the validator (``type`` of tools, VAD, ...)."""

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise ApiError.invalid_type(path, "an object", value)
        kind = value.get(tag)
        if kind is None:
            kind = default
        if kind is None:
            raise ApiError.missing_parameter(f"{path}.{tag}")
        if kind not in variants:
            raise ApiError.invalid_value(kind, tuple(variants), f"{path}.{tag}")
        return variants[kind](value, path)

    return check


def string_or(strings: tuple[str, ...], other: Validator) -> Validator:
    """One of ``strings`` (any string when empty), or what ``other`` takes."""

    def check(value: Any, path: str) -> Any:
        if isinstance(value, str):
            if strings and value not in strings:
                raise ApiError.invalid_value(value, strings, path)
            return value
        return other(value, path)

    return check

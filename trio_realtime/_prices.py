"""Price tables: what each model costs, supplied by you (the library ships no prices).

US dollars per million tokens by modality, and per minute of audio billed by duration;
``SessionUsage.cost`` applies a table to what a session used.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CostEstimate", "ModelPrice", "price_for", "read_price_table"]

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ModelPrice:
    """What one model costs: US dollars per million tokens by modality, per audio minute.

    Copy the rates from the provider's price list; ``None`` means "no rate": usage in
    that modality is listed in :attr:`CostEstimate.unpriced` instead of counted as free.
    A ``*_cached_input`` rate of ``None`` falls back to the uncached one.
    ``audio_minute`` prices audio billed by duration (some transcription models,
    translation).

    Raises:
        ValueError: a rate is negative or not finite.
    """

    text_input: float | None = None
    text_cached_input: float | None = None
    text_output: float | None = None
    audio_input: float | None = None
    audio_cached_input: float | None = None
    audio_output: float | None = None
    image_input: float | None = None
    image_cached_input: float | None = None
    audio_minute: float | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            rate = getattr(self, f.name)
            if rate is not None and (
                not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0
            ):
                raise ValueError(f"{f.name}: expected a rate of 0 or more, got {rate!r}")

    def rate(self, name: str) -> float | None:
        """The rate named ``name`` (a field, e.g. ``"audio_input"``)."""
        value: float | None = getattr(self, name)
        return value

    def cached(self, modality: str) -> float | None:
        """The cached-input rate of ``modality``, or its input rate when unset."""
        rate = self.rate(f"{modality}_cached_input")
        return self.rate(f"{modality}_input") if rate is None else rate


def price_for(prices: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
    """The price of ``model``: its own entry, else that of the name without a date suffix.

    So ``{"gpt-realtime": ...}`` prices the ``gpt-realtime-2025-08-28`` the service
    reports, but not ``gpt-realtime-mini``, another model.
    """
    price = prices.get(model)
    if price is None:
        undated = _DATE_SUFFIX.sub("", model)
        price = prices.get(undated) if undated != model else None
    return price


def read_price_table(path: str | Path) -> dict[str, ModelPrice]:
    """Read a price table from JSON: ``{"model": {"text_input": 4.0, ...}, ...}``.

    Keys of each entry are :class:`ModelPrice`'s fields (US dollars per million tokens,
    per audio minute).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not such a table (the message says where).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):  # the file's content, not an argument: ValueError
        raise ValueError(f"{path}: expected an object of model names to prices")  # noqa: TRY004
    names = {f.name for f in dataclasses.fields(ModelPrice)}
    table: dict[str, ModelPrice] = {}
    for model, rates in data.items():
        if not isinstance(rates, dict) or not set(rates) <= names:
            raise ValueError(
                f"{path}: {model!r}: expected an object with keys among {sorted(names)}"
            )
        try:
            table[model] = ModelPrice(**rates)
        except ValueError as exc:
            raise ValueError(f"{path}: {model!r}: {exc}") from exc
    return table


@dataclass(frozen=True)
class CostEstimate:
    """A cost estimate in US dollars; see :meth:`SessionUsage.cost`.

    ``unpriced`` names what was used but had no rate (``"model: audio_output"``, or
    ``"model"`` when the table has no entry for it): the estimate leaves it out, so it
    is complete only when ``unpriced`` is empty.
    """

    usd: float
    by_model: Mapping[str, float]
    unpriced: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether everything used had a price."""
        return not self.unpriced

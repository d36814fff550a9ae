"""Token usage and cost: what the service reports per response, summed per session.

Every ``response.done`` carries the response's token usage by modality; input
transcriptions report theirs on ``...input_audio_transcription.completed`` (tokens, or
seconds for duration-billed models). A session sums them per model
(``session.usage()``); price tables (``_prices``) turn a snapshot into a cost
estimate. Pure bookkeeping: no I/O, nothing here blocks.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ._prices import CostEstimate, ModelPrice, price_for

__all__ = [
    "RESPONSES_KEPT",
    "UNKNOWN_MODEL",
    "ResponseUsage",
    "SessionUsage",
    "TokenUsage",
    "UsageLedger",
    "UsageTally",
]

RESPONSES_KEPT = 1000
"""How many of the latest responses a session keeps itemised (totals count them all)."""
UNKNOWN_MODEL = "unknown"
"""The model name usage is filed under when the session did not report its model."""

_PER_MILLION = 1_000_000


def _field(obj: Any, name: str) -> Any:
    """A field of a wire object, whether it is a typed model, a dict or absent.

    On the reader's path for every ``response.done``: dicts and attributes are looked at
    first (an ``isinstance`` against the ``Mapping`` ABC costs more than the rest).
    """
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, Mapping):
        return obj.get(name)
    return value


def _str(obj: Any, name: str) -> str | None:
    value = _field(obj, name)
    return value if isinstance(value, str) else None


def _int(obj: Any, name: str) -> int:
    value = _field(obj, name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class TokenUsage:
    """Token counts by modality: one response's, or a sum of many.

    ``input_*`` counts include the cached tokens; ``cached_*`` say how many of them were
    cached (billed at the cached rate). ``cached_tokens`` is the reported total, which
    the beta protocol gives without a split by modality. ``seconds`` is audio billed
    by duration (duration-billed transcription models; for translation sessions, the
    seconds of audio sent, since the service reports no usage). ``requests`` is how
    many reports were summed.
    """

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_image_tokens: int = 0
    cached_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    cached_image_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    seconds: float = 0.0

    @classmethod
    def from_report(cls, usage: Any) -> TokenUsage:
        """The counts of one reported ``usage`` object (typed model or wire dict).

        Reads ``response.done``'s ``response.usage`` and an input transcription's
        ``usage`` (``{"type": "tokens", ...}`` or ``{"type": "duration", "seconds"}``);
        a missing field counts as 0, ``None`` as an empty report. A report without
        ``output_token_details`` (input transcriptions) has text output only.
        """
        if usage is None:
            return cls()
        details = _field(usage, "input_token_details")
        cached = _field(details, "cached_tokens_details")
        out = _field(usage, "output_token_details")
        seconds = _field(usage, "seconds")
        output_tokens = _int(usage, "output_tokens")
        return cls(
            requests=1,
            input_tokens=_int(usage, "input_tokens"),
            output_tokens=output_tokens,
            total_tokens=_int(usage, "total_tokens"),
            input_text_tokens=_int(details, "text_tokens"),
            input_audio_tokens=_int(details, "audio_tokens"),
            input_image_tokens=_int(details, "image_tokens"),
            cached_tokens=_int(details, "cached_tokens"),
            cached_text_tokens=_int(cached, "text_tokens"),
            cached_audio_tokens=_int(cached, "audio_tokens"),
            cached_image_tokens=_int(cached, "image_tokens"),
            output_text_tokens=output_tokens if out is None else _int(out, "text_tokens"),
            output_audio_tokens=_int(out, "audio_tokens"),
            seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(*[getattr(self, n) + getattr(other, n) for n in _USAGE_FIELDS])

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def cost(self, price: ModelPrice) -> tuple[float, tuple[str, ...]]:
        """US dollars at ``price``, and the priced quantities ``price`` has no rate for.

        Cached tokens the report does not split by modality are priced as text.
        """
        unattributed = max(
            0,
            self.cached_tokens
            - self.cached_text_tokens
            - self.cached_audio_tokens
            - self.cached_image_tokens,
        )
        inputs = (
            ("text", self.input_text_tokens, self.cached_text_tokens + unattributed),
            ("audio", self.input_audio_tokens, self.cached_audio_tokens),
            ("image", self.input_image_tokens, self.cached_image_tokens),
        )
        quantities = [
            quantity
            for modality, tokens, cached in inputs
            for quantity in (
                (f"{modality}_input", tokens - cached, price.rate(f"{modality}_input")),
                (f"{modality}_cached_input", cached, price.cached(modality)),
            )
        ]
        quantities.append(("text_output", self.output_text_tokens, price.text_output))
        quantities.append(("audio_output", self.output_audio_tokens, price.audio_output))
        usd = 0.0
        unpriced: list[str] = []
        for name, tokens, rate in quantities:
            if tokens <= 0:
                continue
            if rate is None:
                unpriced.append(name)
            else:
                usd += tokens * rate / _PER_MILLION
        if self.seconds > 0:
            if price.audio_minute is None:
                unpriced.append("audio_minute")
            else:
                usd += self.seconds / 60 * price.audio_minute
        return usd, tuple(unpriced)


@dataclass(frozen=True)
class ResponseUsage:
    """One response's usage, as its ``response.done`` reported it."""

    response_id: str | None
    status: str | None
    model: str
    usage: TokenUsage


@dataclass(frozen=True)
class SessionUsage:
    """A snapshot of a session's (or a client's) usage, summed per model.

    ``by_model`` maps the model that did the work (the session's model for responses,
    the transcription model for input transcriptions) to its :class:`TokenUsage`;
    ``responses`` itemises the latest :data:`RESPONSES_KEPT` responses.
    """

    by_model: Mapping[str, TokenUsage] = field(default_factory=lambda: MappingProxyType({}))
    responses: tuple[ResponseUsage, ...] = ()

    @property
    def total(self) -> TokenUsage:
        """Every model's usage summed (the token counts across models)."""
        return sum(self.by_model.values(), TokenUsage())

    def __add__(self, other: SessionUsage) -> SessionUsage:
        if not isinstance(other, SessionUsage):
            return NotImplemented
        by_model = dict(self.by_model)
        for model, usage in other.by_model.items():
            by_model[model] = by_model.get(model, TokenUsage()) + usage
        responses = (self.responses + other.responses)[-RESPONSES_KEPT:]
        return SessionUsage(MappingProxyType(by_model), responses)

    def cost(self, prices: Mapping[str, ModelPrice]) -> CostEstimate:
        """Estimate the cost with your price table (model name to :class:`ModelPrice`).

        A model is looked up by its name, else by its name without a date suffix
        (``gpt-realtime`` prices ``gpt-realtime-2025-08-28``).
        """
        by_model: dict[str, float] = {}
        unpriced: list[str] = []
        for model, usage in self.by_model.items():
            price = price_for(prices, model)
            if price is None:
                unpriced.append(model)
                continue
            usd, missing = usage.cost(price)
            by_model[model] = usd
            unpriced.extend(f"{model}: {name}" for name in missing)
        return CostEstimate(sum(by_model.values()), MappingProxyType(by_model), tuple(unpriced))

    def to_dict(self, prices: Mapping[str, ModelPrice] | None = None) -> dict[str, Any]:
        """A JSON-ready dict: totals, per model, and the cost when ``prices`` is given."""
        data: dict[str, Any] = {
            "total": self.total.to_dict(),
            "by_model": {model: usage.to_dict() for model, usage in self.by_model.items()},
        }
        if prices is not None:
            estimate = self.cost(prices)
            data["cost"] = {
                "usd": estimate.usd,
                "by_model": dict(estimate.by_model),
                "unpriced": list(estimate.unpriced),
            }
        return data


_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(TokenUsage))
"""The fields of :class:`TokenUsage` in order (found once: ``__add__`` is on the reader)."""


def sum_usage(snapshots: Iterable[SessionUsage]) -> SessionUsage:
    """Several snapshots added up (a client's sessions)."""
    return sum(snapshots, SessionUsage())


class UsageLedger:
    """The running sums behind ``session.usage()``; fed by the session's reader.

    The reader only notes each ``response.done`` (a reference, no arithmetic); the notes
    are summed when someone asks (:meth:`snapshot`), or every ``FOLD_EVERY`` responses so
    they never pile up. Usage costs the receive path next to nothing.
    """

    FOLD_EVERY = 1024

    def __init__(self) -> None:
        self._by_model: dict[str, TokenUsage] = {}
        self._responses: deque[ResponseUsage] = deque(maxlen=RESPONSES_KEPT)
        self._noted: list[tuple[Any, Any]] = []

    def add(self, model: str | None, usage: TokenUsage) -> None:
        """Count a report against ``model``."""
        name = model or UNKNOWN_MODEL
        self._by_model[name] = self._by_model.get(name, TokenUsage()) + usage

    def add_response(self, response: Any, config: Any) -> None:
        """Note a ``response.done``'s ``response``, for the session ``config``'s model."""
        noted = self._noted
        noted.append((response, config))
        if len(noted) >= self.FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        noted, self._noted = self._noted, []
        for response, config in noted:
            model = _str(config, "model")
            usage = TokenUsage.from_report(_field(response, "usage"))
            self.add(model, usage)
            self._responses.append(
                ResponseUsage(
                    _str(response, "id"), _str(response, "status"), model or UNKNOWN_MODEL, usage
                )
            )

    @staticmethod
    def for_audio(config: Any, seconds: float) -> SessionUsage:
        """The usage of a session billed by audio duration (translation)."""
        ledger = UsageLedger()
        ledger.add(_str(config, "model"), TokenUsage(seconds=seconds))
        return ledger.snapshot()

    def add_transcription(self, usage: Any, config: Any) -> None:
        """Count an input transcription's ``usage`` against ``config``'s transcription model."""
        transcription = _field(_field(_field(config, "audio"), "input"), "transcription")
        self.add(_str(transcription, "model"), TokenUsage.from_report(usage))

    def snapshot(self) -> SessionUsage:
        """The sums so far, frozen."""
        self._fold()
        return SessionUsage(MappingProxyType(dict(self._by_model)), tuple(self._responses))


class _Metered(Protocol):
    def usage(self) -> SessionUsage: ...


_S = TypeVar("_S", bound=_Metered)


class UsageTally:
    """The usage of a client's sessions: the closed ones summed, the open ones live."""

    def __init__(self) -> None:
        self.closed = SessionUsage()
        self.open: list[_Metered] = []

    def usage(self) -> SessionUsage:
        """The sum so far."""
        return self.closed + sum_usage(session.usage() for session in self.open)

    @asynccontextmanager
    async def track(self, opening: AbstractAsyncContextManager[_S]) -> AsyncIterator[_S]:
        """Open a session through ``opening`` and count its usage, live and at the end."""
        session: _S | None = None
        try:
            async with opening as session:
                self.open.append(session)
                yield session
        finally:
            if session is not None:
                self.open.remove(session)
                self.closed += session.usage()

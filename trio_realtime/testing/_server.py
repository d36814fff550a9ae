"""The emulator's server: accept, route, authenticate, then hand over to a session."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import trio
from trio_websocket import WebSocketRequest, WebSocketServer, wrap_server_stream

from ._apierrors import ApiError
from ._brain import Brain
from ._connection import ConnectionKind, EmulatorConnection
from ._faults import Faults
from ._link import CLOSE_TIMEOUT, EmulatorOptions, Link, Session
from ._wire import TapListener, TapStream

__all__ = ["Emulator", "open_emulator", "serve_emulator"]

log = logging.getLogger("trio_realtime.testing")

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

_MAX_MESSAGE_SIZE = 24 * 2**20
"""Large enough for the service's 15 MiB of audio per ``input_audio_buffer.append``."""
_RECEIVE_BUFFER = 65536
_CONNECT_TIMEOUT = 10.0
_REDACTED = "<redacted>"
_KEY_SUBPROTOCOL = "openai-insecure-api-key."
_BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
_API_KEYS_URL = "https://platform.openai.com/account/api-keys"


@dataclasses.dataclass(frozen=True)
class _Route:
    kind: ConnectionKind
    path: str
    query: dict[str, str]
    azure: bool


def _route(target: str) -> _Route | None:
    split = urlsplit(target)
    path = split.path.rstrip("/") or "/"
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    translation = path.endswith("/realtime/translations")
    base = path.removesuffix("/translations") if translation else path
    if base not in ("/v1/realtime", "/realtime", "/openai/v1/realtime", "/openai/realtime"):
        return None
    azure = base.startswith("/openai/")
    if translation:
        kind: ConnectionKind = "translation"
    elif query.get("intent") == "transcription":
        kind = "transcription"
    else:
        kind = "realtime"
    return _Route(kind, path, query, azure)


def _credentials(
    headers: dict[str, str], query: dict[str, str], subprotocols: tuple[str, ...]
) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "basic") and value.strip():
        return value.strip()
    for candidate in (headers.get("api-key"), query.get("api-key")):
        if candidate:
            return candidate
    for protocol in subprotocols:
        if protocol.startswith(_KEY_SUBPROTOCOL) and len(protocol) > len(_KEY_SUBPROTOCOL):
            return protocol[len(_KEY_SUBPROTOCOL) :]
    return None


def _admission(
    route: _Route,
    headers: dict[str, str],
    subprotocols: tuple[str, ...],
    api_key: str | None,
) -> tuple[tuple[ApiError, int] | None, str | None]:
    """Check auth and model as the service does after the upgrade.

    Returns the error with its close code (or None) and the session's model.
    """
    key = _credentials(headers, route.query, subprotocols)
    if key is None:
        return (ApiError(None, "Missing bearer or basic authentication in header"), 3000), None
    if api_key is not None and key != api_key:
        message = f"Incorrect API key provided. You can find your API key at {_API_KEYS_URL}."
        return (ApiError("invalid_api_key", message), 3000), None
    if "openai-beta" in headers or _BETA_SUBPROTOCOL in subprotocols:
        message = (
            "The Realtime API beta shape is disabled; remove the 'OpenAI-Beta: realtime=v1'"
            " header to use the GA Realtime API."
        )
        return (ApiError("beta_api_shape_disabled", message), 4000), None
    query = route.query
    intent = query.get("intent")
    if intent not in (None, "realtime", "transcription"):
        error = ApiError.invalid_value(intent, ("realtime", "transcription"), "intent")
        return (error, 4000), None
    if route.kind == "transcription":
        return None, None
    model = query.get("deployment") if route.azure and "deployment" in query else query.get("model")
    if not model:
        if route.kind == "realtime" and query.get("call_id"):
            return None, "gpt-realtime"
        example = (
            "wss://api.openai.com/v1/realtime/translations?model=gpt-realtime-translate"
            if route.kind == "translation"
            else "wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5"
        )
        message = f"You must provide a model parameter, for example {example}"
        return (ApiError("missing_model", message), 4000), None
    if not route.azure and not _model_supported(model, route.kind):
        message = f'Model "{model}" is not supported in {route.kind} mode.'
        return (ApiError("invalid_model", message, "model"), 4000), None
    return None, model


def _model_supported(model: str, kind: ConnectionKind) -> bool:
    if kind == "translation":
        return model.startswith("gpt-")
    if model in REALTIME_MODELS:
        return True
    return model.startswith("gpt-") and "transcribe" not in model and "whisper" not in model


def _redacted_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "authorization":
            scheme = text.split(" ", 1)[0]
            text = f"{scheme} {_REDACTED}" if " " in text else _REDACTED
        elif key == "api-key":
            text = _REDACTED
        headers[key] = text
    return headers


def _redacted_subprotocols(subprotocols: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        _KEY_SUBPROTOCOL + _REDACTED if protocol.startswith(_KEY_SUBPROTOCOL) else protocol
        for protocol in subprotocols
    )


class Emulator:
    """A running Realtime emulator: its URLs and the connections it accepted.

    Get one from :func:`open_emulator`, :func:`serve_emulator` or
    ``run_emulator_in_thread``. Point an official client at ``url``
    (``AsyncOpenAI(websocket_base_url=emulator.url)``).
    """

    def __init__(self, host: str, port: int, options: EmulatorOptions, faults: Faults) -> None:
        self.host = host
        self.port = port
        """The TCP port the emulator listens on."""
        self.options = options
        self.faults = faults
        """Faults given to every connection accepted from now on (each gets a copy)."""
        self.connections: list[EmulatorConnection] = []
        """Every connection accepted, in order."""
        self._taps: dict[str, TapStream] = {}
        self._changed = trio.Event()
        self._nursery: trio.Nursery | None = None

    def __repr__(self) -> str:
        return f"<Emulator {self.url} connections={len(self.connections)}>"

    @property
    def url(self) -> str:
        """The base URL for clients: ``ws://127.0.0.1:<port>/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/v1"

    @property
    def realtime_url(self) -> str:
        """``<url>/realtime``: the conversation and transcription endpoint."""
        return f"{self.url}/realtime"

    @property
    def translation_url(self) -> str:
        """``<url>/realtime/translations``: the translation endpoint."""
        return f"{self.url}/realtime/translations"

    async def wait_connection(self, n: int = 1) -> EmulatorConnection:
        """Wait until the ``n``-th connection (1-based) was accepted, and return it."""
        while len(self.connections) < n:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self.connections[n - 1]

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one connection over any Trio stream, e.g. one end of an in-memory pair.

        For tests on a mock clock: no socket is involved, so time-based behaviour (pings,
        idle timeouts, session expiry) can be tested instantly. Returns when the
        connection is over; the stream is closed by then.
        """
        tap = TapStream(stream)
        try:
            async with trio.open_nursery() as nursery:
                request = await wrap_server_stream(
                    nursery,
                    tap,
                    max_message_size=_MAX_MESSAGE_SIZE,
                    receive_buffer_size=_RECEIVE_BUFFER,
                )
                await self._serve(request, tap)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(tap)
            self._finished(tap)

    async def _handle_request(self, request: WebSocketRequest) -> None:
        remote = request.remote
        tap = self._taps.pop(remote, None) if isinstance(remote, str) else None
        if tap is None:
            log.warning("emulator: a request arrived on an unknown stream")
            await request.reject(500)
            return
        try:
            await self._serve(request, tap)
        finally:
            if self._nursery is not None:
                self._nursery.start_soon(self._reap, tap)

    async def _reap(self, tap: TapStream) -> None:
        """Make sure the socket is closed once trio-websocket is done with it."""
        try:
            with trio.move_on_after(2 * CLOSE_TIMEOUT):
                await tap.closed.wait()
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(tap)
            self._finished(tap)

    def _finished(self, tap: TapStream) -> None:
        for record in self.connections:
            if record._sniffer is tap.sniffer:
                record._finished()
        self._notify()

    async def _serve(self, request: WebSocketRequest, tap: TapStream) -> None:
        route = _route(request.path)
        if route is None:
            await request.reject(404, body=b"Not Found")
            return
        offered = request.proposed_subprotocols
        ws = await request.accept(subprotocol="realtime" if "realtime" in offered else None)
        raw_headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in request.headers
        }
        rejection, model = _admission(route, raw_headers, offered, self.options.api_key)
        query = {
            key: (_REDACTED if key == "api-key" else value) for key, value in route.query.items()
        }
        record = EmulatorConnection(
            number=len(self.connections) + 1,
            path=route.path,
            query=query,
            headers=_redacted_headers(request.headers),
            subprotocols=_redacted_subprotocols(offered),
            kind=route.kind,
            faults=self.faults.copy(),
        )
        record._sniffer = tap.sniffer
        tap.should_ignore_close = lambda: record.faults.ignore_close
        self.connections.append(record)
        self._notify()
        link = Link(ws, tap, record, self.options, model=model)
        try:
            await link.run(_session_factory(route.kind), rejection)
        except Exception:
            log.exception("emulator: connection #%d failed", record.number)
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await ws.aclose(1011, "server_error")
        finally:
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


def _session_factory(kind: ConnectionKind) -> Callable[[Link], Session]:
    def make(link: Link) -> Session:
        if kind == "translation":
            from ._translation import TranslationSessionState

            return TranslationSessionState(link)
        from ._realtime import RealtimeSession

        return RealtimeSession(link, transcription=kind == "transcription")

    return make


async def serve_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = None,
    brain: Brain | None = None,
    faults: Faults | None = None,
    ping_interval: float | None = 20.0,
    audio_pace: float | None = None,
    session_max_s: float = 3600.0,
    record: bool = True,
    task_status: trio.TaskStatus[Emulator] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a Realtime emulator until cancelled; for ``nursery.start``.

    ``await nursery.start(serve_emulator)`` returns the :class:`Emulator` once it is
    listening (port 0: the OS picks a free port). Options:

    - ``api_key``: the only key accepted; None accepts any non-empty key.
    - ``brain``: the model's replies (see :class:`BrainRequest`); default: an echo.
    - ``faults``: :class:`Faults` for every connection.
    - ``ping_interval``: seconds between server pings (None: no pings).
    - ``audio_pace``: None streams response audio as fast as possible; 1.0 in real time
      (so a barge-in can interrupt it), 2.0 twice as fast.
    - ``session_max_s``: the session's maximum duration (``session_expired`` after it).
    - ``record``: keep every event in ``EmulatorConnection.received`` / ``.sent``; turn
      it off for long-running servers (``wait_for`` then never sees an event).
    """
    options = EmulatorOptions(
        api_key=api_key,
        brain=brain,
        ping_interval=ping_interval,
        audio_pace=audio_pace,
        session_max_s=session_max_s,
        record=record,
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        bound = listeners[0].socket.getsockname()
        emulator = Emulator(str(bound[0]), int(bound[1]), options, faults or Faults())
        emulator._nursery = nursery
        taps = [TapListener(listener, emulator._taps) for listener in listeners]
        server = WebSocketServer(
            emulator._handle_request,
            cast(Any, taps),
            handler_nursery=nursery,
            max_message_size=_MAX_MESSAGE_SIZE,
            receive_buffer_size=_RECEIVE_BUFFER,
            connect_timeout=_CONNECT_TIMEOUT,
            disconnect_timeout=CLOSE_TIMEOUT,
        )
        await nursery.start(server.run)
        log.info("Realtime emulator listening on %s", emulator.url)
        task_status.started(emulator)


@contextlib.asynccontextmanager
async def open_emulator(
    *,
    api_key: str | None = None,
    brain: Brain | None = None,
    faults: Faults | None = None,
    ping_interval: float | None = 20.0,
    audio_pace: float | None = None,
    session_max_s: float = 3600.0,
    record: bool = True,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[Emulator]:
    """Run a Realtime emulator for the duration of the block (options: :func:`serve_emulator`).

    Entering returns once it listens; leaving stops it and ends every connection.
    """
    async with trio.open_nursery() as nursery:
        emulator: Emulator = await nursery.start(
            lambda task_status: serve_emulator(
                host,
                port,
                api_key=api_key,
                brain=brain,
                faults=faults,
                ping_interval=ping_interval,
                audio_pace=audio_pace,
                session_max_s=session_max_s,
                record=record,
                task_status=task_status,
            )
        )
        try:
            yield emulator
        finally:
            nursery.cancel_scope.cancel("the emulator is closing")

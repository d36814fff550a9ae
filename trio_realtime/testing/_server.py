"""The emulator's server: accept, route, authenticate, then hand over to a session."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import socket as stdlib_socket
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_server_stream,
)

from .._recording import Recording, read_recording
from ._apierrors import ApiError
from ._brain import Brain
from ._calls import RETRY_DELAYS, CallerScript, CallRegistry, EmulatedCall
from ._connection import ConnectionKind, ConnectionStatistics, EmulatorConnection
from ._faults import Faults
from ._http import HttpRequest, HttpResponse, error_response, read_opening, serve_http
from ._ids import IdFactory
from ._link import CLOSE_TIMEOUT, EmulatorOptions, Link, Session
from ._replay import ReplayScript, ReplaySession
from ._retention import DEFAULT_RETENTION, Retention
from ._secrets import (
    ClientSecret,
    EmulatorClock,
    SecretEndpoint,
    build_secret_session,
    model_supported,
    new_secret_value,
)
from ._sip import CallLink, CallSession
from ._wire import TapStream

__all__ = ["Emulator", "EmulatorStatistics", "load_replay", "open_emulator", "serve_emulator"]

log = logging.getLogger("trio_realtime.testing")

_MAX_MESSAGE_SIZE = 24 * 2**20
"""Large enough for the service's 15 MiB of audio per ``input_audio_buffer.append``."""
_RECEIVE_BUFFER = 65536
_CONNECT_TIMEOUT = 10.0
_REDACTED = "<redacted>"
_KEY_SUBPROTOCOL = "openai-insecure-api-key."
_BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
_API_KEYS_URL = "https://platform.openai.com/account/api-keys"
_BAD_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't"
    " using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was"
    " sent was not valid JSON.)"
)
_BASES = ("/v1/realtime", "/realtime", "/openai/v1/realtime", "/openai/realtime")
_NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization"
    " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field"
    " (with blank username) if you're accessing the API from your browser and are prompted for"
    f" a username. You can obtain an API key from {_API_KEYS_URL}."
)


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
    if base not in _BASES:
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


@dataclasses.dataclass(frozen=True)
class _Admission:
    kind: ConnectionKind
    model: str | None = None
    rejection: tuple[ApiError, int] | None = None
    secret: ClientSecret | None = None


def _refused(kind: ConnectionKind, error: ApiError, code: int) -> _Admission:
    return _Admission(kind, rejection=(error, code))


def _admission(
    route: _Route,
    headers: dict[str, str],
    subprotocols: tuple[str, ...],
    api_key: str | None,
    secrets: Callable[[str], ClientSecret | None],
) -> _Admission:
    """Check auth and model as the service does after the upgrade.

    An ``ek_`` key is a client secret: it must be known and unexpired, and it gives the
    session's kind (when ``intent`` is absent) and model.
    """
    kind = route.kind
    key = _credentials(headers, route.query, subprotocols)
    if key is None:
        error = ApiError(None, "Missing bearer or basic authentication in header")
        return _refused(kind, error, 3000)
    secret: ClientSecret | None = None
    if key.startswith("ek_"):
        secret = secrets(key)
        if secret is None:
            return _refused(kind, _incorrect_key(), 3000)
    elif api_key is not None and key != api_key:
        return _refused(kind, _incorrect_key(), 3000)
    if "openai-beta" in headers or _BETA_SUBPROTOCOL in subprotocols:
        message = (
            "The Realtime API beta shape is disabled; remove the 'OpenAI-Beta: realtime=v1'"
            " header to use the GA Realtime API."
        )
        return _refused(kind, ApiError("beta_api_shape_disabled", message), 4000)
    query = route.query
    intent = query.get("intent")
    if intent not in (None, "realtime", "transcription"):
        error = ApiError.invalid_value(intent, ("realtime", "transcription"), "intent")
        return _refused(kind, error, 4000)
    if secret is not None:
        if kind == "realtime" and intent is None:
            kind = secret.kind if secret.kind != "translation" else kind
        if secret.kind != kind:
            message = (
                f"This client secret was created for a {secret.kind} session; it cannot open"
                f" a {kind} session."
            )
            return _refused(kind, ApiError("invalid_value", message, "session.type"), 4000)
        model = secret.session.get("model")
        return _Admission(kind, model=model if isinstance(model, str) else None, secret=secret)
    if kind == "transcription":
        return _Admission(kind)
    model = query.get("deployment") if route.azure and "deployment" in query else query.get("model")
    if not model:
        if kind == "realtime" and query.get("call_id"):
            return _Admission(kind, model="gpt-realtime")
        example = (
            "wss://api.openai.com/v1/realtime/translations?model=gpt-realtime-translate"
            if kind == "translation"
            else "wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5"
        )
        message = f"You must provide a model parameter, for example {example}"
        return _refused(kind, ApiError("missing_model", message), 4000)
    if not route.azure and not model_supported(model, kind):
        message = f'Model "{model}" is not supported in {kind} mode.'
        return _refused(kind, ApiError("invalid_model", message, "model"), 4000)
    return _Admission(kind, model=model)


def _incorrect_key() -> ApiError:
    message = f"Incorrect API key provided. You can find your API key at {_API_KEYS_URL}."
    return ApiError("invalid_api_key", message)


def _secret_endpoint(path: str) -> SecretEndpoint | None:
    path = path.rstrip("/")
    endpoints: tuple[tuple[str, SecretEndpoint], ...] = (
        ("/translations/client_secrets", "translation"),
        ("/client_secrets", "realtime"),
    )
    for suffix, endpoint in endpoints:
        if path.endswith(suffix) and path.removesuffix(suffix) in _BASES:
            return endpoint
    return None


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


@dataclasses.dataclass(frozen=True)
class EmulatorStatistics:
    """Counts over every connection an emulator accepted, kept or not.

    From :meth:`Emulator.statistics`.
    """

    connections_accepted: int
    """WebSocket connections accepted (rejected ones included)."""
    connections_open: int
    connections_kept: int
    """Connections in ``Emulator.connections`` (open ones and the latest closed ones)."""
    events_received: int
    events_sent: int
    bytes_received: int
    """Characters of JSON in the client events received."""
    bytes_sent: int
    """Characters of JSON in the events sent."""
    input_audio_bytes: int


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
        """The connections kept, in accept order: every open one and the latest closed
        ones (``Retention.closed_connections``); older closed ones are let go."""
        self._accepted = 0
        self._open: dict[TapStream, EmulatorConnection] = {}
        self._closed_totals = ConnectionStatistics(0, 0, 0, 0, 0, 0, 0)
        self._changed = trio.Event()
        self._clock = EmulatorClock()
        self._secrets: dict[str, ClientSecret] = {}
        self._secret_ids = IdFactory(f"client-secrets-{port}")
        self._replay: ReplayScript | None = (
            None if options.replay is None else ReplayScript.from_recording(options.replay)
        )
        self._calls = CallRegistry(port=port)
        self.trio_token: trio.lowlevel.TrioToken = trio.lowlevel.current_trio_token()
        """The emulator's Trio loop, for ``trio.from_thread.run(emulator.place_call, ...,
        trio_token=emulator.trio_token)`` when it runs in a thread."""

    def __repr__(self) -> str:
        return f"<Emulator {self.url} connections={self._accepted}>"

    @property
    def url(self) -> str:
        """The base URL for clients: ``ws://127.0.0.1:<port>/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/v1"

    @property
    def http_url(self) -> str:
        """The base URL for REST calls (client secrets): ``http://127.0.0.1:<port>/v1``."""
        return "http" + self.url.removeprefix("ws")

    @property
    def realtime_url(self) -> str:
        """``<url>/realtime``: the conversation and transcription endpoint."""
        return f"{self.url}/realtime"

    @property
    def translation_url(self) -> str:
        """``<url>/realtime/translations``: the translation endpoint."""
        return f"{self.url}/realtime/translations"

    def statistics(self) -> EmulatorStatistics:
        """Counts over every connection accepted so far, including those let go.

        Safe to call from another thread (``run_emulator_in_thread``).
        """
        open_now = tuple(self._open.values())  # one step: the loop may change the dict
        totals = [self._closed_totals, *(c.statistics() for c in open_now)]
        return EmulatorStatistics(
            connections_accepted=self._accepted,
            connections_open=len(open_now),
            connections_kept=len(self.connections),
            events_received=sum(s.events_received for s in totals),
            events_sent=sum(s.events_sent for s in totals),
            bytes_received=sum(s.bytes_received for s in totals),
            bytes_sent=sum(s.bytes_sent for s in totals),
            input_audio_bytes=sum(s.input_audio_bytes for s in totals),
        )

    async def wait_connection(self, n: int = 1) -> EmulatorConnection:
        """Wait until the ``n``-th connection (1-based) was accepted, and return it.

        Raises:
            LookupError: it was accepted, closed and let go already (see
                ``Retention.closed_connections``).
            ValueError: ``n`` is less than 1.
        """
        if n < 1:
            raise ValueError(f"connections are numbered from 1, got {n}")
        while self._accepted < n:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        for connection in self.connections:
            if connection.number == n:
                return connection
        raise LookupError(
            f"connection #{n} closed and was let go (the emulator keeps the latest"
            f" {self.options.retention.closed_connections} closed connections)"
        )

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one connection over any Trio stream, e.g. one end of an in-memory pair.

        For tests on a mock clock: no socket is involved, so time-based behaviour (pings,
        idle timeouts, session expiry, client secrets expiring) can be tested instantly.
        Plain HTTP requests (client secrets) are served too. Returns when the connection
        is over; the stream is closed by then.
        """
        tap = TapStream(stream)
        try:
            with trio.move_on_after(_CONNECT_TIMEOUT):
                opening = await read_opening(tap)
            if opening is None:
                return
            if not opening.websocket:
                await serve_http(tap, opening, self._http_request)
                return
            tap.unread(opening.received)
            await self._serve_websocket(tap)
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(tap)
            self._finished(tap)

    async def _serve_socket(self, stream: trio.SocketStream) -> None:
        """Serve one accepted socket; whatever goes wrong ends this connection only."""
        try:
            stream.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, True)
            await self.serve_stream(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed) as exc:
            log.debug("emulator: a client went away: %r", exc)
        except Exception:
            log.exception("emulator: serving a connection failed")

    async def _serve_websocket(self, tap: TapStream) -> None:
        async with trio.open_nursery() as nursery:
            request: WebSocketRequest | None = None
            with trio.move_on_after(_CONNECT_TIMEOUT):
                request = await wrap_server_stream(
                    nursery,
                    tap,
                    max_message_size=_MAX_MESSAGE_SIZE,
                    receive_buffer_size=_RECEIVE_BUFFER,
                )
            if request is not None:
                ws = await self._serve(request, tap)
                if ws is not None:
                    with trio.move_on_after(CLOSE_TIMEOUT):
                        await ws.aclose()
                if tap.closing:
                    with trio.move_on_after(2 * CLOSE_TIMEOUT):
                        await tap.closed.wait()
            nursery.cancel_scope.cancel()

    def _finished(self, tap: TapStream) -> None:
        record = self._open.pop(tap, None)
        if record is not None:
            record._finished()
            done, total = record.statistics(), self._closed_totals
            log.info(
                "emulator: connection #%d closed (by %s): events in %d, out %d;"
                " input audio %d bytes",
                record.number,
                record.closed_by or "neither side",
                done.events_received,
                done.events_sent,
                done.input_audio_bytes,
            )
            self._closed_totals = ConnectionStatistics(
                *(
                    a + b
                    for a, b in zip(
                        dataclasses.astuple(done), dataclasses.astuple(total), strict=True
                    )
                )
            )
            self._let_go_of_closed()
        self._notify()

    def _let_go_of_closed(self) -> None:
        limit = self.options.retention.closed_connections
        if limit is None:
            return
        closed = [c for c in self.connections if c.closed.is_set()]
        for connection in closed[: max(0, len(closed) - limit)]:
            self.connections.remove(connection)

    async def _serve(self, request: WebSocketRequest, tap: TapStream) -> WebSocketConnection | None:
        route = _route(request.path)
        if route is None:
            error = ApiError(None, f"Invalid URL (GET {urlsplit(request.path).path})")
            body = json.dumps(error_response(404, error).body).encode()
            await request.reject(
                404, extra_headers=[(b"content-type", b"application/json")], body=body
            )
            return None
        offered = request.proposed_subprotocols
        ws = await request.accept(subprotocol="realtime" if "realtime" in offered else None)
        raw_headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in request.headers
        }
        admission = _admission(
            route, raw_headers, offered, self.options.api_key, self._valid_secret
        )
        query = {
            key: (_REDACTED if key == "api-key" else value) for key, value in route.query.items()
        }
        self._accepted += 1
        record = EmulatorConnection(
            number=self._accepted,
            path=route.path,
            query=query,
            headers=_redacted_headers(request.headers),
            subprotocols=_redacted_subprotocols(offered),
            kind=admission.kind,
            faults=self.faults.copy(),
            retention=self.options.retention,
        )
        record.client_secret = admission.secret is not None
        rejection = admission.rejection
        call: EmulatedCall | None = None
        if rejection is None and admission.kind == "realtime" and "call_id" in route.query:
            joined = self._calls.sideband(route.query["call_id"])
            if isinstance(joined, ApiError):
                rejection = (joined, 4000)
            else:
                call = joined
        replay = self._replay
        if rejection is None and replay is not None and replay.kind != admission.kind:
            message = (
                f"This emulator replays a {replay.kind} recording; a {admission.kind}"
                " connection cannot replay it."
            )
            record.replay_mismatches.append(message)
            rejection = (ApiError("replay_mismatch", message), 4000)
        record._sniffer = tap.sniffer
        tap.should_ignore_close = lambda: record.faults.ignore_close
        self.connections.append(record)
        self._open[tap] = record
        self._notify()
        if call is None:
            link = Link(ws, tap, record, self.options, model=admission.model)
            secret_session = None if admission.secret is None else admission.secret.session
            make_session = _session_factory(admission.kind, secret_session, replay)
        else:
            link = CallLink(ws, tap, record, self.options, model=admission.model, call=call)
            call._attach(link)
            make_session = _call_session_factory(call)
        try:
            await link.run(make_session, rejection)
        except Exception:
            log.exception("emulator: connection #%d failed", record.number)
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await ws.aclose(1011, "server_error")
        finally:
            self._notify()
        return ws

    # -- client secrets -------------------------------------------------------------------

    def _valid_secret(self, value: str) -> ClientSecret | None:
        secret = self._secrets.get(value)
        if secret is None or self._clock.now() >= secret.expires_at:
            return None
        return secret

    def _refused_key(self, request: HttpRequest, purpose: str) -> HttpResponse | None:
        """The 401 for a REST request without an acceptable API key, else None."""
        key = _credentials(request.headers, request.query, ())
        if key is None:
            return error_response(401, ApiError(None, _NO_KEY_MESSAGE))
        if key.startswith("ek_"):
            message = f"Client secrets cannot {purpose}; use an API key."
            return error_response(401, ApiError("invalid_api_key", message))
        if self.options.api_key is not None and key != self.options.api_key:
            return error_response(401, _incorrect_key())
        return None

    async def _http_request(self, request: HttpRequest) -> HttpResponse:
        await trio.lowlevel.checkpoint()
        call_route = self._calls.route(request.path, _BASES)
        if call_route is not None:
            refused = self._refused_key(request, "control calls")
            return refused or await self._calls.handle(request, *call_route)
        endpoint = _secret_endpoint(request.path)
        if endpoint is None or request.method != "POST":
            if request.method == "GET" and _route(request.path) is not None:
                message = "This endpoint only accepts WebSocket connections (Upgrade: websocket)."
                return error_response(426, ApiError(None, message))
            message = f"Invalid URL ({request.method} {request.path})"
            return error_response(404, ApiError(None, message))
        refused = self._refused_key(request, "create client secrets")
        if refused is not None:
            return refused
        try:
            body: Any = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return error_response(400, ApiError(None, _BAD_JSON_MESSAGE))
        try:
            kind, session, seconds = build_secret_session(endpoint, body, self._secret_ids)
        except ApiError as error:
            return error_response(400, error)
        now = self._clock.now()
        for value, old in list(self._secrets.items()):
            if now >= old.expires_at:
                del self._secrets[value]
        secret = ClientSecret(new_secret_value(), kind, session, now + seconds)
        self._secrets[secret.value] = secret
        log.info("emulator: minted a %s client secret for %d s", kind, seconds)
        return HttpResponse(200, secret.response())

    # -- phone calls -----------------------------------------------------------------------

    @property
    def calls(self) -> list[EmulatedCall]:
        """Every call placed with :meth:`place_call`, in order."""
        return list(self._calls.calls.values())

    async def place_call(
        self,
        webhook_url: str,
        *,
        secret: str,
        caller: CallerScript | None = None,
        from_number: str = "+14155550123",
        to_number: str = "+18005550199",
        sip_headers: Sequence[tuple[str, str]] | None = None,
        sip_media_security: str | None = "srtp",
        retry_delays: Sequence[float] = RETRY_DELAYS,
        duplicate_delivery: bool = False,
    ) -> EmulatedCall:
        """Ring the application: POST a signed ``realtime.call.incoming`` to ``webhook_url``.

        ``secret`` (``whsec_...``) signs it as the service would. A delivery that fails
        (no 2xx, no connection) is retried after each of ``retry_delays`` seconds with the
        same ``webhook-id``; ``duplicate_delivery`` delivers it once more after a success
        (webhooks are at-least-once). Returns once delivered (or given up: the call
        then ends, ``ended_by="webhook"``); the application answers through
        ``/v1/realtime/calls/{call_id}/accept`` and joins with ``?call_id=``. Once the
        sideband joined, ``caller(SimulatedCaller)`` plays the person on the phone.
        ``sip_headers`` replace the INVITE's default headers (built from the numbers).

        Raises:
            ValueError: ``secret`` is not a ``whsec_`` secret.
        """
        return await self._calls.place(
            webhook_url,
            secret=secret,
            caller=caller,
            from_number=from_number,
            to_number=to_number,
            sip_headers=sip_headers,
            sip_media_security=sip_media_security,
            retry_delays=retry_delays,
            duplicate_delivery=duplicate_delivery,
        )

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


def _session_factory(
    kind: ConnectionKind,
    config: dict[str, Any] | None,
    replay: ReplayScript | None,
) -> Callable[[Link], Session]:
    def make(link: Link) -> Session:
        if replay is not None:
            return ReplaySession(link, replay)
        if kind == "translation":
            from ._translation import TranslationSessionState

            return TranslationSessionState(link, config=config)
        from ._realtime import EmulatedSession

        return EmulatedSession(link, transcription=kind == "transcription", config=config)

    return make


def _call_session_factory(call: EmulatedCall) -> Callable[[Link], Session]:
    def make(link: Link) -> Session:
        assert isinstance(link, CallLink) and call.session is not None
        return CallSession(link, call=call, config=call.session)

    return make


def load_replay(replay: str | Path | Recording | None) -> Recording | None:
    """Read a recording to replay (a path) and check its kind.

    Raises:
        ValueError: not a trio_realtime recording, or of an unknown kind.
        OSError: the file cannot be read.
    """
    if replay is None or isinstance(replay, Recording):
        recording = replay
    else:
        recording = read_recording(replay)
    if recording is not None and recording.kind not in ("realtime", "transcription", "translation"):
        raise ValueError(
            f"cannot replay a recording of kind {recording.kind!r}: expected realtime,"
            " transcription or translation"
        )
    return recording


def _check_speed(replay_speed: float) -> None:
    if not replay_speed >= 0:
        raise ValueError(f"replay_speed must be >= 0, got {replay_speed}")


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
    retention: Retention = DEFAULT_RETENTION,
    replay: str | Path | Recording | None = None,
    replay_speed: float = 0.0,
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
    - ``retention``: what each connection keeps for inspection (:class:`Retention`): by
      default every event while it is open, audio as sizes, and the latest 16 closed
      connections; ``Retention(events=False)`` keeps counts and the timeline only, for
      long-running servers.
    - ``replay``: a recording (a JSONL path or a ``Recording``) every connection replays
      instead of running a session: the recorded server events, each client turn awaited
      and checked (``EmulatorConnection.replay_mismatches``). ``replay_speed``: 0 sends
      as fast as possible, 1.0 with the recorded gaps, 2.0 twice as fast.

    Raises:
        ValueError: ``replay`` is not a readable recording, or ``replay_speed`` < 0.
    """
    _check_speed(replay_speed)
    options = EmulatorOptions(
        api_key=api_key,
        brain=brain,
        ping_interval=ping_interval,
        audio_pace=audio_pace,
        session_max_s=session_max_s,
        retention=retention,
        replay=load_replay(replay),
        replay_speed=replay_speed,
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        bound = listeners[0].socket.getsockname()
        emulator = Emulator(str(bound[0]), int(bound[1]), options, faults or Faults())
        await nursery.start(
            functools.partial(
                trio.serve_listeners, emulator._serve_socket, listeners, handler_nursery=nursery
            )
        )
        log.info("Realtime emulator listening on %s", emulator.url)
        task_status.started(emulator)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


@contextlib.asynccontextmanager
async def open_emulator(
    *,
    api_key: str | None = None,
    brain: Brain | None = None,
    faults: Faults | None = None,
    ping_interval: float | None = 20.0,
    audio_pace: float | None = None,
    session_max_s: float = 3600.0,
    retention: Retention = DEFAULT_RETENTION,
    replay: str | Path | Recording | None = None,
    replay_speed: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[Emulator]:
    """Run a Realtime emulator for the duration of the block (options: :func:`serve_emulator`).

    Entering returns once it listens; leaving stops it and ends every connection.

    Raises:
        ValueError: ``replay`` is not a readable recording, or ``replay_speed`` < 0.
    """
    recording = load_replay(replay)
    _check_speed(replay_speed)
    body_exc: BaseException | None = None
    try:
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
                    retention=retention,
                    replay=recording,
                    replay_speed=replay_speed,
                    task_status=task_status,
                )
            )
            try:
                yield emulator
            except BaseException as exc:  # the caller's exception leaves unchanged, below
                body_exc = exc
            finally:
                nursery.cancel_scope.cancel("the emulator is closing")
    except BaseException as group:
        if body_exc is None:
            raise
        if not all(isinstance(e, trio.Cancelled) for e in _leaves(group)):
            raise
    if body_exc is not None:
        raise body_exc

"""Every transport behaves the same at the seam, judged by an independent server.

The same cases run on each transport: ``websockets`` on Trio, asyncio and uvloop, and
``trio-websocket`` on Trio, against the minimal server in ``tests/_wsserver.py`` (not the
emulator, which checks credentials after the upgrade as the service does); the in-memory
transport runs the cases it can express. HTTP 401/403 at the upgrade is
``AuthenticationError``; 404/429/5xx a ``ConnectError`` with ``status`` and the body's
message; close codes and reasons arrive as ``SessionClosed(code, reason)``; a message over
``max_message_size`` ends the session with 1009; a drop without a close frame is 1006. No
third-party exception ever leaves the block.
"""

from __future__ import annotations

import importlib.util
import json

import anyio
import pytest

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._transport._memory import MemoryServer

from ._wsserver import Peer, created, serve

UVLOOP = pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="no uvloop")

TRANSPORTS = [
    pytest.param("trio", "websockets", id="trio-websockets"),
    pytest.param("trio", "trio-websocket", id="trio-trio_websocket"),
    pytest.param("asyncio", "websockets", id="asyncio-websockets"),
    pytest.param(("asyncio", {"use_uvloop": True}), "websockets", id="uvloop", marks=UVLOOP),
]
pytestmark = pytest.mark.parametrize(("anyio_backend", "transport"), TRANSPORTS)


def _error_body(message: str) -> str:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}})


@pytest.mark.parametrize("status", [401, 403])
async def test_an_auth_status_at_the_upgrade_is_an_authentication_error(
    transport: str, status: int
) -> None:
    async def script(peer: Peer) -> None:
        await peer.reject(status, _error_body("Incorrect API key provided"))

    async with serve(script) as url:
        with pytest.raises(rt.AuthenticationError) as info:
            async with rt.open_realtime_session(url=url, api_key="sk-bad", transport=transport):
                pass  # pragma: no cover
    assert info.value.status == status
    assert "Incorrect API key provided" in str(info.value)
    assert "sk-bad" not in str(info.value)


@pytest.mark.parametrize("status", [404, 429, 500, 503])
async def test_another_status_at_the_upgrade_is_a_connect_error_with_status_and_message(
    transport: str, status: int
) -> None:
    async def script(peer: Peer) -> None:
        await peer.reject(status, _error_body(f"the reason for {status}"))

    async with serve(script) as url:
        with pytest.raises(rt.ConnectError) as info:
            async with rt.open_realtime_session(url=url, api_key="sk-test", transport=transport):
                pass  # pragma: no cover
    assert type(info.value) is rt.ConnectError
    assert info.value.status == status
    assert f"HTTP {status}: the reason for {status}" in str(info.value)


@pytest.mark.parametrize(
    ("code", "reason"), [(1011, "server_error"), (4000, "invalid_request_error.x"), (1001, "")]
)
async def test_a_close_code_and_reason_arrive_as_session_closed(
    transport: str, code: int, reason: str
) -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        await peer.close(code, reason)

    async with serve(script) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", transport=transport, heartbeat=None
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                async for _ in session:
                    pass
    assert (info.value.code, info.value.reason) == (code, reason)


async def test_a_normal_close_ends_iteration(transport: str) -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        await peer.close(1000)

    async with serve(script) as url:
        async with rt.open_realtime_session(
            url=url, api_key="sk-test", transport=transport, heartbeat=None
        ) as session:
            await session.send(ev.ResponseCreateEvent())
            seen = [event.type async for event in session]
    assert seen == ["session.created"]


async def test_a_message_over_the_limit_ends_the_session_with_1009(transport: str) -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        await peer.send({"type": "response.output_text.delta", "delta": "x" * 70_000})

    async with serve(script) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url,
                api_key="sk-test",
                transport=transport,
                heartbeat=None,
                max_message_size=65_536,
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                async for _ in session:
                    pass
    assert info.value.code == 1009


async def test_a_drop_without_a_close_frame_is_1006(transport: str) -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        await peer.drop()

    async with serve(script) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", transport=transport, heartbeat=None
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                async for _ in session:
                    pass
    assert info.value.code == 1006


async def test_a_refused_tcp_connection_is_a_connect_error(transport: str) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there any more
    with pytest.raises(rt.ConnectError) as info:
        async with rt.open_realtime_session(
            url=f"ws://127.0.0.1:{port}/v1/realtime", api_key="sk-test", transport=transport
        ):
            pass  # pragma: no cover
    assert info.value.status is None


# -- the in-memory transport: the cases it can express ---------------------------------------


@pytest.mark.parametrize(
    ("status", "error"), [(401, rt.AuthenticationError), (429, rt.ConnectError)]
)
async def test_the_memory_transport_maps_statuses_the_same_way(
    transport: str, status: int, error: type[rt.ConnectError]
) -> None:
    if transport != "websockets" or anyio_backend_name() != "trio":
        pytest.skip("one run is enough")
    server = MemoryServer()
    server.reject = (status, _error_body("nope"))
    with pytest.raises(error) as info:
        async with rt.open_realtime_session(api_key="sk-test", transport=server.connect):
            pass  # pragma: no cover
    assert info.value.status == status
    assert type(info.value) is error
    server.close()


async def test_the_memory_transport_reports_close_codes_the_same_way(transport: str) -> None:
    if transport != "websockets" or anyio_backend_name() != "trio":
        pytest.skip("one run is enough")
    server = MemoryServer(greeting=created())
    with pytest.raises(rt.SessionClosed) as info:
        async with rt.open_realtime_session(
            api_key="sk-test", transport=server.connect, heartbeat=None
        ) as session:
            server.peers[-1].close(4000, "invalid_request_error.x")
            async for _ in session:
                pass
    assert (info.value.code, info.value.reason) == (4000, "invalid_request_error.x")
    server.close()


def anyio_backend_name() -> str:
    import sniffio

    return sniffio.current_async_library()

"""A minimal Realtime server that misbehaves on purpose: ``websockets``' sans-I/O protocol over
an AnyIO loopback listener (port 0), written here and not by the library, so engine and
transport behaviour is judged by a peer the project's emulator does not share code with.

A test gives a *script*: an async function that plays the server side of one connection
with a :class:`Peer` (send events, close with a code, drop the TCP connection, send an
oversize frame, reject the upgrade with an HTTP status). It runs on Trio and asyncio.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
from anyio.abc import SocketStream, TaskGroup
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

__all__ = ["Peer", "Script", "created", "serve"]


class Peer:
    """The server's side of one connection."""

    def __init__(self, stream: SocketStream, protocol: ServerProtocol, tasks: TaskGroup) -> None:
        self.stream = stream
        self.protocol = protocol
        self.request: Request | None = None
        self.received: list[dict[str, Any]] = []
        """Client events received (parsed JSON)."""
        self.client_closed = anyio.Event()
        """The client's close frame arrived (or the connection ended)."""
        self.accepted = False
        self.dropped = False
        self._tasks = tasks
        self._arrived = anyio.Event()

    async def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data and not self.dropped:
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.stream.send(data)

    async def handshake(self) -> Request:
        while self.request is None:
            self.protocol.receive_data(await self.stream.receive())
            for event in self.protocol.events_received():
                if isinstance(event, Request):
                    self.request = event
        return self.request

    async def accept(self, first: dict[str, Any] | None = None) -> None:
        """Accept the upgrade, start reading the client, and send ``first`` (if given)."""
        assert self.request is not None
        self.protocol.send_response(self.protocol.accept(self.request))
        await self._flush()
        self.accepted = True
        self._tasks.start_soon(self.read_until_closed)
        if first is not None:
            await self.send(first)

    async def reject(self, status: int, body: str) -> None:
        """Answer the upgrade with an HTTP status and a body, then close the socket."""
        self.protocol.send_response(self.protocol.reject(status, body))
        await self._flush()
        self.dropped = True
        await self.stream.aclose()

    async def send(self, event: dict[str, Any] | str) -> None:
        text = event if isinstance(event, str) else json.dumps(event)
        self.protocol.send_text(text.encode())
        await self._flush()

    async def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        await self._flush()

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame; the client's reply sets :attr:`client_closed`."""
        self.protocol.send_close(code, reason)
        await self._flush()

    async def drop(self) -> None:
        """End the TCP connection without a close frame (the client sees 1006)."""
        self.dropped = True
        await self.stream.aclose()

    async def wait_for(self, kind: str) -> dict[str, Any]:
        """Wait for the client event of type ``kind``."""
        while True:
            for event in self.received:
                if event.get("type") == kind:
                    return event
            self._arrived = anyio.Event()
            await self._arrived.wait()

    async def read_until_closed(self) -> None:
        """Read the client's frames (answering pings and the close) until the socket ends."""
        try:
            while True:
                data = await self.stream.receive()
                self.protocol.receive_data(data)
                for event in self.protocol.events_received():
                    if isinstance(event, Frame):
                        if event.opcode is Opcode.TEXT:
                            self.received.append(json.loads(event.data))
                            self._arrived.set()
                        elif event.opcode is Opcode.CLOSE:
                            self.client_closed.set()
                await self._flush()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.client_closed.set()
            self._arrived.set()


Script = Callable[[Peer], Awaitable[None]]
"""Plays the server's side of one connection (after the upgrade request was read)."""


async def _handle(stream: SocketStream, script: Script) -> None:
    async with stream, anyio.create_task_group() as tasks:
        peer = Peer(stream, ServerProtocol(max_size=None), tasks)
        await peer.handshake()
        await script(peer)
        if peer.accepted and not peer.dropped:
            with anyio.move_on_after(10):
                await peer.client_closed.wait()
        tasks.cancel_scope.cancel()


def created(session_id: str = "sess_indep") -> dict[str, Any]:
    """The ``session.created`` a realtime session expects first."""
    return {
        "type": "session.created",
        "event_id": "event_created",
        "session": {"type": "realtime", "object": "realtime.session", "id": session_id},
    }


@asynccontextmanager
async def serve(script: Script) -> AsyncIterator[str]:
    """Serve ``script`` on every connection; yields the ``ws://`` URL to connect to."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tasks:

        async def handler(stream: SocketStream) -> None:
            await _handle(stream, script)

        tasks.start_soon(listener.serve, handler)
        try:
            yield f"ws://127.0.0.1:{port}/v1/realtime"
        finally:
            tasks.cancel_scope.cancel()

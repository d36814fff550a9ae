"""An in-memory transport whose server side a test plays by hand.

For engine tests that are about time and ordering (mock clock, no sockets): the test
accepts each connection as a :class:`MemoryPeer`, sends server frames, reads client
frames, stalls pings, closes with any code, or dies without a close frame.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from .._errors import ConnectError
from ._base import ConnectRequest, Transport, TransportClosed, upgrade_refused

__all__ = ["MemoryPeer", "MemoryServer", "MemoryTransport"]


class MemoryPeer:
    """The server end of one in-memory connection, driven by a test."""

    def __init__(self, request: ConnectRequest, buffer: int) -> None:
        self.request = request
        to_client = anyio.create_memory_object_stream[str | bytes](buffer)
        self._to_client_send, self._to_client_receive = to_client
        to_server = anyio.create_memory_object_stream[str](buffer)
        self._to_server_send, self._to_server_receive = to_server
        self.answer_pings = True
        """While False, pings stay unanswered (a silent peer)."""
        self.answer_close = True
        """While False, the client's close frame is never answered."""
        self.pings_received = 0
        self.client_close: tuple[int, str] | None = None
        """The code and reason of the client's close frame, once it came."""
        self.server_close: tuple[int, str] | None = None
        self.closed = anyio.Event()
        """Set when either side closed or aborted the connection."""
        self._unstalled = anyio.Event()

    async def send(self, event: dict[str, Any] | str | bytes) -> None:
        """Send one frame to the client (a dict is sent as JSON text); waits while full."""
        frame = json.dumps(event) if isinstance(event, dict) else event
        await self._to_client_send.send(frame)

    def send_nowait(self, event: dict[str, Any] | str | bytes) -> None:
        """Send one frame without waiting. Raises anyio.WouldBlock when the buffer is full."""
        frame = json.dumps(event) if isinstance(event, dict) else event
        self._to_client_send.send_nowait(frame)

    async def receive(self) -> dict[str, Any]:
        """Receive the next client frame, decoded."""
        result: dict[str, Any] = json.loads(await self._to_server_receive.receive())
        return result

    def receive_nowait(self) -> dict[str, Any]:
        """Receive the next client frame without waiting. Raises anyio.WouldBlock."""
        result: dict[str, Any] = json.loads(self._to_server_receive.receive_nowait())
        return result

    def pending(self) -> int:
        """How many client frames are waiting to be received."""
        return self._to_server_receive.statistics().current_buffer_used

    def client_waiting_to_send(self) -> int:
        """How many client tasks are blocked sending into a full buffer."""
        return self._to_server_send.statistics().tasks_waiting_send

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server side; the client sees it after the frames already sent."""
        self.server_close = (code, reason)
        self._to_client_send.close()
        self.closed.set()

    def drop(self) -> None:
        """Die without a close frame (the client sees code 1006)."""
        self.close(1006, "")

    def stall(self) -> None:
        """Stop answering pings."""
        self.answer_pings = False

    def resume(self) -> None:
        """Answer pings again."""
        self.answer_pings = True
        self._unstalled.set()
        self._unstalled = anyio.Event()


class MemoryTransport:
    """The client end of an in-memory connection."""

    def __init__(self, peer: MemoryPeer) -> None:
        self._peer = peer

    async def send_text(self, text: str) -> None:
        if self._peer.closed.is_set():
            raise TransportClosed(*(self._peer.server_close or (1006, "")))
        try:
            await self._peer._to_server_send.send(text)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise TransportClosed(1006) from None

    send_pending = False

    def try_send_text(self, text: str) -> bool:
        if self._peer.closed.is_set():
            return False
        try:
            self._peer._to_server_send.send_nowait(text)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    async def flush(self) -> None:
        await anyio.lowlevel.checkpoint()

    def set_receiver(self, receiver: Callable[[str | bytes], bool] | None) -> None:
        pass  # receive() only

    async def receive(self) -> str | bytes:
        try:
            return await self._peer._to_client_receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportClosed(*(self._peer.server_close or (1006, ""))) from None

    async def ping(self) -> None:
        self._peer.pings_received += 1
        while not self._peer.answer_pings:
            await self._peer._unstalled.wait()
        await anyio.lowlevel.checkpoint()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        if self._peer.client_close is None and not self._peer.closed.is_set():
            self._peer.client_close = (code, reason)
        while not self._peer.answer_close:
            await anyio.sleep_forever()
        self._peer.closed.set()
        self._peer._to_client_send.close()

    async def abort(self) -> None:
        self._peer.closed.set()
        self._peer._to_client_send.close()
        self._peer._to_server_send.close()
        await anyio.lowlevel.checkpoint()


class MemoryServer:
    """Accepts in-memory connections: pass ``server.connect`` as ``transport=``.

    ``refuse`` makes the next connects fail with ``ConnectError``; ``reject`` (an HTTP
    status and a body) answers them as a server refusing the upgrade would.
    """

    def __init__(self, buffer: int = 16, *, greeting: dict[str, Any] | None = None) -> None:
        self._buffer = buffer
        self.greeting = greeting
        """A first frame every new connection sends at once (e.g. ``session.created``)."""
        send, receive = anyio.create_memory_object_stream[MemoryPeer](100)
        self._accepted_send, self._accepted = send, receive
        self.peers: list[MemoryPeer] = []
        self.refuse: Exception | None = None
        self.reject: tuple[int, str] | None = None

    @asynccontextmanager
    async def connect(self, request: ConnectRequest) -> AsyncIterator[Transport]:
        """The transport factory."""
        await anyio.lowlevel.checkpoint()
        if self.refuse is not None:
            raise ConnectError(str(self.refuse)) from self.refuse
        if self.reject is not None:
            raise upgrade_refused(*self.reject)
        peer = MemoryPeer(request, self._buffer)
        self.peers.append(peer)
        if self.greeting is not None:
            peer.send_nowait(self.greeting)
        self._accepted_send.send_nowait(peer)
        try:
            yield MemoryTransport(peer)
        finally:
            peer._to_client_receive.close()
            peer._to_server_send.close()

    async def accept(self) -> MemoryPeer:
        """Wait for the next connection."""
        return await self._accepted.receive()

    def close(self) -> None:
        """Release the accept queue and every peer's streams."""
        self._accepted_send.close()
        self._accepted.close()
        for peer in self.peers:
            peer._to_client_send.close()
            peer._to_server_receive.close()

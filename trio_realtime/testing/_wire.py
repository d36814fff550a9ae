"""The byte stream under each emulated WebSocket: fault switches and a frame tap.

trio-websocket answers close frames and pings by itself and reads as fast as it can;
faults need to stop that. :class:`TapStream` sits between trio-websocket and the socket:
it can stop reading (a stall), swallow the answer to the client's close frame
(``ignore_close``), cut
the connection, and it watches the client's frames go by to record the client's close
code and reason and count pongs exactly.
"""

from __future__ import annotations

import itertools
import socket as stdlib_socket
import struct
from collections.abc import Callable

import trio

__all__ = ["FrameSniffer", "TapStream"]

_CLOSE, _PING, _PONG = 0x8, 0x9, 0xA
_SERVER_CLOSE_FRAME = 0x88
"""First byte of a server close frame: FIN + opcode 8 (server frames are unmasked)."""
_PEER_GONE_POLL_S = 0.2
_TCP_CLOSE_STATES = frozenset({7, 8, 9})  # TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LAST_ACK (Linux)


class FrameSniffer:
    """Follows the client's byte stream frame by frame, skipping payloads.

    Records the client's close frame (code and reason) and counts pongs; it parses
    only headers and control-frame payloads, so it costs little per read.
    """

    def __init__(self) -> None:
        self._in_http = True
        self._http_tail = b""
        self._header = bytearray()
        self._skip = 0
        self._control: bytearray | None = None
        self._control_need = 0
        self._control_opcode = 0
        self._control_mask = b""
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.close_received = False
        self.pongs = 0
        self.pings = 0

    def feed(self, data: bytes | bytearray) -> None:
        """Account for bytes the client sent."""
        position = 0
        if self._in_http:
            joined = self._http_tail + data
            end = joined.find(b"\r\n\r\n")
            if end < 0:
                self._http_tail = joined[-3:]
                return
            self._in_http = False
            position = end + 4 - len(self._http_tail)
            self._http_tail = b""
        size = len(data)
        while position < size:
            if self._skip:
                step = min(self._skip, size - position)
                self._skip -= step
                position += step
            elif self._control is not None:
                step = min(self._control_need - len(self._control), size - position)
                self._control += data[position : position + step]
                position += step
                if len(self._control) == self._control_need:
                    self._control_frame()
            else:
                self._header.append(data[position])
                position += 1
                self._parse_header()

    def _parse_header(self) -> None:
        header = self._header
        if len(header) < 2:
            return
        length = header[1] & 0x7F
        masked = header[1] & 0x80
        need = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if masked else 0)
        if len(header) < need:
            return
        if length == 126:
            length = struct.unpack_from("!H", header, 2)[0]
        elif length == 127:
            length = struct.unpack_from("!Q", header, 2)[0]
        opcode = header[0] & 0x0F
        mask = bytes(header[need - 4 : need]) if masked else b""
        self._header = bytearray()
        if opcode >= _CLOSE:
            self._control_opcode = opcode
            self._control_mask = mask
            self._control_need = length
            self._control = bytearray()
            if length == 0:
                self._control_frame()
        else:
            self._skip = length

    def _control_frame(self) -> None:
        assert self._control is not None
        payload = self._control
        if self._control_mask:
            mask = self._control_mask
            payload = bytearray(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        if self._control_opcode == _CLOSE and not self.close_received:
            self.close_received = True
            if len(payload) >= 2:
                self.close_code = struct.unpack_from("!H", payload)[0]
                self.close_reason = bytes(payload[2:]).decode("utf-8", "replace")
            else:
                self.close_code = 1005
                self.close_reason = ""
        elif self._control_opcode == _PONG:
            self.pongs += 1
        elif self._control_opcode == _PING:
            self.pings += 1
        self._control = None


class TapStream(trio.abc.Stream):
    """A stream wrapper with fault switches and a :class:`FrameSniffer` on the way in."""

    _numbers = itertools.count(1)

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.sniffer = FrameSniffer()
        self.number = next(self._numbers)
        self.should_ignore_close: Callable[[], bool] = lambda: False
        self.close_swallowed = False
        self.stalled = False
        self.closing = False
        self.closed = trio.Event()
        self._unstall = trio.Event()
        self._unread = b""

    def __repr__(self) -> str:
        return f"<trio_realtime emulator stream #{self.number}>"

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._unread and not self.stalled:
            size = len(self._unread) if max_bytes is None else max_bytes
            unread, self._unread = self._unread[:size], self._unread[size:]
            await trio.lowlevel.checkpoint()
            return unread
        if not self.stalled:
            data = await self.stream.receive_some(max_bytes)
            if not self.stalled:
                if data:
                    self.sniffer.feed(data)
                return bytes(data)
        await self._unstall.wait()
        return b""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if (
            self.sniffer.close_received
            and self.should_ignore_close()
            and data[:1] == bytes([_SERVER_CLOSE_FRAME])
        ):
            self.close_swallowed = True
            await trio.lowlevel.checkpoint()
            return
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self.closing = True
        try:
            if self.close_swallowed:
                await self._drain_until_peer_closes()
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self.stream)
            self.closed.set()

    def unread(self, data: bytes) -> None:
        """Put bytes already received (and sniffed) back, to be received again first."""
        self._unread = bytes(data) + self._unread

    def stall(self) -> None:
        """Stop reading: pending and future reads wait until the peer is gone."""
        self.stalled = True

    async def wait_peer_gone(self) -> None:
        """While stalled, return once the peer has closed or reset the TCP connection.

        Nothing is read (the client's data stays unread so its writes back up), so this
        polls the socket's TCP state where the platform reports it.
        """
        sock = getattr(self.stream, "socket", None)
        while True:
            await trio.sleep(_PEER_GONE_POLL_S)
            if sock is None or _peer_gone(sock):
                self._unstall.set()
                return

    async def abort(self) -> None:
        """Cut the TCP connection without a close frame."""
        self._unstall.set()
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self.stream)

    async def _drain_until_peer_closes(self) -> None:
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            self.sniffer.feed(data)


def _peer_gone(sock: trio.socket.SocketType) -> bool:
    try:
        with stdlib_socket.fromfd(sock.fileno(), sock.family, sock.type) as probe:
            peeked = probe.recv(1, stdlib_socket.MSG_PEEK | stdlib_socket.MSG_DONTWAIT)
    except BlockingIOError:
        peeked = None
    except OSError:
        return True
    if peeked == b"":
        return True
    tcp_info = getattr(stdlib_socket, "TCP_INFO", None)
    if tcp_info is None:
        return False
    try:
        state = sock.getsockopt(stdlib_socket.IPPROTO_TCP, tcp_info, 1)
    except OSError:
        return False
    return bool(state) and state[0] in _TCP_CLOSE_STATES

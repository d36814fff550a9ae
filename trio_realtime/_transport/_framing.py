"""WebSocket data frames for the ``websockets`` transport: received ones split and decoded
here, sent ones built here; every other frame is ``websockets``' protocol's.

Sans-I/O. :class:`Framing` splits the received byte stream into frames itself and decodes
the frame every Realtime message is (one unfragmented text frame) on the spot: one
UTF-8 decode from the buffer the socket filled, nothing else. Every other frame (pings,
pongs, the close, fragments, anything malformed or over the size limit) goes whole to
``websockets``' protocol, which owns the connection's state and every protocol error and
close code. Bytes after the upgrade response go the same way. :func:`text_frame` builds
a client's text frame (masked, as RFC 6455 requires) for a message the transport sends.

Invariants (tested in ``tests/test_framing.py`` against ``websockets``' own parser):

- **one order**: messages come out in the order their frames arrived, whichever path
  decoded them; the protocol always sees whole frames, so it is at a frame boundary
  whenever a frame is decoded here;
- **the same verdicts**: a frame is decoded here only when ``websockets`` would accept it
  as a whole message (FIN, no reserved bits, unmasked, text or binary, within the size
  limit, not inside a fragmented message, the connection open); invalid UTF-8 fails the
  connection with 1007 as it would. Once the protocol is not open, every byte goes to it.
"""

from __future__ import annotations

import logging
import os
import struct
from collections import deque
from collections.abc import Callable, Sequence

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # a build without the C extension
    from websockets.utils import apply_mask

__all__ = ["Framing", "text_frame"]

logger = logging.getLogger("trio_realtime.transport")

_OPEN = State.OPEN
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_PONG = Opcode.PONG
_WHOLE_TEXT = 0x81
"""First byte of a frame decoded here: FIN, no reserved bits, text."""
_WHOLE_BINARY = 0x82
_MASKED = 0x80
_INVALID_DATA = 1007
_END_OF_HEAD = b"\r\n\r\n"


class Framing:
    """The received byte stream of one connection, as whole messages in :attr:`messages`.

    Feed it what the socket read (:meth:`feed`, :meth:`feed_eof`); take messages from
    the left of :attr:`messages`. ``on_pong`` gets each pong's payload.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        max_size: int | None,
        on_pong: Callable[[bytes], None],
    ) -> None:
        self._protocol = protocol
        self._max_size = max_size
        self._on_pong = on_pong
        self.messages: deque[str | bytes] = deque()
        """Whole messages, oldest first, not yet taken."""
        self._tail = b""
        """The start of a frame not wholly received yet."""
        self._head: bytes | None = b""
        """The upgrade response so far; None once it went to the protocol."""
        self._fragments: list[bytes | bytearray | memoryview] = []
        """The parts of a fragmented message (only the protocol decodes those)."""
        self._fragmented_text = False

    def feed(self, data: bytes) -> None:
        """Take bytes read from the connection; whole messages land in :attr:`messages`."""
        if self._head is not None:
            self._feed_head(data)
            return
        if self._tail:
            data = self._tail + data
            self._tail = b""
        protocol = self._protocol
        if protocol.state is not _OPEN:
            self._delegate(data)
            return
        messages = self.messages
        max_size = self._max_size
        view = memoryview(data)
        end = len(data)
        pos = 0
        while end - pos >= 2:
            first = data[pos]
            length = data[pos + 1]
            start = pos + 2
            if length >= 126:
                if length == 126:
                    start += 2
                    if start > end:
                        break
                    length = (data[pos + 2] << 8) | data[pos + 3]
                elif length == 127:
                    start += 8
                    if start > end:
                        break
                    length = int.from_bytes(data[pos + 2 : start], "big")
                else:  # masked (a server must not mask): the protocol says so
                    self._delegate(data[pos:])
                    return
            if max_size is not None and length > max_size:
                self._delegate(data[pos:])  # the protocol closes 1009
                return
            stop = start + length
            if stop > end:
                break
            if first == _WHOLE_TEXT and not self._fragments:
                try:
                    messages.append(str(view[start:stop], "utf-8"))
                except UnicodeDecodeError as exc:
                    self._fail_invalid_text(exc)
                    self._delegate(data[stop:])
                    return
            elif first == _WHOLE_BINARY and not self._fragments:
                messages.append(bytes(view[start:stop]))
            else:
                self._delegate(data[pos:stop])
                if protocol.state is not _OPEN:
                    self._delegate(data[stop:])
                    return
            pos = stop
        if pos < end:
            self._tail = data[pos:]

    def feed_eof(self) -> None:
        """The connection's byte stream ended (a partial frame left is the protocol's)."""
        if self._head:
            self._protocol.receive_data(self._head)
        self._head = None
        if self._tail:
            self._protocol.receive_data(self._tail)
            self._tail = b""
        self._protocol.receive_eof()
        self._process(self._protocol.events_received())

    def _feed_head(self, data: bytes) -> None:
        """Before the upgrade response is whole: the protocol reads it, frames after it
        are split here (a refusal's body goes to the protocol too)."""
        assert self._head is not None
        head = self._head + data
        cut = head.find(_END_OF_HEAD)
        if cut < 0:
            self._head = head
            return
        cut += len(_END_OF_HEAD)
        self._head = None
        self._protocol.receive_data(head[:cut])
        self._process(self._protocol.events_received())
        if head[cut:]:
            self.feed(head[cut:])

    def _delegate(self, data: bytes | memoryview) -> None:
        """Whole frames (or everything, once it is not open) for ``websockets``' protocol."""
        if not data:
            return
        protocol = self._protocol
        protocol.receive_data(bytes(data))
        events = protocol.events_received()
        if events:
            self._process(events)

    def _process(self, events: Sequence[object]) -> None:
        """The protocol's frames as messages (reassembling fragments); pongs reported."""
        messages = self.messages
        for frame in events:
            if not isinstance(frame, Frame):
                continue  # the upgrade's Response
            opcode = frame.opcode
            if opcode is _TEXT and frame.fin:
                try:
                    messages.append(str(frame.data, "utf-8"))
                except UnicodeDecodeError as exc:
                    self._fail_invalid_text(exc)
                    return
            elif opcode is _BINARY and frame.fin:
                messages.append(bytes(frame.data))
            elif opcode is _TEXT or opcode is _BINARY:
                self._fragments = [frame.data]
                self._fragmented_text = opcode is _TEXT
            elif opcode is _CONT:
                self._fragments.append(frame.data)
                if frame.fin:
                    whole = b"".join(self._fragments)
                    self._fragments = []
                    if not self._fragmented_text:
                        messages.append(whole)
                        continue
                    try:
                        messages.append(str(whole, "utf-8"))
                    except UnicodeDecodeError as exc:
                        self._fail_invalid_text(exc)
                        return
            elif opcode is _PONG:
                self._on_pong(bytes(frame.data))

    def _fail_invalid_text(self, exc: UnicodeDecodeError) -> None:
        logger.warning("the server sent a text message that is not UTF-8: %s", exc.reason)
        self._protocol.fail(_INVALID_DATA, "invalid UTF-8 in a text message")
        self._protocol.parser_exc = exc


_MASKS_AT_ONCE = 1024
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


class _MaskingKeys:
    """Masking keys from the OS's CSPRNG (RFC 6455 5.3: unpredictable), drawn 1024 at a
    time rather than with a system call per frame."""

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0

    def take(self) -> bytes:
        at = self._next
        if at == len(self._pool):
            self._pool = os.urandom(4 * _MASKS_AT_ONCE)
            at = 0
        self._next = at + 4
        return self._pool[at : at + 4]


_keys = _MaskingKeys()


def text_frame(payload: bytes) -> bytes:
    """One whole, masked client text frame of ``payload`` (UTF-8), ready for the wire."""
    size = len(payload)
    if size < 126:
        head = bytes((0x81, 0x80 | size))
    elif size < 65536:
        head = _HEAD_16(0x81, 0x80 | 126, size)
    else:
        head = _HEAD_64(0x81, 0x80 | 127, size)
    key = _keys.take()
    return b"".join((head, key, apply_mask(payload, key)))

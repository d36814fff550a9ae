"""The receive side of the ``websockets`` transport against ``websockets``' own parser.

:class:`~trio_realtime._transport._framing.Framing` decodes whole text and binary frames
itself and gives every other frame to ``websockets``' protocol. These tests feed it byte
streams (the upgrade response, then frames well formed or not) cut into arbitrary
chunks, and feed the same bytes to a bare ``websockets`` client protocol (the oracle):
the messages, their order, the pongs, the frames the client answers with and the close
code must all be the same. No sockets.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings, strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from trio_realtime._transport._framing import Framing, text_frame

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_SIZE = 4096


def _connected(max_size: int = MAX_SIZE) -> tuple[ClientProtocol, bytes]:
    """A client protocol that sent its upgrade request, and the server's 101 for it."""
    protocol = ClientProtocol(parse_uri("ws://localhost/v1"), max_size=max_size)
    request = protocol.connect()
    protocol.send_request(request)
    protocol.data_to_send()
    key = request.headers["Sec-WebSocket-Key"].encode()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    return protocol, response


@dataclass
class Outcome:
    """What a receiver made of a byte stream."""

    messages: list[str | bytes] = field(default_factory=list)
    pongs: list[bytes] = field(default_factory=list)
    answered: int = 0
    """Bytes the client wrote back (pongs, its close): their masks differ, not their size."""
    state: State = State.CONNECTING
    close_code: int | None = None


def through_framing(chunks: list[bytes], eof: bool, max_size: int = MAX_SIZE) -> Outcome:
    protocol, response = _connected(max_size)
    outcome = Outcome()
    framing = Framing(protocol, max_size, outcome.pongs.append)
    for chunk in [response, *chunks]:
        framing.feed(chunk)
        outcome.messages.extend(framing.messages)
        framing.messages.clear()
    if eof:
        framing.feed_eof()
        outcome.messages.extend(framing.messages)
    return _finish(outcome, protocol)


def through_websockets(chunks: list[bytes], eof: bool, max_size: int = MAX_SIZE) -> Outcome:
    """The oracle: websockets parses everything, fragments reassembled as the RFC says."""
    protocol, response = _connected(max_size)
    outcome = Outcome()
    fragments: list[bytes] = []
    text = False
    failed = False

    def take() -> None:
        nonlocal fragments, text, failed
        for frame in protocol.events_received():
            if not isinstance(frame, Frame) or failed:
                continue
            if frame.opcode is Opcode.PONG:
                outcome.pongs.append(bytes(frame.data))
                continue
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                fragments, text = [bytes(frame.data)], frame.opcode is Opcode.TEXT
            elif frame.opcode is Opcode.CONT:
                fragments.append(bytes(frame.data))
            else:
                continue
            if frame.fin:
                whole = b"".join(fragments)
                if not text:
                    outcome.messages.append(whole)
                    continue
                try:
                    outcome.messages.append(whole.decode())
                except UnicodeDecodeError:
                    protocol.fail(1007, "invalid UTF-8 in a text message")
                    failed = True

    for chunk in [response, *chunks]:
        protocol.receive_data(chunk)
        take()
    if eof:
        protocol.receive_eof()
        take()
    return _finish(outcome, protocol)


def _finish(outcome: Outcome, protocol: ClientProtocol) -> Outcome:
    outcome.answered = sum(map(len, protocol.data_to_send()))
    outcome.state = protocol.state
    close = protocol.close_sent
    outcome.close_code = None if close is None else close.code
    return outcome


# -- streams of frames --------------------------------------------------------------------


def frame(opcode: Opcode, data: bytes, fin: bool = True, reserved: int = 0) -> bytes:
    """A server frame; ``reserved`` is OR-ed into the first byte (RSV bits: 0x70)."""
    raw = Frame(opcode, data, fin).serialize(mask=False)
    return bytes([raw[0] | reserved]) + raw[1:]


payloads = st.binary(max_size=300) | st.binary(min_size=126, max_size=MAX_SIZE)
texts = st.text(max_size=200).map(str.encode) | st.builds(
    lambda n: json.dumps({"type": "response.output_audio.delta", "delta": "A" * n}).encode(),
    st.integers(100, 3000),
)


@st.composite
def messages(draw: st.DrawFn) -> list[bytes]:
    """One well-formed message's frames: one, or fragments with control frames between."""
    text = draw(st.booleans())
    data = draw(texts if text else payloads)
    opcode = Opcode.TEXT if text else Opcode.BINARY
    if draw(st.booleans()):
        return [frame(opcode, data)]
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), min_size=1, max_size=4)))
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    out = [frame(opcode, parts[0], fin=False)]
    for i, part in enumerate(parts[1:], start=1):
        if draw(st.booleans()):
            out.append(frame(Opcode.PING, draw(st.binary(max_size=8))))
        out.append(frame(Opcode.CONT, part, fin=i == len(parts) - 1))
    return out


controls = st.builds(lambda d: [frame(Opcode.PING, d)], st.binary(max_size=125)) | st.builds(
    lambda d: [frame(Opcode.PONG, d)], st.binary(max_size=125)
)
faults = st.sampled_from(
    [
        frame(Opcode.TEXT, b"\xff\xfe not utf-8"),  # 1007
        frame(Opcode.TEXT, b"x" * (MAX_SIZE + 1)),  # 1009
        frame(Opcode.CONT, b"no start"),  # 1002
        frame(Opcode.TEXT, b"{}", reserved=0x40),  # 1002: no extension negotiated
        Frame(Opcode.TEXT, b'{"masked": true}').serialize(mask=True),  # 1002
        frame(Opcode.TEXT, b"open", fin=False),  # then a text frame: 1002
        frame(Opcode.TEXT, b"open", fin=False) + frame(Opcode.CLOSE, b""),  # 1002
        bytes([0x83, 0]),  # a reserved opcode: 1002
        frame(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"bye"),
        frame(Opcode.CLOSE, (4001).to_bytes(2, "big")),
    ]
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[bytes], bool]:
    """Frames (messages, controls, maybe one fault and more after it), the same bytes cut
    anywhere, and whether the stream ends."""
    parts = draw(st.lists(messages() | controls, max_size=12))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), [draw(faults)])
    frames = [one for part in parts for one in part]
    data = b"".join(frames)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return frames, [chunk for chunk in chunks if chunk], draw(st.booleans())


@settings(max_examples=400, deadline=None)
@given(streams())
def test_framing_agrees_with_websockets_on_any_stream_cut_anywhere(
    stream: tuple[list[bytes], list[bytes], bool],
) -> None:
    # The oracle reads frame by frame, so it stops at a bad frame as a reader must.
    frames, chunks, eof = stream
    assert through_framing(chunks, eof) == through_websockets(frames, eof)


# -- cases a user relies on, spelled out ---------------------------------------------------


def test_many_messages_in_one_read_come_out_in_order_with_pongs_answered() -> None:
    data = frame(Opcode.TEXT, b"a") + frame(Opcode.PING, b"p") + frame(Opcode.BINARY, b"b")
    data += frame(Opcode.TEXT, "é".encode() * 100) + frame(Opcode.PONG, b"q")
    outcome = through_framing([data], eof=False)
    assert outcome.messages == ["a", b"b", "é" * 100]
    assert outcome.pongs == [b"q"]
    assert outcome.answered == 2 + 4 + 1  # the pong for "p", masked
    assert outcome == through_websockets([data], eof=False)  # no fault: chunks alike


def test_a_frame_arriving_with_the_upgrade_response_and_split_over_reads() -> None:
    protocol, response = _connected()
    framing = Framing(protocol, MAX_SIZE, lambda payload: None)
    data = frame(Opcode.TEXT, b"x" * 1000)
    framing.feed(response + data[:3])  # the response and the start of a frame together
    assert protocol.state is State.OPEN
    assert not framing.messages
    framing.feed(data[3:500])
    assert not framing.messages
    framing.feed(data[500:])
    assert list(framing.messages) == ["x" * 1000]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(Opcode.TEXT, b"\xc3\x28"), 1007),
        (frame(Opcode.TEXT, b"x" * (MAX_SIZE + 1)), 1009),
        (frame(Opcode.TEXT, b"{}", reserved=0x20), 1002),
        (Frame(Opcode.TEXT, b"{}").serialize(mask=True), 1002),
    ],
    ids=["bad-utf8", "too-big", "reserved-bit", "masked"],
)
def test_a_bad_frame_after_good_ones_keeps_them_and_closes_with_its_code(
    data: bytes, code: int
) -> None:
    good = frame(Opcode.TEXT, b'{"n": 1}')
    outcome = through_framing([good + data + good], eof=False)
    assert outcome.messages == ['{"n": 1}']
    assert outcome.close_code == code
    assert outcome.state is State.CLOSING
    assert outcome == through_websockets([good, data, good], eof=False)


def test_a_refused_upgrade_body_reaches_the_protocol() -> None:
    protocol, _ = _connected()
    framing = Framing(protocol, MAX_SIZE, lambda payload: None)
    body = b'{"error": {"message": "bad key"}}'
    head = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n" % len(body)
    framing.feed(head + body[:5])
    assert protocol.handshake_exc is None  # the body is not whole yet
    framing.feed(body[5:])
    assert protocol.handshake_exc is not None
    assert bytes(protocol.handshake_exc.response.body) == body  # type: ignore[attr-defined]


# -- the frames the client sends ----------------------------------------------------------


def _upgraded_server() -> ServerProtocol:
    client = ClientProtocol(parse_uri("ws://localhost/v1"))
    client.send_request(client.connect())
    server = ServerProtocol(max_size=None)
    server.receive_data(b"".join(client.data_to_send()))
    (request,) = server.events_received()
    server.send_response(server.accept(request))  # type: ignore[arg-type]
    assert server.state is State.OPEN
    return server


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(max_size=70_000)
        | st.sampled_from(["", "x" * 125, "x" * 126, "x" * 65535, "x" * 65536]),
        min_size=1,
        max_size=4,
    )
)
def test_a_server_reads_the_text_frames_built_here(texts: list[str]) -> None:
    server = _upgraded_server()
    frames = [text_frame(text.encode()) for text in texts]
    server.receive_data(b"".join(frames))
    received = [frame for frame in server.events_received() if isinstance(frame, Frame)]
    assert [(f.opcode, f.fin, f.data.decode()) for f in received] == [
        (Opcode.TEXT, True, text) for text in texts
    ]
    assert server.close_sent is None  # masked as a client must, nothing refused


def test_every_frame_gets_its_own_masking_key() -> None:
    keys = {text_frame(b"same")[2:6] for _ in range(3000)}  # past one draw of 1024
    assert len(keys) > 2990  # 4 random bytes: a collision or two at most

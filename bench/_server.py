"""The benchmarks' streaming server: a minimal Realtime-shaped WebSocket server.

Runs in a process of its own (``python bench/_server.py [--cpu N]``; it prints its port
on the first line), so its CPU is never the client's. asyncio with a hand-written
WebSocket framing: server frames are unmasked (building one is a header and a
concatenation), client frames are parsed only far enough to count them and to answer
pings and the close. Its cost per event is a few microseconds, so one core of it serves
thousands of real-time sessions.

What a connection gets is chosen by the URL path, ``/cfg/<spec>/v1/realtime`` (the
clients append ``/realtime`` to a base URL): ``<spec>`` is ``_``-separated letters and
numbers, e.g. ``a100_p100_s20``:

- ``a<ms>``: each audio delta carries ``ms`` of 24 kHz PCM16 (0: no audio deltas);
- ``p<ms>``: one audio delta every ``ms`` (0: as fast as the socket takes them,
  honouring TCP flow control);
- ``s<ms>``: one small ``response.output_audio_transcript.delta`` every ``ms`` (0: none);
- ``b<bytes>``: stop streaming after this many bytes of events; ``c1``: then close 1000;
- ``j1``: start each connection's streams at a random phase within a period (many
  connections then do not send in lockstep).

Every event embeds, as extra fields the parsers keep: ``bench_ts``, ``time.monotonic_ns()``
taken just before the frame is written (CLOCK_MONOTONIC: the same clock in every process
on the machine); ``bench_due``, when the schedule wanted it sent (the server's own
lateness is ``bench_ts - bench_due``); ``bench_rx``, how many client data frames this
connection has received so far (the client's appends that reached the server).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import random
import socket
import struct
import sys
import time

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SAMPLE_RATE = 24_000
TRANSCRIPT = (
    "The weather in Paris is sunny and twenty two degrees with a light breeze from the "
    "west so it is a good afternoon for a walk along the river"
)
WORDS = TRANSCRIPT.split()

SESSION_CREATED = {
    "type": "session.created",
    "event_id": "event_BenchSessionCreated0",
    "session": {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_BenchSession000000001",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, witty and friendly voice assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": 1756324625,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin",
                "speed": 1.0,
            },
        },
        "include": None,
    },
}
"""A session.created of the live service's GA shape (what every client parses first)."""


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def pcm16_base64(ms: int) -> str:
    """``ms`` of a 220 Hz tone, 24 kHz PCM16 little-endian, base64 (as the service sends)."""
    samples = SAMPLE_RATE * ms // 1000
    raw = b"".join(
        struct.pack("<h", int(9000 * math.sin(2 * math.pi * 220 * i / SAMPLE_RATE)))
        for i in range(samples)
    )
    return base64.b64encode(raw).decode()


class Spec:
    """What one connection streams (parsed from the URL path)."""

    def __init__(self, text: str) -> None:
        values = {"a": 100, "p": 0, "s": 0, "b": 0, "c": 0, "j": 0, "d": 0}
        for part in filter(None, text.split("_")):
            values[part[0]] = int(part[1:])
        self.audio_ms = values["a"]
        self.period_ms = values["p"]
        self.small_ms = values["s"]
        self.total_bytes = values["b"]
        self.close = bool(values["c"])
        self.jitter = bool(values["j"])
        self.delay_ms = values["d"]


def spec_path(
    *,
    audio_ms: int = 100,
    period_ms: int = 0,
    small_ms: int = 0,
    total_bytes: int = 0,
    close: bool = False,
    jitter: bool = False,
    delay_ms: int = 0,
) -> str:
    """The URL path prefix selecting a stream (see the module docstring)."""
    spec = f"a{audio_ms}_p{period_ms}_s{small_ms}_b{total_bytes}_c{int(close)}_j{int(jitter)}"
    if delay_ms:
        spec += f"_d{delay_ms}"
    return f"/cfg/{spec}/v1"


_AUDIO_CACHE: dict[int, bytes] = {}


def _audio_prefix(ms: int) -> bytes:
    cached = _AUDIO_CACHE.get(ms)
    if cached is None:
        head = {
            "type": "response.output_audio.delta",
            "response_id": "resp_BenchResponse00000001",
            "item_id": "item_BenchItem000000000001",
            "output_index": 0,
            "content_index": 0,
            "delta": pcm16_base64(ms),
        }
        cached = _AUDIO_CACHE[ms] = json.dumps(head, separators=(",", ":"))[:-1].encode()
    return cached


_SMALL_PREFIX = (
    b'{"type":"response.output_audio_transcript.delta","response_id":'
    b'"resp_BenchResponse00000001","item_id":"item_BenchItem000000000001",'
    b'"output_index":0,"content_index":0,"obfuscation":"Zq3kW9pLx2","delta":" '
)


class Connection(asyncio.Protocol):
    """One client connection: handshake, session.created, then the streams of its spec."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = False
        self.closed = False
        self.paused = False
        self.received = 0
        self.sequence = 0
        self.sent_bytes = 0
        self.spec = Spec("")
        self.timers: list[asyncio.TimerHandle] = []

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=256 * 1024)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for timer in self.timers:
            timer.cancel()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.open and self.spec.period_ms == 0 and self.spec.audio_ms:
            self.loop.call_soon(self._blast)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            self._handshake()
        if self.open:
            self._client_frames()

    # -- handshake ---------------------------------------------------------------------

    def _handshake(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        lines = head.split("\r\n")
        path = lines[0].split(" ")[1]
        key = next(
            line.split(":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith("sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "cfg":
            self.spec = Spec(parts[2])
        self.open = True
        if self.spec.delay_ms:  # a distant service: the upgrade answers a round trip later
            self.loop.call_later(self.spec.delay_ms / 1000, self._accept, accept)
        else:
            self._accept(accept)

    def _accept(self, accept: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.transport.write(server_frame(json.dumps(SESSION_CREATED).encode()))
        self._start_streams()

    # -- streams -------------------------------------------------------------------------

    def _start_streams(self) -> None:
        spec = self.spec
        now = time.monotonic()
        if spec.audio_ms and spec.period_ms == 0:
            self.loop.call_soon(self._blast)
        elif spec.audio_ms:
            period = spec.period_ms / 1000
            start = now + (random.uniform(0, period) if spec.jitter else 0.0)
            self._schedule(start, period, self._send_audio)
        if spec.small_ms:
            period = spec.small_ms / 1000
            start = now + (random.uniform(0, period) if spec.jitter else 0.0)
            self._schedule(start, period, self._send_small)

    def _schedule(self, start: float, period: float, send: object) -> None:
        def tick(index: int) -> None:
            if self.closed or not self.open:
                return
            due = start + index * period
            if not send(int(due * 1e9)):  # type: ignore[operator]
                return
            # The next tick keeps the schedule; a late server skips nothing (it catches up).
            self.timers.append(self.loop.call_at(start + (index + 1) * period, tick, index + 1))
            if len(self.timers) > 8:
                del self.timers[:-2]

        self.timers.append(self.loop.call_at(start, tick, 0))

    def _write_event(self, prefix: bytes, due_ns: int) -> bool:
        """Write one event (``prefix`` + the bench fields); False once the budget is spent."""
        spec = self.spec
        if spec.total_bytes and self.sent_bytes >= spec.total_bytes:
            return False
        self.sequence += 1
        ts = time.monotonic_ns()
        payload = b'%s,"event_id":"event_%d","bench_ts":%d,"bench_due":%d,"bench_rx":%d}' % (
            prefix,
            self.sequence,
            ts,
            due_ns or ts,
            self.received,
        )
        assert self.transport is not None
        self.transport.write(server_frame(payload))
        self.sent_bytes += len(payload)
        if spec.total_bytes and self.sent_bytes >= spec.total_bytes:
            if spec.close:
                self.transport.write(server_frame(struct.pack("!H", 1000), opcode=0x8))
            return False
        return True

    def _send_audio(self, due_ns: int) -> bool:
        return self._write_event(_audio_prefix(self.spec.audio_ms), due_ns)

    def _send_small(self, due_ns: int) -> bool:
        word = WORDS[self.sequence % len(WORDS)].encode()
        return self._write_event(_SMALL_PREFIX + word + b'"', due_ns)

    def _blast(self) -> None:
        prefix = _audio_prefix(self.spec.audio_ms)
        while self.open and not self.closed and not self.paused:
            if not self._write_event(prefix, 0):
                return

    # -- client frames -------------------------------------------------------------------

    def _client_frames(self) -> None:
        buffer = self.buffer
        pos = 0
        size = len(buffer)
        while size - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            opcode = first & 0x0F
            length = second & 0x7F
            offset = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, pos + 2)
                offset = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, pos + 2)
                offset = pos + 10
            masked = second & 0x80
            end = offset + (4 if masked else 0) + length
            if end > size:
                break
            if opcode in (0x1, 0x2, 0x0):
                if first & 0x80:
                    self.received += 1
            elif opcode in (0x8, 0x9):
                data = bytes(buffer[offset + 4 : end]) if masked else bytes(buffer[offset:end])
                if masked:
                    mask = buffer[offset : offset + 4]
                    data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
                self._control(opcode, data)
                if self.closed:
                    return
            pos = end
        del buffer[:pos]

    def _control(self, opcode: int, data: bytes) -> None:
        assert self.transport is not None
        if opcode == 0x9:
            self.transport.write(server_frame(data, opcode=0xA))
            return
        self.open = False
        code = data[:2] if len(data) >= 2 else struct.pack("!H", 1000)
        self.transport.write(server_frame(code, opcode=0x8))
        self.transport.close()
        self.closed = True


async def serve(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(loop), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    cpu = None
    if "--cpu" in sys.argv:
        cpu = int(sys.argv[sys.argv.index("--cpu") + 1])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(cpu))


if __name__ == "__main__":
    main()

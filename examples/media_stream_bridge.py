"""A carrier media stream (Twilio Media Streams style) bridged to a Realtime session.

Shows: a trio-websocket server the carrier connects to, 8 kHz G.711 μ-law frames in
JSON both ways, μ-law ↔ PCM16 24 kHz through ``trio_realtime.audio`` (``ulaw_decode``,
``Resampler``, ``ulaw_encode``), playback marks telling what the caller has heard, and
barge-in: when the caller talks over the assistant, the carrier's buffer is cleared
(``{"event": "clear"}``) and the assistant's item truncated at what was played
(``PlaybackTracker`` + ``session.truncate_to_played``). One nursery per call; the
server's nursery owns them all.

Run:  python examples/media_stream_bridge.py [--port 8080]
      (embedded emulator when OPENAI_API_KEY is unset; point the carrier's stream at
      ws://<host>:8080/media)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

import trio_realtime as rt
from trio_realtime import audio, events as ev

log = logging.getLogger("media_stream_bridge")

CARRIER_RATE = 8000
FRAME_MS = 20
"""The carrier's frame: 20 ms of μ-law, 160 bytes."""
SESSION = ev.SessionConfig.model_validate(
    {
        "type": "realtime",
        "instructions": "You are a helpful phone assistant. Keep answers short.",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
        },
    }
)


class Bridge:
    """One carrier call: its media stream on one side, a Realtime session on the other."""

    def __init__(self, carrier: WebSocketConnection, session: rt.RealtimeSession) -> None:
        self.carrier = carrier
        self.session = session
        self.stream_sid = ""
        self.tracker = audio.PlaybackTracker()  # PCM16 at 24 kHz: 48 bytes a millisecond
        self.to_carrier = audio.Resampler(24000, CARRIER_RATE)
        self.pending = b""
        """μ-law not yet sent: the carrier takes whole 20 ms frames."""
        self.interruptions = 0

    async def send_carrier(self, message: dict[str, Any]) -> None:
        await self.carrier.send_message(json.dumps({**message, "streamSid": self.stream_sid}))

    async def from_carrier(self) -> None:
        """Caller audio to the model; marks (what the caller heard) to the tracker."""
        while True:
            try:
                message = json.loads(await self.carrier.get_message())
            except ConnectionClosed:
                return
            kind = message.get("event")
            if kind == "media":
                pcm8k = audio.ulaw_decode(base64.b64decode(message["media"]["payload"]))
                await self.session.append_audio(pcm8k, sample_rate=CARRIER_RATE)
            elif kind == "mark":
                item_id, content_index, ms = message["mark"]["name"].rsplit(":", 2)
                self.tracker.on_played(item_id, int(content_index), ms=float(ms))
            elif kind == "stop":
                return

    async def to_caller(self) -> None:
        """The model's audio to the carrier as μ-law frames, each followed by a mark."""
        async for event in self.session:
            if isinstance(event, ev.ResponseAudioDeltaEvent):
                pcm24k = self.session.decode_audio(event)
                self.tracker.on_audio_received(event.item_id, event.content_index, pcm24k.nbytes)
                self.pending += audio.ulaw_encode(self.to_carrier.process(pcm24k))
                whole = len(self.pending) // (FRAME_MS * 8) * (FRAME_MS * 8)
                if whole:
                    frames, self.pending = self.pending[:whole], self.pending[whole:]
                    payload = base64.b64encode(frames).decode("ascii")
                    await self.send_carrier({"event": "media", "media": {"payload": payload}})
                    name = f"{event.item_id}:{event.content_index}:{len(frames) / 8}"
                    await self.send_carrier({"event": "mark", "mark": {"name": name}})
            elif isinstance(event, ev.InputAudioBufferSpeechStartedEvent):
                await self.barge_in()

    async def barge_in(self) -> None:
        """The caller talks: drop what the carrier has not played, cut the item there."""
        if self.tracker.current is None:
            return  # nothing is playing
        self.interruptions += 1
        self.pending = b""
        self.to_carrier = audio.Resampler(24000, CARRIER_RATE)
        await self.send_carrier({"event": "clear"})
        point = await self.session.truncate_to_played(self.tracker)
        log.info("barge-in: truncated %s", point)


async def bridge_call(request: WebSocketRequest, **session_options: Any) -> Bridge | None:
    """Serve one carrier connection until it stops; returns the finished bridge."""
    carrier = await request.accept()
    while True:  # "connected", then "start" carries the stream's id
        try:
            message = json.loads(await carrier.get_message())
        except ConnectionClosed:
            return None
        if message.get("event") == "start":
            break
    async with rt.open_realtime_session(session=SESSION, **session_options) as session:
        bridge = Bridge(carrier, session)
        bridge.stream_sid = message["start"]["streamSid"]
        async with trio.open_nursery() as nursery:

            async def caller_side() -> None:
                await bridge.from_carrier()
                nursery.cancel_scope.cancel("the carrier stopped the stream")

            nursery.start_soon(caller_side)
            nursery.start_soon(bridge.to_caller)
    await carrier.aclose()
    return bridge


async def serve_bridge(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
    **session_options: Any,
) -> None:
    """Accept carrier media streams until cancelled (``nursery.start`` gives the server)."""

    async def handler(request: WebSocketRequest) -> None:
        await bridge_call(request, **session_options)

    await serve_websocket(handler, host, port, ssl_context=None, task_status=task_status)


async def run(port: int) -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await serve_bridge("0.0.0.0", port)
        return
    from trio_realtime.testing import open_emulator

    async with open_emulator() as emulator:
        print(f"bridging to the embedded emulator at {emulator.url}")
        await serve_bridge("127.0.0.1", port, url=emulator.url, api_key="sk-emulator")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(run, args.port)


if __name__ == "__main__":
    main()

"""examples/media_stream_bridge.py, with the test playing the carrier (Twilio Media Streams).

5 s of 8 kHz μ-law caller audio go in as JSON frames; the assistant's reply comes back
as whole 20 ms μ-law frames with marks; the carrier acknowledges only part of it as
played and then talks over it: the bridge clears the carrier's buffer and truncates
the assistant's item exactly at what was played.
"""

from __future__ import annotations

import base64
import json
from functools import partial
from typing import Any

import numpy as np
import trio
from trio_websocket import WebSocketConnection, WebSocketRequest, open_websocket, serve_websocket

from tests._examples import load_example
from trio_realtime import audio, events as ev
from trio_realtime.testing import caller_voice, open_emulator

bridge_example = load_example("media_stream_bridge")
STREAM = "MZ00000000000000000000000000000001"


def ulaw_frames(pcm24k: np.ndarray) -> list[bytes]:
    """Caller audio as the carrier sends it: 8 kHz μ-law in 20 ms frames."""
    data = audio.ulaw_encode(audio.resample(pcm24k, 24000, 8000))
    return [data[start : start + 160] for start in range(0, len(data), 160)]


async def send_media(carrier: WebSocketConnection, frames: list[bytes]) -> None:
    for number, frame in enumerate(frames):
        payload = base64.b64encode(frame).decode("ascii")
        await carrier.send_message(
            json.dumps(
                {
                    "event": "media",
                    "streamSid": STREAM,
                    "media": {"track": "inbound", "chunk": str(number), "payload": payload},
                }
            )
        )


async def test_caller_audio_in_assistant_audio_out_and_barge_in_truncates_at_the_mark() -> None:
    bridges: list[Any] = []
    finished = trio.Event()

    async with open_emulator() as emulator, trio.open_nursery() as nursery:

        async def handler(request: WebSocketRequest) -> None:
            bridges.append(
                await bridge_example.bridge_call(request, url=emulator.url, api_key="sk-test")
            )
            finished.set()

        server = await nursery.start(
            partial(serve_websocket, handler, "127.0.0.1", 0, ssl_context=None)
        )
        async with open_websocket("127.0.0.1", server.port, "/media", use_ssl=False) as carrier:
            await carrier.send_message(json.dumps({"event": "connected", "protocol": "Call"}))
            start = {
                "streamSid": STREAM,
                "callSid": "CA01",
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
            await carrier.send_message(json.dumps({"event": "start", "start": start}))
            speech = caller_voice("I would like to know about my order please")
            caller = np.concatenate([speech, np.zeros(5 * 24000 - len(speech), np.int16)])
            frames = ulaw_frames(caller)
            assert len(frames) == 250  # 5 s of 20 ms frames
            await send_media(carrier, frames)

            received = bytearray()
            acked_ms = 0.0
            while len(received) < 1500 * 8:  # 1.5 s of the reply has reached the carrier
                message = json.loads(await carrier.get_message())
                assert message["streamSid"] == STREAM
                if message["event"] == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    assert len(payload) % 160 == 0  # whole 20 ms frames of 8 kHz μ-law
                    received += payload
                elif message["event"] == "mark" and acked_ms < 600:
                    acked_ms += float(message["mark"]["name"].rsplit(":", 1)[1])
                    await carrier.send_message(json.dumps({**message, "streamSid": STREAM}))
            await send_media(carrier, ulaw_frames(caller_voice("wait, one more thing")))
            while json.loads(await carrier.get_message())["event"] != "clear":
                pass
            connection = emulator.connections[0]
            truncate = await connection.wait_for(ev.ConversationItemTruncateEvent)
            await carrier.send_message(json.dumps({"event": "stop", "streamSid": STREAM}))
        await finished.wait()
        nursery.cancel_scope.cancel()

    assert 600 <= acked_ms < 700
    assert truncate.audio_end_ms == int(acked_ms)
    reply = audio.ulaw_decode(bytes(received))
    assert np.sqrt(np.mean(reply.astype(np.float64) ** 2)) > 500  # voice, not silence
    assert bridges[0].interruptions == 1
    assert connection.input_audio_bytes >= 5 * 24000 * 2  # 5 s at PCM16 24 kHz reached it

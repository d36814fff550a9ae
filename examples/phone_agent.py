"""A phone agent: answer SIP calls to your OpenAI project with a Realtime model.

Shows: verifying the ``realtime.call.incoming`` webhook, accepting the call with
instructions and tools, the sideband session (``client.connect(call_id=...)``), a DTMF
menu ("press 1 for opening hours, 0 for a person"), a function tool, transferring to a
human (SIP REFER) and hanging up once the goodbye has played (``output_audio_buffer``).
One task group (opened in the ASGI lifespan) owns every live call: shutting the server
down, or Ctrl-C, hangs up every call and closes every session.

Run (one Trio worker):

    OPENAI_API_KEY=sk-... OPENAI_WEBHOOK_SECRET=whsec_... python examples/phone_agent.py

Scale out (one process per core; across machines behind any HTTP load balancer):

    hypercorn examples.phone_agent:app --worker-class trio --workers 2 --bind 0.0.0.0:8000

Try it offline: ``trio-realtime serve --api-key sk-test --call http://127.0.0.1:8000/webhook
--webhook-secret whsec_...`` rings this server (see docs/guides/telephony.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

import trio_realtime as rt
from trio_realtime import events as ev, webhooks

log = logging.getLogger("phone_agent")

HUMAN = "tel:+14155550100"
"""Where "talk to a person" transfers the caller."""

INSTRUCTIONS = (
    "You answer the phone for Example Co. Be brief and friendly. Callers can press 1 for"
    " opening hours or 0 for a person. Use check_order_status for questions about an"
    " order, transfer_to_human when the caller asks for a person, end_call when the"
    " caller says goodbye."
)
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "check_order_status",
        "description": "The delivery status of an order.",
        "parameters": {
            "type": "object",
            "properties": {"order_number": {"type": "string"}},
            "required": ["order_number"],
        },
    },
    {
        "type": "function",
        "name": "transfer_to_human",
        "description": "Transfer the caller to a person.",
        "parameters": {"type": "object", "properties": {}},
    },
    {
        "type": "function",
        "name": "end_call",
        "description": "Say goodbye and end the call.",
        "parameters": {"type": "object", "properties": {}},
    },
]
SESSION = ev.SessionConfig.model_validate(
    {
        "type": "realtime",
        "instructions": INSTRUCTIONS,
        "tools": TOOLS,
        "audio": {
            "input": {
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {"type": "server_vad"},
            },
            "output": {"voice": "marin"},
        },
    }
)
MENU = {"1": "We are open Monday to Friday, 9 am to 5 pm."}

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def check_order_status(order_number: str) -> dict[str, Any]:
    return {"order_number": order_number, "status": "shipped", "arrives": "tomorrow"}


@dataclass
class CallLog:
    """What happened on one call (for logs and tests)."""

    call_id: str
    caller: str | None
    outcome: str = "ringing"
    keys: str = ""
    tools: list[str] = field(default_factory=list)
    caller_said: list[str] = field(default_factory=list)
    agent_said: list[str] = field(default_factory=list)
    finished: anyio.Event = field(default_factory=anyio.Event)


class PhoneAgent:
    """An ASGI app: ``POST /webhook`` answers calls; everything else is 404.

    ``client`` defaults to a :class:`~trio_realtime.RealtimeClient` from the environment,
    ``secret`` to ``OPENAI_WEBHOOK_SECRET`` (both read at start-up). Runs on hypercorn's
    Trio worker, and on asyncio (the app is written on AnyIO).
    """

    def __init__(
        self,
        *,
        client: rt.RealtimeClient | None = None,
        secret: str | None = None,
        transfer_to: str = HUMAN,
    ) -> None:
        self.client = client
        self.secret = secret
        self.transfer_to = transfer_to
        self.calls: dict[str, CallLog] = {}
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"] == "/webhook" and scope["method"] == "POST":
                status = await self._webhook(scope, receive)
            else:
                status = 404
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self.client = self.client or rt.RealtimeClient()
        self.secret = self.secret or os.environ.get("OPENAI_WEBHOOK_SECRET")
        if not self.secret:
            await send({"type": "lifespan.startup.failed", "message": "no webhook secret"})
            return
        async with anyio.create_task_group() as calls:  # owns every live call
            self._task_group = calls
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            calls.cancel_scope.cancel("the server is shutting down")
        self._task_group = None
        await send({"type": "lifespan.shutdown.complete"})

    async def _webhook(self, scope: dict[str, Any], receive: Receive) -> int:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        assert self.secret is not None
        try:
            event = webhooks.unwrap(body, scope["headers"], secret=self.secret)
        except rt.WebhookError as exc:
            log.warning("refused a webhook: %s", exc)
            return 400
        if isinstance(event, webhooks.RealtimeCallIncomingEvent):
            call_id = event.data.call_id
            if call_id not in self.calls and self._task_group is not None:  # retries: once
                self.calls[call_id] = CallLog(call_id, event.data.header("From"))
                self._task_group.start_soon(self._answer, self.calls[call_id])
        return 200  # also for event types we do not handle, so they are not retried

    async def _answer(self, call: CallLog) -> None:
        assert self.client is not None
        calls = self.client.calls
        try:
            await calls.accept(call.call_id, session=SESSION)
        except (rt.NotFoundError, rt.ConflictError) as exc:  # hung up, or answered elsewhere
            call.outcome = f"missed: {exc.message}"
            call.finished.set()
            return
        call.outcome = "answered"
        try:
            async with self.client.connect(call_id=call.call_id) as session:
                await session.create_response(instructions="Greet the caller, give the menu.")
                await self._converse(session, call)
        finally:
            if call.outcome == "answered":  # shutdown, or the sideband failed: end the call
                with anyio.move_on_after(5, shield=True), contextlib.suppress(rt.RealtimeError):
                    await calls.hangup(call.call_id)
                    call.outcome = "hung up (shutdown)"
            call.finished.set()

    async def _converse(self, session: rt.RealtimeSession, call: CallLog) -> None:
        assert self.client is not None
        goodbye = False
        async for event in session:
            if isinstance(event, ev.InputAudioBufferDtmfEventReceivedEvent):
                call.keys += event.event
                if event.event == "0":
                    await self._transfer(call)
                    return
                answer = MENU.get(event.event, "That key is not on the menu.")
                await session.send_user_message(
                    f"(The caller pressed {event.event}. Tell them: {answer})",
                    cancel_active=True,
                )
            elif isinstance(event, ev.ResponseFunctionCallArgumentsDoneEvent):
                call.tools.append(event.name)
                if event.name == "transfer_to_human":
                    await self._transfer(call)
                    return
                if event.name == "end_call":
                    goodbye = True
                    await session.send_function_output(event.call_id, {"ok": True})
                    await session.create_response(instructions="Say goodbye.")
                elif event.name == "check_order_status":
                    arguments = json.loads(event.arguments or "{}")
                    result = check_order_status(str(arguments.get("order_number", "")))
                    await session.send_function_output(event.call_id, result, create_response=True)
            elif isinstance(event, ev.OutputAudioBufferStoppedEvent) and goodbye:
                await self.client.calls.hangup(call.call_id)  # the goodbye has played out
                call.outcome = "hung up"
                return
            elif isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                call.caller_said.append(event.transcript)
            elif isinstance(event, ev.ResponseAudioTranscriptDoneEvent):
                call.agent_said.append(event.transcript)
        call.outcome = "caller hung up"

    async def _transfer(self, call: CallLog) -> None:
        assert self.client is not None
        await self.client.calls.refer(call.call_id, self.transfer_to)
        call.outcome = f"transferred to {self.transfer_to}"


app = PhoneAgent()
"""The app for ``hypercorn examples.phone_agent:app --worker-class trio``."""


async def serve(bind: str) -> None:
    """Serve ``app`` on one Trio worker until SIGINT (Ctrl-C) or SIGTERM, then shut down
    gracefully: hypercorn stops accepting, the lifespan hangs up every live call."""
    import signal

    import hypercorn.config
    import hypercorn.trio
    import trio

    async def stop_on_signal() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return

    config = hypercorn.config.Config()
    config.bind = [bind]
    await hypercorn.trio.serve(app, config, shutdown_trigger=stop_on_signal)


def main() -> None:
    import trio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port to listen on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    trio.run(serve, args.bind)


if __name__ == "__main__":
    main()

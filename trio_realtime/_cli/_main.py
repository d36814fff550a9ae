"""The ``trio-realtime`` command's argument parsing (``python -m trio_realtime``); nothing else.

Each subcommand registers itself with :func:`_add_serve`-style functions listed in
:data:`_SUBCOMMANDS`; its handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

__all__ = ["EMULATOR_KEY_VARIABLE", "build_parser", "emulator_key", "main"]

EMULATOR_KEY_VARIABLE = "TRIO_REALTIME_EMULATOR_KEY"
"""The environment variable ``serve`` reads its one accepted key from (unless --api-key)."""
WEBHOOK_SECRET_VARIABLE = "OPENAI_WEBHOOK_SECRET"
"""Where ``serve --call`` finds the webhook secret (unless --webhook-secret)."""
DEFAULT_CALLER_LINES = ("Hello, I have a question about my order.",)


def _add_serve(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subcommands.add_parser(
        "serve",
        help="run the local Realtime API emulator",
        description=(
            "Run the local Realtime API emulator until interrupted. Prints its base URL on"
            " the first line; point clients at it, e.g."
            " AsyncOpenAI(api_key='sk-anything', websocket_base_url=URL)."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="TCP port, 0 for any (8765)")
    serve.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help=(
            f"accept only this key (default: ${EMULATOR_KEY_VARIABLE} if set, else any"
            " non-empty key; the variable keeps the key out of the process list)"
        ),
    )
    serve.add_argument(
        "--audio-pace",
        type=float,
        default=None,
        metavar="X",
        help="stream response audio at X times real time (default: as fast as possible)",
    )
    serve.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="RECORDING",
        help=(
            "replay a recorded session (JSONL) on every connection instead of answering:"
            " the recorded server events, each client turn awaited and checked"
        ),
    )
    serve.add_argument(
        "--replay-speed",
        type=float,
        default=0.0,
        metavar="X",
        help="replay at X times the recorded pace (1.0: as recorded; default 0: no waiting)",
    )
    serve.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each connection as it closes (who closed, events both ways) to stderr",
    )
    serve.add_argument(
        "--call",
        action="append",
        default=[],
        metavar="WEBHOOK_URL",
        help=(
            "once running, place a simulated SIP call: POST a signed realtime.call.incoming"
            " webhook to this URL (repeatable); the caller hears the greeting, says each"
            " --say line, hangs up; the outcome is printed"
        ),
    )
    serve.add_argument(
        "--webhook-secret",
        default=None,
        metavar="WHSEC",
        help=(
            f"the whsec_... secret that signs --call webhooks (default: ${WEBHOOK_SECRET_VARIABLE})"
        ),
    )
    serve.add_argument(
        "--say",
        action="append",
        default=None,
        metavar="TEXT",
        help="what the --call caller says, one line per --say (DTMF keys only: pressed)",
    )
    serve.set_defaults(handler=_serve)


def emulator_key(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The one key ``serve`` accepts: ``--api-key``, else the environment, else None (any)."""
    if args.api_key is not None:
        return str(args.api_key)
    return environ.get(EMULATOR_KEY_VARIABLE) or None


def _serve(args: argparse.Namespace) -> int:
    import trio

    from ..testing import open_emulator
    from ..testing._retention import SERVE_RETENTION
    from ..testing._server import load_replay

    if args.replay_speed < 0:
        print("error: --replay-speed must be 0 or more", file=sys.stderr)
        return 2
    try:
        replay = load_replay(args.replay)
    except (OSError, ValueError) as exc:
        print(f"error: cannot replay {args.replay}: {exc}", file=sys.stderr)
        return 1

    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger = logging.getLogger("trio_realtime.testing")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    secret = args.webhook_secret or os.environ.get(WEBHOOK_SECRET_VARIABLE)
    if args.call and not secret:
        print(
            f"error: --call needs --webhook-secret or ${WEBHOOK_SECRET_VARIABLE}", file=sys.stderr
        )
        return 2

    async def ring(emulator: Any, url: str) -> None:
        from ..testing import scripted_caller

        lines = tuple(args.say or DEFAULT_CALLER_LINES)
        try:
            call = await emulator.place_call(url, secret=secret, caller=scripted_caller(*lines))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return
        print(f"call {call.call_id} to {url}: ringing", file=sys.stderr, flush=True)
        state = await call.wait_ended()
        detail = {"referred": f" to {call.referred_to}", "rejected": f" ({call.reject_status})"}
        print(
            f"call {call.call_id}: {state}{detail.get(state, '')} (by {call.ended_by});"
            f" webhook attempts {[d.status for d in call.deliveries]}",
            file=sys.stderr,
        )
        for reply in call.heard:
            print(f"  caller heard: {reply.transcript!r}", file=sys.stderr)
        print(f"  caller pressed: {call.keys_pressed!r}", file=sys.stderr, flush=True)

    async def run() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_emulator(
                host=args.host,
                port=args.port,
                api_key=emulator_key(args, os.environ),
                audio_pace=args.audio_pace,
                retention=SERVE_RETENTION,
                replay=replay,
                replay_speed=args.replay_speed,
            ) as emulator:
                print(emulator.url, flush=True)
                if replay is not None:
                    print(
                        f"Replaying {args.replay}: a {replay.kind} session of"
                        f" {len(replay.entries)} frames on every connection.",
                        file=sys.stderr,
                    )
                print("Realtime emulator running; Ctrl-C to stop.", file=sys.stderr, flush=True)
                async with trio.open_nursery() as calls:
                    for url in args.call:
                        calls.start_soon(ring, emulator, url)
                    async for _ in signals:
                        break
                    calls.cancel_scope.cancel("the emulator is stopping")

    try:
        trio.run(run)
    except* KeyboardInterrupt:
        pass
    return 0


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="WebSocket base URL (default: OpenAI)")
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="API key (default: OPENAI_API_KEY; without one, the embedded emulator is used)",
    )
    parser.add_argument(
        "--emulator", action="store_true", help="use the embedded emulator even with a key"
    )


def _add_usage_options(parser: argparse.ArgumentParser, *, json_result: bool = True) -> None:
    parser.add_argument(
        "--prices",
        type=Path,
        default=None,
        metavar="PRICES.json",
        help=(
            "estimate the cost from your price table: {MODEL: {text_input, text_output,"
            " audio_input, audio_output, ...}} in US dollars per million tokens"
        ),
    )
    if json_result:
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the result and usage as one JSON object (no progress, no messages)",
        )


def _prices(args: argparse.Namespace) -> dict[str, Any] | None:
    """The price table of ``--prices``, or None; raises _BadArguments when it is unusable."""
    if args.prices is None:
        return None
    from .._prices import read_price_table

    try:
        return dict(read_price_table(args.prices))
    except (OSError, ValueError) as exc:
        raise _BadArguments(f"--prices: {exc}") from exc


class _BadArguments(Exception):
    """An option's value is unusable; the CLI prints it and exits with 2."""


def _add_translate(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    translate = subcommands.add_parser(
        "translate",
        help="translate a WAV file (speech to speech)",
        description=(
            "Stream a WAV file into a Realtime translation session and write the translated"
            " speech. Example: trio-realtime translate talk.wav --to es -o talk.es.wav"
        ),
    )
    translate.add_argument("input", type=Path, help="a WAV file (any rate, channels, width)")
    translate.add_argument("--to", required=True, metavar="LANG", help="target language, e.g. es")
    translate.add_argument(
        "-o", "--output", type=Path, default=None, help="output WAV (default: INPUT.LANG.wav)"
    )
    translate.add_argument("--model", default="gpt-realtime-translate")
    translate.add_argument("--fast", action="store_true", help="send faster than real time")
    _add_connection_options(translate)
    _add_usage_options(translate)
    translate.set_defaults(handler=_translate)


def _translate(args: argparse.Namespace) -> int:
    from ._commands import translate_file

    output = args.output or args.input.with_suffix(f".{args.to}.wav")
    return _run(
        translate_file,
        args.input,
        output,
        language=args.to,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        fast=args.fast,
        emulator=args.emulator,
        prices=_prices(args),
        as_json=args.json,
    )


def _add_transcribe(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    transcribe = subcommands.add_parser(
        "transcribe",
        help="transcribe a WAV file",
        description=(
            "Stream a WAV file into a Realtime transcription session and print the text."
            " Example: trio-realtime transcribe meeting.wav --fast"
        ),
    )
    transcribe.add_argument("input", type=Path, help="a WAV file (any rate, channels, width)")
    transcribe.add_argument("--model", default="gpt-4o-transcribe")
    transcribe.add_argument("--language", default=None, help="ISO-639-1 code, e.g. en")
    transcribe.add_argument("--fast", action="store_true", help="send faster than real time")
    _add_connection_options(transcribe)
    _add_usage_options(transcribe)
    transcribe.set_defaults(handler=_transcribe)


def _transcribe(args: argparse.Namespace) -> int:
    from ._commands import transcribe_file

    return _run(
        transcribe_file,
        args.input,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        language=args.language,
        fast=args.fast,
        emulator=args.emulator,
        prices=_prices(args),
        as_json=args.json,
    )


def _run(command: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run an async command under Trio: exit 0, 1 on a failure (message, no traceback),
    130 on Ctrl-C (after a clean close)."""
    import trio

    from .._errors import RealtimeError
    from ._commands import CommandError

    try:
        trio.run(partial(command, *args, **kwargs))
    except BaseException as exc:
        leaves = _leaves(exc)
        if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            print("interrupted", file=sys.stderr)
            return 130
        if not all(isinstance(leaf, RealtimeError | CommandError | OSError) for leaf in leaves):
            raise
        for leaf in leaves:
            print(f"error: {leaf}", file=sys.stderr)
        return 1
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _add_demo(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subcommands.add_parser(
        "demo",
        help="hold a real conversation through the library (no key needed)",
        description=(
            "A text exchange, a spoken turn with server VAD, a function call, a barge-in and"
            " a short translation, printed live, with a summary. Without OPENAI_API_KEY it"
            " runs on the embedded emulator. Example: trio-realtime demo"
        ),
    )
    demo.add_argument("--model", default="gpt-realtime")
    demo.add_argument("--json", action="store_true", help="print events as JSON lines")
    _add_connection_options(demo)
    _add_usage_options(demo, json_result=False)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return _run(
        run_demo,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        emulator=args.emulator,
        as_json=args.json,
        prices=_prices(args),
    )


def _add_chat(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = subcommands.add_parser(
        "chat",
        help="interactive text chat in the terminal",
        description=(
            "Type a message and read the reply as it streams; '/audio FILE.wav' sends a"
            " recording, '/help' lists the commands. Ctrl-C stops a reply; Ctrl-C at the"
            " prompt, Ctrl-D or '/quit' ends and prints the usage."
            " Example: trio-realtime chat --emulator"
        ),
    )
    chat.add_argument("--model", default="gpt-realtime")
    _add_connection_options(chat)
    _add_usage_options(chat, json_result=False)
    chat.set_defaults(handler=_chat)


def _chat(args: argparse.Namespace) -> int:
    from ._chat import chat

    return _run(
        chat,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        emulator=args.emulator,
        prices=_prices(args),
    )


def _add_speak(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    speak = subcommands.add_parser(
        "speak",
        help="say a WAV file to the model and save its spoken reply",
        description=(
            "Stream a WAV file as one spoken turn (however long, pauses included) and"
            " write the model's audio reply; prints the reply's transcript and the usage."
            " Example: trio-realtime speak question.wav -o reply.wav"
        ),
    )
    speak.add_argument("input", type=Path, help="a WAV file (any rate, channels, width)")
    speak.add_argument("-o", "--output", type=Path, default=Path("reply.wav"))
    speak.add_argument("--model", default="gpt-realtime")
    _add_connection_options(speak)
    _add_usage_options(speak)
    speak.set_defaults(handler=_speak)


def _speak(args: argparse.Namespace) -> int:
    from ._commands import speak_file

    return _run(
        speak_file,
        args.input,
        args.output,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        emulator=args.emulator,
        prices=_prices(args),
        as_json=args.json,
    )


def _add_events(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = subcommands.add_parser(
        "events",
        help="print (and record) a live session's raw events as JSON lines",
        description=(
            "Open a session, optionally send a message, and print every event as a JSON"
            " line; -o records both directions to a JSONL file (replayable with"
            " 'serve --replay'). Only the API key is kept out."
            " Example: trio-realtime events -m 'Say hi' -o call.jsonl"
        ),
    )
    events.add_argument(
        "-m", "--message", default=None, help="send this message, stop after the reply"
    )
    events.add_argument("-o", "--output", type=Path, default=None, help="record to this JSONL file")
    events.add_argument("--model", default="gpt-realtime")
    _add_connection_options(events)
    _add_usage_options(events, json_result=False)
    events.set_defaults(handler=_events)


def _events(args: argparse.Namespace) -> int:
    from ._commands import record_events

    return _run(
        record_events,
        message=args.message,
        output=args.output,
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        emulator=args.emulator,
        prices=_prices(args),
    )


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_demo,
    _add_chat,
    _add_serve,
    _add_speak,
    _add_translate,
    _add_transcribe,
    _add_events,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trio-realtime`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="trio-realtime",
        description=(
            "Tools for the OpenAI Realtime API, built on Trio. Without OPENAI_API_KEY the"
            " commands use the embedded emulator. Start with: trio-realtime demo"
        ),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log (-vv: wire)")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``trio-realtime`` and ``python -m trio_realtime``; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
        )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except _BadArguments as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

"""The ``trio-realtime`` command (``python -m trio_realtime``): thin argument parsing only.

Each subcommand registers itself with :func:`_add_serve`-style functions listed in
:data:`_SUBCOMMANDS`; its handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]


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
        help="accept only this key (default: any non-empty key)",
    )
    serve.add_argument(
        "--audio-pace",
        type=float,
        default=None,
        metavar="X",
        help="stream response audio at X times real time (default: as fast as possible)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import trio

    from .testing import open_emulator

    async def run() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_emulator(
                host=args.host,
                port=args.port,
                api_key=args.api_key,
                audio_pace=args.audio_pace,
                record=False,
            ) as emulator:
                print(emulator.url, flush=True)
                print("Realtime emulator running; Ctrl-C to stop.", file=sys.stderr, flush=True)
                async for _ in signals:
                    break

    try:
        trio.run(run)
    except* KeyboardInterrupt:
        pass
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_serve,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trio-realtime`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="trio-realtime",
        description="Tools for the OpenAI Realtime API, built on Trio.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``trio-realtime`` and ``python -m trio_realtime``; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

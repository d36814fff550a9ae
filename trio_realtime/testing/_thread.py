"""Run the emulator in a background thread, for asyncio code and the official client."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import trio

from .._recording import Recording
from ._brain import Brain
from ._faults import Faults
from ._server import Emulator, load_replay, open_emulator

__all__ = ["run_emulator_in_thread"]

_JOIN_TIMEOUT = 10.0


@contextlib.contextmanager
def run_emulator_in_thread(
    *,
    api_key: str | None = None,
    brain: Brain | None = None,
    faults: Faults | None = None,
    ping_interval: float | None = 20.0,
    audio_pace: float | None = None,
    session_max_s: float = 3600.0,
    record: bool = True,
    replay: str | Path | Recording | None = None,
    replay_speed: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Emulator]:
    """Run an emulator on its own Trio loop in a daemon thread, for the ``with`` block.

    Returns once it listens; leaving stops it and joins the thread. For asyncio users
    and tests that drive the official (asyncio) client. The :class:`Emulator`'s plain
    attributes (``url``, ``connections`` and what they record) may be read from the
    calling thread; its async methods belong to the emulator's thread. A brain runs in
    the emulator's thread too. Options: :func:`serve_emulator`.
    """
    recording = load_replay(replay)
    ready: queue.Queue[tuple[Emulator, trio.lowlevel.TrioToken, trio.Event] | BaseException]
    ready = queue.Queue()
    failure: list[BaseException] = []

    async def main() -> None:
        async with open_emulator(
            api_key=api_key,
            brain=brain,
            faults=faults,
            ping_interval=ping_interval,
            audio_pace=audio_pace,
            session_max_s=session_max_s,
            record=record,
            replay=recording,
            replay_speed=replay_speed,
            host=host,
            port=port,
        ) as emulator:
            stop = trio.Event()
            ready.put((emulator, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()

    def target() -> None:
        try:
            trio.run(main)
        except BaseException as exc:
            failure.append(exc)
            ready.put(exc)

    thread = threading.Thread(target=target, name="trio-realtime-emulator", daemon=True)
    thread.start()
    started = ready.get()
    if isinstance(started, BaseException):
        thread.join(_JOIN_TIMEOUT)
        raise started
    emulator, token, stop = started
    try:
        yield emulator
    finally:
        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(_JOIN_TIMEOUT)
        if failure:
            raise failure[0]

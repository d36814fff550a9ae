"""Run the CLI in a pseudo-terminal, as a person at a terminal would (Ctrl-C included)."""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from collections.abc import Sequence

WAIT = 30.0
"""Seconds a test waits for the program's output before failing (a deadline, not a delay)."""


class Terminal:
    """A program on its own pseudo-terminal: type into it, read what it shows.

    The program is the terminal's foreground process, so ``send(b"\\x03")`` is a real
    Ctrl-C (the terminal sends SIGINT) and ``send(b"\\x04")`` a real Ctrl-D.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        env = env if env is not None else os.environ.copy()
        pid, fd = os.forkpty()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.execvpe(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.shown = b""
        """Everything the program wrote to the terminal so far."""
        self._read_to = 0
        self.returncode: int | None = None

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def expect(self, pattern: str, wait: float = WAIT) -> str:
        """Read until ``pattern`` (a regex) appears after what was already expected."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + wait
        while True:
            match = regex.search(self.shown, self._read_to)
            if match:
                self._read_to = match.end()
                return match.group(0).decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(
                    f"{pattern!r} did not appear; the terminal shows:\n"
                    + self.shown.decode(errors="replace")
                )

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the program ended and closed the terminal
            return False
        self.shown += data
        return bool(data)

    def wait(self, wait: float = WAIT) -> int:
        """Read to the end of the program's output and return its exit code."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the program did not end; it shows:\n" + self.text)
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the program ended and the terminal closed
                break
            if not data:
                break
            self.shown += data
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    @property
    def text(self) -> str:
        return self.shown.decode(errors="replace")

    def close(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:
                pass
        os.close(self.fd)


def cli(*args: str) -> list[str]:
    """The argv of ``trio-realtime ARGS`` with this interpreter."""
    return [sys.executable, "-m", "trio_realtime", *args]


def clean_env() -> dict[str, str]:
    """The environment without OpenAI settings (so the commands use the emulator)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}

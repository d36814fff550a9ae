"""The ``trio-realtime`` command line: parsing, what the commands do, and the demo."""

from ._main import EMULATOR_KEY_VARIABLE, build_parser, emulator_key, main

__all__ = ["EMULATOR_KEY_VARIABLE", "build_parser", "emulator_key", "main"]

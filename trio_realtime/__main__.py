"""``python -m trio_realtime``: the ``trio-realtime`` command (see ``trio_realtime._cli``)."""

import sys

from ._cli import EMULATOR_KEY_VARIABLE, build_parser, emulator_key, main

__all__ = ["EMULATOR_KEY_VARIABLE", "build_parser", "emulator_key", "main"]

if __name__ == "__main__":
    sys.exit(main())

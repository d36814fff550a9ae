"""Speech translation: stream audio into a translation session, collect the result.

Shows: open_translation_session, append_audio at any sample rate, the graceful
close_session() while another task consumes events, TranslationResult.

Run:  python examples/translation.py [input.wav] [-o out.wav]
      (a generated voice-like input when none is given; embedded emulator without a key)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import trio

import trio_realtime as rt
from trio_realtime import audio
from trio_realtime.testing import open_emulator


async def translate(
    url: str | None, api_key: str | None, source: Path | None, output: Path
) -> None:
    if source is None:
        samples, rate = audio.voice_like(3000, sample_rate=16000), 16000
    else:
        samples, rate = audio.read_wav(source)
    result = rt.TranslationResult()
    config = {"audio": {"output": {"language": "es"}}}
    async with rt.open_translation_session(url=url, api_key=api_key, session=config) as t:

        async def feed() -> None:
            await t.append_audio(samples, sample_rate=rate)
            await t.close_session()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            async for event in t:
                result.add(event)
    print("translation:", result.target_text)
    result.write_wav(output)
    print(f"wrote {len(result.audio) / result.sample_rate:.1f} s to {output}")


async def main(source: Path | None, output: Path) -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await translate(None, None, source, output)
    else:
        async with open_emulator() as emulator:
            await translate(emulator.url, "sk-local", source, output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", type=Path, default=None)
    parser.add_argument("-o", "--output", type=Path, default=Path("translated.wav"))
    args = parser.parse_args()
    trio.run(main, args.input, args.output)

"""The test harness itself: deadlines fire, the mock clock jumps."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio


@pytest.mark.mock_clock
async def test_mock_clock_jumps_over_long_sleeps() -> None:
    start = trio.current_time()
    await trio.sleep(25)
    assert trio.current_time() - start == pytest.approx(25)


def test_deadline_fails_a_hung_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest, trio

        @pytest.mark.mock_clock
        async def test_hangs():
            await trio.sleep_forever()
        """
    )
    result = pytester.runpytest_subprocess("-p", "anyio", "-o", "anyio_mode=auto")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not finish within its 30.0 s deadline*"])

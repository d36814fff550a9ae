"""PlaybackTracker: what was heard, for conversation.item.truncate on barge-in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from trio_realtime import audio


def test_pcm16_bytes_are_48_per_ms() -> None:
    tracker = audio.PlaybackTracker()
    assert tracker.bytes_per_ms == 48.0
    tracker.on_audio_received("item_1", 0, 4800)
    tracker.on_audio_received("item_1", 0, 9600)
    assert tracker.received_ms("item_1") == 300
    tracker.on_played("item_1", 0, nbytes=4800)
    tracker.on_played("item_1", 0, ms=50)
    assert tracker.played_ms("item_1", 0) == 150
    assert tracker.current == ("item_1", 0)
    assert tracker.truncate_point() == ("item_1", 0, 150)


def test_truncation_never_passes_the_audio_received() -> None:
    """Playback reports may run ahead of the audio: never point past it ('already shorter')."""
    tracker = audio.PlaybackTracker()
    tracker.on_audio_received("item_1", 0, ms=1500)
    tracker.on_played("item_1", 0, ms=900)
    tracker.on_audio_received("item_1", 0, ms=1500)
    assert tracker.truncate_point() == ("item_1", 0, 900)
    tracker.on_played("item_1", 0, ms=2099.5)
    assert tracker.truncate_point() == ("item_1", 0, 2999)
    tracker.on_played("item_1", 0, ms=1000)
    assert tracker.played_ms("item_1") == 3999
    assert tracker.received_ms("item_1") == 3000
    assert tracker.current is None  # everything received was played: nothing to cut
    assert tracker.truncate_point() is None


def test_partial_milliseconds_round_down() -> None:
    tracker = audio.PlaybackTracker()
    tracker.on_audio_received("a", 0, 100)  # 2.083 ms
    tracker.on_played("a", 0, ms=10)
    assert tracker.received_ms("a") == 2
    assert tracker.truncate_point() is None  # fully played
    tracker.on_audio_received("a", 0, 4700)  # 100 ms in all
    assert tracker.received_ms("a") == 100
    assert tracker.truncate_point() == ("a", 0, 10)


def test_fully_played_means_nothing_to_truncate() -> None:
    tracker = audio.PlaybackTracker()
    assert tracker.current is None and tracker.truncate_point() is None
    tracker.on_audio_received("item_1", 0, 96_000)
    tracker.on_played("item_1", 0, nbytes=96_000)
    assert tracker.current is None
    assert tracker.truncate_point() is None
    assert tracker.played_ms("item_1") == tracker.received_ms("item_1") == 2000


def test_current_is_the_last_part_with_audio() -> None:
    tracker = audio.PlaybackTracker()
    tracker.on_audio_received("item_1", 0, ms=2000)
    tracker.on_played("item_1", 0, ms=700)
    assert tracker.current == ("item_1", 0)
    # Barge-in: item_1 was truncated at 700 ms and abandoned; the next response streams item_2.
    tracker.on_audio_received("item_2", 0, ms=500)
    assert tracker.current == ("item_2", 0)
    assert tracker.truncate_point() == ("item_2", 0, 0)  # nothing of it heard yet
    tracker.on_played("item_2", 0, ms=200)
    assert tracker.truncate_point() == ("item_2", 0, 200)
    tracker.on_played("item_2", 0, ms=300)
    assert tracker.current is None  # item_2 finished; item_1 stays abandoned
    assert tracker.played_ms("item_1") == 700


def test_content_parts_are_separate() -> None:
    tracker = audio.PlaybackTracker()
    tracker.on_audio_received("item_1", 0, ms=100)
    tracker.on_audio_received("item_1", 1, ms=300)
    tracker.on_played("item_1", 0, ms=100)
    tracker.on_played("item_1", 1, ms=40)
    assert tracker.current == ("item_1", 1)
    assert tracker.truncate_point() == ("item_1", 1, 40)
    assert tracker.received_ms("item_1", 1) == 300
    assert tracker.received_ms("unknown") == 0 == tracker.played_ms("unknown")


def test_g711_at_8_bytes_per_ms() -> None:
    for tracker in (
        audio.PlaybackTracker(sample_rate=8000, sample_width=1),
        audio.PlaybackTracker(bytes_per_ms=8),
    ):
        assert tracker.bytes_per_ms == 8.0
        tracker.on_audio_received("item_1", 0, 160 * 50)  # 50 G.711 frames of 20 ms
        tracker.on_played("item_1", 0, nbytes=160 * 12)
        assert tracker.received_ms("item_1") == 1000
        assert tracker.truncate_point() == ("item_1", 0, 240)


def test_other_sample_rates() -> None:
    tracker = audio.PlaybackTracker(sample_rate=22050)
    assert tracker.bytes_per_ms == 44.1
    tracker.on_audio_received("x", 0, audio.bytes_for_ms(100, sample_rate=22050))
    assert tracker.received_ms("x") == 100


def test_reset_forgets_everything() -> None:
    tracker = audio.PlaybackTracker()
    tracker.on_audio_received("item_1", 0, ms=100)
    tracker.on_played("item_1", 0, ms=10)
    tracker.reset()
    assert tracker.current is None and tracker.truncate_point() is None
    assert tracker.received_ms("item_1") == 0 == tracker.played_ms("item_1")
    assert "parts=0" in repr(tracker)


def test_bad_amounts() -> None:
    tracker = audio.PlaybackTracker()
    with pytest.raises(TypeError, match=r"exactly one of nbytes and ms"):
        tracker.on_audio_received("a", 0)
    with pytest.raises(TypeError, match=r"exactly one of nbytes and ms"):
        tracker.on_played("a", 0, ms=1, nbytes=48)
    with pytest.raises(ValueError, match=r"nbytes must be"):
        tracker.on_audio_received("a", 0, -48)
    with pytest.raises(ValueError, match=r"nbytes must be"):
        tracker.on_played("a", 0, nbytes=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ms must be"):
        tracker.on_played("a", 0, ms=-1)
    with pytest.raises(ValueError, match=r"ms must be"):
        tracker.on_audio_received("a", 0, ms=math.nan)
    assert tracker.current is None  # nothing was recorded


@pytest.mark.parametrize(
    "kwargs",
    [{"sample_rate": 0}, {"sample_width": 0}, {"bytes_per_ms": 0}, {"bytes_per_ms": math.inf}],
)
def test_bad_formats(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be a positive number"):
        audio.PlaybackTracker(**kwargs)  # type: ignore[arg-type]


events = st.lists(
    st.tuples(
        st.sampled_from(["received", "played"]),
        st.sampled_from(["item_1", "item_2", "item_3"]),
        st.integers(0, 1),
        st.integers(0, 20_000),
    ),
    max_size=40,
)


@given(events)
def test_truncate_point_is_always_safe(steps: list[tuple[str, str, int, int]]) -> None:
    tracker = audio.PlaybackTracker()
    received: dict[tuple[str, int], int] = {}
    played: dict[tuple[str, int], int] = {}
    last_received: tuple[str, int] | None = None
    for kind, item_id, content_index, nbytes in steps:
        key = (item_id, content_index)
        if kind == "received":
            tracker.on_audio_received(item_id, content_index, nbytes)
            received[key] = received.get(key, 0) + nbytes
            last_received = key
        else:
            tracker.on_played(item_id, content_index, nbytes=nbytes)
            played[key] = played.get(key, 0) + nbytes
    point = tracker.truncate_point()
    if last_received is None or played.get(last_received, 0) >= received[last_received]:
        assert point is None and tracker.current is None
        return
    assert point is not None and tracker.current == last_received
    item_id, content_index, end_ms = point
    assert (item_id, content_index) == last_received
    heard = min(played.get(last_received, 0), received[last_received])
    assert end_ms == heard // 48
    assert end_ms * 48 <= received[last_received]

"""Pure parts of video support: which frames the sampler keeps, and how frame matches become
segments. No decoding here."""

from __future__ import annotations

from dataclasses import replace

import pytest

from provcheck.matching.match import Match
from provcheck.matching.segments import FrameMatches, find_segments
from provcheck.media.sampling import FrameSampler, SamplingPolicy, hamming
from provcheck.signals.hashes import MIN_QUALITY
from provcheck.store import ItemRecord, SourceInfo


def bits_with(flipped: int) -> bytes:
    """A 256-bit hash that differs from all-zero in exactly ``flipped`` bits."""
    value = (1 << flipped) - 1
    return value.to_bytes(32, "big")


ZERO = bits_with(0)


def test_hamming_counts_differing_bits():
    assert hamming(ZERO, bits_with(5)) == 5
    assert hamming(bits_with(3), bits_with(3)) == 0


def test_first_detailed_frame_is_kept_flat_frames_never():
    sampler = FrameSampler(SamplingPolicy())
    assert not sampler.offer(0.0, ZERO, MIN_QUALITY - 1)
    assert sampler.offer(0.1, ZERO, MIN_QUALITY)
    assert not sampler.offer(50.0, bits_with(200), 0)  # a black frame after a cut


def test_change_keeps_frame_at_once_small_drift_waits_for_the_gap():
    sampler = FrameSampler(SamplingPolicy(change_distance=24, max_gap_s=2.0, duplicate_distance=8))
    assert sampler.offer(0.0, ZERO, 100)
    assert not sampler.offer(0.5, bits_with(12), 100)  # drifted, but not enough, not due yet
    assert sampler.offer(0.6, bits_with(24), 100)  # drifted enough: scene change / motion
    assert not sampler.offer(1.0, bits_with(30), 100)  # 6 bits from the last kept frame
    assert sampler.offer(2.7, bits_with(40), 100)  # due (2.1 s) and not a duplicate (16 bits)
    assert sampler.kept == 3


def test_static_picture_is_not_stored_again_and_again():
    sampler = FrameSampler(SamplingPolicy(max_gap_s=2.0, duplicate_distance=8))
    kept = [sampler.offer(i / 25, bits_with(i % 3), 100) for i in range(25 * 60)]
    assert sum(kept) == 1
    assert sampler.offered == 25 * 60


def test_duplicate_distance_zero_keeps_every_periodic_sample_that_changed_at_all():
    sampler = FrameSampler(SamplingPolicy(max_gap_s=1.0, duplicate_distance=0))
    kept = [t for t in range(10) if sampler.offer(float(t), bits_with(t % 2), 100)]
    assert kept == list(range(10))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_gap_s": 0},
        {"duplicate_distance": 30, "change_distance": 20},
        {"duplicate_distance": -1},
    ],
)
def test_policy_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        SamplingPolicy(**kwargs)


# -- segments ------------------------------------------------------------------------------------

SOURCE = SourceInfo("Strike video", "footage", first_seen="2023-03-01")


def match(item_key: str, frame_time: float | None, confidence: float = 0.9, item_id: int = 0):
    item = ItemRecord(
        id=item_id or int(frame_time * 10 if frame_time is not None else 1) + 1,
        source_id=1,
        origin=f"/refs/{item_key}.mp4",
        item_key=item_key,
        sha256=item_key,
        width=640,
        height=360,
        frame_time=frame_time,
        source=SOURCE,
    )
    return Match("refs.sqlite", item, {"pdq": 10}, confidence, "original", ["pdq"])


def test_clip_of_a_reference_video_is_one_segment_with_both_time_ranges():
    frames = [FrameMatches(q, [match("vid", 83.0 + q)]) for q in (0.0, 1.0, 2.0, 3.0, 4.5)]
    [segment] = find_segments(frames)
    assert (segment.query_start, segment.query_end) == (0.0, 4.5)
    assert (segment.reference_start, segment.reference_end) == (83.0, 87.5)
    assert segment.frames == 5


def test_reference_range_follows_the_median_offset_not_a_stale_static_frame():
    # A static stretch: the frame at 80.0 stands for 80..83; one query frame matches it.
    hits = [(0.0, 83.0), (1.0, 80.0), (2.0, 85.0), (3.0, 86.0)]
    frames = [FrameMatches(q, [match("vid", r)]) for q, r in hits]
    [segment] = find_segments(frames)
    assert (segment.reference_start, segment.reference_end) == (83.0, 86.0)


def test_jump_to_another_part_of_the_same_video_starts_a_new_segment():
    frames = [FrameMatches(q, [match("vid", 10.0 + q)]) for q in (0.0, 1.0, 2.0)]
    frames += [FrameMatches(q, [match("vid", 300.0 + q)]) for q in (3.0, 4.0)]
    segments = find_segments(frames)
    assert [(s.reference_start, s.reference_end, s.frames) for s in segments] == [
        (10.0, 12.0, 3),
        (303.0, 304.0, 2),
    ]


def test_the_same_moments_matching_elsewhere_in_the_same_video_are_not_a_second_segment():
    # A scrolling floor: frames 1-2 of the clip also match the video 40 s later, on the floor alone.
    frames = [FrameMatches(q, [match("vid", 10.0 + q)]) for q in (0.0, 3.0)]
    frames[1:1] = [
        FrameMatches(q, [match("vid", 10.0 + q), match("vid", 40.0 + q, 0.6)]) for q in (1.0, 2.0)
    ]
    [segment] = find_segments(frames)
    assert (segment.reference_start, segment.reference_end, segment.frames) == (10.0, 13.0, 4)


def test_a_stretch_shown_twice_in_the_reference_keeps_both_segments():
    # A loop: every frame of the clip matches two places of the video equally well.
    frames = [
        FrameMatches(q, [match("vid", 10.0 + q), match("vid", 70.0 + q, item_id=700 + int(q))])
        for q in (0.0, 1.0, 2.0)
    ]
    segments = find_segments(frames)
    assert sorted(s.reference_start for s in segments) == [10.0, 70.0]


def test_two_references_give_two_segments_strongest_story_first():
    frames = [
        FrameMatches(0.0, [match("a", 5.0)]),
        FrameMatches(1.0, [match("a", 6.0), match("b", 50.0, 0.6)]),
        FrameMatches(2.0, [match("a", 7.0)]),
    ]
    segments = find_segments(frames)
    assert [s.best.item.item_key for s in segments] == ["a", "b"]
    assert segments[1].query_start == segments[1].query_end == 1.0


def test_a_still_reference_gives_a_segment_without_reference_range():
    frames = [FrameMatches(q, [match("still", None, item_id=7)]) for q in (2.0, 3.0)]
    [segment] = find_segments(frames)
    assert segment.reference_start is None and segment.reference_end is None
    assert (segment.query_start, segment.query_end, segment.frames) == (2.0, 3.0, 2)


def test_a_long_gap_without_matches_splits_a_segment():
    frames = [FrameMatches(0.0, [match("vid", 10.0)]), FrameMatches(1.0, [])]
    frames += [FrameMatches(30.0, [match("vid", 40.0)])]
    assert len(find_segments(frames)) == 2


def test_several_matches_of_one_frame_count_once():
    frames = [
        FrameMatches(0.0, [match("vid", 10.0), match("vid", 10.5, 0.8)]),
        FrameMatches(1.0, [match("vid", 11.0)]),
    ]
    [segment] = find_segments(frames)
    assert segment.frames == 2


def test_segments_are_ordered_the_same_whatever_the_input_order():
    frames = [FrameMatches(q, [match("a", 5.0 + q), match("b", 9.0 + q, 0.7)]) for q in range(4)]
    forward = [(s.best.item.item_key, s.query_start) for s in find_segments(frames)]
    backward = [(s.best.item.item_key, s.query_start) for s in find_segments(frames[::-1])]
    assert forward == backward == [("a", 0), ("b", 0)]


def test_a_frame_stands_for_the_repeats_after_it_until_the_next_sample():
    # a static 5 s clip: one sampled frame, which holds until the end of the clip
    [segment] = find_segments([FrameMatches(0.0, [match("vid", 20.0)], until=5.0)])
    assert (segment.query_start, segment.query_end) == (0.0, 5.0)
    assert (segment.reference_start, segment.reference_end) == (20.0, 25.0)


def test_exact_video_segment_outranks_a_still_matched_by_more_frames():
    # Every frame of the clip matches a still of the same game weakly (a shared HUD); frames 1-3
    # match the exact video at PDQ 0. The time-aligned run of the video comes first.
    still = [replace(match("still", None, item_id=999), evidence=2.0) for _ in range(5)]
    frames = [FrameMatches(q, [still[int(q)]]) for q in (0.0, 4.0)]
    frames += [
        FrameMatches(q, [replace(match("vid", 20.0 + q), evidence=15.0), still[int(q)]])
        for q in (1.0, 2.0, 3.0)
    ]
    segments = find_segments(frames, duration=4.0)
    assert segments[0].key[2] == "vid" and segments[0].aligned
    assert segments[0].reference_start == 21.0
    assert segments[0].evidence == 45.0 and segments[0].coverage == 0.5
    assert segments[1].key[2] == "still" and not segments[1].aligned
    assert segments[1].frames == 5 and segments[1].evidence == 10.0


def test_between_two_runs_of_one_video_the_stronger_evidence_wins():
    # A look-alike place of the video matches as many frames, weakly: the run with more
    # evidence (closer hashes, more inliers, agreeing pixels) is the answer; the other, over the
    # same stretch of the clip, is the same moments matching elsewhere and is left out.
    frames = [
        FrameMatches(
            q,
            [
                replace(match("vid", 50.0 + q, item_id=500 + int(q)), evidence=3.0),
                replace(match("vid", 10.0 + q), evidence=12.0),
            ],
        )
        for q in (0.0, 1.0, 2.0)
    ]
    segments = find_segments(frames)
    assert [s.reference_start for s in segments] == [10.0]


def test_periodic_frame_is_kept_when_the_thumbnail_moved_though_pdq_did_not():
    import numpy as np

    from provcheck.media.sampling import thumbnail

    still = np.tile(np.linspace(60, 180, 128), (72, 1)).astype(np.uint8)  # a scene: not flat
    ball = still.copy()
    ball[30:34, 60:64] = 220  # a small object moved: PDQ would not notice
    noisy = still.copy()
    noisy[::7, ::5] += 1  # encoder noise on a frozen picture
    sampler = FrameSampler(SamplingPolicy(max_gap_s=2.0))
    assert sampler.offer(0.0, ZERO, 100, thumbnail(still))
    assert not sampler.offer(2.5, bits_with(2), 100, thumbnail(noisy))  # truly unchanged
    assert sampler.offer(3.0, bits_with(2), 100, thumbnail(ball))  # due, and something moved
    assert not sampler.offer(3.5, bits_with(2), 100, thumbnail(still))  # not due yet


def test_low_detail_frames_are_kept_flat_ones_never():
    """Hazy, thermal or dim footage has PDQ quality under 50 all through: its frames are kept
    when their thumbnail shows anything at all, and a flat frame (black, blank, noise on one
    colour) never is, whatever its PDQ quality says."""
    import numpy as np

    from provcheck.media.sampling import thumbnail

    rng = np.random.default_rng(3)
    haze = np.tile(np.linspace(90, 110, 128), (72, 1)).astype(np.uint8)  # a soft gradient
    black = rng.integers(0, 3, (72, 128)).astype(np.uint8)  # sensor noise on black
    sampler = FrameSampler(SamplingPolicy())
    assert not sampler.offer(0.0, ZERO, 80, thumbnail(black))
    assert sampler.offer(0.1, ZERO, 12, thumbnail(haze))
    assert not sampler.offer(9.0, bits_with(200), 90, thumbnail(black))

"""Video ingest on several processes: a long video is split at keyframes into segments that
decode on their own, and what they keep is what one pass keeps."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import av

from provcheck.media.split import WHOLE, plan_segments, sample_segment
from provcheck.media.video import sample_video
from provcheck.services.video_ingest import add_video
from provcheck.store import SourceInfo, open_store
from tests.video_samples import frames_for


def write_keyframed(path: Path, seconds_per_scene: float = 5.0, scenes: int = 4) -> Path:
    """A video of panning scenes with a keyframe every second (as most real videos have)."""
    frames = frames_for([(30 + n, seconds_per_scene) for n in range(scenes)], 10)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "10", "keyint_min": "10"}
        for _, image in frames:
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    return path


def test_segments_start_at_keyframes_and_cover_the_video(tmp_path):
    video = write_keyframed(tmp_path / "long.mp4")
    segments = plan_segments(video, 4, min_seconds=4.0)
    assert len(segments) == 4
    assert segments[0].start == 0.0 and segments[0].seek is None
    assert segments[-1].end is None
    for before, after in pairwise(segments):
        assert before.end == after.start
        assert after.start == round(after.start)  # a keyframe every second
    whole = [frame.time for frame in sample_video(video)[1]]
    parts = [frame.time for s in segments for frame in sample_segment(video, s)[1]]
    assert set(whole) <= set(parts)  # nothing lost
    assert len(parts) - len(whole) <= len(segments) - 1  # at most one extra per boundary


def test_short_or_unsplittable_videos_are_one_segment(tmp_path):
    video = write_keyframed(tmp_path / "short.mp4", seconds_per_scene=1.0, scenes=2)
    assert plan_segments(video, 4) == [WHOLE]
    assert plan_segments(video, 1) == [WHOLE]
    text = tmp_path / "not-a-video.mp4"
    text.write_text("hello")
    assert plan_segments(text, 4) == [WHOLE]


def test_two_jobs_store_what_one_job_stores(tmp_path):
    video = write_keyframed(tmp_path / "long.mp4")
    stored = {}
    for jobs in (1, 2):
        with open_store(tmp_path / f"jobs{jobs}.sqlite", create=True) as store:
            with store.transaction():
                source_id, _ = store.ensure_source(SourceInfo("ref", "footage"))
            report = add_video(store, source_id, video, origin="long.mp4", jobs=jobs)
            assert report.error is None
            assert (report.segments > 1) == (jobs > 1)  # 20 s: two segments of 8 s or more
            stored[jobs] = [item.frame_time for item in store.items(source_id=source_id)]
            assert report.duration > 19.0
    assert set(stored[1]) <= set(stored[2])
    assert len(stored[2]) - len(stored[1]) <= 1


def test_segments_are_handed_out_as_they_are_planned(tmp_path, monkeypatch):
    """The first segment is sampled while the later boundaries are still being found."""
    from provcheck.media import split

    video = write_keyframed(tmp_path / "long.mp4")
    found = []
    keyframe_at = split._keyframe_at_or_before
    monkeypatch.setattr(
        split, "_keyframe_at_or_before", lambda *a: found.append(a) or keyframe_at(*a)
    )
    segments = split.iter_segments(video, 4, min_seconds=4.0)
    first = next(segments)
    assert len(found) == 1 and first.start == 0.0 and first.end is not None
    assert [first, *segments] == plan_segments(video, 4, min_seconds=4.0)


def _stored(frame):
    """What is stored of a hashed frame: time, hashes, quality, keypoints and preview."""
    fp = frame.fingerprint
    return frame.time, dict(fp.hashes), fp.quality, fp.features.to_blob(), frame.thumbnail


def test_decoding_on_a_second_thread_gives_the_same_frames_and_errors(tmp_path):
    from provcheck.services.video_ingest import hash_segment

    video = write_keyframed(tmp_path / "long.mp4")
    for segment in [WHOLE, *plan_segments(video, 2, min_seconds=4.0)]:
        plain = hash_segment(video, segment, thumbnails=True)
        overlapped = hash_segment(video, segment, thumbnails=True, overlap=True)
        assert plain.error is None and overlapped.error is None
        assert [_stored(f) for f in plain.frames] == [_stored(f) for f in overlapped.frames]
        assert plain.facts == overlapped.facts
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    plain, overlapped = (hash_segment(cut, WHOLE, overlap=o) for o in (False, True))
    assert plain.error is not None and overlapped.error == plain.error


def test_every_video_of_a_call_is_stored_on_one_job_and_on_two(tmp_path):
    """Several short videos (one segment each): in this process with one job, on the pool with
    two. (One job once lost the second video: it was taken from the plan to choose between them.)"""
    from provcheck.services.video_ingest import add_videos

    videos = [
        write_keyframed(tmp_path / f"clip{n}.mp4", seconds_per_scene=1.0, scenes=2 + n)
        for n in range(3)
    ]
    for jobs in (1, 2):
        with open_store(tmp_path / f"jobs{jobs}.sqlite", create=True) as store:
            reports = add_videos(store, SourceInfo("ref", "footage"), videos, jobs=jobs)
            assert [r.error for r in reports] == [None, None, None]
            assert all(r.frames_added > 0 and r.segments == 1 for r in reports)
            stored = {Path(item.origin).name for item in store.items()}
            assert stored == {f"clip{n}.mp4" for n in range(3)}

"""Opening and sampling real (tiny, generated) videos, and refusing broken ones cleanly."""

from __future__ import annotations

import sys

import pytest

from provcheck.errors import InputError
from provcheck.media.frames import VideoLimits
from provcheck.media.sampling import SamplingPolicy
from provcheck.media.sniff import is_video_bytes, is_video_path
from provcheck.media.targets import expand_targets
from provcheck.media.video import sample_video
from provcheck.services.video_ingest import add_video
from provcheck.store import SourceInfo, open_store
from tests.video_samples import write_audio_only, write_gif, write_scenes, write_solid, write_video


def sample(source, name=None, **kwargs):
    facts, frames = sample_video(source, name, **kwargs)
    return facts, list(frames)


@pytest.mark.parametrize(("codec", "suffix"), [("libx264", ".mp4"), ("libvpx-vp9", ".webm")])
def test_video_is_sampled_into_timed_working_copies(tmp_path, codec, suffix):
    path = write_scenes(tmp_path / f"clip{suffix}", [(1, 2.0), (2, 2.0)], codec=codec)
    facts, frames = sample(path)
    assert (facts.width, facts.height) == (160, 120)
    assert facts.frames_decoded >= len(frames) >= 2
    times = [f.time for f in frames]
    assert times == sorted(times) and times[0] == 0.0 and times[-1] <= facts.duration < 4.0
    assert all(f.image.mode == "RGB" and f.image.size == (160, 120) for f in frames)
    # the cut at 2 s is a scene change: a frame right after it is kept
    assert any(2.0 <= t <= 2.3 for t in times)


def test_previews_come_from_the_decoder_only_when_asked(tmp_path):
    path = write_scenes(tmp_path / "clip.mp4", [(1, 1.0), (2, 1.0)], size=(480, 270))
    _, plain = sample(path)
    assert plain and all(f.preview is None for f in plain)
    _, frames = sample(path, previews=True)
    assert [f.time for f in frames] == [f.time for f in plain]
    assert all(f.preview is not None and f.preview.size == (160, 90) for f in frames)
    assert all(f.preview.mode == "RGB" for f in frames if f.preview is not None)


def test_static_video_keeps_one_frame_per_picture(tmp_path):
    from tests.video_samples import scene_frame

    still = scene_frame(3, 0.0)
    path = write_video(tmp_path / "static.mp4", [still] * 60, fps=10)
    facts, frames = sample(path, policy=SamplingPolicy(max_gap_s=1.0))
    assert facts.frames_decoded > 10
    assert len(frames) == 1


def test_animated_gif_is_sampled_like_a_video(tmp_path):
    path = write_gif(tmp_path / "posted.gif", [(1, 1.0), (2, 1.0)])
    assert is_video_path(path)
    assert is_video_bytes(path.read_bytes())
    facts, frames = sample(path)
    assert facts.codec == "gif"
    assert facts.frames_decoded >= 2  # Pillow merges identical consecutive frames
    assert 1.9 <= facts.duration <= 2.1  # from the frame delays: 100 ms each
    assert any(f.time >= 1.0 for f in frames)  # the second scene


def test_single_frame_gif_and_plain_images_are_not_videos(tmp_path):
    from tests.video_samples import scene_frame

    scene_frame(1, 0).save(tmp_path / "one.gif")
    scene_frame(1, 0).save(tmp_path / "one.jpg")
    assert not is_video_path(tmp_path / "one.gif")
    assert not is_video_path(tmp_path / "one.jpg")


def test_video_with_an_image_extension_is_recognised_by_content(tmp_path):
    path = write_scenes(tmp_path / "clip.mp4", [(1, 1.0)])
    renamed = path.rename(tmp_path / "clip.bin")
    assert is_video_path(renamed)


def test_folder_walk_picks_up_videos(tmp_path):
    write_scenes(tmp_path / "a.mp4", [(1, 1.0)])
    write_scenes(tmp_path / "b.webm", [(1, 1.0)], codec="libvpx-vp9")
    (tmp_path / "notes.txt").write_text("x")
    assert [t.value.rsplit("/", 1)[1] for t in expand_targets([str(tmp_path)])] == [
        "a.mp4",
        "b.webm",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40), "video"),
        (write_audio_only, "no video stream"),
    ],
    ids=["zero-length", "garbage-after-mp4-header", "audio-only"],
)
def test_bad_videos_fail_with_one_line_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.mkv"
    make(path)
    with pytest.raises(InputError) as caught:
        sample(path)
    text = str(caught.value)
    assert str(path) in text and message in text and "\n" not in text


def test_unknown_codec_is_refused_with_one_line(tmp_path):
    mkv = write_scenes(tmp_path / "clip.mkv", [(1, 1.0)]).read_bytes()
    assert mkv.count(b"V_MPEG4/ISO/AVC") == 1
    path = tmp_path / "unknown.mkv"
    path.write_bytes(mkv.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"))  # a codec id no one has
    with pytest.raises(InputError, match="codec not supported"):
        sample(path)


def test_truncated_video_gives_an_error_or_what_decoded_never_a_crash(tmp_path):
    good = write_scenes(tmp_path / "good.mp4", [(1, 2.0)])
    data = good.read_bytes()
    for cut in (len(data) // 4, len(data) // 2, len(data) - 100):
        path = tmp_path / f"cut{cut}.mp4"
        path.write_bytes(data[:cut])
        try:
            facts, _frames = sample(path)
        except InputError as exc:
            assert str(path) in str(exc)
        else:
            assert facts.frames_decoded >= 1


def test_one_colour_video_decodes_to_nothing_to_hash(tmp_path):
    path = write_solid(tmp_path / "grey.mp4", frames=2000)
    facts, frames = sample(path)
    assert facts.frames_decoded == 2000
    assert frames == []


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (VideoLimits(max_frames=30), "frames; over the limit"),
        (VideoLimits(max_duration_s=1.0), "over the"),
        (VideoLimits(max_pixels=100 * 100), "pixel limit"),
        (VideoLimits(max_bytes=100), "over the limit"),
    ],
)
def test_limits_bound_the_work(tmp_path, limits, message):
    path = write_scenes(tmp_path / "clip.mp4", [(1, 2.0), (2, 2.0)])
    with pytest.raises(InputError, match=message):
        sample(path, limits=limits)


def test_video_from_bytes(tmp_path):
    path = write_scenes(tmp_path / "clip.mp4", [(1, 2.0)])
    facts, frames = sample(path.read_bytes(), "<stdin>")
    assert facts.name == "<stdin>" and frames


# -- ingest: one transaction per video -----------------------------------------------------------


def test_interrupted_video_leaves_nothing_and_rerun_completes(tmp_path, monkeypatch):
    import provcheck.services.video_ingest as ingest

    video = write_scenes(tmp_path / "ref.mp4", [(1, 2.0), (2, 2.0)])
    db = tmp_path / "refs.sqlite"
    real = ingest.fingerprint
    calls = {"n": 0}

    def flaky(image, *args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(image, *args)

    with open_store(db, create=True) as store:
        with store.transaction():
            source_id, _ = store.ensure_source(SourceInfo("ref", "footage"))
        monkeypatch.setattr(ingest, "fingerprint", flaky)
        with pytest.raises(KeyboardInterrupt):
            add_video(store, source_id, video, origin="ref.mp4")
        assert store.items(source_id=source_id) == []
        monkeypatch.setattr(ingest, "fingerprint", real)
        first = add_video(store, source_id, video, origin="ref.mp4")
        again = add_video(store, source_id, video, origin="ref.mp4")
        items = store.items(source_id=source_id)
    assert first.error is None and first.frames_added == len(items) >= 2
    assert again.frames_added == 0 and again.frames_present == len(items)
    assert again.frames_decoded == 0  # recognised by its sha256, not decoded again
    assert all(i.frame_time is not None and i.origin == "ref.mp4" for i in items)


def test_without_pyav_a_video_is_an_input_error_with_the_fix(tmp_path, monkeypatch):
    path = write_scenes(tmp_path / "clip.mp4", [(1, 1.0)])
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(InputError, match=r"provcheck\[video\]"):
        sample(path)

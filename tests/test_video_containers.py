"""Every container PyAV decodes is a video, whatever the file is named: each is made in the test
(a second of textured, panning picture), named ``.bin``, recognised by its content, sampled and
scanned. Ogg/Theora (much of Wikimedia Commons' historical footage) needs a Theora encoder, which
PyAV's wheels lack: it is made with PyAV when it has one, else with the ``ffmpeg`` program."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import pytest

from provcheck.media.sniff import is_video_bytes, is_video_path
from provcheck.media.video import sample_video
from tests.video_samples import frames_for

#: (name, FFmpeg format, encoder, pixel format, frame size)
CONTAINERS = [
    ("mpeg-ps", "mpeg", "mpeg2video", "yuv420p", (160, 120)),
    ("mpeg1-ps", "mpeg", "mpeg1video", "yuv420p", (160, 120)),
    ("avi-msmpeg4", "avi", "msmpeg4v2", "yuv420p", (160, 120)),
    ("avi-mjpeg", "avi", "mjpeg", "yuvj420p", (160, 120)),
    ("mov-mjpeg", "mov", "mjpeg", "yuvj420p", (160, 120)),
    ("webm-vp8", "webm", "libvpx", "yuv420p", (160, 120)),
    ("mkv-ffv1", "matroska", "ffv1", "yuv420p", (160, 120)),
    ("mpeg-ts", "mpegts", "mpeg2video", "yuv420p", (160, 120)),
    ("flv", "flv", "flv", "yuv420p", (160, 120)),
    ("3gp-h263", "3gp", "h263", "yuv420p", (176, 144)),
    ("asf-wmv2", "asf", "wmv2", "yuv420p", (160, 120)),
    ("nut", "nut", "ffv1", "yuv420p", (160, 120)),
]


def _write(path: Path, fmt: str, codec: str, pix_fmt: str, size: tuple[int, int]) -> Path:
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)  # MPEG-1 knows only the standard rates
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        for _, image in frames_for([(3, 1.0), (4, 1.0)], 25):
            frame = av.VideoFrame.from_image(image.resize(size).convert("RGB"))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_theora(path: Path) -> Path:
    """An Ogg/Theora file of two scenes, by PyAV if it can encode Theora, else by ``ffmpeg``."""
    if "libtheora" in av.codecs_available:
        return _write(path, "ogg", "libtheora", "yuv420p", (160, 120))
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("no Theora encoder: neither PyAV's FFmpeg nor an ffmpeg program has one")
    raw = _write(path.with_suffix(".nut"), "nut", "ffv1", "yuv420p", (160, 120))
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(raw), "-c:v", "libtheora", "-f", "ogg", str(path)],
        check=True,
    )
    return path


@pytest.mark.parametrize(("name", "fmt", "codec", "pix_fmt", "size"), CONTAINERS)
def test_container_is_recognised_by_content_and_sampled(tmp_path, name, fmt, codec, pix_fmt, size):
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    path = _write(tmp_path / f"{name}.bin", fmt, codec, pix_fmt, size)
    assert is_video_path(path)
    assert is_video_bytes(path.read_bytes())
    facts, frames = sample_video(path)
    times = [frame.time for frame in frames]
    assert len(times) >= 2  # two scenes: at least one frame of each
    assert facts.duration == pytest.approx(1.96, abs=0.1)


def test_ogg_theora_is_a_video_and_matches_its_own_still(tmp_path):
    from click.testing import CliRunner

    from provcheck.cli import cli
    from tests.video_samples import scene_frame

    path = write_theora(tmp_path / "newsreel.bin")
    assert path.read_bytes()[:4] == b"OggS"
    assert is_video_path(path)
    facts, frames = sample_video(path)
    assert len(list(frames)) >= 2
    assert facts.codec == "theora"
    db = tmp_path / "refs.sqlite"
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["db", "add", str(path), "--label", "Newsreel", "--category", "footage", "--db", str(db)],
    )
    assert added.exit_code == 0, added.output
    still = tmp_path / "still.png"
    scene_frame(4, 0.5).save(still)
    scanned = runner.invoke(cli, ["scan", str(still), "--db", str(db), "--format", "json"])
    assert scanned.exit_code == 1, scanned.output
    assert '"label": "Newsreel"' in scanned.output


def test_pictures_audio_and_text_are_not_videos(tmp_path):
    from PIL import Image

    from tests.video_samples import write_audio_only

    still = tmp_path / "still.bin"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(still, "JPEG")
    text = tmp_path / "notes.bin"
    text.write_text("not a video at all\n" * 20)
    audio = write_audio_only(tmp_path / "sound.mp2")
    assert not is_video_path(still) and not is_video_bytes(still.read_bytes())
    assert not is_video_path(text) and not is_video_bytes(text.read_bytes())
    assert not is_video_path(audio)

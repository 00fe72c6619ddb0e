"""Hostile files on disk (issue 18, items 1, 2, 5, 8, 12 and 13): each is scanned (and added) by
the real command, and must give one result or one line naming it, in bounded time, while the rest
of the batch goes on."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import noise_picture
from tests.hostile_corpus import (
    animated_gif,
    db_counts,
    deep_folder,
    grey_16bit,
    invoke,
    jsonl,
    run,
    stderr_lines,
)
from tests.http_fixtures import loopback_server

pytestmark = pytest.mark.slow


def _scan(folder_or_file, db, *extra, **kwargs):
    """A scan as JSON Lines: in this process, or as a real process when it must drop privileges."""
    command = ("scan", folder_or_file, "--db", db, "--format", "jsonl", "-j", "1", *extra)
    return run(*command, **kwargs) if kwargs.get("unprivileged") else invoke(*command, **kwargs)


def _by_name(rows):
    return {Path(r["input"]).name: r for r in rows}


# -- 1. FIFOs ------------------------------------------------------------------------------


def test_fifo_in_a_scanned_folder_is_one_error_and_the_batch_goes_on(tmp_path, pictures, ref_db):
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(pictures["known"], folder / "a.jpg")
    os.mkfifo(folder / "b.jpg")
    result = _scan(folder, ref_db)
    assert result.returncode == 2, result.stderr
    rows, summary = jsonl(result)
    got = _by_name(rows)
    assert got["a.jpg"]["status"] == "match"
    assert got["b.jpg"]["status"] == "error"
    assert "b.jpg" in got["b.jpg"]["error"] and "\n" not in got["b.jpg"]["error"]
    assert summary["inputs"] == 2


def test_fifo_named_on_the_command_line_does_not_block(tmp_path, ref_db):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = _scan(fifo, ref_db)
    assert result.returncode == 2
    (row,), _summary = jsonl(result)
    assert row["status"] == "error" and str(fifo) in row["error"]


def test_db_add_of_a_folder_with_a_fifo_stores_the_rest(tmp_path, pictures):
    folder = tmp_path / "refs"
    folder.mkdir()
    shutil.copy(pictures["known"], folder / "a.jpg")
    os.mkfifo(folder / "b.jpg")
    db = tmp_path / "new.sqlite"
    result = invoke("db", "add", folder, "--label", "L", "--category", "game", "--db", db)
    assert result.returncode == 2, result.stderr
    (line,) = [x for x in stderr_lines(result) if "error" in x]
    assert "b.jpg" in line
    assert db_counts(db) == {"sources": 1, "items": 1}


# -- 2. animations that cost far more to decode than their size says -------------------------


@pytest.mark.parametrize("frames", [51, 10_000])
def test_animated_gif_cpu_bomb_is_refused_fast(tmp_path, ref_db, frames):
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(animated_gif(8000, 4000, frames))  # 1-pixel frames on a 32 MP canvas
    assert bomb.stat().st_size < 300_000
    result = _scan(bomb, ref_db, timeout=20)
    (row,), _summary = jsonl(result)
    assert row["status"] == "error" and str(bomb) in row["error"]
    assert result.returncode == 2


def test_a_one_pixel_wide_animation_is_read_not_crashed_on(tmp_path, ref_db):
    sliver = tmp_path / "sliver.gif"
    sliver.write_bytes(animated_gif(1, 300, 20, delay_cs=50))
    result = _scan(sliver, ref_db)
    (row,), _summary = jsonl(result)
    assert row["status"] in ("clean", "insufficient", "error"), row
    assert result.returncode in (0, 2)


def test_a_plain_10000_frame_gif_is_bounded(tmp_path, ref_db):
    gif = tmp_path / "long.gif"
    gif.write_bytes(animated_gif(320, 240, 10_000, frame_size=(16, 16), delay_cs=4))
    result = _scan(gif, ref_db, timeout=20)
    (row,), _summary = jsonl(result)
    assert row["status"] in ("clean", "insufficient", "error")
    if row["status"] == "error":
        assert str(gif) in row["error"] and "limit" in row["error"]


def test_animated_gif_cpu_bomb_by_url_is_refused_fast(ref_db):
    from http.server import BaseHTTPRequestHandler

    body = animated_gif(8000, 4000, 51)

    class Gif(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            return None

    with loopback_server(Gif) as base:
        result = _scan(f"{base}/bomb.gif", ref_db, "--allow-private", timeout=20)
    (row,), _summary = jsonl(result)
    assert row["status"] == "error" and "bomb.gif" in row["error"]


# -- 5. file names that are not UTF-8 ------------------------------------------------------


@pytest.fixture
def latin1_folder(tmp_path, pictures):
    """A folder holding a copy of the known picture under a Latin-1 name (not valid UTF-8)."""
    folder = tmp_path / "latin1"
    folder.mkdir()
    shutil.copy(pictures["known"], os.fsencode(folder) + b"/caf\xe9.jpg")
    shutil.copy(pictures["unknown"], folder / "plain.jpg")
    return folder


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "csv", "html", "sarif"])
def test_non_utf8_file_name_with_every_format_to_a_file(latin1_folder, ref_db, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    result = invoke("scan", latin1_folder, "--db", ref_db, "--format", fmt, "-o", out, "-j", "1")
    assert result.returncode == 1, result.stderr
    text = out.read_bytes().decode("utf-8")  # strictly valid UTF-8
    assert "caf" in text and (fmt == "sarif" or "plain.jpg" in text)  # SARIF lists flags only
    if fmt == "json":
        statuses = sorted(r["status"] for r in json.loads(text)["results"])
        assert statuses == ["clean", "match"]


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_non_utf8_file_name_on_stdout_is_valid_utf8_json(latin1_folder, ref_db, locale):
    result = run("scan", latin1_folder, "--db", ref_db, "--format", "json", env={"LC_ALL": locale})
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout.decode("utf-8"))
    assert sorted(r["status"] for r in doc["results"]) == ["clean", "match"]


def test_db_add_of_a_folder_with_a_non_utf8_name_stores_every_file(latin1_folder, tmp_path):
    db = tmp_path / "latin1.sqlite"
    result = invoke("db", "add", latin1_folder, "--label", "L", "--category", "game", "--db", db)
    assert result.returncode == 0, result.stderr
    assert db_counts(db) == {"sources": 1, "items": 2}
    listing = invoke("db", "list", "--db", db, "--items", "1")
    assert listing.returncode == 0
    assert "caf" in listing.stdout.decode("utf-8")


# -- 8. 16-bit greyscale ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_copy_of_a_reference_matches(tmp_path, pictures, ref_db, suffix):
    with Image.open(pictures["known"]) as known:
        rgb = np.asarray(known.convert("RGB"))
    path = tmp_path / f"grey16{suffix}"
    Image.fromarray(grey_16bit(rgb)).save(path)
    with Image.open(path) as written:
        assert written.mode.startswith("I")
    result = _scan(path, ref_db)
    (row,), _summary = jsonl(result)
    assert row["status"] == "match", row
    assert result.returncode == 1


# -- 12. truncated MP4 -----------------------------------------------------------------------


def _faststart_mp4(path: Path, seconds: float) -> Path:
    """An MP4 with its index first (as the web serves them), so a cut file still opens."""
    import av

    from tests.video_samples import frames_for

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18", "g": "20"}  # a keyframe every 2 s
        for _t, image in frames_for([(1, seconds / 2), (2, seconds / 2)], 10):
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    return path


def test_truncated_mp4_is_an_error_not_a_short_video(tmp_path):
    whole = _faststart_mp4(tmp_path / "whole.mp4", 8.0)
    data = whole.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    db = tmp_path / "v.sqlite"
    added = invoke("db", "add", whole, "--label", "V", "--category", "footage", "--db", db)
    assert added.returncode == 0, added.stderr

    result = _scan(half, db)
    (row,), _summary = jsonl(result)
    assert row["status"] == "error", row
    assert "half.mp4" in row["error"] and "truncated" in row["error"]
    assert result.returncode == 2

    other = tmp_path / "v2.sqlite"
    result = invoke("db", "add", half, "--label", "V", "--category", "footage", "--db", other)
    assert result.returncode == 2
    assert [line for line in stderr_lines(result) if "half.mp4" in line]
    assert not other.exists() or db_counts(other)["items"] == 0


def test_truncated_mp4_added_in_parallel_segments_is_an_error(tmp_path):
    """``db add --jobs 2`` samples a long video in keyframe segments: their merge is checked
    against the header's duration as a whole read is."""
    data = _faststart_mp4(tmp_path / "long.mp4", 24.0).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    db = tmp_path / "p.sqlite"
    result = run("db", "add", half, "--label", "V", "--category", "footage", "--db", db, "-j", "2")
    assert result.returncode == 2, result.stderr
    assert [line for line in stderr_lines(result) if "half.mp4" in line and "truncated" in line]
    assert not db.exists() or db_counts(db)["items"] == 0


# -- 13. the smaller ones --------------------------------------------------------------------


def test_standard_input_is_capped(tmp_path, ref_db):
    """The process stops reading past the cap: feeding it 700 MB of zeros ends early."""
    import subprocess

    from tests.hostile_corpus import kill_group, provcheck_exe

    block, sent = bytes(1 << 20), 0
    with subprocess.Popen(
        [provcheck_exe(), "scan", "-", "--db", str(ref_db), "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        try:
            while sent < 700:
                proc.stdin.write(block)
                sent += 1
            proc.stdin.close()
        except BrokenPipeError:
            with contextlib.suppress(BrokenPipeError):  # what was left unsent goes nowhere
                proc.stdin.close()
        try:
            out = proc.stdout.read()
            proc.wait(timeout=60)
        finally:
            kill_group(proc.pid)
    assert sent < 700, "provcheck read all 700 MB of standard input"
    (row, _summary) = [json.loads(line) for line in out.decode().splitlines()]
    assert row["status"] == "error" and "limit" in row["error"]


def test_a_folder_1000_levels_deep_does_not_crash(tmp_path, pictures, ref_db):
    root = tmp_path / "deep"
    root.mkdir()
    shutil.copy(pictures["known"], root / "top.jpg")
    with deep_folder(root, 990) as deepest:
        shutil.copy(pictures["unknown"], os.fsencode(deepest) + b"/bottom.jpg")
        result = _scan(root, ref_db)
        db = tmp_path / "d.sqlite"
        added = invoke("db", "add", root, "--label", "L", "--category", "game", "--db", db)
    assert result.returncode in (1, 2), result.stderr[-2000:]
    rows, _summary = jsonl(result)
    got = _by_name(rows)
    assert got["top.jpg"]["status"] == "match"
    assert all(r["status"] != "error" or "\n" not in r["error"] for r in rows)
    assert added.returncode in (0, 2), added.stderr[-2000:]
    assert b"Traceback" not in added.stderr


def test_an_unreadable_subfolder_is_reported(tmp_path, pictures, ref_db):
    root = tmp_path / "inbox"
    (root / "locked").mkdir(parents=True)
    shutil.copy(pictures["known"], root / "ok.jpg")
    shutil.copy(pictures["unknown"], root / "locked" / "hidden.jpg")
    (root / "locked").chmod(0)
    try:
        result = _scan(root, ref_db, unprivileged=True)
        added = run(
            "db", "add", root, "--label", "L", "--category", "game", "--db", tmp_path / "u.db",
            unprivileged=True,
        )  # fmt: skip
    finally:
        (root / "locked").chmod(0o755)
    rows, _summary = jsonl(result)
    got = _by_name(rows)
    assert got["ok.jpg"]["status"] == "match"
    assert [r for r in rows if r["status"] == "error" and "locked" in r["error"]]
    assert result.returncode == 2
    assert added.returncode == 2
    assert [line for line in stderr_lines(added) if "locked" in line]


def test_avif_and_heic_stills_are_stills(tmp_path, pictures, ref_db):
    with Image.open(pictures["known"]) as known:
        picture = known.convert("RGB")
    avif = tmp_path / "photo.avif"
    picture.save(avif)
    data = avif.read_bytes()
    assert data[4:12] == b"ftypavif"
    heic = tmp_path / "photo.heic"
    heic.write_bytes(data[:8] + b"heic" + data[12:])  # an HEIF brand the still decoders may lack
    result = _scan(avif, ref_db)
    (row,), _summary = jsonl(result)
    assert (row["kind"], row["status"]) == ("image", "match"), row
    result = _scan(heic, ref_db)
    (row,), _summary = jsonl(result)
    assert row["kind"] == "image", row
    assert row["status"] == "match" or str(heic) in (row["error"] or "")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and holds no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _corrupt_lzw_tiff() -> bytes:
    """A TIFF whose LZW strip is damaged: libtiff, a C library, prints its complaint itself."""
    buf = io.BytesIO()
    noise_picture(8, (96, 72)).save(buf, "TIFF", compression="tiff_lzw")
    data = bytearray(buf.getvalue())
    data[20:40] = b"\xff" * 20
    return bytes(data)


def _corrupt_exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    raw = exif.tobytes()
    buf = io.BytesIO()
    noise_picture(7).save(buf, "JPEG", exif=raw[:10] + b"\xff\xff\x00\x00" + raw[14:])
    return buf.getvalue()


def test_library_warnings_never_reach_stderr(tmp_path, ref_db):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(_png_header_only(10_000, 9_000))  # 90 MP: bomb warning
    (folder / "exif.jpg").write_bytes(_corrupt_exif_jpeg())
    (folder / "lzw.tif").write_bytes(_corrupt_lzw_tiff())
    result = run("scan", folder, "--db", ref_db, "-j", "1")
    assert result.returncode == 2
    assert result.stderr == b""
    lines = [line for line in result.stdout.decode().splitlines() if not line.startswith(" ")]
    assert len(lines) == 4  # three results (metadata flags are indented under them), a summary
    added = run(
        "db", "add", folder, "--label", "L", "--category", "game", "--db", tmp_path / "w.db"
    )
    assert b"Warning" not in added.stderr
    assert len(stderr_lines(added)) == 2  # the bomb and the TIFF, named; the EXIF one is added

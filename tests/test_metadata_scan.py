"""Metadata in every result: read by the hashing worker from the bytes it already has, carried to
the verdict, reported in JSON (``metadata`` with ``flags``), text, HTML, CSV and SARIF; the
C2PA trust list on the command line; hostile metadata never stops a scan."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.media.targets import Target
from provcheck.services import scan as scan_service
from tests.c2pa_signing import CAMERA, Chain, manifest, sign
from tests.conftest import encode, noise_picture
from tests.exif_blocks import (
    ascii_entry,
    camera_thumbnail,
    jpeg_with_exif,
    pillow_exif,
    raw_tiff,
    with_thumbnail,
)

CLAIMED = "2024-03-01"


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def scan_json(*args: object) -> list[dict]:
    result = run("scan", *args, "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["results"]


@pytest.fixture
def known_with_exif(tmp_path: Path, pictures: dict[str, Path]) -> Path:
    """The reference picture of ``ref_db`` (first seen 2015-06-01) as a camera file dated 2013,
    edited in Photoshop, with a thumbnail of another picture."""
    picture = noise_picture(1)
    block = pillow_exif(
        make="Canon",
        model="Canon EOS 5D",
        software="Adobe Photoshop CS6 (Windows)",
        captured="2013:05:01 12:00:00",
        captured_offset="+02:00",
        gps=(48.8566, 2.3522),
    )
    block_bytes = with_thumbnail(block.tobytes(), camera_thumbnail(noise_picture(9)))
    path = tmp_path / "known-with-exif.jpg"
    path.write_bytes(jpeg_with_exif(picture, block_bytes))
    return path


def test_json_carries_metadata_and_flags(ref_db: Path, known_with_exif: Path) -> None:
    (result,) = scan_json(known_with_exif, "--db", ref_db, "--claimed-date", CLAIMED)
    assert result["status"] == "match"
    meta = result["metadata"]
    assert meta["exif"]["captured"] == "2013-05-01T12:00:00+02:00"
    assert meta["exif"]["make"] == "Canon" and meta["exif"]["gps"]["latitude"] == 48.8566
    assert meta["exif"]["thumbnail"]["pdq_distance"] > 31
    assert meta["c2pa"] is None
    assert [f["name"] for f in meta["flags"]] == [
        "captured_before_claim",
        "predates_reference",
        "thumbnail_differs",
        "software_edited",
    ]
    assert '"Test Game" was first seen (2015-06-01)' in meta["flags"][1]["reason"]


def test_a_stripped_file_says_so_and_an_error_has_no_metadata(
    ref_db: Path, pictures: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jpg"
    stripped, error = scan_json(pictures["unknown"], missing, "--db", ref_db)
    assert stripped["metadata"]["exif"]["present"] is False
    assert [f["name"] for f in stripped["metadata"]["flags"]] == ["no_metadata"]
    assert error["status"] == "error" and error["metadata"] is None


def test_hostile_exif_is_a_note_and_the_batch_goes_on(
    ref_db: Path, pictures: dict[str, Path], tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.jpg"
    block = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 40  # 65535 entries
    hostile.write_bytes(jpeg_with_exif(noise_picture(3), block))
    first, second = scan_json(hostile, pictures["known"], "--db", ref_db)
    assert first["status"] == "clean"
    assert first["metadata"]["exif"]["notes"] == [
        "EXIF block is malformed (IFD0 declares 65535 entries, more than the block holds)"
    ]
    assert second["status"] == "match"


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


@pytest.fixture
def signed(tmp_path: Path, chain: Chain) -> Path:
    path = tmp_path / "signed.jpg"
    path.write_bytes(sign(encode(noise_picture(4)), "image/jpeg", chain, manifest(CAMERA)))
    return path


def test_c2pa_trust_on_the_command_line(
    ref_db: Path, signed: Path, chain: Chain, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(chain.root_pem)
    (trusted,) = scan_json(signed, "--db", ref_db, "--c2pa-trust", anchors)
    assert trusted["metadata"]["c2pa"]["state"] == "trusted"
    assert trusted["metadata"]["c2pa"]["actions"][0]["description"] == "created by a camera"
    assert trusted["metadata"]["flags"] == []
    (valid,) = scan_json(signed, "--db", ref_db)
    assert valid["metadata"]["c2pa"]["state"] == "valid"


def test_a_tampered_manifest_is_a_finding_not_an_error(ref_db: Path, signed: Path) -> None:
    data = bytearray(signed.read_bytes())
    data[-10] ^= 0xFF
    signed.write_bytes(bytes(data))
    result = run("scan", signed, "--db", ref_db, "--format", "json")
    assert result.exit_code == 0, result.output  # clean: a bad manifest does not fail the scan
    (record,) = json.loads(result.output)["results"]
    assert record["status"] == "clean"
    assert record["metadata"]["c2pa"]["state"] == "invalid"
    assert [f["name"] for f in record["metadata"]["flags"]] == ["credentials_invalid"]


def test_a_bad_trust_list_is_a_usage_error_naming_the_file(tmp_path: Path, pictures) -> None:
    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate")
    result = run("scan", pictures["unknown"], "--c2pa-trust", bad)
    assert result.exit_code == 2
    assert f"{bad}: not a list of PEM certificates" in result.output


def test_text_output_prints_flags_harmlessly(ref_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "edited.jpg"
    software = "GIMP \x1b[2J\x1b]0;pwned\x07 2.10\rMATCH fake"
    block = raw_tiff([ascii_entry(0x0131, software), ascii_entry(0x010F, "Canon")])
    path.write_bytes(jpeg_with_exif(noise_picture(5), block))
    result = run("scan", path, "--db", ref_db, "--verbose")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"clean  {path}"
    assert lines[1] == (
        "       metadata: Canon; software GIMP \\x1b[2J\\x1b]0;pwned\\x07 2.10 MATCH fake"
    )
    assert lines[2].startswith('       flag software_edited: EXIF Software is "GIMP \\x1b[2J')
    assert "\x1b" not in result.output and "\r" not in result.output


def test_csv_and_sarif_carry_the_metadata(ref_db: Path, known_with_exif: Path) -> None:
    args = (known_with_exif, "--db", ref_db, "--claimed-date", CLAIMED, "--fail-on", "never")
    rows = list(csv.DictReader(io.StringIO(run("scan", *args, "--format", "csv").output)))
    assert rows[0]["metadata_flags"] == (
        "captured_before_claim predates_reference thumbnail_differs software_edited"
    )
    assert rows[0]["exif_camera"] == "Canon EOS 5D"
    assert rows[0]["gps_latitude"] == "48.8566"
    assert rows[0]["c2pa_state"] == ""
    sarif = json.loads(run("scan", *args, "--format", "sarif").output)
    (found,) = sarif["runs"][0]["results"]
    assert found["properties"]["metadata"]["exif"]["software"] == "Adobe Photoshop CS6 (Windows)"


def test_html_shows_a_contradicting_date_on_a_match_first(
    ref_db: Path, known_with_exif: Path, pictures: dict[str, Path]
) -> None:
    result = run(
        "scan",
        known_with_exif,
        pictures["unknown"],
        "--db",
        ref_db,
        "--claimed-date",
        CLAIMED,
        "--format",
        "html",
        "--fail-on",
        "never",
    )
    page = result.output
    case = page[page.index('id="case-1"') : page.index("</section>")]
    assert case.index('class="alert"') < case.index('class="pair"')  # above the pictures
    assert "2 days before" not in case  # only the file's own dates are in the alert
    assert "761 days before the matched source" in case.split('class="pair"')[0]
    assert '<div class="metadata">' in case and "OpenStreetMap" in case
    assert 'id="metadata"' in page  # the clean input's panel
    assert page.count('<span class="flagname">no_metadata</span>') == 2  # table + its panel


def test_html_escapes_what_the_file_says(ref_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "hostile.jpg"
    hostile = '<img src="http://127.0.0.1:9/x.png"><script>alert(1)</script>'
    block = raw_tiff([ascii_entry(0x0131, hostile), ascii_entry(0x010F, "GIMP </dd><b>")])
    path.write_bytes(jpeg_with_exif(noise_picture(6), block))
    page = run("scan", path, "--db", ref_db, "--format", "html").output
    assert "<script>" not in page and '<img src="http' not in page and "</dd><b>" not in page
    assert "&lt;img src=&quot;http://127.0.0.1:9/x.png&quot;&gt;" in page


def test_every_worker_reads_the_file_once(signed: Path, monkeypatch) -> None:
    """The metadata comes from the bytes the worker read to decode: no second read or open."""
    import os

    calls: list[str] = []
    real_open = os.open

    def open_(path: object, *args: object, **kwargs: object) -> int:
        if Path(os.fsdecode(path)).name == signed.name:  # type: ignore[arg-type]
            calls.append(f"open {signed.name}")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_)
    hashed = scan_service._hash_target(Target("file", str(signed)))
    assert hashed.metadata is not None and hashed.metadata.credentials is not None
    # every file is opened through media.reading; the first open is the video sniffer's peek
    # at its first bytes (media.sniff), older than metadata; the second reads it, once
    assert calls == ["open signed.jpg", "open signed.jpg"]


def test_metadata_crosses_the_process_pool(ref_db: Path, pictures, known_with_exif) -> None:
    files = [known_with_exif, pictures["unknown"], known_with_exif, pictures["known"]]
    results = scan_json(*files, "--db", ref_db, "--jobs", "2")
    assert [r["metadata"]["exif"]["present"] for r in results] == [True, False, True, False]


def test_a_signed_video_reports_its_credentials_and_no_exif(
    ref_db: Path, tmp_path: Path, chain: Chain
) -> None:
    from tests.video_samples import frames_for, write_video

    clip = write_video(tmp_path / "clip.mp4", frames_for([(3, 1.0)], fps=10))
    signed = tmp_path / "signed.mp4"
    signed.write_bytes(sign(clip.read_bytes(), "video/mp4", chain, manifest(CAMERA)))
    unsigned, credentialed = scan_json(clip, signed, "--db", ref_db)
    assert unsigned["kind"] == "video"
    assert unsigned["metadata"] == {"exif": None, "c2pa": None, "flags": []}
    assert credentialed["metadata"]["c2pa"]["state"] == "valid"


def test_serve_uploads_carry_metadata_and_use_the_trust_list(
    ref_db: Path, signed: Path, chain: Chain, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from provcheck.server import ScanService, ServeSettings, create_app
    from provcheck.services.databases import open_references
    from provcheck.signals.c2pa import load_trust_list

    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(chain.root_pem)
    settings = ServeSettings(workers=1, c2pa_trust=load_trust_list(anchors))
    service = ScanService(open_references([ref_db]), settings)
    try:
        with TestClient(create_app(service)) as client:
            files = {"file": ("signed.jpg", signed.read_bytes(), "image/jpeg")}
            doc = client.post("/v1/scan", files=files).json()
    finally:
        service.close()
    (result,) = doc["results"]
    assert result["metadata"]["c2pa"]["state"] == "trusted"
    assert result["metadata"]["exif"]["present"] is False

"""Flags from metadata: each one raised by the facts that should raise it, with its reason, and
not raised by the facts next to them."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from PIL import Image

from provcheck.matching.known_software import identify
from provcheck.matching.metadata_flags import (
    FLAG_NAMES,
    THUMBNAIL_MAX_DISTANCE,
    Sighting,
    metadata_flags,
)
from provcheck.signals.credentials import Action, ContentCredentials, Ingredient
from provcheck.signals.exif import ExifDate, ExifFacts, GpsPosition, exif_block
from provcheck.signals.exif_thumbnail import EmbeddedThumbnail
from provcheck.signals.metadata import FileMetadata, read_metadata
from tests.conftest import synthetic_picture
from tests.exif_blocks import jpeg_with_exif, pillow_exif

CLAIMED = date(2024, 3, 1)


def taken(day: str, offset: str | None = None) -> ExifDate:
    return ExifDate(datetime.fromisoformat(day), offset, "DateTimeOriginal")


def names(metadata: FileMetadata, **kwargs: object) -> list[str]:
    return [flag.name for flag in metadata_flags(metadata, **kwargs)]  # type: ignore[arg-type]


def only(metadata: FileMetadata, name: str, **kwargs: object) -> str:
    flags = [f for f in metadata_flags(metadata, **kwargs) if f.name == name]  # type: ignore[arg-type]
    assert len(flags) == 1, metadata_flags(metadata, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in flags[0].reason
    return flags[0].reason


def test_stripped_files_say_so_plainly() -> None:
    reason = only(FileMetadata(), "no_metadata")
    assert reason == (
        "no EXIF or C2PA metadata: stripped, as social platforms and messaging apps do on upload;"
        " this says nothing about the picture either way"
    )
    orientation_only = FileMetadata(ExifFacts(present=True, orientation=1))
    assert "(only an orientation tag)" in only(orientation_only, "no_metadata")
    assert names(FileMetadata(ExifFacts(present=True, make="Canon"))) == []
    assert names(FileMetadata(credentials=ContentCredentials("valid"))) == []


def test_capture_after_the_claimed_date() -> None:
    meta = FileMetadata(ExifFacts(present=True, captured=taken("2024-03-05T14:22:10"), make="X"))
    assert only(meta, "captured_after_claim", claimed=CLAIMED) == (
        "EXIF says taken 2024-03-05T14:22:10 (DateTimeOriginal), 4 days after the claimed date"
        " 2024-03-01"
    )
    assert names(meta) == []  # no claimed date, nothing to contradict


def test_capture_before_the_claimed_date() -> None:
    meta = FileMetadata(ExifFacts(present=True, captured=taken("2019-07-02T08:00:00", "-04:00")))
    reason = only(meta, "captured_before_claim", claimed=CLAIMED)
    assert reason.startswith("EXIF says taken 2019-07-02T08:00:00-04:00 (DateTimeOriginal),")
    assert "1704 days before the claimed date 2024-03-01: an older picture" in reason


def test_the_claimed_day_itself_raises_nothing() -> None:
    meta = FileMetadata(ExifFacts(present=True, captured=taken("2024-03-01T23:59:59")))
    assert names(meta, claimed=CLAIMED) == []


def test_the_digitised_date_stands_in_for_a_missing_capture_date() -> None:
    digitized = ExifDate(datetime(2024, 3, 2), None, "DateTimeDigitized")
    meta = FileMetadata(ExifFacts(present=True, digitized=digitized))
    assert "(DateTimeDigitized), 1 day after" in only(meta, "captured_after_claim", claimed=CLAIMED)
    modified_only = FileMetadata(
        ExifFacts(present=True, modified=ExifDate(datetime(2030, 1, 1), None, "DateTime"))
    )
    assert names(modified_only, claimed=CLAIMED) == []  # a file change is not a capture


def test_a_capture_before_the_matched_source_existed() -> None:
    meta = FileMetadata(ExifFacts(present=True, captured=taken("2013-05-01T12:00:00")))
    source = Sighting("AC-130 Gunship Simulator", date(2015, 6, 1))
    assert only(meta, "predates_reference", reference=source) == (
        "EXIF says taken 2013-05-01T12:00:00 (DateTimeOriginal), 761 days before the matched"
        ' source "AC-130 Gunship Simulator" was first seen (2015-06-01): the date is wrong or'
        " was rewritten, or the source is older than recorded"
    )
    later = Sighting("AC-130 Gunship Simulator", date(2013, 5, 1))
    assert names(meta, reference=later) == []


def thumb(distance: int | None) -> FileMetadata:
    return FileMetadata(
        ExifFacts(present=True, thumbnail=EmbeddedThumbnail(160, 120, 5000, distance))
    )


def test_a_thumbnail_that_shows_another_picture() -> None:
    reason = only(thumb(THUMBNAIL_MAX_DISTANCE + 1), "thumbnail_differs")
    assert reason.startswith("the EXIF thumbnail shows a different picture (PDQ distance 32;")
    assert names(thumb(THUMBNAIL_MAX_DISTANCE)) == []
    assert names(thumb(None)) == []


@pytest.mark.parametrize(
    ("software", "written_by"),
    [
        ("Adobe Photoshop 25.0 (Windows)", "Adobe Photoshop, an image editor"),
        ("Adobe Photoshop Lightroom Classic 13.1", "Adobe Lightroom, an image editor"),
        ("GIMP 2.10.36", "GIMP, an image editor"),
        ("Snapseed 2.0", "Snapseed, an image editor"),
        ("Unity 2022.3.5f1", "Unity, a game engine"),
        ("NVIDIA Ansel", "NVIDIA Ansel / ShadowPlay, a game capture tool"),
        ("OBS Studio 30.0", "OBS Studio, a game capture tool"),
        ("Greenshot", "Greenshot, a screenshot tool"),
        ("Blender 4.0", "Blender, a 3D renderer"),
        ("Midjourney v6", "Midjourney, an AI image generator"),
    ],
)
def test_known_software(software: str, written_by: str) -> None:
    meta = FileMetadata(ExifFacts(present=True, software=software))
    assert (
        only(meta, "software_edited") == f'EXIF Software is "{software}": written by {written_by}'
    )


@pytest.mark.parametrize(
    "software",
    [
        "Ver.1.00",
        "HDR+ 1.0.345214996zd",
        "17.2.1",
        "Firmware Version 1.8.1",
        "G998BXXU5CVDB",
        "Canon EOS R6",
        "DSC-RX100M7 v3.00",
        "Community Edition",
        "Steamboat camera 2",
    ],
)
def test_camera_firmware_is_not_an_editor(software: str) -> None:
    assert identify(software) is None
    assert names(FileMetadata(ExifFacts(present=True, software=software))) == []


def test_a_console_screenshot_is_known_by_its_make() -> None:
    meta = FileMetadata(ExifFacts(present=True, make="Nintendo", model="Nintendo Switch"))
    assert only(meta, "software_edited") == (
        'EXIF Make is "Nintendo": written by Nintendo Switch, a game capture tool'
    )


def test_credentials_that_say_ai() -> None:
    made = Action("c2pa.created", "created by a generative AI model", "trainedAlgorithmicMedia")
    creds = ContentCredentials(
        "trusted", signer="Gen Co", claim_generator="Gen 2.0", actions=(made,)
    )
    assert only(FileMetadata(credentials=creds), "ai_generated") == (
        "C2PA credentials (trusted) say the file was made by a generative AI model"
        " (signed by Gen Co with Gen 2.0)"
    )
    parent = Ingredient("parent.png", "image/png", "parentOf", True, ai_generated=True)
    edited = ContentCredentials("valid", ingredients=(parent,))
    assert "say an ingredient was made" in only(FileMetadata(credentials=edited), "ai_generated")
    camera = Action("c2pa.created", "created by a camera", "digitalCapture")
    assert names(FileMetadata(credentials=ContentCredentials("trusted", actions=(camera,)))) == []


def test_credentials_that_do_not_validate() -> None:
    creds = ContentCredentials(
        "invalid",
        failures=(
            ("signingCredential.ocsp.unknown", "..."),
            ("assertion.dataHash.mismatch", "hashes do not match"),
        ),
    )
    assert only(FileMetadata(credentials=creds), "credentials_invalid") == (
        "C2PA credentials do not validate (signingCredential.ocsp.unknown,"
        " assertion.dataHash.mismatch): the file was changed after it was signed"
    )
    assert names(FileMetadata(credentials=ContentCredentials("remote"))) == []


def test_flags_come_in_the_documented_order() -> None:
    meta = FileMetadata(
        ExifFacts(
            present=True,
            captured=taken("2013-05-01T12:00:00"),
            software="GIMP 2.10",
            gps=GpsPosition(1.0, 2.0),
            thumbnail=EmbeddedThumbnail(160, 120, 5000, 120),
        ),
        ContentCredentials(
            "invalid", actions=(Action("c2pa.created", "x", "trainedAlgorithmicMedia"),)
        ),
    )
    raised = names(meta, claimed=CLAIMED, reference=Sighting("S", date(2015, 1, 1)))
    assert raised == [n for n in FLAG_NAMES if n in raised]
    assert set(raised) == set(FLAG_NAMES) - {"no_metadata", "captured_after_claim"}
    assert [f.as_dict()["name"] for f in metadata_flags(meta)] == [
        "thumbnail_differs",
        "software_edited",
        "ai_generated",
        "credentials_invalid",
    ]


def test_from_a_file_to_flags() -> None:
    data = jpeg_with_exif(
        synthetic_picture(3),
        pillow_exif(software="Adobe Photoshop 25.0", captured="2024:03:09 10:00:00"),
    )
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        meta = read_metadata(data, exif_block(opened), None, opened.format)
    assert names(meta, claimed=CLAIMED) == ["captured_after_claim", "software_edited"]
    assert meta.as_dict()["c2pa"] is None
    assert meta.as_dict()["exif"]["software"] == "Adobe Photoshop 25.0"

"""EXIF facts from small files made in the test: what cameras write, and what hostile files do."""

from __future__ import annotations

import io
import struct
from datetime import datetime

import pytest
from PIL import Image

from provcheck.media.images import decode_image
from provcheck.signals.exif import MAX_EXIF_BYTES, ExifFacts, exif_block, read_exif
from tests.conftest import DATA, synthetic_picture
from tests.exif_blocks import (
    ASCII,
    IFD_EXIF,
    RATIONAL,
    SHORT,
    ascii_entry,
    camera_thumbnail,
    jpeg_with_exif,
    long_entry,
    pillow_exif,
    raw_tiff,
    short_entry,
    with_thumbnail,
)


def facts_of(data: bytes, *, with_picture: bool = True) -> ExifFacts:
    """Read as the hashing worker does: the EXIF block of the opened, loaded file, and the
    upright working copy for the thumbnail."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        block = exif_block(opened)
    picture = decode_image(data, "test").image if with_picture else None
    return read_exif(block, picture)


def picture(seed: int = 1, size: tuple[int, int] = (320, 240)) -> Image.Image:
    return synthetic_picture(seed, size)


def test_camera_fields_are_read_with_offsets_and_a_map_link() -> None:
    exif = pillow_exif(
        make="Canon",
        model="Canon EOS R6",
        software="Firmware Version 1.8.1",
        modified="2024:03:06 09:00:00",
        captured="2024:03:05 14:22:10",
        captured_offset="+01:00",
        digitized="2024:03:05 14:22:10",
        gps=(-33.856784, -151.215297),
        altitude=-12.5,
        orientation=1,
    )
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.present and facts.informative and facts.notes == ()
    assert facts.captured is not None and facts.captured.isoformat() == "2024-03-05T14:22:10+01:00"
    assert facts.captured.local == datetime(2024, 3, 5, 14, 22, 10)
    assert facts.captured.tag == "DateTimeOriginal"
    assert facts.digitized is not None and facts.digitized.offset is None
    assert facts.modified is not None and facts.modified.isoformat() == "2024-03-06T09:00:00"
    assert (facts.make, facts.model, facts.software) == (
        "Canon",
        "Canon EOS R6",
        "Firmware Version 1.8.1",
    )
    assert facts.gps is not None
    assert facts.gps.latitude == pytest.approx(-33.856784, abs=1e-5)
    assert facts.gps.longitude == pytest.approx(-151.215297, abs=1e-5)
    assert facts.gps.altitude_m == -12.5
    assert facts.gps.map_url.startswith("https://www.openstreetmap.org/?mlat=-33.85678")
    record = facts.as_dict()
    assert record["captured"] == "2024-03-05T14:22:10+01:00"
    assert record["gps"]["map_url"] == facts.gps.map_url
    assert record["orientation"] == 1 and record["thumbnail"] is None


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_carry_the_same_block(fmt: str) -> None:
    out = io.BytesIO()
    picture().save(out, fmt, exif=pillow_exif(make="Nikon", captured="2023:01:02 03:04:05"))
    facts = facts_of(out.getvalue())
    assert facts.make == "Nikon"
    assert facts.captured is not None and facts.captured.isoformat() == "2023-01-02T03:04:05"


def test_a_tiff_reports_its_own_directory() -> None:
    out = io.BytesIO()
    picture().save(out, "TIFF", tiffinfo={0x010F: "Leica", 0x0131: "GIMP 2.10"})
    facts = facts_of(out.getvalue())
    assert (facts.make, facts.software) == ("Leica", "GIMP 2.10")


def test_no_exif_at_all() -> None:
    out = io.BytesIO()
    picture().save(out, "JPEG")
    facts = facts_of(out.getvalue())
    assert not facts.present and not facts.informative and facts.notes == ()
    assert read_exif(None) == ExifFacts()


def test_orientation_alone_is_not_informative() -> None:
    facts = facts_of(jpeg_with_exif(picture(), pillow_exif(orientation=1)))
    assert facts.present and facts.orientation == 1 and not facts.informative


def test_blank_dates_are_absent_and_bad_ones_are_named() -> None:
    exif = pillow_exif(captured="0000:00:00 00:00:00", digitized="yesterday at noon")
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.captured is None and facts.digitized is None
    assert facts.notes == ("EXIF DateTimeDigitized is not a date ('yesterday at noon')",)
    exif = pillow_exif(captured="2024:02:30 10:00:00", captured_offset="+25:00")
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.captured is None
    assert facts.notes == ("EXIF DateTimeOriginal is not a valid date ('2024:02:30 10:00:00')",)
    exif = pillow_exif(captured="2024:02:28 10:00:00", captured_offset="+25:00")
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.captured is not None and facts.captured.offset is None  # offset out of range


def test_a_gps_placeholder_at_zero_zero_is_not_a_position() -> None:
    facts = facts_of(jpeg_with_exif(picture(), pillow_exif(gps=(0.0, 0.0))))
    assert facts.gps is None
    assert facts.notes == (
        "EXIF GPS position is 0, 0: a placeholder written without a position fix, not reported",
    )


def test_gps_with_a_zero_denominator_or_no_reference_is_dropped_with_a_note() -> None:
    from PIL.TiffImagePlugin import IFDRational

    exif = pillow_exif()
    exif.get_ifd(0x8825).update(
        {1: "N", 2: (IFDRational(1, 0), IFDRational(0), IFDRational(0)), 3: "E", 4: (2.0, 0, 0)}
    )
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.gps is None and "zero denominator" in facts.notes[0]
    exif = pillow_exif()
    exif.get_ifd(0x8825).update({2: (48.0, 0, 0), 4: (2.0, 0, 0)})
    facts = facts_of(jpeg_with_exif(picture(), exif))
    assert facts.gps is None and facts.notes == ("EXIF GPS position has no N/S reference",)


def test_wrong_types_cost_the_field_only() -> None:
    block = raw_tiff(
        [
            (0x010F, SHORT, 1, struct.pack("<H", 7)),  # Make as a number
            ascii_entry(0x0110, "Pixel 8"),
            (0x0112, ASCII, 2, b"6\x00"),  # Orientation as text
            (0x0131, RATIONAL, 1, struct.pack("<LL", 1, 2)),  # Software as a fraction
        ]
    )
    facts = read_exif(block)
    assert facts.model == "Pixel 8"
    assert (facts.make, facts.orientation, facts.software) == (None, None, None)
    assert facts.notes == (
        "EXIF Orientation is not 1-8 ('6')",
        "EXIF Make is not text (int)",
        "EXIF Software is not text (IFDRational)",
    )


def test_text_is_cut_at_nul_trimmed_and_bounded() -> None:
    block = raw_tiff([ascii_entry(0x010F, "  Canon\x00hidden"), ascii_entry(0x0131, "x" * 500)])
    facts = read_exif(block)
    assert facts.make == "Canon"
    assert facts.software == "x" * 200 + "…"


def test_huge_entry_counts_are_refused_before_pillow_reads_them() -> None:
    block = b"Exif\x00\x00II*\x00" + struct.pack("<L", 8) + struct.pack("<H", 65535) + b"\x00" * 64
    facts = read_exif(block)
    assert facts.present and not facts.informative
    assert facts.notes == (
        "EXIF block is malformed (IFD0 declares 65535 entries, more than the block holds)",
    )


def test_values_declared_larger_than_the_block_are_refused() -> None:
    # 500 entries, each claiming 60 KB at the same offset: a parser that trusts them copies 30 MB.
    entries = [(0x9000 + i, 7, 60_000, struct.pack("<L", 8)) for i in range(500)]
    block = raw_tiff(entries)
    facts = read_exif(block)
    assert "declares 30,000,000 bytes of values" in facts.notes[0]


def test_a_value_past_the_end_is_skipped_with_a_note_and_no_warning_escapes() -> None:
    block = raw_tiff([ascii_entry(0x0110, "Pixel 8"), (0x010F, ASCII, 20, struct.pack("<L", 40))])
    facts = read_exif(block)  # filterwarnings=error would turn an escaping warning into a failure
    assert facts.model == "Pixel 8" and facts.make is None
    assert facts.notes == ("EXIF: 1 malformed field(s) skipped (Truncated File Read)",)


def test_directories_that_point_at_themselves_or_nowhere_do_not_loop_or_raise() -> None:
    # IFD1 is IFD0 again, and the Exif directory pointer is IFD0 itself.
    block = raw_tiff([ascii_entry(0x010F, "Canon"), long_entry(IFD_EXIF, 8)], next_ifd=8)
    facts = read_exif(block)
    assert facts.make == "Canon" and facts.thumbnail is None
    block = raw_tiff([long_entry(IFD_EXIF, 10_000_000)], next_ifd=4_000_000_000)
    facts = read_exif(block)
    assert facts.notes == (
        "EXIF Exif directory points outside the block",
        "EXIF thumbnail directory is malformed (IFD1 points outside the block)",
    )


@pytest.mark.parametrize(
    "block",
    [
        b"Exif\x00\x00",
        b"Exif\x00\x00garbage!",
        b"Exif\x00\x00II*\x00",
        b"Exif\x00\x00MM\x00*\xff\xff\xff\xf0",
    ],
)
def test_malformed_blocks_give_a_note_never_an_exception(block: bytes) -> None:
    facts = read_exif(block)
    assert facts.present and facts.make is None
    assert facts.notes and facts.notes[0].startswith("EXIF block is malformed")


def test_a_truncated_block_keeps_what_it_holds() -> None:
    block = raw_tiff([ascii_entry(0x0110, "EOS"), ascii_entry(0x010F, "Canon Inc.")])
    facts = read_exif(block[:-4])
    assert facts.model == "EOS" and facts.make is None
    assert facts.notes == ("EXIF: 1 malformed field(s) skipped (Truncated File Read)",)


def test_an_oversized_block_is_not_read() -> None:
    block = raw_tiff([ascii_entry(0x010F, "Canon")], tail=b"\x00" * MAX_EXIF_BYTES)
    facts = read_exif(block)
    assert facts.make is None
    assert facts.notes == ("EXIF block is 1.0 MB, over the 1 MB limit: not read",)


def _with_thumb(stored: Image.Image, thumb: bytes, **fields: object) -> bytes:
    block = with_thumbnail(pillow_exif(**fields).tobytes(), thumb)  # type: ignore[arg-type]
    return jpeg_with_exif(stored, block)


def test_the_thumbnail_of_the_same_picture_is_close() -> None:
    still = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    facts = facts_of(_with_thumb(still, camera_thumbnail(still), make="Canon"))
    assert facts.thumbnail is not None and facts.notes == ()
    assert (facts.thumbnail.width, facts.thumbnail.height) == (160, 120)
    assert facts.thumbnail.distance is not None and facts.thumbnail.distance <= 16
    assert facts.informative
    assert facts.as_dict()["thumbnail"]["pdq_distance"] == facts.thumbnail.distance


def test_the_thumbnail_of_another_picture_is_far() -> None:
    shown, other = picture(3), picture(4)
    facts = facts_of(_with_thumb(shown, camera_thumbnail(other)))
    assert facts.thumbnail is not None and facts.thumbnail.distance is not None
    assert facts.thumbnail.distance > 64


def test_a_thumbnail_filling_its_frame_is_compared_with_the_same_cut_of_the_picture() -> None:
    wide = picture(5, (480, 270))  # 16:9, thumbnail cropped to 4:3 instead of letterboxed
    thumb = wide.crop((60, 0, 420, 270)).resize((160, 120))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=75)
    facts = facts_of(_with_thumb(wide, out.getvalue()))
    assert facts.thumbnail is not None and facts.thumbnail.distance is not None
    assert facts.thumbnail.distance <= 16


def test_the_thumbnail_is_turned_with_the_pictures_orientation() -> None:
    upright = picture(6, (240, 320))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # a camera held upright, orientation 6
    facts = facts_of(_with_thumb(stored, camera_thumbnail(stored, (160, 120)), orientation=6))
    assert facts.thumbnail is not None and (facts.thumbnail.width, facts.thumbnail.height) == (
        120,
        160,
    )
    assert facts.thumbnail.distance is not None and facts.thumbnail.distance <= 16


def test_without_a_picture_the_thumbnail_is_described_but_not_compared() -> None:
    still = picture(7)
    facts = facts_of(_with_thumb(still, camera_thumbnail(still)), with_picture=False)
    assert facts.thumbnail is not None and facts.thumbnail.distance is None and facts.notes == ()


def test_a_flat_thumbnail_is_not_compared() -> None:
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (90, 90, 90)).save(out, "JPEG")
    facts = facts_of(_with_thumb(picture(8), out.getvalue()))
    assert facts.thumbnail is not None and facts.thumbnail.distance is None
    assert facts.notes == ("EXIF thumbnail is too flat to compare with the picture",)


def _jpeg_claiming(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


@pytest.mark.parametrize(
    ("thumb", "note"),
    [
        (b"not a jpeg at all", "EXIF thumbnail is not a JPEG: not read"),
        (_jpeg_claiming(2000, 1500), "EXIF thumbnail claims 2000x1500 pixels: not read"),
        (_jpeg_claiming(60000, 60000), "EXIF thumbnail is too large to decode safely: not read"),
        (b"\xff\xd8\xff\xe0 truncated", "EXIF thumbnail is corrupt"),
    ],
)
def test_hostile_thumbnails_give_a_note(thumb: bytes, note: str) -> None:
    facts = facts_of(_with_thumb(picture(9), thumb, make="Canon"))
    assert facts.make == "Canon" and facts.thumbnail is None
    assert facts.notes[0].startswith(note)


def test_a_thumbnail_pointing_past_the_block_is_not_read() -> None:
    block = raw_tiff(
        [ascii_entry(0x010F, "Canon")],
        next_ifd=8 + 2 + 12 + 4 + 6,
        tail=struct.pack("<H", 2)
        + struct.pack("<HHLL", 0x0201, 4, 1, 40)
        + struct.pack("<HHLL", 0x0202, 4, 1, 1_000_000)
        + b"\x00" * 4,
    )
    facts = read_exif(block, picture(10))
    assert facts.make == "Canon" and facts.thumbnail is None
    assert facts.notes == ("EXIF thumbnail runs past the end of the EXIF block: not read",)


def test_short_entry_helper_writes_what_pillow_reads() -> None:
    assert read_exif(raw_tiff([short_entry(0x0112, 3)])).orientation == 3

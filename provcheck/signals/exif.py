"""What a picture's own EXIF block says: when it was taken and digitised (with the UTC offsets the
camera recorded), the camera, the software that last wrote it, a GPS position, the orientation,
and the small thumbnail cameras store beside the picture (see ``exif_thumbnail``).

Pillow's EXIF reader decodes everything reported here (types, rationals, text, the GPS and
thumbnail directories), so no second metadata library is needed. What Pillow does not promise is
to bound its work on a hostile block, so this module does that before Pillow sees it: the block
is capped at ``MAX_EXIF_BYTES``, and every directory provcheck asks for is checked once (entry
count and declared value sizes against the block's length; each directory is read at most once,
so a directory that points back at itself cannot loop). A malformed field costs that field and
leaves a note; nothing here raises.
"""

from __future__ import annotations

import math
import re
import struct
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PIL import ExifTags, Image

from provcheck.signals.exif_thumbnail import EmbeddedThumbnail, read_thumbnail

#: Largest EXIF block read. A JPEG's APP1 segment cannot exceed 64 KB; PNG and WebP carry EXIF in
#: chunks with no such bound, and a block larger than this is not a camera's.
MAX_EXIF_BYTES = 1024 * 1024
#: Characters kept of a text field (make, model, software); the rest is cut with a note.
MAX_TEXT = 200

_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
_ORIGINAL, _DIGITIZED = 0x9003, 0x9004
_OFFSET, _OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_ALT_REF, _GPS_ALT = 1, 2, 3, 4, 5, 6

#: Bytes per value of each TIFF field type (TIFF 6.0 and the BigTIFF additions).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_UTC_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class ExifDate:
    """A date as the camera wrote it: wall-clock time, plus the UTC offset when recorded."""

    local: datetime  # naive: EXIF dates are the local time of the device's clock
    offset: str | None  # "+01:00"; None when the file does not say (most cameras before 2016)
    tag: str  # the EXIF tag it came from, e.g. "DateTimeOriginal"

    def isoformat(self) -> str:
        return self.local.isoformat() + (self.offset or "")


@dataclass(frozen=True, slots=True)
class GpsPosition:
    latitude: float  # degrees, north positive
    longitude: float  # degrees, east positive
    altitude_m: float | None = None  # metres above sea level (negative below)

    @property
    def map_url(self) -> str:
        """An OpenStreetMap link that puts a marker on the position."""
        lat, lon = f"{self.latitude:.6f}", f"{self.longitude:.6f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "altitude_m": self.altitude_m,
            "map_url": self.map_url,
        }


@dataclass(frozen=True, slots=True)
class ExifFacts:
    """The EXIF facts of one picture. ``present`` is False when the file carries no EXIF at all
    (the usual case after a social platform re-encodes an upload)."""

    present: bool = False
    captured: ExifDate | None = None  # DateTimeOriginal: when the picture was taken
    digitized: ExifDate | None = None  # DateTimeDigitized: when it was stored digitally
    modified: ExifDate | None = None  # DateTime (IFD0): when the file was last changed
    make: str | None = None
    model: str | None = None
    software: str | None = None
    gps: GpsPosition | None = None
    orientation: int | None = None  # 1-8; provcheck already applies it before hashing
    thumbnail: EmbeddedThumbnail | None = None
    notes: tuple[str, ...] = ()

    @property
    def informative(self) -> bool:
        """Whether any fact a reader would look at survived (orientation alone does not count:
        platforms that strip everything else keep it so the picture stays upright)."""
        facts = (self.captured, self.digitized, self.modified, self.make, self.model)
        return any(v is not None for v in (*facts, self.software, self.gps, self.thumbnail))

    def as_dict(self) -> dict[str, Any]:
        def when(value: ExifDate | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "present": self.present,
            "captured": when(self.captured),
            "digitized": when(self.digitized),
            "modified": when(self.modified),
            "make": self.make,
            "model": self.model,
            "software": self.software,
            "gps": self.gps.as_dict() if self.gps else None,
            "orientation": self.orientation,
            "thumbnail": self.thumbnail.as_dict() if self.thumbnail else None,
            "notes": list(self.notes),
        }


class _MalformedError(ValueError):
    """One field (or directory) is unusable; its message becomes a note."""


def exif_block(opened: Image.Image) -> bytes | None:
    """The raw EXIF block of a picture Pillow has opened (JPEG APP1, PNG eXIf, WebP EXIF), or for
    a TIFF its own first directory re-serialised. Call it after ``load()``: a PNG may store eXIf
    after the pixels, and only loading reaches it."""
    raw = opened.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw
    if opened.format in ("TIFF", "MPO"):
        try:
            exif = opened.getexif()
            return exif.tobytes() if len(exif) else None
        except Exception:  # a hostile TIFF directory costs its EXIF, not the scan
            return None
    return None


def read_exif(block: bytes | None, picture: Image.Image | None = None) -> ExifFacts:
    """The facts in an EXIF ``block`` (with or without its ``Exif\\0\\0`` prefix). ``picture`` is
    the working copy provcheck hashes (orientation applied): the embedded thumbnail is compared
    with it. Never raises: whatever is malformed is left out and named in ``notes``."""
    if not block:
        return ExifFacts()
    if len(block) > MAX_EXIF_BYTES:
        size = f"{len(block) / 1024 / 1024:.1f} MB"
        return ExifFacts(True, notes=(f"EXIF block is {size}, over the 1 MB limit: not read",))
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            facts = _read(block, picture, notes)
    except Exception as exc:  # a parser bug on hostile bytes costs the EXIF, not the scan
        return ExifFacts(True, notes=(*notes, f"EXIF block is malformed ({_describe(exc)})"))
    skipped = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    if skipped:
        notes.append(f"EXIF: {len(skipped)} malformed field(s) skipped ({skipped[0].message})")
    return _with_notes(facts, notes)


def _read(block: bytes, picture: Image.Image | None, notes: list[str]) -> ExifFacts:
    tiff = block.removeprefix(b"Exif\x00\x00").removeprefix(b"Exif\x00\x00")
    endian = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if endian is None or len(tiff) < 8:
        raise _MalformedError("no TIFF header")
    (ifd0,) = struct.unpack_from(endian + "L", tiff, 4)
    _check_directory(tiff, endian, ifd0, "IFD0")
    exif = Image.Exif()
    exif.load(tiff)
    base = _ifd(exif, tiff, endian, _IFD_EXIF, "Exif", notes)
    gps_ifd = _ifd(exif, tiff, endian, _IFD_GPS, "GPS", notes)
    orientation = _field(notes, "Orientation", _orientation, exif.get(_ORIENTATION))
    thumbnail = None
    next_ifd = _next_directory(tiff, endian, ifd0)
    if next_ifd:
        try:
            _check_directory(tiff, endian, next_ifd, "IFD1")
            ifd1 = exif.get_ifd(ExifTags.IFD.IFD1) if next_ifd != ifd0 else {}
            thumbnail = read_thumbnail(tiff, ifd1, orientation, picture, notes)
        except _MalformedError as exc:
            notes.append(f"EXIF thumbnail directory is malformed ({exc})")
    return ExifFacts(
        present=True,
        captured=_field(notes, "DateTimeOriginal", _date, base, _ORIGINAL, _OFFSET_ORIGINAL),
        digitized=_field(notes, "DateTimeDigitized", _date, base, _DIGITIZED, _OFFSET_DIGITIZED),
        modified=_field(notes, "DateTime", _date, _modified(exif, base), _DATETIME, _OFFSET),
        make=_field(notes, "Make", _text, exif.get(_MAKE)),
        model=_field(notes, "Model", _text, exif.get(_MODEL)),
        software=_field(notes, "Software", _text, exif.get(_SOFTWARE)),
        gps=_field(notes, "GPS position", _gps, gps_ifd),
        orientation=orientation,
        thumbnail=thumbnail,
    )


def _field(notes: list[str], name: str, parse: Any, *args: Any) -> Any:
    """``parse(*args)``, or None with a note naming the field when it is malformed."""
    try:
        return parse(*args)
    except _MalformedError as exc:
        notes.append(f"EXIF {name} {exc}")
    except (TypeError, ValueError, ArithmeticError, struct.error) as exc:
        notes.append(f"EXIF {name} is unreadable ({_describe(exc)})")
    return None


def _check_directory(tiff: bytes, endian: str, offset: int, name: str) -> None:
    """Refuse a directory whose entries or declared values do not fit in the block: that is how
    a hostile block makes a parser read (or copy) far more than the block holds."""
    if not isinstance(offset, int) or offset < 8 or offset + 2 > len(tiff):
        raise _MalformedError(f"{name} points outside the block")
    (count,) = struct.unpack_from(endian + "H", tiff, offset)
    end = offset + 2 + 12 * count
    if end > len(tiff):
        raise _MalformedError(f"{name} declares {count} entries, more than the block holds")
    declared = 0
    for _tag, kind, n, _value in struct.iter_unpack(endian + "HHL4s", tiff[offset + 2 : end]):
        size = n * _TYPE_SIZES.get(kind, 0)
        if size > 4:
            declared += size
    if declared > len(tiff):
        block = f"{len(tiff):,}-byte block"
        raise _MalformedError(f"{name} declares {declared:,} bytes of values in a {block}")


def _next_directory(tiff: bytes, endian: str, offset: int) -> int:
    """The offset of the directory after the one at ``offset`` (0: none)."""
    (count,) = struct.unpack_from(endian + "H", tiff, offset)
    pointer = offset + 2 + 12 * count
    if pointer + 4 > len(tiff):
        return 0
    return struct.unpack_from(endian + "L", tiff, pointer)[0]


def _ifd(
    exif: Image.Exif, tiff: bytes, endian: str, tag: int, name: str, notes: list[str]
) -> dict[int, Any]:
    """A sub-directory (Exif, GPS) after checking it, or {} with a note when it is unusable."""
    offset = exif.get(tag)
    if offset is None:
        return {}
    try:
        _check_directory(tiff, endian, offset, f"{name} directory")
    except _MalformedError as exc:
        notes.append(f"EXIF {exc}")
        return {}
    return exif.get_ifd(tag)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise _MalformedError(f"is not text ({type(value).__name__})")
    text = " ".join(value.split("\x00", 1)[0].split())
    if not text:
        return None
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _date(ifd: dict[int, Any], tag: int, offset_tag: int) -> ExifDate | None:
    value = _text(ifd.get(tag))
    if value is None or set(value) <= set("0: -T"):  # unset camera clocks write zeros or blanks
        return None
    match = _DATE.fullmatch(value[:19]) if len(value) >= 19 else None
    if match is None:
        raise _MalformedError(f"is not a date ({value[:40]!r})")
    try:
        local = datetime(*(int(part) for part in match.groups()))
    except ValueError:
        raise _MalformedError(f"is not a valid date ({value[:40]!r})") from None
    return ExifDate(local, _utc_offset(ifd.get(offset_tag)), _TAG_NAMES[tag])


def _modified(exif: Image.Exif, base: dict[int, Any]) -> dict[int, Any]:
    """IFD0's DateTime with the Exif directory's OffsetTime, which belongs to it."""
    return {_DATETIME: exif.get(_DATETIME), _OFFSET: base.get(_OFFSET)}


_TAG_NAMES = {_ORIGINAL: "DateTimeOriginal", _DIGITIZED: "DateTimeDigitized", _DATETIME: "DateTime"}


def _utc_offset(value: Any) -> str | None:
    """An OffsetTime* value ("+01:00") when well formed; anything else is ignored."""
    text = value.strip("\x00 ") if isinstance(value, str) else None
    match = _UTC_OFFSET.fullmatch(text or "")
    if match is None:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3))
    return text if hours <= 14 and minutes < 60 else None


def _orientation(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 1 <= value <= 8:
        raise _MalformedError(f"is not 1-8 ({str(value)[:20]!r})")
    return value


def _gps(ifd: dict[int, Any]) -> GpsPosition | None:
    if _GPS_LAT not in ifd and _GPS_LON not in ifd:
        return None
    lat = _degrees(ifd.get(_GPS_LAT), 90) * _sign(ifd.get(_GPS_LAT_REF), "N", "S")
    lon = _degrees(ifd.get(_GPS_LON), 180) * _sign(ifd.get(_GPS_LON_REF), "E", "W")
    if lat == 0 and lon == 0:
        raise _MalformedError("is 0, 0: a placeholder written without a position fix, not reported")
    altitude = None
    if _GPS_ALT in ifd:
        height = float(ifd[_GPS_ALT])
        below = ifd.get(_GPS_ALT_REF) in (1, b"\x01")
        altitude = round(-height if below else height, 1) if math.isfinite(height) else None
    return GpsPosition(round(lat, 6), round(lon, 6), altitude)


def _degrees(value: Any, limit: float) -> float:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals; one or two parts also occur."""
    parts = value if isinstance(value, tuple) else (value,)
    if value is None or not 1 <= len(parts) <= 3:
        raise _MalformedError("has no usable coordinates")
    numbers = [float(part) for part in parts]
    if not all(math.isfinite(n) and n >= 0 for n in numbers):
        raise _MalformedError("has coordinates that are not numbers (a zero denominator?)")
    degrees = sum(n / 60**i for i, n in enumerate(numbers))
    if degrees > limit:
        raise _MalformedError(f"has a coordinate over {limit:.0f} degrees")
    return degrees


def _sign(ref: Any, positive: str, negative: str) -> int:
    text = ref.decode("ascii", "replace") if isinstance(ref, bytes) else ref
    if not isinstance(text, str) or text.strip("\x00 ").upper() not in (positive, negative):
        raise _MalformedError(f"has no {positive}/{negative} reference")
    return -1 if text.strip("\x00 ").upper() == negative else 1


def _with_notes(facts: ExifFacts, notes: list[str]) -> ExifFacts:
    return replace(facts, notes=(*facts.notes, *notes)) if notes else facts


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:120] + "…"

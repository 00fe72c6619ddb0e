"""A file's own metadata as every report shows it: the JSON ``metadata`` record (with its flags),
one line of text for people, and the CSV cells. One place, so a fact reads the same everywhere.

Flags are derived here, at report time, because they weigh the file against the claimed date
(a report option) and against the best match; the facts themselves were read by the hashing
worker (``provcheck.signals.metadata``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from provcheck.matching.match import Match
from provcheck.matching.metadata_flags import Flag, Sighting, metadata_flags
from provcheck.matching.verdict import ScanResult

#: Flags that set a date in the file against the claim or the match: the HTML report puts them
#: first and in colour when the input also matched.
DATE_FLAGS = frozenset({"captured_before_claim", "captured_after_claim", "predates_reference"})

#: CSV columns, appended after the existing ones (never reordered).
CSV_COLUMNS = (
    "metadata_flags",
    "exif_captured",
    "exif_camera",
    "exif_software",
    "gps_latitude",
    "gps_longitude",
    "c2pa_state",
    "c2pa_signer",
)


def reference_sighting(matches: Sequence[Match]) -> Sighting | None:
    """The best match's source and first-seen date, when it has one."""
    if not matches:
        return None
    source = matches[0].item.source
    try:
        seen = date.fromisoformat(source.first_seen) if source.first_seen else None
    except ValueError:
        seen = None
    return Sighting(source.label, seen) if seen else None


def result_flags(result: ScanResult, claimed: date | None) -> tuple[Flag, ...]:
    if result.metadata is None:
        return ()
    return metadata_flags(result.metadata, claimed, reference_sighting(result.matches))


def metadata_record(result: ScanResult, claimed: date | None) -> dict[str, Any] | None:
    """The JSON ``metadata`` field: ``exif``, ``c2pa`` and ``flags``; null when the file could
    not be read at all."""
    if result.metadata is None:
        return None
    flags = [flag.as_dict() for flag in result_flags(result, claimed)]
    return {**result.metadata.as_dict(), "flags": flags}


def camera(exif: dict[str, Any]) -> str | None:
    """Make and model as people write them ("Canon EOS R6", not "Canon Canon EOS R6")."""
    make, model = exif.get("make"), exif.get("model")
    if make and model and model.lower().startswith(make.lower()):
        return model
    return " ".join(part for part in (make, model) if part) or None


def summary_line(record: dict[str, Any] | None) -> str | None:
    """The metadata record in one line ("taken 2024-03-05T14:22:10+01:00; Canon EOS R6; ..."),
    or None when there is nothing to say."""
    if not record:
        return None
    exif, c2pa = record.get("exif") or {}, record.get("c2pa")
    parts = []
    if exif.get("captured"):
        parts.append(f"taken {exif['captured']}")
    if camera(exif):
        parts.append(str(camera(exif)))
    if exif.get("software"):
        parts.append(f"software {exif['software']}")
    if exif.get("gps"):
        gps = exif["gps"]
        parts.append(f"GPS {gps['latitude']:.5f}, {gps['longitude']:.5f}")
    distance = (exif.get("thumbnail") or {}).get("pdq_distance")
    if distance is not None:
        parts.append(f"EXIF thumbnail {distance} PDQ bits from the picture")
    if c2pa:
        signer = f" by {c2pa['signer']}" if c2pa.get("signer") else ""
        parts.append(f"C2PA {c2pa['state']}{signer}")
    return "; ".join(parts) or None


def csv_cells(record: dict[str, Any] | None) -> list[Any]:
    """The values of ``CSV_COLUMNS`` for one input's metadata record."""
    if not record:
        return [None] * len(CSV_COLUMNS)
    exif, c2pa = record.get("exif") or {}, record.get("c2pa") or {}
    gps = exif.get("gps") or {}
    return [
        " ".join(flag["name"] for flag in record.get("flags", [])) or None,
        exif.get("captured"),
        camera(exif),
        exif.get("software"),
        gps.get("latitude"),
        gps.get("longitude"),
        c2pa.get("state"),
        c2pa.get("signer"),
    ]

"""Flags: what a file's own metadata says against the claim and against the match, each with a
one-line reason. Signals for a person to weigh, never verdicts: a camera clock can be wrong, a
platform strips metadata from every upload, an editor may only have cropped.

The module lives in ``matching`` (not beside the readers in ``provcheck.signals``) because two
flags compare the file with a match's first-seen date; the rest compare it with the claimed date
or with itself. It is pure: facts in, flags out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from provcheck.matching.known_software import identify
from provcheck.signals.credentials import FAILURE_MEANINGS
from provcheck.signals.exif import ExifDate, ExifFacts
from provcheck.signals.metadata import FileMetadata

#: PDQ distance (of 256 bits) from which the EXIF thumbnail counts as another picture: PDQ's own
#: match threshold, the one provcheck uses to call two pictures the same. Measured on 59 pictures
#: (53 devset frames with letterboxed thumbnails, 6 photographs), thumbnails made from the picture
#: before any edit: unedited 0-12 bits (re-compressed 0-12, brightened 20% 2-16); after the edit,
#: a caption bar over 15% of the height 14-118 (29 of 59 over 31), a patch over 10% of the area
#: 16-78 (40 over), over 25% 28-88 (58 over), an 80% crop 94-150 and another picture 70-146 (all
#: over). Script and table: /work/notes/metadata/thumb_distances.{py,txt}.
THUMBNAIL_MAX_DISTANCE = 31

FLAG_NAMES = (
    "no_metadata",
    "captured_before_claim",
    "captured_after_claim",
    "predates_reference",
    "thumbnail_differs",
    "software_edited",
    "ai_generated",
    "credentials_invalid",
)


@dataclass(frozen=True, slots=True)
class Flag:
    name: str  # one of FLAG_NAMES
    reason: str  # one line, for a person

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Sighting:
    """The matched reference, as far as dates go: its label and when it was first seen."""

    label: str
    first_seen: date


def metadata_flags(
    metadata: FileMetadata, claimed: date | None = None, reference: Sighting | None = None
) -> tuple[Flag, ...]:
    """The flags ``metadata`` raises, in ``FLAG_NAMES`` order."""
    exif, credentials = metadata.exif, metadata.credentials
    flags: list[Flag] = []
    if exif is not None and not exif.informative and credentials is None:
        flags.append(_no_metadata(exif))
    if exif is None:
        exif = ExifFacts()  # a video: only its credentials can raise flags
    taken = exif.captured or exif.digitized
    if taken is not None and claimed is not None:
        days = (claimed - taken.local.date()).days
        if days > 0:
            flags.append(
                Flag(
                    "captured_before_claim",
                    f"EXIF says taken {_when(taken)}, {_days(days)} before the claimed date"
                    f" {claimed.isoformat()}: an older picture, or a wrong camera clock",
                )
            )
        elif days < 0:
            flags.append(
                Flag(
                    "captured_after_claim",
                    f"EXIF says taken {_when(taken)}, {_days(-days)} after the claimed date"
                    f" {claimed.isoformat()}",
                )
            )
    if taken is not None and reference is not None:
        days = (reference.first_seen - taken.local.date()).days
        if days > 0:
            flags.append(
                Flag(
                    "predates_reference",
                    f"EXIF says taken {_when(taken)}, {_days(days)} before the matched source"
                    f' "{reference.label}" was first seen ({reference.first_seen.isoformat()}):'
                    " the date is wrong or was rewritten, or the source is older than recorded",
                )
            )
    thumb = exif.thumbnail
    if thumb is not None and thumb.distance is not None and thumb.distance > THUMBNAIL_MAX_DISTANCE:
        flags.append(
            Flag(
                "thumbnail_differs",
                f"the EXIF thumbnail shows a different picture (PDQ distance {thumb.distance};"
                f" over {THUMBNAIL_MAX_DISTANCE} is another picture): the picture was changed"
                " after the thumbnail was written, or the EXIF came from another file",
            )
        )
    flags.extend(_software(exif))
    if credentials is not None and credentials.ai_generated:
        where = "the file" if any(a.ai_generated for a in credentials.actions) else "an ingredient"
        flags.append(
            Flag(
                "ai_generated",
                f"C2PA credentials ({credentials.state}) say {where} was made by a generative"
                f" AI model{_signed_by(credentials.signer, credentials.claim_generator)}",
            )
        )
    if credentials is not None and credentials.state == "invalid":
        codes = ", ".join(code for code, _ in credentials.failures[:3]) or "no reason given"
        flags.append(
            Flag(
                "credentials_invalid",
                f"C2PA credentials do not validate ({codes}){_meaning(credentials.failures)}",
            )
        )
    return tuple(flags)


def _no_metadata(exif: ExifFacts) -> Flag:
    kept = " (only an orientation tag)" if exif.present else ""
    return Flag(
        "no_metadata",
        f"no EXIF or C2PA metadata{kept}: stripped, as social platforms and messaging apps do"
        " on upload; this says nothing about the picture either way",
    )


def _software(exif: ExifFacts) -> list[Flag]:
    for field, value in (("Software", exif.software), ("Make", exif.make)):
        known = identify(value)
        if known is not None:
            return [
                Flag(
                    "software_edited",
                    f'EXIF {field} is "{value}": written by {known.name}, {known.kind}',
                )
            ]
    return []


def _meaning(failures: tuple[tuple[str, str], ...]) -> str:
    for code, _ in failures:
        if code in FAILURE_MEANINGS:
            return f": {FAILURE_MEANINGS[code]}"
    return ""


def _signed_by(signer: str | None, generator: str | None) -> str:
    parts = [f"signed by {signer}" if signer else "", f"with {generator}" if generator else ""]
    text = " ".join(p for p in parts if p)
    return f" ({text})" if text else ""


def _when(taken: ExifDate) -> str:
    return f"{taken.isoformat()} ({taken.tag})"


def _days(days: int) -> str:
    return f"{days} day{'s' if days != 1 else ''}"

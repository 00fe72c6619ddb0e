"""What a match is: one reference item a query is judged to be a copy of, with the evidence
behind it, and the names of the query variants (mirrored, rotated, the picture inside) it was
found through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from provcheck.signals.hashes import get_hasher
from provcheck.store.records import ItemRecord, Region

#: Names of the transforms behind each query variant, in the order the hashers return them
#: (PDQ: its eight dihedral hashes, pinned by tests/test_matcher.py; pHash: as-is and mirrored).
VARIANT_NAMES: Mapping[str, Sequence[str]] = {
    # How the query relates to the reference it matched: "the query is the reference ...".
    "pdq": (
        "original",
        "rotated 90 clockwise",
        "rotated 180",
        "rotated 90 counter-clockwise",
        "flipped vertically",
        "mirrored",
        "transposed",
        "transversed",
    ),
    "phash": ("original", "mirrored"),
}

#: A match found through the picture inside the query (a photo in a screenshot) is named so.
INNER_PREFIX = "inner picture, "


def default_max_distances() -> dict[str, int]:
    return {kind: get_hasher(kind).max_distance for kind in VARIANT_NAMES}


@dataclass(frozen=True, slots=True)
class Match:
    """One reference item that the query is judged to be a copy of."""

    database: str
    item: ItemRecord
    distances: dict[str, int]
    confidence: float
    transform: str  # how the query relates to the reference: "original", "mirrored", ...
    hash_kinds_matched: list[str] = field(default_factory=list)
    identical_file: bool = False  # the query's bytes are the reference file's bytes
    inliers: int = 0  # keypoints agreeing on one geometric transform (0: not verified)
    evidence: float = 0.0  # log-odds behind the confidence (and the pixels'), unsaturated: ranks
    #: The matched part of each picture as fractions [x, y, w, h] of its width and height, in the
    #: query's and the reference's own coordinates; None = the whole picture (or not known).
    query_region: Region | None = None
    reference_region: Region | None = None
    #: Correlation (-1..1) of the query's and the reference preview's grey levels where the
    #: keypoints place the query (``provcheck.matching.agreement``); None when not computed (no
    #: preview, not verified by keypoints).
    pixel_agreement: float | None = None
    #: Video frames: the stretches of the reference video that show the matched picture, as
    #: (start, end) seconds, the matched frame's own first (``provcheck.matching.timeline``); ()
    #: otherwise.
    shown_at: tuple[tuple[float, float | None], ...] = ()

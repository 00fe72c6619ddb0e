"""Shared builders for the report tests: synthetic pictures, databases and constructed matches."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from provcheck.matching.match import Match
from provcheck.matching.verdict import MATCH, ScanResult
from provcheck.signals.thumbnail import make_thumbnail
from provcheck.store import ItemRecord, SourceInfo

#: Provenance an attacker controls when their export is imported: every field tries something.
HOSTILE = SourceInfo(
    label='Evil <img src="http://127.0.0.1:9/label.png"> & "quotes" <script>alert(1)</script>',
    category="game",
    url="javascript:alert(document.domain)",
    first_seen="2015-06-01",
    license="</dd><iframe src=//127.0.0.1:9/x></iframe>",
    notes="<style>body{background:url(http://127.0.0.1:9/bg)}</style>",
)


def scene(seed: int, size: tuple[int, int] = (320, 200)) -> Image.Image:
    """A busy, deterministic picture (plenty of edges, so PDQ quality is high)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(10, 120), y0 + rng.randrange(10, 90)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    return image


def write_scene(path: Path, seed: int) -> Path:
    scene(seed).save(path, quality=92)
    return path


def constructed_match(
    info: SourceInfo = HOSTILE,
    *,
    query_region: tuple[float, float, float, float] | None = None,
    reference_region: tuple[float, float, float, float] | None = None,
    item_id: int = 7,
    database: str = "refs.sqlite",
) -> Match:
    item = ItemRecord(
        id=item_id,
        source_id=1,
        origin="/captures/<b>frame</b>.jpg",
        item_key="ab" * 32,
        sha256="ab" * 32,
        width=1280,
        height=720,
        frame_time=83.4,
        source=info,
    )
    return Match(
        database=database,
        item=item,
        distances={"pdq": 12, "phash": 3},
        confidence=0.8065,
        transform="mirrored",
        hash_kinds_matched=["pdq", "phash"],
        query_region=query_region,
        reference_region=reference_region,
    )


def match_result(match: Match, name: str = "uploads/strike.jpg", seed: int = 1) -> ScanResult:
    return ScanResult(
        name,
        MATCH,
        [match],
        sha256="cd" * 32,
        width=320,
        height=200,
        quality=100,
        thumbnail=make_thumbnail(scene(seed)),
    )

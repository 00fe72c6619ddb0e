"""Large real JPEGs for the speed benchmark: mosaics of real devset frames, never upscaled.

Every pixel of a mosaic is a pixel of a real gameplay capture from shared/devset/frames: frames
of one game are laid side by side, at their own size, into a grid of at least 8 megapixels and
encoded once as a JPEG (quality 90, 4:2:0, as a camera or a newsroom upload would be). They are
real photographic-scale files for decoding and hashing; they are not camera photographs, and the
benchmark says so next to its figures.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image

DEVSET_FRAMES = Path(__file__).resolve().parents[2] / "shared" / "devset" / "frames"
MIN_PIXELS = 8_000_000


def make_mosaics(out: Path, per_game: int = 2, devset: Path = DEVSET_FRAMES) -> list[Path]:
    """Write ``per_game`` mosaics per game of the devset into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for game in sorted(p for p in devset.iterdir() if p.is_dir()):
        frames = sorted(game.glob("*.jpg"))
        if not frames:
            continue
        with Image.open(frames[0]) as first:
            w, h = first.size
        tiles = math.ceil(MIN_PIXELS / (w * h))
        cols = math.ceil(math.sqrt(tiles * h / w))
        rows = math.ceil(tiles / cols)
        for n in range(per_game):
            path = out / f"{game.name}-mosaic-{n}.jpg"
            made.append(path)
            if path.exists():
                continue
            canvas = Image.new("RGB", (cols * w, rows * h))
            for i in range(cols * rows):
                frame = frames[(n * 7 + i * 3) % len(frames)]
                with Image.open(frame) as tile:  # pasted at its own size: no resampling
                    canvas.paste(tile.convert("RGB"), ((i % cols) * w, (i // cols) * h))
            canvas.save(path, quality=90, subsampling=2)
    return made

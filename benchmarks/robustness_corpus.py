"""The robustness benchmark's pictures: which are stored as references, which are distractors.

``devset``: frames of the devset gameplay videos and scikit-image's photographs (the corpus the
README's table was measured on). ``soft``: wallpapers, backgrounds and photos of installed
packages plus flat pictures made here (``soft_corpus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from soft_corpus import (
    flat_pictures,
    installed_pictures,
    skimage_pictures,
    write_corpus_picture,
)

REFERENCE_GAMES = ("chromium-bsu", "wesnoth")
PHOTOS = [
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "rocket",
    "horse",
    "page",
]
#: Flat and near-flat pictures made for the soft corpus: distractors all. (Gradient wallpapers
#: are references among the installed ones; a crop of a random linear gradient made here could
#: come from any gradient of its angle, so storing those would measure nothing.)
FLATS = 96


@dataclass(frozen=True)
class Picture:
    path: Path
    key: str  # "video.mp4@12.5", "photo:name" or "flat:name"
    reference: bool
    flat: bool = False  # made here: one colour, a gradient, stripes, noise on a flat colour...


def _video_frames(video: Path, out: Path, step: float) -> list[tuple[float, Path]]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames, index, next_t = [], 0, 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = index / fps
        if t + 1e-6 >= next_t:
            path = out / f"{video.stem}_{t:06.2f}.png"
            if not path.exists():
                Image.fromarray(frame[:, :, ::-1]).save(path)
            frames.append((t, path))
            next_t += step
        index += 1
    cap.release()
    return frames


def _skimage_photo(name: str, out: Path) -> Path:
    import skimage.data

    path = out / f"photo_{name}.png"
    if not path.exists():
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(path)
    return path


def build_devset_corpus(devset: Path, out: Path) -> list[Picture]:
    pictures: list[Picture] = []
    for video in sorted((devset / "videos").glob("*.mp4")):
        for t, path in _video_frames(video, out, 0.5):
            reference = video.name.startswith(REFERENCE_GAMES)
            pictures.append(Picture(path, f"{video.name}@{t:.2f}", reference))
    for n, name in enumerate(PHOTOS):
        pictures.append(Picture(_skimage_photo(name, out), f"photo:{name}", n % 2 == 0))
    return pictures


def _distinct(pictures: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The pictures less those showing what an earlier one shows (two packages, or two names in
    one, shipping the same wallpaper): the mean difference of 32x32 copies under 4 levels."""
    kept: list[tuple[str, Path, np.ndarray]] = []
    for family, path in pictures:
        with Image.open(path) as image:
            small = np.asarray(image.convert("RGB").resize((32, 32), Image.Resampling.BOX), float)
        if all(np.abs(small - other).mean() >= 4 for _f, _p, other in kept):
            kept.append((family, path, small))
    return [(family, path) for family, path, _small in kept]


def build_soft_corpus(out: Path, seed: int) -> list[Picture]:
    """Installed wallpapers and photos, split in half by a seeded draw over their families, and
    flat pictures made here (distractors)."""
    found, missing = installed_pictures()
    if missing:
        print(f"soft corpus: not installed, skipped: {', '.join(missing)}")
    real: list[tuple[str, Path]] = []
    for picture in found:
        path = out / f"soft_{picture.family.replace(':', '__').replace(' ', '_')}.png"
        if not path.exists():
            write_corpus_picture(picture.path, path)
        real.append((picture.family, path))
    for name, array in skimage_pictures():
        path = out / f"soft_skimage__{name}.png"
        if not path.exists():
            Image.fromarray(array).convert("RGB").save(path)
        real.append((f"skimage:{name}", path))
    real += [(f"skimage:{name}", _skimage_photo(name, out)) for name in PHOTOS]
    real = _distinct(real)
    order = np.random.default_rng(seed).permutation(len(real))
    pictures = [
        Picture(real[i][1], f"photo:{real[i][0]}", rank % 2 == 0)
        for rank, i in enumerate(order.tolist())
    ]
    for name, image in flat_pictures(FLATS, seed):
        path = out / f"flat_{seed}_{name}.png"
        if not path.exists():
            image.save(path)
        pictures.append(Picture(path, f"flat:{name}", False, True))
    return sorted(pictures, key=lambda p: p.key)

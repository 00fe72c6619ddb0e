"""Soft pictures for the robustness benchmark: wallpapers and photos from installed packages, and
flat or near-flat distractors made here.

Nothing is committed and nothing is downloaded from outside the package registries: each source
is a Debian or PyPI package that ships pictures, read from where it is installed. Install them
with ``apt-get install`` (the names are in ``DEBIAN_SOURCES``); a package that is not installed is
skipped and reported. Each source's licence is recorded next to it (from the package's
``/usr/share/doc/<package>/copyright``); the pictures are only read, never redistributed.

A package often ships one wallpaper several times: at several resolutions, cropped to several
aspect ratios, in a light and a dark version, with and without a logo. Those are one *picture
family*: a benchmark that stored one as a reference and used another as a distractor would count
a right answer as a false positive. ``family`` names it (per-package rules on the path), and one
file per family is kept, the largest.

The distractors made here are what must never match anything: one colour, black frames, blank
screens, gradients, stripes, noise on a flat colour, smooth clouds. Seeded: the same arguments
always make the same pictures.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Debian packages that ship wallpapers or backgrounds, with the licences their copyright files
#: declare for the pictures (read 2026-12 from /usr/share/doc/<package>/copyright).
DEBIAN_SOURCES: dict[str, str] = {
    "gnome-backgrounds": "CC-BY-SA-3.0",
    "mate-backgrounds": "GPL-2+, CC-BY-SA-4.0",
    "sway-backgrounds": "CC0-1.0 / MIT-like",
    "plasma-workspace-wallpapers": "GPL-2+ (some LGPL/CC-BY-SA per wallpaper)",
    "ukui-wallpapers": "CC-BY-SA-3.0",
    "lomiri-wallpapers": "CC-BY-SA-3.0",
    "lomiri-wallpapers-20.04": "CC-BY-4.0, CC-BY-SA-3.0/4.0, CC0-1.0",
    "desktop-base": "GPL-2+, GPL-3+ or CC-BY-SA-3.0",
    "debian-edu-artwork-softwaves": "GPL-2+",
    "mypaint-data-extras": "CC0-1.0, CC-BY-3.0, public domain (paper textures)",
    "lxqt-themes": "CC-BY-SA-3.0, LGPL-2.1+",
    "xfdesktop4-data": "GPL-2+",
}
#: scikit-image's bundled photographs (licences per file in skimage/data/README.txt: public
#: domain, CC0 or CC-BY); the ones the main benchmark does not already use.
SKIMAGE_PHOTOS = ("cell", "microaneurysms", "stereo_motorcycle", "text", "colorwheel")

#: Pictures smaller than this on their shorter side are icons, logos or previews, not pictures.
MIN_SIDE = 400
#: Longest side a corpus picture is written at: a web re-post's size, and edits stay fast.
CORPUS_SIDE = 1600
#: Paths that are never pictures (icons, previews of a theme, UI parts).
_SKIP = re.compile(
    r"screenshot|preview|/icons/|emblem|logo[-+]|password|pixmaps|/lxqt/themes/|electron|"
    r"rocket\d|planet|swirlaxy|debug",
    re.IGNORECASE,
)
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class SoftPicture:
    """One picture of the corpus: where it was installed, which family and package it is from."""

    path: Path
    family: str
    package: str


def family(package: str, path: str) -> str:
    """The picture family of an installed file: versions of one wallpaper share it."""
    if m := re.search(r"/wallpapers/([^/]+)/contents/", path):  # Plasma's packages
        return f"{package}:{m.group(1).lower()}"
    if m := re.search(r"/desktop-base/([^/]+?)-theme/|/plymouth/themes/([^/]+)/", path):
        return f"{package}:{(m.group(1) or m.group(2)).lower()}"
    stem = Path(path).stem.lower()
    stem = re.sub(r"[-_]?\d{3,4}x\d{3,4}", "", stem)  # resolutions
    stem = re.sub(r"[-_](portrait|no-?logo|logo|dark|light|bright|[ld])$", "", stem)
    stem = re.sub(r"[-_](portrait|no-?logo|logo|dark|light|bright|[ld])$", "", stem)
    stem = re.sub(r"[-_ ]?\d+$", "", stem)  # numbered variants (mamurk_a_1, _2)
    # Colour variants of one design (Ubuntu MATE's Cold/Warm, LXQt's waves-purple, origami-green).
    stem = re.sub(r"[-_](cold|warm|radioactive|purple|green)$", "", stem)
    stem = re.sub(r"^lxqt-", "", stem)
    return f"{package}:{stem}"


def _installed(package: str) -> list[str] | None:
    done = subprocess.run(
        ["dpkg", "-L", package],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split("\n") if done.returncode == 0 else None


def installed_pictures() -> tuple[list[SoftPicture], list[str]]:
    """The largest file of each picture family of every installed source, and the sources that
    are not installed."""
    Image.MAX_IMAGE_PIXELS = None  # installed wallpapers, not input from strangers
    best: dict[str, tuple[int, SoftPicture]] = {}
    missing = []
    for package in DEBIAN_SOURCES:
        files = _installed(package)
        if files is None:
            missing.append(package)
            continue
        for name in files:
            if not name.lower().endswith(_EXTENSIONS) or _SKIP.search(name):
                continue
            path = Path(name)
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except (OSError, ValueError):
                continue
            if min(width, height) < MIN_SIDE:
                continue
            key = family(package, name)
            area = width * height
            if key not in best or area > best[key][0]:
                best[key] = (area, SoftPicture(path, key, package))
    return [picture for _area, picture in sorted(best.values(), key=lambda b: b[1].family)], missing


def write_corpus_picture(source: Path, out: Path) -> None:
    """The picture at ``source``, at most ``CORPUS_SIDE`` on its longer side, saved as PNG at
    ``out``. Transparent parts are laid on black: MATE's abstract wallpapers are light patterns
    drawn in their alpha channel over the desktop's colour, and on white they vanish."""
    with Image.open(source) as image:
        image.draft("RGB", (CORPUS_SIDE, CORPUS_SIDE))
        rgba = image.convert("RGBA")
    rgba.thumbnail((CORPUS_SIDE, CORPUS_SIDE), Image.Resampling.LANCZOS)
    flat = Image.new("RGB", rgba.size, (0, 0, 0))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    flat.save(out)


def skimage_pictures() -> Iterator[tuple[str, np.ndarray]]:
    import skimage.data

    for name in SKIMAGE_PHOTOS:
        array = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":  # (left, right, disparity): one view of the pair
            array = array[0]
        yield name, np.asarray(array)


# --- flat and near-flat distractors -------------------------------------------------------------

FLAT_KINDS = (
    "one_colour",
    "black_frame",
    "blank_screen",
    "linear_gradient",
    "radial_gradient",
    "stripes",
    "noise_on_flat",
    "clouds",
)


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


def flat_picture(kind: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One flat or near-flat picture of ``kind`` (one of ``FLAT_KINDS``), drawn from ``rng``."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "one_colour":
        array = np.broadcast_to(_colour(rng), (height, width, 3))
    elif kind == "black_frame":  # a dark frame with sensor noise, as a camera's lens cap gives
        level = rng.uniform(0, 12)
        array = level + rng.normal(0, rng.uniform(0.5, 3), (height, width, 1)).repeat(3, axis=2)
    elif kind == "blank_screen":  # a white or grey screen with a thin status bar
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(200, 256, 3)))
        bar = round(height * rng.uniform(0.02, 0.05))
        ImageDraw.Draw(image).rectangle((0, 0, width, bar), fill=tuple(_colour(rng).astype(int)))
        return image
    elif kind == "linear_gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        a, b = _colour(rng), _colour(rng)
        array = a + t[..., None] * (b - a)
    elif kind == "radial_gradient":
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        t = np.hypot(xs - cx, ys - cy)
        t = t / max(float(t.max()), 1.0)
        a, b = _colour(rng), _colour(rng)
        array = a + t[..., None] ** rng.uniform(0.5, 2) * (b - a)
    elif kind == "stripes":
        period = rng.uniform(0.02, 0.2) * max(width, height)
        angle = rng.uniform(0, np.pi)
        t = (xs * np.cos(angle) + ys * np.sin(angle)) / period
        wave = np.sin(2 * np.pi * t)
        wave = (wave > 0) if rng.random() < 0.5 else (wave + 1) / 2  # hard or soft edges
        a, b = _colour(rng), _colour(rng)
        array = a + np.asarray(wave, np.float32)[..., None] * (b - a)
    elif kind == "noise_on_flat":
        array = _colour(rng) + rng.normal(0, rng.uniform(2, 12), (height, width, 3))
    elif kind == "clouds":  # low-frequency noise: a sky, fog, a smooth texture
        cells = rng.normal(0, 1, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 1))
        small = Image.fromarray(
            np.clip(128 + 60 * cells[..., 0], 0, 255).astype(np.uint8), mode="L"
        )
        field = np.asarray(small.resize(size, Image.Resampling.BICUBIC), np.float32) / 255
        a, b = _colour(rng), _colour(rng)
        array = a + field[..., None] * (b - a)
    else:
        raise ValueError(f"unknown flat kind {kind!r}")
    out = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(0.6)) if kind == "stripes" else out


def flat_pictures(count: int, seed: int) -> Iterator[tuple[str, Image.Image]]:
    """``count`` flat and near-flat pictures, the kinds in turn, at common screen sizes."""
    rng = np.random.default_rng(seed)
    sizes = [(1280, 720), (1024, 768), (800, 800), (1920, 1080), (720, 1280)]
    for n in range(count):
        kind = FLAT_KINDS[n % len(FLAT_KINDS)]
        size = sizes[int(rng.integers(len(sizes)))]
        yield f"{kind}_{n:03d}", flat_picture(kind, rng, size)

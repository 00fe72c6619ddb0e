"""Soft, low-detail and low-contrast pictures (issue 20): found when their reference is known,
and flat pictures never matched.

A blurred gradient wallpaper is found by its hashes and agreeing pixels; a dim, washed-out crop
of a photograph by its keypoints, although PDQ rates both too soft for their hashes alone; a
different gradient is not taken for the stored one; and a corpus of flat pictures made here
(one colour, black frames with sensor noise, blank screens, noise on a flat colour) never
matches anything and is never stored.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.matching.verdict import INSUFFICIENT, MATCH, judge
from provcheck.services.ingest import add_files
from provcheck.services.scan import hash_bytes
from provcheck.signals.hashes import MIN_QUALITY
from provcheck.store import SourceInfo, open_store


def _gradient(angle: float, colours: tuple, size=(960, 540), blob=(0.7, 0.4)) -> Image.Image:
    """A soft wallpaper: a linear gradient between two colours with a faint, wide glow."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())
    a, b = (np.float32(c) for c in colours)
    glow = np.exp(-(((xs / width - blob[0]) ** 2 + (ys / height - blob[1]) ** 2) / 0.05))
    array = a + t[..., None] * (b - a) + 25 * glow[..., None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def flat_corpus() -> list[tuple[str, Image.Image]]:
    """Pictures nothing can decide, made here: they must never match, whatever is stored."""
    rng = np.random.default_rng(20)
    out: list[tuple[str, Image.Image]] = []
    for colour in ((0, 0, 0), (255, 255, 255), (128, 128, 128), (20, 60, 160)):
        out.append((f"one colour {colour}", Image.new("RGB", (640, 360), colour)))
    for level in (2, 8):  # a lens cap: black with sensor noise
        noisy = level + rng.normal(0, 2.0, (360, 640, 1)).repeat(3, axis=2)
        out.append(
            (f"black frame {level}", Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
        )
    for colour in ((40, 90, 40), (200, 180, 150)):
        noisy = np.float32(colour) + rng.normal(0, 10.0, (360, 640, 3))
        out.append((f"noise on {colour}", Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))))
    for colour in ((250, 250, 250), (24, 24, 28)):  # a blank phone screen, light or dark
        noisy = np.float32(colour) + rng.normal(0, 1.5, (640, 360, 3))
        out.append(
            (f"blank screen {colour}", Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
        )
    return out


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _soft_reference() -> Image.Image:
    return _gradient(0.5, ((30, 60, 120), (200, 120, 90)))


def _photo() -> Image.Image:
    """scikit-image's rocket: a launch pad under a wide, smooth sky."""
    import skimage.data

    return Image.fromarray(skimage.data.rocket())


@pytest.fixture(scope="module")
def soft_db(tmp_path_factory) -> tuple[Path, list[str]]:
    """A database holding a soft gradient wallpaper and a photograph (with previews, as
    ``db add`` stores them), and what ``add_files`` said about the flat pictures."""
    folder = tmp_path_factory.mktemp("soft")
    paths = []
    for name, image in (("gradient.png", _soft_reference()), ("photo.png", _photo())):
        image.save(folder / name)
        paths.append(folder / name)
    flats = []
    for n, (_name, image) in enumerate(flat_corpus()):
        image.save(folder / f"flat{n}.png")
        flats.append(folder / f"flat{n}.png")
    db = folder / "refs.sqlite"
    with open_store(db, create=True) as store:
        report = add_files(store, SourceInfo("soft", "other"), paths + flats, thumbnails=True)
    assert report.added == 2
    return db, report.errors


def _verdict(db: Path, image: Image.Image):
    with open_store(db, readonly=True) as store:
        matcher = Matcher([ReferenceSet(store, ("pdq", "phash"))])
        return judge(hash_bytes(_png(image), "query.png"), matcher)


def test_the_gradient_is_stored_although_its_hashes_alone_could_not_decide(soft_db):
    db, _errors = soft_db
    with open_store(db, readonly=True) as store:
        records = store.items(with_hashes=True)
    qualities = {
        Path(r.origin).name: next(h.quality for h in r.hashes if h.hash.kind == "pdq")
        for r in records
    }
    assert qualities["gradient.png"] < MIN_QUALITY <= qualities["photo.png"]


def test_a_blurred_gradient_is_found(soft_db):
    db, _errors = soft_db
    query = _soft_reference().filter(ImageFilter.GaussianBlur(0.005 * 960))
    result = _verdict(db, query)
    assert result.status == MATCH
    assert Path(result.matches[0].item.origin).name == "gradient.png"


def test_another_gradient_is_not_taken_for_the_stored_one(soft_db):
    db, _errors = soft_db
    for angle, colours in (
        (0.6, ((30, 60, 120), (200, 120, 90))),
        (0.5, ((120, 40, 40), (40, 120, 200))),
    ):
        result = _verdict(db, _gradient(angle, colours, blob=(0.3, 0.6)))
        assert result.status != MATCH, (angle, colours)


def test_a_low_contrast_crop_of_a_photo_is_found(soft_db):
    db, _errors = soft_db
    crop = _photo().crop((200, 120, 584, 376))  # 60%, off centre
    hazy = ImageEnhance.Contrast(crop).enhance(0.35)
    result = _verdict(db, hazy)
    assert result.quality is not None and result.quality < MIN_QUALITY  # the case at issue
    assert result.status == MATCH
    assert Path(result.matches[0].item.origin).name == "photo.png"
    assert result.matches[0].inliers >= 8


@pytest.mark.parametrize(("name", "image"), flat_corpus(), ids=[n for n, _ in flat_corpus()])
def test_a_flat_picture_never_matches(soft_db, name, image):
    db, _errors = soft_db
    result = _verdict(db, image)
    assert result.status == INSUFFICIENT, name
    assert result.matches == []


def test_flat_pictures_are_refused_with_the_reason(soft_db):
    _db, errors = soft_db
    assert len(errors) == len(flat_corpus())
    assert all("nothing to match" in e and "not added" in e for e in errors)

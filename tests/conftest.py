"""Shared fixtures: isolated user data, small real stills, and seeded synthetic pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path_factory, monkeypatch):
    """Never read or write the real user's database: point the data dir at a temp folder."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("PROVCHECK_DB", raising=False)
    return home


def synthetic_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A detailed, photo-like picture (smooth random structure at several scales), one per seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = np.zeros((height, width, 3), dtype=np.float64)
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        coarse = rng.random((cells, cells, 3))
        layer = Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        canvas += weight * np.asarray(layer, dtype=np.float64)
    canvas = 255 * (canvas - canvas.min()) / (np.ptp(canvas) or 1)
    return Image.fromarray(canvas.astype(np.uint8))


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "refs.sqlite"


@pytest.fixture
def stills(tmp_path) -> dict[str, Path]:
    """Two real game stills (small copies of devset frames) in a fresh folder."""
    folder = tmp_path / "stills"
    folder.mkdir()
    out = {}
    for name in ("wesnoth", "supertuxkart"):
        out[name] = Path(shutil.copy(DATA / f"{name}.jpg", folder / f"{name}.jpg"))
    return out


@pytest.fixture
def make_picture(tmp_path):
    """Write a synthetic picture to a file and return its path."""

    def make(name: str, seed: int, size: tuple[int, int] = (320, 240), **save) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        synthetic_picture(seed, size).save(path, **save)
        return path

    return make

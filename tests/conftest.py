"""Shared fixtures: small generated pictures and a temporary reference database made from one."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provcheck.ingest import add_files
from provcheck.store import SourceInfo, open_store


def make_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A detailed, deterministic picture (smoothed noise plus shapes) that hashes with quality."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, quality=90) if fmt == "JPEG" else image.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    """Never read the user's database or a stray provcheck.toml above the test's folder."""
    monkeypatch.delenv("PROVCHECK_DB", raising=False)
    monkeypatch.delenv("PROVCHECK_TOKEN", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """``known`` is in the reference database, ``unknown`` is not."""
    folder = tmp_path_factory.mktemp("pictures")
    paths = {}
    for name, seed in (("known", 1), ("unknown", 2)):
        path = folder / f"{name}.jpg"
        path.write_bytes(encode(make_picture(seed)))
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def ref_db(tmp_path_factory, pictures) -> Path:
    path = tmp_path_factory.mktemp("db") / "refs.sqlite"
    with open_store(path, create=True) as store:
        report = add_files(
            store,
            SourceInfo("Test Game", "game", "https://game.example/", "2015-06-01"),
            [pictures["known"]],
            jobs=1,
        )
    assert report.added == 1, report.errors
    return path

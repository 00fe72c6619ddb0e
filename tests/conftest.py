"""Shared fixtures: isolated user data, small real stills, and seeded synthetic pictures."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
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
    # Sidecars of read-only databases, the seals of every sidecar and the mirrors of PostgreSQL
    # stores live in the cache folder.
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("PROVCHECK_CACHE_DIR", raising=False)
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


@pytest.fixture(autouse=True)
def _no_token(monkeypatch):
    monkeypatch.delenv("PROVCHECK_TOKEN", raising=False)


def noise_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A detailed, deterministic picture (smoothed noise) that hashes with quality."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, quality=90) if fmt == "JPEG" else image.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """``known`` is in the ``ref_db`` reference database, ``unknown`` is not."""
    folder = tmp_path_factory.mktemp("pictures")
    paths = {}
    for name, seed in (("known", 1), ("unknown", 2)):
        path = folder / f"{name}.jpg"
        path.write_bytes(encode(noise_picture(seed)))
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def ref_db(tmp_path_factory, pictures) -> Path:
    from provcheck.services.ingest import add_files
    from provcheck.store import SourceInfo, open_store

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


# -- PostgreSQL (tests/postgres_cluster.py) -------------------------------------------------------


def pytest_configure(config):
    from tests.postgres_cluster import begin_run

    begin_run()


def pytest_unconfigure(config):
    from tests.postgres_cluster import end_run

    end_run()


@pytest.fixture(scope="session")
def postgres_cluster():
    """The run's throwaway PostgreSQL cluster (started on first use), or a skip saying why not."""
    from tests.postgres_cluster import UnavailableError, shared_cluster

    try:
        return shared_cluster()
    except UnavailableError as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")


@pytest.fixture
def team_db(postgres_cluster):
    """A fresh, empty database with the owner, curator and scanner roles' URLs; dropped after."""
    database = postgres_cluster.create_database()
    yield database
    postgres_cluster.drop_database(database.name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """Run a test once per store backend; ``backend.location`` is a fresh, not yet created
    database of that kind (a SQLite file path, or a PostgreSQL URL of the owner role)."""
    return request.getfixturevalue(f"_{request.param}_backend")


@dataclass(frozen=True)
class Backend:
    name: str
    location: str
    #: Where a read-only role reads the same database (SQLite: the same file).
    reader: str
    #: How outputs name ``location`` (a URL without its password).
    display: str


@pytest.fixture
def _sqlite_backend(tmp_path):
    path = str(tmp_path / "refs.sqlite")
    return Backend("sqlite", path, path, path)


@pytest.fixture
def _postgresql_backend(team_db):
    display = team_db.url("provcheck_owner", password=False)
    return Backend("postgresql", team_db.owner, team_db.scanner, display)

"""``db add --cluster``: a Dask cluster hashes, this process writes; the store ends up exactly as
after a plain ``db add`` (same items, same ids, same export), on both backends."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from tests.video_samples import write_scenes, write_solid

pytest.importorskip("dask.distributed")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def material(tmp_path, stills, make_picture):
    """Stills (one duplicated, one broken), two short videos and one with nothing to hash."""
    folder = tmp_path / "material"
    folder.mkdir()
    for path in stills.values():
        shutil.copy(path, folder / path.name)
    shutil.copy(stills["wesnoth"], folder / "copy-of-wesnoth.jpg")
    for seed in range(3):
        shutil.copy(make_picture(f"p{seed}.png", seed), folder / f"p{seed}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    write_scenes(folder / "clip-a.mp4", [(11, 2.0), (12, 2.0)])
    write_scenes(folder / "clip-b.mp4", [(13, 3.0)])
    write_solid(folder / "flat.mp4", frames=10)
    return folder


def _export(db: str) -> list[str]:
    result = run("db", "export", "--thumbnails", "--db", db)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.slow
def test_cluster_add_stores_what_a_plain_add_stores(backend, material, tmp_path):
    plain = tmp_path / "plain.sqlite"
    source = ["--label", "Material", "--category", "game", "--frame-every", "1"]
    expected = run("db", "add", material, *source, "--db", plain, "--jobs", 1)
    assert expected.exit_code == 2  # the broken still and the flat video are reported
    added = run(
        "db", "add", material, *source, "--db", backend.location, "--cluster", "local", "-j", 2
    )
    assert added.exit_code == 2
    assert added.stdout == expected.stdout.replace(str(plain), backend.display)
    for name in ("broken.jpg", "flat.mp4"):
        assert sum(name in line for line in added.stderr.splitlines()) == 1
    assert _export(backend.location) == _export(str(plain))
    again = run("db", "add", material, *source, "--db", backend.location, "--cluster", "local")
    assert "0 added" in again.stdout and _export(backend.location) == _export(str(plain))


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, stills, monkeypatch):
    monkeypatch.setattr("provcheck.services.cluster_ingest.CONNECT_TIMEOUT_S", 1)
    result = run(
        "db",
        "add",
        stills["wesnoth"],
        "--label",
        "W",
        "--category",
        "game",
        "--db",
        tmp_path / "r.sqlite",
        "--cluster",
        "tcp://127.0.0.1:1",
    )
    assert result.exit_code == 2
    assert "tcp://127.0.0.1:1: cannot reach the Dask scheduler" in result.output

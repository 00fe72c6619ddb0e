"""``db add --cluster``: a Dask cluster hashes, this process writes; the store ends up exactly as
after a plain ``db add`` (same items, same ids, same export), on both backends."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from tests.test_video_parallel import write_keyframed
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
    # Long enough to be split at keyframes between the workers (two segments per worker).
    write_keyframed(folder / "clip-long.mp4", seconds_per_scene=8.0, scenes=4)
    write_solid(folder / "flat.mp4", frames=10)
    return folder


def _export(db: str) -> list[str]:
    result = run("db", "export", "--thumbnails", "--db", db)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _items(db: str) -> dict[tuple[str, float | None], tuple]:
    """(item_key, frame_time) -> what was stored for it: hashes, keypoints and preview."""
    from provcheck.store import open_store

    with open_store(db, readonly=True) as store:
        items = store.items(with_hashes=True)
        features = store.features(i.id for i in items)
        thumbnails = store.thumbnails(i.id for i in items)
    return {
        (i.item_key, i.frame_time): (
            [(h.hash.kind, h.hash.bits, h.quality) for h in i.hashes],
            features[i.id].to_blob() if i.id in features else None,
            thumbnails.get(i.id),
            i.origin,
        )
        for i in items
    }


@pytest.mark.slow
def test_cluster_add_stores_what_a_local_add_stores(backend, material, tmp_path):
    """Two workers split a long video as ``--jobs 2`` does: the same store, export for export,
    ids included; against one process (the whole video in one pass) the same items, plus at most
    one frame where a segment starts (the sampler starts afresh at a keyframe)."""
    source = ["--label", "Material", "--category", "game", "--frame-every", "1"]
    local = tmp_path / "local.sqlite"
    expected = run("db", "add", material, *source, "--db", local, "--jobs", 2)
    assert expected.exit_code == 2  # the broken still and the flat video are reported
    added = run(
        "db", "add", material, *source, "--db", backend.location, "--cluster", "local", "-j", 2
    )
    assert added.exit_code == 2
    assert added.stdout == expected.stdout.replace(str(local), backend.display)
    for name in ("broken.jpg", "flat.mp4"):
        assert sum(name in line for line in added.stderr.splitlines()) == 1
    assert _export(backend.location) == _export(str(local))
    one = tmp_path / "one.sqlite"
    assert run("db", "add", material, *source, "--db", one, "--jobs", 1).exit_code == 2
    single, clustered = _items(str(one)), _items(backend.location)
    assert all(clustered[key] == value for key, value in single.items())
    extra = {key for key in clustered if key not in single}
    assert {key for key, _t in extra} <= {k for k, t in single if t is not None}  # frames only
    assert len(extra) <= 3  # clip-long.mp4: 4 segments, 3 boundaries
    again = run("db", "add", material, *source, "--db", backend.location, "--cluster", "local")
    assert "0 added" in again.stdout and _export(backend.location) == _export(str(local))


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, stills, monkeypatch):
    monkeypatch.setattr("provcheck.services.cluster.CONNECT_TIMEOUT_S", 1)
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


@pytest.mark.slow
def test_a_cluster_add_that_stores_nothing_leaves_no_source(backend, tmp_path):
    """As a local add: the source is created with its first items, so an add of only unusable
    files leaves no empty source; videos alone create it with their frames."""
    folder = tmp_path / "unusable"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    write_solid(folder / "flat.mp4", frames=10)
    source = ["--label", "Nothing", "--category", "game", "--db", backend.location]
    added = run("db", "add", folder, *source, "--cluster", "local", "-j", 2)
    assert added.exit_code == 2
    assert "nothing added to 'Nothing'" in added.stdout
    assert "Nothing" not in run("db", "list", "--db", backend.location).stdout
    clips = tmp_path / "clips"
    clips.mkdir()
    write_scenes(clips / "clip.mp4", [(21, 2.0), (22, 2.0)])
    videos = ["--label", "Clips", "--category", "game", "--db", backend.location]
    created = run("db", "add", clips, *videos, "--cluster", "local", "-j", 2)
    assert created.exit_code == 0, created.output
    assert "created source" in created.stdout and "'Clips'" in created.stdout
    assert "Clips" in run("db", "list", "--db", backend.location).stdout

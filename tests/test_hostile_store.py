"""Hostile databases and their sidecars (issue 18, items 7, 9 and 13's interrupted add): damaged,
locked, read-only or swapped files give one line naming the database and exit status 2; sidecar
arrays are never trusted, nor written through links; an interrupted add leaves no empty source."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import noise_picture
from tests.hostile_corpus import (
    db_counts,
    invoke,
    kill_group,
    provcheck_exe,
    random_pdq_list,
    run,
    stderr_lines,
    wait_until,
)

pytestmark = pytest.mark.slow

#: Rows from which a hash kind gets memory-mapped sidecar arrays, for these tests: the scans run
#: in this process, so the threshold (50,000 in use) is lowered rather than 50,000 rows written.
SIDECAR_ROWS = 2_000


@pytest.fixture(autouse=True)
def _small_sidecar_threshold(monkeypatch):
    from provcheck.search import hash_index

    monkeypatch.setattr(hash_index, "MULTI_INDEX_MIN_ROWS", SIDECAR_ROWS)


def _pdq_of(tmp_path: Path, picture: Path) -> str:
    scratch = tmp_path / "pdq-of.sqlite"
    added = invoke("db", "add", picture, "--db", scratch, "--label", "S", "--category", "game")
    assert added.returncode == 0, added.stderr
    exported = invoke("db", "export", "--db", scratch)
    items = [json.loads(line) for line in exported.stdout.decode().splitlines()[2:]]
    return next(h["hex"] for h in items[0]["hashes"] if h["kind"] == "pdq")


@pytest.fixture(scope="session")
def big_db_template(tmp_path_factory, pictures) -> Path:
    """SIDECAR_ROWS + 1 PDQ hashes (one of them the known picture's, labelled "Known"): enough
    for the search arrays to live in memory-mapped sidecar files."""
    from provcheck.search import hash_index

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hash_index, "MULTI_INDEX_MIN_ROWS", SIDECAR_ROWS)
        return _big_db(tmp_path_factory.mktemp("big"), pictures)


def _big_db(folder: Path, pictures) -> Path:
    listing = folder / "list.txt"
    rows = random_pdq_list(SIDECAR_ROWS, seed=18)
    rows.append(f"{_pdq_of(folder, pictures['known'])} Known")
    listing.write_text("\n".join(rows) + "\n")
    db = folder / "big.sqlite"
    result = invoke("db", "import", listing, "--db", db, "--label", "Noise", "--category", "other")
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def big_db(tmp_path, big_db_template) -> Path:
    db = tmp_path / "big.sqlite"
    shutil.copy(big_db_template, db)
    return db


def _scan_known(db, pictures, **kwargs):
    result = invoke(
        "scan", pictures["known"], "--db", db, "--format", "json", "--no-keypoints", **kwargs
    )
    doc = json.loads(result.stdout) if result.stdout else None
    return result, doc


def _sidecar(db: Path, kind: str = "pdq") -> tuple[Path, dict]:
    folder = db.with_name(db.name + ".arrays")
    manifest = json.loads((folder / f"{kind}.json").read_text())
    return folder, manifest


def _assert_known_matches(db, pictures):
    result, doc = _scan_known(db, pictures)
    assert result.returncode == 1, result.stderr
    match = doc["results"][0]["matches"][0]
    assert (match["label"], match["distances"]["pdq"]) == ("Known", 0)


def test_swapped_sidecar_arrays_are_not_trusted(big_db, pictures):
    _assert_known_matches(big_db, pictures)  # builds the sidecar
    folder, manifest = _sidecar(big_db)
    codes_file = folder / manifest["files"]["codes"]
    codes = np.load(codes_file)
    rng = np.random.default_rng(1)
    np.save(codes_file, rng.integers(0, 256, size=codes.shape, dtype=np.uint8))
    _assert_known_matches(big_db, pictures)


@pytest.mark.parametrize("array", ["order", "item_ids", "starts"])
def test_out_of_range_sidecar_values_are_rebuilt_not_fatal(big_db, pictures, array):
    _assert_known_matches(big_db, pictures)
    folder, manifest = _sidecar(big_db)
    path = folder / manifest["files"][array]
    values = np.load(path)
    np.save(path, np.full_like(values, np.iinfo(values.dtype).max))
    _assert_known_matches(big_db, pictures)
    _assert_known_matches(big_db, pictures)  # and the repaired sidecar is used again


def test_a_symlinked_sidecar_folder_is_never_written_through(big_db, pictures, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    precious = {"pdq-0123456789ab.codes.npy": b"precious", "pdq.json": b"{}", "keep.txt": b"x"}
    for name, data in precious.items():
        (victim / name).write_bytes(data)
    big_db.with_name(big_db.name + ".arrays").symlink_to(victim, target_is_directory=True)
    _assert_known_matches(big_db, pictures)
    assert {p.name: p.read_bytes() for p in victim.iterdir()} == precious


def _clone_keypoints(db: Path, copies: int) -> None:
    """Give ``db`` ``copies`` more items with keypoints: the one item's keypoint positions with
    random descriptors (so only the real item can be found), enough for a keypoint sidecar."""
    rng = np.random.default_rng(5)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        (item_id, source_id), *_ = conn.execute("SELECT id, source_id FROM items").fetchall()
        (blob,) = conn.execute("SELECT data FROM features WHERE item_id = ?", (item_id,)).fetchone()
        count = int.from_bytes(blob[4:6], "little")
        head = bytes(blob[: len(blob) - 32 * count])
        for n in range(copies):
            cur = conn.execute(
                "INSERT INTO items (source_id, origin, item_key, added_at) VALUES (?, ?, ?, ?)",
                (source_id, f"clone {n}", f"clone-{n}", "2026-01-01T00:00:00+00:00"),
            )
            random = rng.integers(0, 256, size=32 * count, dtype=np.uint8).tobytes()
            conn.execute(
                "INSERT INTO features (item_id, data) VALUES (?, ?)", (cur.lastrowid, head + random)
            )


def test_swapped_keypoint_sidecar_is_not_trusted(tmp_path, stills):
    db = tmp_path / "kp.sqlite"
    added = invoke("db", "add", stills["wesnoth"], "--db", db, "--label", "W", "--category", "game")
    assert added.returncode == 0, added.stderr
    _clone_keypoints(db, 1000)
    with Image.open(stills["wesnoth"]) as still:
        w, h = still.size
        still.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)).save(tmp_path / "crop.png")

    def scan_crop():
        result = invoke("scan", tmp_path / "crop.png", "--db", db, "--format", "json")
        assert result.returncode == 1, result.stderr
        return json.loads(result.stdout)["results"][0]["matches"][0]["origin"]

    assert scan_crop() == str(stills["wesnoth"].resolve())  # builds the keypoint sidecar
    folder = db.with_name(db.name + ".arrays")
    (manifest_path,) = folder.glob("orb*.json")
    manifest = json.loads(manifest_path.read_text())
    owners_file = folder / manifest["files"]["owners"]
    owners = np.load(owners_file)
    np.save(owners_file, np.roll(owners, 1000 * 128))  # every descriptor now "belongs" to a clone
    assert scan_crop() == str(stills["wesnoth"].resolve())


# -- 9. database failures ----------------------------------------------------------------------


@pytest.fixture
def small_db(tmp_path, pictures) -> Path:
    db = tmp_path / "small.sqlite"
    result = invoke(
        "db",
        "add",
        pictures["known"],
        "--db",
        db,
        "--label",
        "K",
        "--category",
        "game",
    )
    assert result.returncode == 0, result.stderr
    return db


def _labels(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return [row[0] for row in conn.execute("SELECT label FROM sources ORDER BY id")]


def _one_line_naming(result, db: Path, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    (line,) = stderr_lines(result)
    assert str(db) in line and any(w in line for w in words), line


def test_a_corrupt_database_is_exit_2_naming_it(small_db, pictures):
    with contextlib.closing(sqlite3.connect(small_db)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items'").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with small_db.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)
    _one_line_naming(invoke("scan", pictures["known"], "--db", small_db), small_db, "corrupt")
    added = invoke(
        "db", "add", pictures["unknown"], "--db", small_db, "--label", "New", "--category", "game"
    )
    _one_line_naming(added, small_db, "corrupt")
    assert _labels(small_db) == ["K"]  # no empty source left behind


def test_a_lock_held_by_another_process_is_exit_2_naming_it(small_db, pictures):
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(120)",
            str(small_db),
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == b"locked\n"
        started = time.monotonic()
        added = invoke(
            "db", "add", pictures["unknown"], "--db", small_db, "--label", "New",
            "--category", "game", env={"PROVCHECK_LOCK_WAIT": "1"}, timeout=60,
        )  # fmt: skip
        assert time.monotonic() - started < 20
        _one_line_naming(added, small_db, "locked")
        scanned = invoke("scan", pictures["known"], "--db", small_db)
        assert scanned.returncode == 1, scanned.stderr  # readers are not blocked by a writer
    finally:
        kill_group(holder.pid)
        holder.wait()
        holder.stdout.close()
    assert _labels(small_db) == ["K"]


def test_a_read_only_database_file_is_exit_2_and_still_scans(small_db, pictures):
    small_db.chmod(0o444)
    added = run(
        "db", "add", pictures["unknown"], "--db", small_db, "--label", "New", "--category", "game",
        unprivileged=True,
    )  # fmt: skip
    _one_line_naming(added, small_db, "read-only", "read only")
    scanned = run("scan", pictures["known"], "--db", small_db, unprivileged=True)
    assert scanned.returncode == 1, scanned.stderr
    assert _labels(small_db) == ["K"]


def test_a_wal_database_in_a_read_only_folder_scans(tmp_path, small_db, pictures):
    folder = tmp_path / "shared"
    folder.mkdir()
    db = folder / "refs.sqlite"
    shutil.copy(small_db, db)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert sorted(p.name for p in folder.iterdir()) == ["refs.sqlite"]  # closed cleanly
    folder.chmod(0o555)
    try:
        scanned = run("scan", pictures["known"], "--db", db, unprivileged=True)
        listed = run("db", "list", "--db", db, unprivileged=True)
    finally:
        folder.chmod(0o755)
    assert scanned.returncode == 1, scanned.stderr
    assert listed.returncode == 0, listed.stderr


def test_an_unfinished_wal_in_a_read_only_folder_is_one_line(tmp_path, small_db, pictures):
    """A write-ahead log left by a writer that stopped cannot be read without writing beside it:
    a line that says so, not 'not a provcheck database'."""
    folder = tmp_path / "copied"
    folder.mkdir()
    writer = sqlite3.connect(small_db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE sources SET notes = 'pending' WHERE id = 1")
        writer.commit()
        for suffix in ("", "-wal"):
            shutil.copy(f"{small_db}{suffix}", folder / f"refs.sqlite{suffix}")
    finally:
        writer.close()
    folder.chmod(0o555)
    try:
        scanned = run("scan", pictures["known"], "--db", folder / "refs.sqlite", unprivileged=True)
    finally:
        folder.chmod(0o755)
    _one_line_naming(scanned, folder / "refs.sqlite", "read-only", "write-ahead")
    assert b"not a provcheck database" not in scanned.stderr


# -- 13. an interrupted db add -----------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_db_add_leaves_no_empty_source(tmp_path, how):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(30):  # it is stopped a moment after it opens the database: far from done
        noise_picture(300 + n, (640, 480)).save(folder / f"{n:03}.jpg", quality=90)
    db = tmp_path / "int.sqlite"
    with subprocess.Popen(
        [provcheck_exe(), "db", "add", str(folder), "--db", str(db), "--label", "Half",
         "--category", "game", "-j", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:  # fmt: skip
        # The database file appears when the add opens it, before any picture is hashed: stop
        # it a moment later, far from done.
        assert wait_until(lambda: db.exists() or proc.poll() is not None, 30)
        time.sleep(0.3)
        assert proc.poll() is None, "the add finished before it could be interrupted"
        proc.send_signal(how)
        try:
            proc.wait(timeout=30)
        finally:
            kill_group(proc.pid)
    if db.exists():
        counts = db_counts(db)
        assert counts["sources"] == 0 or counts["items"] > 0, counts

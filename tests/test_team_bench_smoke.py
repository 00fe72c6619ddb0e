"""benchmarks/team.py's cheap parts on tiny inputs, so an interface change breaks a test rather
than the next benchmark run."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def team_writers(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import team_writers

    monkeypatch.setattr(team_writers, "VIDEOS", 4)
    monkeypatch.setattr(team_writers, "FRAMES", 3)
    monkeypatch.setattr(team_writers, "STILLS", 20)
    monkeypatch.setattr(team_writers, "STILL_BATCH", 7)
    return team_writers


def test_writers_plan_covers_everything_twice(team_writers):
    videos, stills = [], []
    for w in range(4):
        v, s = team_writers.plan(w, 4)
        videos += v
        stills += s
    assert sorted(videos) == sorted(list(range(4)) * 2)
    assert sorted(stills) == sorted(list(range(20)) * 2)


def test_a_writer_resumes_and_the_check_counts_what_is_missing(team_writers, tmp_path):
    db = str(tmp_path / "w.sqlite")
    team_writers.write(db, 0, 4)
    team_writers.write(db, 0, 4)  # a rerun adds nothing twice
    result = team_writers.TrialResult()
    with team_writers.open_store(db, readonly=True) as scanner:
        team_writers._check(db, db, scanner, 4, result)
    videos, stills = team_writers.plan(0, 4)
    missing_videos = (4 - len(videos)) * 3
    assert (result.duplicated, result.half_videos, result.missing_parts) == (0, 0, 0)
    assert result.lost == missing_videos + 20 - len(stills)
    assert result.mirror_equal


def test_copy_store_copies_items_and_keypoints(tmp_path, monkeypatch, stills):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    pytest.importorskip("psycopg")  # team.py imports the PostgreSQL test fixture module
    import team

    from provcheck.services.ingest import add_files
    from provcheck.store import SourceInfo, open_store

    source = tmp_path / "a.sqlite"
    with open_store(source, create=True) as store:
        add_files(store, SourceInfo("G", "game"), list(stills.values()), jobs=1)
    team.copy_store(source, str(tmp_path / "b.sqlite"))
    with open_store(source, readonly=True) as a, open_store(tmp_path / "b.sqlite") as b:
        assert [r.item_key for r in a.items()] == [r.item_key for r in b.items()]
        assert b.feature_count() == a.feature_count() == 2

"""benchmarks/footage.py scores what the JSON reports: its pure scoring on hand-made records, so
a change of the documented fields breaks a test, not the next benchmark run."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _footage():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import footage
    finally:
        sys.path.remove(str(BENCHMARKS))
    return footage


def _match(origin, t, until, same=()):
    return {"origin": origin, "frame_time": t, "frame_until": until, "same_picture_at": list(same)}


def test_still_scoring_reads_the_reported_stretches():
    footage = _footage()
    still = footage.Still("a.mp4", 10.0, "exact")
    right = footage.score_still({"matches": [_match("/x/a.mp4", 9.0, 9.5)]}, still, 30.0)
    assert right == {"named": True, "moment": True, "confident_wrong": False}
    wrong = footage.score_still({"matches": [_match("/x/a.mp4", 20.0, 20.5)]}, still, 30.0)
    assert wrong == {"named": True, "moment": False, "confident_wrong": True}
    hedged = footage.score_still(
        {"matches": [_match("/x/a.mp4", 20.0, 20.5, [[8.0, 12.0]])]}, still, 30.0
    )
    assert hedged == {"named": True, "moment": True, "confident_wrong": False}
    too_long = footage.score_still({"matches": [_match("/x/a.mp4", 2.0, None)]}, still, 30.0)
    assert too_long == {"named": True, "moment": False, "confident_wrong": False}
    other = footage.score_still({"matches": [_match("/x/b.mp4", 10.0, 10.5)]}, still, 30.0)
    assert other["named"] is False


def test_excerpt_scoring_wants_the_first_segment_on_the_right_video_and_time():
    footage = _footage()
    excerpt = footage.Excerpt("a.mp4", 12.0)
    seg = {"reference": {"origin": "/x/a.mp4"}, "reference_start": 13.1, "query_start": 1.0}
    result = {"segments": [seg], "matches": [{"origin": "/x/a.mp4"}]}
    assert footage.score_excerpt(result, excerpt) == {
        "named": True,
        "right": True,
        "first_match": True,
    }
    seg["reference_start"] = 20.0
    assert footage.score_excerpt(result, excerpt)["right"] is False


def test_tools_run_outside_the_checkout_so_each_runs_its_own_provcheck(monkeypatch):
    """``python -m provcheck`` puts the working directory first on sys.path: run from a
    checkout, a tool given another tree by PYTHONPATH ran the checkout's code instead."""
    footage = _footage()
    checkout = Path(__file__).parents[1]
    monkeypatch.chdir(checkout)
    python = Path(sys.executable)
    if python.is_relative_to(checkout):  # as the README's venv is: given as a relative path
        python = python.relative_to(checkout)
    code = "import os, sys; print(os.getcwd()); print(sys.prefix)"
    [tool] = footage.parse_tools([f"x={python} -c '{code}'"])
    assert Path(tool.command[0]).is_absolute()
    ran_in, prefix = tool.run().stdout.split()
    assert Path(ran_in).is_dir() and not (Path(ran_in) / "provcheck" / "__init__.py").exists()
    assert prefix == sys.prefix  # the same environment: a venv's python is a link, kept as given

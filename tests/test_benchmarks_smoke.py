"""The benchmarks call provcheck's internals (``_hashed_stream``, ``query_fingerprint``): run their
cheap sections on two small pictures so an interface change breaks a test, not the next
benchmark run (``bench_folder_jobs`` once stopped speed.py half-way after such a change)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
DATA = Path(__file__).parent / "data"


def _speed():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import speed
    finally:
        sys.path.remove(str(BENCHMARKS))
    return speed


def test_speed_hashing_sections_run(capsys):
    speed = _speed()
    pictures = [DATA / "wesnoth.jpg", DATA / "supertuxkart.jpg"]
    speed.bench_hashing(pictures, 1)
    speed.bench_folder_jobs(pictures, 1)
    out = capsys.readouterr().out
    assert "throughput per core" in out and "with ORB keypoints" in out
    assert "--jobs 1: 2 images" in out and "--jobs 2: 2 images" in out

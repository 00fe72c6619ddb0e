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


def test_crop_scale_opencv_baseline_finds_what_verification_finds():
    """crop_scale.py times verification on OpenCV's matcher as the code before: it must pair
    keypoints exactly as ``search.nearest`` does, or the comparison measures something else."""
    import numpy as np
    from PIL import Image

    from provcheck.search.nearest import two_nearest
    from provcheck.signals.keypoints import extract

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import crop_scale
    finally:
        sys.path.remove(str(BENCHMARKS))
    picture = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    query = extract(picture.crop((40, 30, 400, 240)), 700).descriptors
    reference = extract(picture, 512).descriptors
    ours, theirs = two_nearest(query, reference), crop_scale._opencv_two_nearest(query, reference)
    assert np.array_equal(ours[1], theirs[1]) and np.array_equal(ours[2], theirs[2])
    unique = ours[1] < ours[2]  # a tie may name either row
    assert unique.sum() > 100 and np.array_equal(ours[0][unique], theirs[0][unique])


def test_packs_import_sections_run(tmp_path, capsys):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import packs
    finally:
        sys.path.remove(str(BENCHMARKS))
    packs.bench_import(tmp_path, 300, 1, None)
    packs.bench_import(tmp_path, 300, 1, None, ("v2 pack",))
    packs.bench_keypoints(tmp_path, 20, 1)
    out = capsys.readouterr().out
    assert "v2 pack .zst" in out and "= " in out
    assert "keypoint sets stored: 20" in out


def _soft_corpus():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import soft_corpus
    finally:
        sys.path.remove(str(BENCHMARKS))
    return soft_corpus


def test_soft_corpus_groups_versions_of_one_wallpaper_into_one_family():
    """A benchmark that stored one version of a wallpaper and used another as a distractor would
    count a right answer as a false positive (lxqt's waves and waves-purple did, once)."""
    family = _soft_corpus().family
    same = [
        ("lxqt-themes", "/usr/share/lxqt/wallpapers/waves-purple-logo.jpg"),
        ("lxqt-themes", "/usr/share/lxqt/wallpapers/waves-logo.png"),
    ]
    assert family(*same[0]) == family(*same[1])
    plasma = "/usr/share/wallpapers/Flow/contents/images{}/5120x2880.jpg"
    assert family("p", plasma.format("")) == family("p", plasma.format("_dark")) == "p:flow"
    gnome = "/usr/share/backgrounds/gnome/adwaita-{}.webp"
    assert family("g", gnome.format("l")) == family("g", gnome.format("d"))
    assert family("g", gnome.format("l")) != family("g", "/usr/share/backgrounds/gnome/wood-l.webp")


def test_soft_corpus_flat_pictures_are_seeded_and_of_every_kind():
    soft_corpus = _soft_corpus()
    first = list(soft_corpus.flat_pictures(8, seed=3))
    again = list(soft_corpus.flat_pictures(8, seed=3))
    assert [name.rsplit("_", 1)[0] for name, _ in first] == list(soft_corpus.FLAT_KINDS)
    for (name, image), (_, same) in zip(first, again, strict=True):
        assert image.tobytes() == same.tobytes(), name

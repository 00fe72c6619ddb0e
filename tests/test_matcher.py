"""Matching decisions on real stills and synthetic pictures."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from provcheck.matching.calibration import calibrated_confidence
from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.services.ingest import stored_hashes
from provcheck.signals.fingerprint import fingerprint, query_fingerprint
from provcheck.store import SourceInfo, open_store
from tests.conftest import synthetic_picture


def _matcher(db_path, pictures):
    store = open_store(db_path, create=True)
    with store.transaction():
        sid, _ = store.ensure_source(SourceInfo("Game", "game", first_seen="2015-06-01"))
        for n, picture in enumerate(pictures):
            store.add_item(
                sid,
                origin=f"/ref/{n}.png",
                item_key=str(n),
                hashes=stored_hashes(fingerprint(picture)),
            )
    return store, Matcher([ReferenceSet(store, ("pdq", "phash"))])


def test_exact_and_reencoded_copies_match_their_reference_first(db_path):
    refs = [synthetic_picture(seed) for seed in range(10, 20)]
    store, matcher = _matcher(db_path, refs)
    with store:
        buffer = io.BytesIO()
        refs[3].save(buffer, format="JPEG", quality=50)
        recompressed = Image.open(buffer).convert("RGB")
        for query in (refs[3], recompressed):
            matches = matcher.match(query_fingerprint(query))
            assert matches[0].item.origin == "/ref/3.png"
            assert matches[0].transform == "original"
            assert 0.5 <= matches[0].confidence <= 1.0


def test_mirrored_copy_matches_and_says_so(db_path):
    refs = [synthetic_picture(seed) for seed in range(20, 25)]
    store, matcher = _matcher(db_path, refs)
    with store:
        matches = matcher.match(query_fingerprint(ImageOps.mirror(refs[2])))
        assert matches[0].item.origin == "/ref/2.png"
        assert matches[0].transform == "mirrored"


def test_unrelated_picture_does_not_match(db_path):
    store, matcher = _matcher(db_path, [synthetic_picture(seed) for seed in range(30, 40)])
    with store:
        assert matcher.match(query_fingerprint(synthetic_picture(99))) == []


def test_insufficient_query_never_matches_even_a_flat_reference(db_path):
    flat = Image.new("RGB", (100, 100), (0, 0, 0))
    store, matcher = _matcher(db_path, [flat])
    with store:
        assert matcher.match(query_fingerprint(flat)) == []


def test_confidence_is_monotone_in_distance_and_in_inliers():
    by_distance = [calibrated_confidence({"pdq": d}, None) for d in (0, 10, 31, 62, 128)]
    assert by_distance == sorted(by_distance, reverse=True)
    assert by_distance[0] > 0.99 and by_distance[-1] < 0.01
    assert all(0.0 <= c <= 1.0 for c in by_distance)


@pytest.mark.parametrize(
    ("transpose", "name"),
    [
        (Image.Transpose.FLIP_LEFT_RIGHT, "mirrored"),
        (Image.Transpose.FLIP_TOP_BOTTOM, "flipped vertically"),
        (Image.Transpose.ROTATE_270, "rotated 90 clockwise"),
        (Image.Transpose.ROTATE_90, "rotated 90 counter-clockwise"),
        (Image.Transpose.ROTATE_180, "rotated 180"),
    ],
)
def test_dihedral_variants_are_named_for_what_was_done_to_the_reference(db_path, transpose, name):
    refs = [synthetic_picture(seed) for seed in range(40, 44)]
    store, matcher = _matcher(db_path, refs)
    with store:
        matches = matcher.match(query_fingerprint(refs[1].transpose(transpose)))
        assert matches[0].item.origin == "/ref/1.png"
        assert matches[0].transform == name

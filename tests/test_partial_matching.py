"""Partial matches on small real cases: crops, a screenshot embed, a caption bar, and no match for
an unrelated picture. The edits are the benchmark's own (benchmarks/transforms.py)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from provcheck.matching.calibration import MIN_INLIERS
from provcheck.matching.candidates import QUERY_VOTERS, VOTE_DISTANCE
from provcheck.matching.geometry import verify
from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.matching.verification import _mirrored_first
from provcheck.matching.verification import verify_both as _verify_both
from provcheck.media.images import decode_image
from provcheck.search.keypoint_index import KeypointIndex
from provcheck.services.ingest import add_files
from provcheck.signals.fingerprint import fingerprint, query_fingerprint
from provcheck.signals.inner_picture import inner_box
from provcheck.signals.keypoints import (
    REFERENCE_FEATURES,
    RETRIEVAL_FEATURES,
    Features,
    extract,
    extract_region,
    extract_scaled,
)
from provcheck.store import SourceInfo, open_store
from tests.conftest import encode

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from transforms import TRANSFORMS

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    db = tmp_path_factory.mktemp("partial") / "refs.sqlite"
    with open_store(db, create=True) as store:
        report = add_files(
            store,
            SourceInfo("Games", "game"),
            [DATA / "wesnoth.jpg", DATA / "supertuxkart.jpg"],
            thumbnails=False,
        )
        assert report.added == 2
    store = open_store(db, readonly=True)
    yield Matcher([ReferenceSet(store, ("pdq", "phash"))])
    store.close()


def _scan(matcher: Matcher, image: Image.Image):
    return matcher.match(query_fingerprint(decode_image(encode(image, "PNG"), "q").image))


@pytest.mark.parametrize(
    "edit",
    [
        "crop_centre_50",
        "crop_offcentre_50",
        "crop_offcentre_70",
        "ref_is_crop_of_query",
        "screenshot",
        "caption_bar",
        "letterbox",
        "rotate_5",
        "combo_crop_caption_jpeg",
        "mirror_crop_offcentre_50",
    ],
)
@pytest.mark.parametrize("name", ["wesnoth", "supertuxkart"])
def test_edited_still_is_found(matcher, edit, name):
    original = Image.open(DATA / f"{name}.jpg").convert("RGB")
    edited = TRANSFORMS[edit](original, np.random.default_rng(5))
    matches = _scan(matcher, edited)
    assert matches, f"{edit} of {name} not found"
    assert matches[0].item.origin.endswith(f"{name}.jpg")


def test_crop_reports_the_matched_region_in_the_reference(matcher):
    original = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    w, h = original.size
    crop = original.crop((w // 2, 0, w, h // 2))  # the top-right quarter
    best = _scan(matcher, crop)[0]
    assert best.inliers > 0
    x, y, rw, rh = best.reference_region
    assert x == pytest.approx(0.5, abs=0.06) and y == pytest.approx(0.0, abs=0.06)
    assert rw == pytest.approx(0.5, abs=0.08) and rh == pytest.approx(0.5, abs=0.08)
    assert best.query_region[2] == pytest.approx(1.0, abs=0.06)


def test_screenshot_reports_where_the_picture_sits_in_the_query(matcher):
    original = Image.open(DATA / "supertuxkart.jpg").convert("RGB")
    shot = TRANSFORMS["screenshot"](original, np.random.default_rng(1))
    best = _scan(matcher, shot)[0]
    _x, y, _w, h = best.query_region
    assert 0.1 < y < 0.5 and 0.3 < h < 0.7  # the picture is a band in the middle of the screen


def test_unrelated_pictures_are_not_matched(matcher):
    from tests.conftest import synthetic_picture

    for seed in range(3):
        assert _scan(matcher, synthetic_picture(seed, (480, 270))) == []
    import skimage.data as photos

    assert _scan(matcher, Image.fromarray(photos.astronaut())) == []


def test_features_blob_round_trip():
    feats = extract(Image.open(DATA / "wesnoth.jpg").convert("RGB"), 64)
    again = Features.from_blob(feats.to_blob())
    assert np.array_equal(again.descriptors, feats.descriptors)
    assert np.allclose(again.points, feats.points, atol=0.01)
    assert (again.width, again.height) == (feats.width, feats.height)
    with pytest.raises(ValueError, match="not a provcheck feature blob"):
        Features.from_blob(b"XXXX" + bytes(10))


def test_verification_refuses_a_different_picture():
    a = extract(Image.open(DATA / "wesnoth.jpg").convert("RGB"), 512)
    b = extract(Image.open(DATA / "supertuxkart.jpg").convert("RGB"), 512)
    assert verify(a, b) is None
    assert verify(a, a).inliers > 100


def test_inner_box_finds_bars_and_screenshots_and_leaves_photos_alone():
    original = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    w, h = original.size
    boxed = TRANSFORMS["letterbox"](original, np.random.default_rng(0))
    left, top, right, bottom = inner_box(boxed)
    assert (left, right) == (0, w)
    assert abs(top - h * 0.25) < 4 and abs(bottom - h * 1.25) < 4
    assert inner_box(original) is None


def test_past_the_retrieval_limit_only_hash_candidates_are_verified(tmp_path, monkeypatch):
    import provcheck.matching.references as references_module

    db = tmp_path / "refs.sqlite"
    with open_store(db, create=True) as store:
        add_files(store, SourceInfo("Games", "game"), [DATA / "wesnoth.jpg"], thumbnails=False)
    monkeypatch.setattr(references_module, "MAX_RETRIEVAL_ITEMS", 0)
    with open_store(db, readonly=True) as store:
        ref = ReferenceSet(store, ("pdq", "phash"))
        assert not ref.keypoint_retrieval and ref.has_features(1)
        limited = Matcher([ref])
        original = Image.open(DATA / "wesnoth.jpg").convert("RGB")
        assert _scan(limited, original)[0].inliers > 0  # a hash candidate is still verified
        crop = TRANSFORMS["crop_offcentre_50"](original, np.random.default_rng(5))
        assert _scan(limited, crop) == []  # no hash finds a half crop: the documented cost


def test_crops_are_found_through_the_memory_mapped_keypoint_sidecar(tmp_path, monkeypatch):
    """Past the sidecar threshold the keypoint index comes from ``<db>.arrays/``, built by the
    first scan and memory-mapped by the next: a crop is still found, and the summary says so."""
    import provcheck.store.sidecars as arraycache

    monkeypatch.setattr(arraycache, "KEYPOINT_SIDECAR_MIN_ITEMS", 1)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "refs.sqlite"
    paths = [DATA / name for name in ("wesnoth.jpg", "supertuxkart.jpg")]
    with open_store(db, create=True) as store:
        add_files(store, SourceInfo("Games", "game"), paths, thumbnails=False)
    crop = TRANSFORMS["crop_offcentre_50"](
        Image.open(DATA / "wesnoth.jpg").convert("RGB"), np.random.default_rng(5)
    )
    for _ in range(2):  # builds the sidecar, then maps it
        with open_store(db, readonly=True) as store:
            ref = ReferenceSet(store, ("pdq", "phash"))
            assert ref.keypoint_retrieval
            found = _scan(Matcher([ref]), crop)
        assert found and found[0].item.id == 1 and found[0].inliers > 0
    assert isinstance(ref.keypoints.order, np.memmap)


def test_no_keypoints_finds_copies_but_not_crops(tmp_path):
    import json

    from click.testing import CliRunner

    from provcheck.cli import cli

    db = tmp_path / "refs.sqlite"
    with open_store(db, create=True) as store:
        add_files(store, SourceInfo("Games", "game"), [DATA / "wesnoth.jpg"], thumbnails=False)
    original = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    crop = tmp_path / "crop.png"
    TRANSFORMS["crop_centre_50"](original, np.random.default_rng(0)).save(crop)
    args = ["scan", str(DATA / "wesnoth.jpg"), str(crop), "--db", str(db), "--format", "json"]
    full = json.loads(CliRunner().invoke(cli, args).stdout)["results"]
    fast = json.loads(CliRunner().invoke(cli, [*args, "--no-keypoints"]).stdout)["results"]
    assert [r["status"] for r in full] == ["match", "match"]
    assert [r["status"] for r in fast] == ["match", "clean"]


def test_spread_ranks_keypoints_per_cell_as_the_plain_loop_does():
    """The vectorised round-robin order of ``_spread`` equals the loop it replaced."""
    import numpy as np

    from provcheck.signals.keypoints import _spread

    rng = np.random.default_rng(7)
    for n, keep in ((1, 1), (50, 20), (2000, 512)):
        points = rng.uniform(0, [640, 360], size=(n, 2)).astype(np.float32)
        responses = rng.choice(rng.uniform(0, 1, size=max(1, n // 3)), size=n).astype(np.float32)
        cells = (
            np.minimum(points[:, 0] * 4 // 640, 3) * 4 + np.minimum(points[:, 1] * 4 // 360, 3)
        ).astype(int)
        rank = np.zeros(n, dtype=int)
        seen: dict[int, int] = {}
        for i in np.argsort(-responses, kind="stable"):
            rank[i] = seen.get(cells[i], 0)
            seen[cells[i]] = rank[i] + 1
        expected = np.lexsort((-responses, rank))[:keep]
        assert _spread(points, responses, (640, 360), keep).tolist() == expected.tolist()


@pytest.mark.parametrize("blur", [0, 6])  # 6: a soft picture, described from three tiers
def test_only_the_chosen_keypoints_are_described_and_as_orb_describes_them(blur):
    """Descriptors are computed for the keypoints kept, not for all three candidates each: they
    must be what describing every candidate gives (ORB's own detectAndCompute), keypoint by
    keypoint, whatever order OpenCV hands them back in."""
    import cv2
    from PIL import ImageFilter

    picture = Image.open(DATA / "wesnoth.jpg").convert("RGB").resize((640, 360))  # not enlarged
    picture = picture.filter(ImageFilter.GaussianBlur(blur)) if blur else picture
    grey = np.asarray(picture.convert("L"))
    by_place: dict[tuple[float, float], set[bytes]] = {}
    for threshold in (3, 5, 10):
        orb = cv2.ORB_create(
            nfeatures=3 * REFERENCE_FEATURES, fastThreshold=threshold, edgeThreshold=15,
            patchSize=31,
        )  # fmt: skip
        keypoints, descriptors = orb.detectAndCompute(grey, None)
        for keypoint, descriptor in zip(keypoints, descriptors, strict=True):
            by_place.setdefault(keypoint.pt, set()).add(descriptor.tobytes())
    features = extract(picture, REFERENCE_FEATURES)
    assert len(features) == REFERENCE_FEATURES
    for point, descriptor in zip(features.points.tolist(), features.descriptors, strict=True):
        assert descriptor.tobytes() in by_place[tuple(point)]


def _symmetric_hud_frame() -> Image.Image:
    """A game frame between two HUD panels that mirror each other, as many games draw them."""
    game = Image.open(DATA / "wesnoth.jpg").convert("RGB").resize((512, 288))
    panel = Image.open(DATA / "supertuxkart.jpg").convert("RGB").resize((96, 288))
    frame = game.copy()
    frame.paste(panel, (0, 0))
    frame.paste(ImageOps.mirror(panel), (416, 0))
    return frame


def test_mirrored_frame_with_a_symmetric_hud_is_verified_mirrored(tmp_path):
    # Regression: the query as it is agreed with the reference on the HUD alone (>= 16 inliers),
    # which stopped verification before the mirrored query (the whole picture) was tried; the
    # match said "original" on a fraction of the evidence, and another frame could outrank it.
    frame = _symmetric_hud_frame()
    path = tmp_path / "frame.png"
    frame.save(path)
    db = tmp_path / "refs.sqlite"
    with open_store(db, create=True) as store:
        add_files(store, SourceInfo("Games", "game"), [path], thumbnails=False)
    query = query_fingerprint(ImageOps.mirror(frame))
    reference = extract(frame, REFERENCE_FEATURES)
    hud_only = verify(query.fingerprint.features, reference, MIN_INLIERS)
    assert hud_only is not None and hud_only.inliers >= 2 * MIN_INLIERS  # the trap is real
    with open_store(db, readonly=True) as store:
        best = Matcher([ReferenceSet(store, ("pdq", "phash"))]).match(query)[0]
    assert best.transform == "mirrored"
    assert best.inliers > 2 * hud_only.inliers


@pytest.mark.parametrize(
    ("votes", "transform", "expected"),
    [
        ((40, 90), "original", True),  # the mirrored query drew more votes
        ((90, 40), "mirrored", False),  # votes outweigh a hash variant
        (None, "mirrored", True),  # found by hash alone: the nearest variant decides
        (None, "inner picture, mirrored", True),
        ((5, 5), "original", False),
    ],
)
def test_the_likelier_orientation_is_verified_first(votes, transform, expected):
    assert _mirrored_first(votes, transform) is expected


def test_extract_region_maps_keypoints_back_into_the_query():
    image = Image.open(DATA / "wesnoth.jpg").convert("RGB").resize((512, 288))
    box = (100, 50, 300, 200)
    region = extract_region(image, box, 300, 512)  # detected on a 2.56x enlarged copy
    assert len(region) > 50 and (region.width, region.height) == image.size
    assert (region.points >= [100, 50]).all() and (region.points <= [300, 200]).all()
    same = verify(region, extract(image, REFERENCE_FEATURES), MIN_INLIERS)
    assert same is not None and same.scale == pytest.approx(1.0, abs=0.05)


def test_the_picture_in_a_screenshot_gets_its_own_keypoints():
    original = Image.open(DATA / "supertuxkart.jpg").convert("RGB")
    shot = TRANSFORMS["screenshot"](original, np.random.default_rng(1))
    query = query_fingerprint(decode_image(encode(shot, "PNG"), "q").image)
    x, y, w, h = query.inner_box
    inner = query.inner_features
    assert inner is not None and len(inner) > 100
    fx, fy = inner.points[:, 0] / inner.width, inner.points[:, 1] / inner.height
    assert (fx >= x - 0.01).all() and (fx <= x + w + 0.01).all()
    assert (fy >= y - 0.01).all() and (fy <= y + h + 0.01).all()
    assert query_fingerprint(original).inner_features is None


def test_an_orientation_without_votes_is_not_verified():
    frame = _symmetric_hud_frame()
    query = query_fingerprint(ImageOps.mirror(frame))
    reference = extract(frame, REFERENCE_FEATURES)
    assert _verify_both(query, reference, MIN_INLIERS, votes=(30, 90))[1] is True
    as_is_only = _verify_both(query, reference, MIN_INLIERS, votes=(30, 0))
    assert as_is_only is not None and as_is_only[1] is False  # the HUD alone


def test_a_hash_only_query_never_loads_the_keypoint_index(matcher):
    """``--no-keypoints`` scans skip the keypoint index (~0.3 s to load at 100k references)."""
    ref = ReferenceSet(matcher.sets[0].store, ("pdq", "phash"))
    fresh = Matcher([ref])
    image = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    loaded = decode_image(encode(image, "PNG"), "q").image
    assert fresh.match(query_fingerprint(loaded, keypoints=False))
    assert ref._keypoints is None
    assert fresh.match(query_fingerprint(loaded))
    assert ref._keypoints is not None and len(ref.keypoints.owners) > 0


def test_extract_scaled_maps_keypoints_back_into_the_picture():
    image = Image.open(DATA / "chromium-bsu.jpg").convert("RGB").resize((512, 384))
    found = extract_scaled(image, 0.5, 300)
    assert found is not None and 100 < len(found) <= 300
    assert (found.width, found.height) == image.size
    assert (found.points >= 0).all() and (found.points <= [511, 383]).all()
    # Detected at half size, so they meet a half-size copy's own keypoints at scale 1.
    half = extract(image.resize((256, 192), Image.Resampling.LANCZOS), REFERENCE_FEATURES)
    same = verify(found, half, MIN_INLIERS)
    assert same is not None and same.scale == pytest.approx(0.5, abs=0.03)
    assert extract_scaled(image.resize((200, 150)), 0.5, 300) is None  # too small to hold any


def _half_crop_case(seed: int, mirrored: bool):
    """A Chromium B.S.U. still as the reference (its keypoints, and a retrieval index of its
    strongest), a 50% crop of it as the query (centred for seed 0, off-centre for 1), flipped or
    not, and a count of the reference's votes from a keypoint set."""
    path = DATA / "chromium-bsu.jpg"
    reference = fingerprint(decode_image(path.read_bytes(), "r").image).features
    retrieval = KeypointIndex.build(
        np.zeros(RETRIEVAL_FEATURES, np.int64), reference.descriptors[:RETRIEVAL_FEATURES]
    )
    edit = "crop_offcentre_50" if seed else "crop_centre_50"
    crop = TRANSFORMS[edit](Image.open(path).convert("RGB"), np.random.default_rng(seed))
    crop = ImageOps.mirror(crop) if mirrored else crop
    query = query_fingerprint(decode_image(encode(crop, "PNG"), "q").image)

    def votes(features: Features) -> int:
        found = retrieval.votes(features.descriptors[:QUERY_VOTERS], VOTE_DISTANCE)
        return found[0].count if found else 0

    return reference, query, votes


@pytest.mark.parametrize("seed", [0, 1])
def test_a_half_crop_of_a_full_size_frame_meets_the_reference_at_its_scale(seed):
    """A 50% crop of a 1024 px frame shows its content twice as large as the reference's 512 px
    working copy: keypoints detected on a half-size copy of the query are what retrieval finds
    the frame by, and they double what verifies."""
    reference, query, votes = _half_crop_case(seed, mirrored=False)
    assert query.zoomed_features is not None
    assert votes(query.zoomed_features) >= 1.5 * votes(query.fingerprint.features)
    with_zoom = _verify_both(query, reference, MIN_INLIERS)
    without = _verify_both(replace(query, zoomed_features=None), reference, MIN_INLIERS)
    assert with_zoom is not None and without is not None
    assert with_zoom[0].inliers >= 1.5 * without[0].inliers


@pytest.mark.parametrize("seed", [0, 1])
def test_a_mirrored_half_crop_meets_the_reference_at_its_scale_too(seed):
    """Flipping a crop is a common way to dodge a match: the mirror image keeps zoomed keypoints
    of its own, which vote and verify for the mirrored orientation as the zoomed ones do as is."""
    reference, query, votes = _half_crop_case(seed, mirrored=True)
    assert query.mirrored_zoomed_features is not None
    assert votes(query.mirrored_zoomed_features) >= 1.5 * votes(query.mirrored_features)
    # Per orientation, the best set's votes (as the matcher keeps them): mirrored goes first.
    as_is = max(votes(query.fingerprint.features), votes(query.zoomed_features))
    flipped = max(votes(query.mirrored_features), votes(query.mirrored_zoomed_features))
    assert flipped > as_is
    with_zoom = _verify_both(query, reference, MIN_INLIERS, (as_is, flipped))
    without = _verify_both(
        replace(query, mirrored_zoomed_features=None),
        reference,
        MIN_INLIERS,
        (as_is, votes(query.mirrored_features)),
    )
    assert with_zoom is not None and with_zoom[1]  # found, and found mirrored
    assert without is None or with_zoom[0].inliers >= 1.5 * without[0].inliers

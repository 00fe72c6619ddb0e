"""Pixel agreement: the query against a reference preview, aligned by the verified transform, and
its use in ranking look-alike frames (provcheck.matching.agreement, provcheck.matching.ranking)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from provcheck.matching import calibration
from provcheck.matching.agreement import QueryPixels, mirror_affine, pixel_agreement
from provcheck.matching.geometry import Verification
from provcheck.matching.match import Match
from provcheck.matching.matcher import Matcher
from provcheck.matching.ranking import rank_by_pixels
from provcheck.matching.references import ReferenceSet
from provcheck.media.images import decode_image
from provcheck.services.ingest import add_files
from provcheck.signals.fingerprint import query_fingerprint
from provcheck.store import ItemRecord, SourceInfo, open_store
from tests.conftest import encode

DATA = Path(__file__).parent / "data"


def _grey(image: Image.Image, side: int) -> np.ndarray:
    small = image.convert("L")
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(small)


@pytest.fixture(scope="module")
def frame() -> Image.Image:
    image = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    image.thumbnail((512, 512))
    return image


def _blob(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A soft dark shape over part of the picture: something that moved between two frames. Its
    edges are blurred so it adds no keypoints of its own, only hides those beneath it."""
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(6))
    return Image.composite(Image.new("RGB", image.size, (40, 50, 45)), image, mask)


def _crop_case(frame: Image.Image):
    """The top-left quarter of ``frame`` as a query, its preview, and the matrix to ``frame``."""
    w, h = frame.size
    crop = frame.crop((0, 0, w // 2, h // 2)).resize((w, h), Image.Resampling.BICUBIC)
    query = _grey(crop, 320)
    matrix = ((w // 2) / w, 0.0, 0.0, 0.0, (h // 2) / h, 0.0)
    return query, query.shape[1] / w, matrix


def test_the_same_picture_agrees_and_a_changed_one_less(frame):
    query, query_scale, matrix = _crop_case(frame)
    same = _grey(frame, 160)
    w, h = frame.size
    changed = _grey(_blob(frame, (w // 8, h // 8, w // 3, h // 3)), 160)
    scale = same.shape[1] / w
    agree_same = pixel_agreement(QueryPixels(query, query_scale), matrix, same, scale)
    agree_changed = pixel_agreement(QueryPixels(query, query_scale), matrix, changed, scale)
    assert agree_same is not None and agree_same.correlation > 0.9
    assert agree_changed is not None
    assert agree_changed.correlation < agree_same.correlation - 0.1


def _tinted(image: Image.Image) -> Image.Image:
    """The same view at another time of day, as a game's lighting tints it: bluer and darker."""
    r, g, b = image.split()
    return Image.merge(
        "RGB", (r.point(lambda v: v * 0.7), g.point(lambda v: v * 0.8), b.point(lambda v: v))
    )


def test_a_tint_keeps_the_correlation_and_shows_as_a_colour_shift(frame):
    w, h = frame.size
    crop = frame.crop((0, 0, w // 2, h // 2)).resize((w, h), Image.Resampling.BICUBIC)
    crop.thumbnail((320, 320), Image.Resampling.BILINEAR)
    query, query_scale = np.asarray(crop), crop.width / w
    matrix = ((w // 2) / w, 0.0, 0.0, 0.0, (h // 2) / h, 0.0)
    same, tinted = (np.asarray(i.resize((160, 160 * h // w))) for i in (frame, _tinted(frame)))
    scale = same.shape[1] / w
    as_is = pixel_agreement(QueryPixels(query, query_scale), matrix, same, scale)
    after_tint = pixel_agreement(QueryPixels(query, query_scale), matrix, tinted, scale)
    assert as_is is not None and after_tint is not None
    assert as_is.colour_shift < 0.01
    assert after_tint.correlation > 0.9  # grey levels still rise and fall together
    assert after_tint.colour_shift > as_is.colour_shift + 0.05
    # Grey on either side: only a change of brightness can show.
    grey_query = QueryPixels(np.asarray(Image.fromarray(query).convert("L")), query_scale)
    grey = pixel_agreement(grey_query, matrix, same, scale)
    assert grey is not None and grey.colour_shift < 0.01


def test_misaligned_or_unrelated_pictures_do_not_agree(frame):
    query, query_scale, matrix = _crop_case(frame)
    w, _ = frame.size
    other = _grey(Image.open(DATA / "supertuxkart.jpg").convert("RGB").resize(frame.size), 160)
    shifted = (matrix[0], 0.0, w / 4, 0.0, matrix[4], 0.0)  # the wrong quarter of the frame
    same = _grey(frame, 160)
    unrelated = pixel_agreement(QueryPixels(query, query_scale), matrix, other, other.shape[1] / w)
    misaligned = pixel_agreement(QueryPixels(query, query_scale), shifted, same, same.shape[1] / w)
    assert unrelated is not None and unrelated.correlation < 0.5
    assert misaligned is not None and misaligned.correlation < 0.5


def test_too_small_an_overlap_or_a_flat_picture_says_nothing(frame):
    query, query_scale, matrix = _crop_case(frame)
    w, h = frame.size
    same = _grey(frame, 160)
    outside = (matrix[0], 0.0, 2.0 * w, 0.0, matrix[4], 2.0 * h)  # lands beyond the reference
    assert (
        pixel_agreement(QueryPixels(query, query_scale), outside, same, same.shape[1] / w) is None
    )
    flat = np.full_like(same, 128)
    assert pixel_agreement(QueryPixels(query, query_scale), matrix, flat, flat.shape[1] / w) is None


def test_a_sliver_of_overlap_still_gives_a_finite_colour_shift():
    """Three columns shared, one left after the border is eroded, at an odd column: sampling
    every other pixel would find none, and a median of nothing is NaN, which would poison the
    ranking (a NaN evidence compares false with everything)."""
    rng = np.random.default_rng(0)
    query = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    strip = rng.integers(0, 255, (200, 3, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = pixel_agreement(QueryPixels(query, 1.0), (1, 0, -2, 0, 1, 0), strip, 1.0)
    assert found is not None
    assert math.isfinite(found.colour_shift) and math.isfinite(found.correlation)


def test_a_matrix_found_on_the_mirrored_query_maps_the_query_as_posted(frame):
    query, query_scale, matrix = _crop_case(frame)
    same = _grey(frame, 160)
    scale = same.shape[1] / frame.width
    # The mirrored query's own matrix: mirror first (x -> width - 1 - x), then the crop's.
    from_mirrored = mirror_affine(matrix, frame.width)
    assert mirror_affine(from_mirrored, frame.width) == pytest.approx(matrix)
    mirrored_query = np.ascontiguousarray(query[:, ::-1])
    as_posted = pixel_agreement(
        QueryPixels(mirrored_query, query_scale), from_mirrored, same, scale
    )
    unmirrored = pixel_agreement(QueryPixels(query, query_scale), matrix, same, scale)
    assert as_posted is not None and unmirrored is not None
    assert as_posted.correlation == pytest.approx(unmirrored.correlation, abs=0.05)


@pytest.mark.parametrize("change", ["moved", "tinted"])
@pytest.mark.parametrize("mirrored", [False, True])
def test_of_two_look_alike_frames_the_one_the_crop_came_from_ranks_first(
    tmp_path, frame, mirrored, change
):
    """Two frames share everything but a shape that moved (or the light: a game's time of day),
    and both verify on a crop of one of them with the same inliers and transform (as frames of a
    strategy map or a scrolling shooter do): only the pixels can say which frame the crop came
    from."""
    w, h = frame.size
    if change == "moved":
        other, source = frame, _blob(frame, (w // 8, h // 8, w // 3, h // 3))
    else:
        other, source = _tinted(frame), frame
    (tmp_path / "a_other.png").write_bytes(encode(other, "PNG"))
    (tmp_path / "b_source.png").write_bytes(encode(source, "PNG"))
    db = tmp_path / "refs.sqlite"
    with open_store(db, create=True) as store:
        paths = [tmp_path / "a_other.png", tmp_path / "b_source.png"]
        add_files(store, SourceInfo("Game", "game"), paths, thumbnails=True)
    crop = source.crop((0, 0, w // 2, h // 2))
    query = query_fingerprint(
        decode_image(encode(ImageOps.mirror(crop) if mirrored else crop, "PNG"), "q").image
    )
    qw, qh = query.fingerprint.features.width, query.fingerprint.features.height
    # What verification finds: the crop's own mapping, from the query (mirrored back, if it was
    # posted mirrored: verification then ran on the mirrored query, which is the crop itself).
    matrix = ((w // 2) / qw, 0.0, 0.0, 0.0, (h // 2) / qh, 0.0)
    geometry = Verification(20, 30, 0.5, 0.0, (0, 0, 1, 1), (0, 0, 0.5, 0.5), matrix)
    with open_store(db, readonly=True) as store:
        ref = ReferenceSet(store, ("pdq", "phash"))
        records = {Path(r.origin).name: r for r in store.items()}
        stored = store.features(r.id for r in records.values())
        distances = {"pdq": 120}
        tied = [
            Match(
                ref.name,
                records[name],
                distances,
                1.0,
                "original",
                inliers=20,
                evidence=calibration.evidence(distances, geometry),
            )
            for name in ("a_other.png", "b_source.png")
        ]
        pixels = QueryPixels(query.preview, query.preview_scale)
        verified = {m.item.id: (geometry, mirrored) for m in tied}
        ranked, best = rank_by_pixels(ref, query, pixels, tied, verified, stored)
    other, came_from = ranked
    assert came_from.evidence > other.evidence + calibration.AGREEMENT_WEIGHT * 0.1
    assert best is not None and best > 0.9  # the source frame's: it is the picture


def test_matches_rank_by_evidence_not_by_saturating_confidence(monkeypatch):
    """The frame a crop came from often verifies with a few inliers fewer than a look-alike
    (13 against 17: confidence 0.99 against 1.00) and agrees far better with the query's pixels.
    Ranked by rounded confidence first, the look-alike won; the evidence, which counts the
    pixels, must decide. A byte-identical file still comes first."""
    geometry = {n: Verification(n, 30, 0.5, 0.0, (0, 0, 1, 1), (0, 0, 0.5, 0.5)) for n in (13, 17)}
    distances = {"pdq": 120}
    source = SourceInfo("Game", "game")

    def found(item_id: int, inliers: int, agreement: float, sha: str) -> Match:
        return Match(
            "db",
            ItemRecord(item_id, 1, f"f{item_id}.png", f"k{item_id}", sha, 64, 48, None, source),
            distances,
            calibration.calibrated_confidence(distances, geometry[inliers]),
            "original",
            inliers=inliers,
            evidence=calibration.evidence(distances, geometry[inliers], agreement),
        )

    look_alike, source = found(1, 17, 0.47, "a" * 64), found(2, 13, 0.93, "b" * 64)
    assert round(look_alike.confidence, 2) > round(source.confidence, 2)
    matcher = Matcher([])
    matcher.sets = [object()]  # type: ignore[list-item]
    monkeypatch.setattr(Matcher, "_match_one_set", lambda self, ref, q: [look_alike, source])
    query = query_fingerprint(Image.open(DATA / "wesnoth.jpg").convert("RGB"))
    assert [m.item.id for m in matcher.match(query)] == [2, 1]
    assert [m.item.id for m in matcher.match(query, sha256="a" * 64)] == [1, 2]


def test_agreement_ranks_but_never_decides():
    """Confidence (whether to report) leaves pixel agreement out; only the ranking uses it."""
    geometry = Verification(20, 30, 0.5, 0.0, (0, 0, 1, 1), (0, 0, 0.5, 0.5))
    distances = {"pdq": 120}
    plain = calibration.evidence(distances, geometry)
    assert calibration.evidence(distances, geometry, 0.8) == pytest.approx(
        plain + calibration.AGREEMENT_WEIGHT * math.atanh(0.8)
    )
    # Fisher's z: a step among high correlations counts as much as a larger one lower down.
    step = calibration.evidence(distances, geometry, 0.97) - calibration.evidence(
        distances, geometry, 0.94
    )
    lower = calibration.evidence(distances, geometry, 0.8) - calibration.evidence(
        distances, geometry, 0.6
    )
    assert step == pytest.approx(lower, rel=0.2)
    assert calibration.evidence(distances, geometry, 1.0) < float("inf")
    assert calibration.evidence(distances, geometry, -0.6) == pytest.approx(plain)
    assert calibration.evidence(distances, geometry, 0.8, 0.04) == pytest.approx(
        plain
        + calibration.AGREEMENT_WEIGHT * math.atanh(0.8)
        - calibration.COLOUR_SHIFT_WEIGHT * 0.04
    )
    assert calibration.evidence(distances, None, 0.8, 0.04) == calibration.evidence(distances, None)


def test_agreement_counts_by_the_share_of_the_query_it_was_measured_on():
    """A frame the scene partly scrolled out of agrees over less of the query: its correlation,
    however high, weighs as a sample of that size, so the frame covering the whole crop wins (the
    Wesnoth case of the robustness benchmark: 0.952 over two thirds against 0.931 over all)."""
    distances = {"pdq": 120}
    whole = Verification(50, 60, 0.4, 0.0, (0, 0, 1, 1), (0.07, 0.35, 0.5, 0.5))
    part = Verification(49, 60, 0.4, 0.0, (0.33, 0, 0.67, 1), (0, 0.08, 0.33, 0.5))
    assert calibration.evidence(distances, whole, 0.931) > calibration.evidence(
        distances, part, 0.952
    )
    base = calibration.evidence(distances, part)
    assert calibration.evidence(distances, part, 0.8) - base == pytest.approx(
        calibration.AGREEMENT_WEIGHT * math.atanh(0.8) * math.sqrt(0.67)
    )
    # Without the agreement, coverage changes nothing: inliers and hashes rank as before.
    assert base == calibration.evidence(distances, replace(part, query_box=(0, 0, 1, 1)))


def test_a_query_keeps_a_small_colour_preview(frame):
    query = query_fingerprint(frame)
    assert query.preview is not None and query.preview.dtype == np.uint8
    assert query.preview.ndim == 3 and query.preview.shape[2] == 3
    assert max(query.preview.shape[:2]) <= 320
    assert query.preview_scale == pytest.approx(query.preview.shape[1] / frame.width)
    mirrored = query_fingerprint(ImageOps.mirror(frame))
    assert mirrored.preview is not None


@pytest.mark.parametrize("look_further", [True, False])
def test_when_no_verified_frame_agrees_retrieval_goes_deeper(
    tmp_path, frame, monkeypatch, look_further
):
    """The frame a crop came from ranks past the verified depth by votes (look-alike frames
    share its keypoints). When the verified ones' pixels disagree with the query, the matcher
    verifies further down the votes and finds it; when they agree, it does not look."""
    import provcheck.matching.candidates as candidates_module
    import provcheck.matching.matcher as matcher_module

    w, h = frame.size
    db, source, others = _look_alikes(tmp_path, frame)
    query = query_fingerprint(
        decode_image(encode(source.crop((0, 0, w // 2, h // 2)), "PNG"), "q").image
    )
    with open_store(db, readonly=True) as store:
        ids = {Path(r.origin).name: r.id for r in store.items()}
        order = {ids["0.png"]: (9, 0), ids["1.png"]: (9, 0), ids["2.png"]: (9, 0)}
        monkeypatch.setattr(candidates_module, "MAX_LOCAL_VERIFIED", 2)
        monkeypatch.setattr(
            candidates_module, "keypoint_candidates", lambda ref, query: (order, query)
        )
        if not look_further:
            monkeypatch.setattr(matcher_module, "LOOK_FURTHER_BELOW", -1.0)
        matcher = Matcher([ReferenceSet(store, ("pdq", "phash"))])
        matches = matcher.match(query)
        looked: list[int] = []
        deeper = Matcher._look_further
        monkeypatch.setattr(Matcher, "_look_further", lambda *a: looked.append(1) or deeper(*a))
        agreeing = others[0].crop((0, 0, w // 2, h // 2))
        first = matcher.match(query_fingerprint(decode_image(encode(agreeing, "PNG"), "q").image))[
            0
        ]
    assert Path(first.item.origin).name == "0.png" and not looked  # it agrees: no need
    named = [Path(m.item.origin).name for m in matches]
    assert named  # a look-alike frame verifies either way
    if look_further:
        assert named[0] == "2.png"
    else:
        assert "2.png" not in named


def _look_alikes(tmp_path: Path, frame: Image.Image):
    """A database of three look-alike frames with previews: two with shapes in other places
    (0.png, 1.png), and the source of the test's crops (2.png)."""
    w, h = frame.size
    source = _blob(frame, (w // 10, h // 10, w // 4, h // 4))
    others = [
        _blob(_blob(frame, (w // 4, h // 5, w // 2 - 4, h // 2 - 4)), (0, h // 4, w // 6, h // 2)),
        _blob(_blob(frame, (w // 5, h // 4, w // 2 - 8, h // 2 - 2)), (w // 4, 0, w // 2, h // 6)),
    ]
    paths = []
    for n, picture in enumerate([*others, source]):
        paths.append(tmp_path / f"{n}.png")
        paths[-1].write_bytes(encode(picture, "PNG"))
    db = tmp_path / "refs.sqlite"
    with open_store(db, create=True) as store:
        add_files(store, SourceInfo("Game", "game"), paths, thumbnails=True)
    return db, source, others


def test_looking_further_stops_at_the_first_reference_that_agrees(tmp_path, frame, monkeypatch):
    import provcheck.matching.candidates as candidates_module

    w, h = frame.size
    db, source, _ = _look_alikes(tmp_path, frame)
    query = query_fingerprint(
        decode_image(encode(source.crop((0, 0, w // 2, h // 2)), "PNG"), "q").image
    )
    judged: list[str] = []
    judge = Matcher._judge

    def spy(self, ref, query, q, record, *args, **kwargs):
        judged.append(Path(record.origin).name)
        return judge(self, ref, query, q, record, *args, **kwargs)

    with open_store(db, readonly=True) as store:
        ids = {Path(r.origin).name: r.id for r in store.items()}
        order = {ids[name]: (9, 0) for name in ("0.png", "2.png", "1.png")}
        monkeypatch.setattr(candidates_module, "MAX_LOCAL_VERIFIED", 1)
        monkeypatch.setattr(
            candidates_module, "keypoint_candidates", lambda ref, query: (order, query)
        )
        monkeypatch.setattr(Matcher, "_judge", spy)
        matches = Matcher([ReferenceSet(store, ("pdq", "phash"))]).match(query)
    assert Path(matches[0].item.origin).name == "2.png"
    assert judged == ["0.png", "2.png"]  # 1.png, after the one that agrees, is never verified


@pytest.mark.parametrize("previews", [True, False])
def test_json_reports_inliers_and_pixel_agreement(tmp_path, frame, previews):
    import json

    from click.testing import CliRunner

    from provcheck.cli import cli

    (tmp_path / "ref.png").write_bytes(encode(frame, "PNG"))
    w, h = frame.size
    (tmp_path / "crop.png").write_bytes(encode(frame.crop((w // 4, h // 4, 3 * w // 4, h)), "PNG"))
    db = str(tmp_path / "refs.sqlite")
    flag = "--thumbnails" if previews else "--no-thumbnails"
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "db",
            "add",
            "--db",
            db,
            "--label",
            "G",
            "--category",
            "game",
            flag,
            str(tmp_path / "ref.png"),
        ],
    )
    assert added.exit_code == 0, added.output
    scanned = runner.invoke(
        cli, ["scan", "--db", db, "--format", "json", str(tmp_path / "crop.png")]
    )
    [match] = json.loads(scanned.output)["results"][0]["matches"]
    assert match["inliers"] >= 8
    if previews:
        assert match["pixel_agreement"] > 0.9
    else:
        assert match["pixel_agreement"] is None

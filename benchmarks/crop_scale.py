"""Crop search at scale: scan time and recall of crop queries among 100k references.

    python benchmarks/crop_scale.py [--items 100000] [--queries 40] [--work DIR] [--jobs 2]
                                    [--rounds 2]

Corpus. Every decoded frame of the five devset recordings (1,901 frames, 10-15 fps) is a real
reference: its 512 px working copy is hashed and its ORB keypoints extracted exactly as
``provcheck db add`` does. Extracting ORB for 100k real pictures would take over an hour on this
machine, so the corpus is topped up to ``--items`` with **derived references**, made from real
frames at the keypoint level: each takes one real frame's stored keypoints inside a random window
(70-100% of each side), rescaled by 0.8-1.25x, with every descriptor bit flipped with a
probability drawn per item in 2-8% (5-20 of 256 bits: the spread between one scene point's
descriptors in neighbouring video frames), and the frame's PDQ and pHash with 40-70 and 10-16
bits flipped (never within a hash threshold of anything real). So every descriptor comes from a
real game frame, with the skew of real ORB chunk values and the redundancy of a video corpus (one
HUD or scene point in thousands of references), which is what makes naive chunk buckets overflow.
Derived references are never made from a frame within 1 s of a query's frame or within 31 PDQ
bits of its picture, so none is a copy of a query's reference.

Queries. ``--queries`` frames spread over the five recordings, each cropped (seeded) to 50-80% of
each side at a random position from the full-size frame, re-encoded as JPEG q85, then scanned like
``provcheck scan``: working copy, query fingerprint, match. Recall: the first match is the
reference frame itself ("strict"), or a reference frame showing the same picture (PDQ within 8
bits of it: a paused game repeats a picture; the robustness benchmark's rule), or at least the
right recording.

Baselines, in the same run, on the same database and queries: verification's nearest-neighbour
step on numpy (without the ``fast`` extra) and on OpenCV's brute-force matcher (the code before
``provcheck.search.nearest``), identical in what they find; and the retrieval of the code before the
keypoint index (commit aa7a0fb: the chunk index rebuilt at every scan, no stop words), both as it
ran (switched off above 10,000 items, so only hash candidates are verified) and forced on.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from provcheck.signals.fingerprint import fingerprint
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features, _spread
from provcheck.store import SourceInfo, StoredHash, open_store

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"
WORKING = 512
SAME_PICTURE_BITS = 8
#: Derived references keep clear of query frames by this many seconds and PDQ bits.
GUARD_SECONDS, GUARD_BITS = 1.0, 31


def _frames(video: Path):  # noqa: ANN202 - a generator of (index, time, full-size RGB array)
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        yield index, index / fps, frame[:, :, ::-1]
        index += 1
    cap.release()


def _working(array: np.ndarray) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(array))
    image.thumbnail((WORKING, WORKING), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def _real_frames(video: Path) -> list[dict]:
    """Fingerprint of every frame of ``video`` (run in a worker process)."""
    out = []
    for index, t, array in _frames(video):
        image = _working(array)
        fp = fingerprint(image)
        if not fp.sufficient or fp.features is None:
            continue
        out.append(
            {
                "video": video.name,
                "index": index,
                "time": t,
                "size": image.size,
                "pdq": fp.hashes["pdq"].bits,
                "phash": fp.hashes["phash"].bits,
                "quality": fp.quality,
                "features": fp.features.to_blob(),
            }
        )
    return out


def _flip(bits: bytes, n: int, rng: np.random.Generator) -> bytes:
    array = np.unpackbits(np.frombuffer(bits, np.uint8))
    array[rng.choice(len(array), size=n, replace=False)] ^= 1
    return np.packbits(array).tobytes()


def derived(frame: dict, rng: np.random.Generator) -> tuple[Features, bytes, bytes]:
    """A derived reference from a real frame's keypoints (see the module docstring)."""
    base = Features.from_blob(frame["features"])
    fw, fh = rng.uniform(0.7, 1.0, size=2)
    x0 = rng.uniform(0, 1 - fw) * base.width
    y0 = rng.uniform(0, 1 - fh) * base.height
    scale = rng.uniform(0.8, 1.25)
    width, height = fw * base.width, fh * base.height
    inside = (
        (base.points[:, 0] >= x0)
        & (base.points[:, 0] < x0 + width)
        & (base.points[:, 1] >= y0)
        & (base.points[:, 1] < y0 + height)
    )
    points = ((base.points[inside] - [x0, y0]) * scale).astype(np.float32)
    desc = np.unpackbits(base.descriptors[inside], axis=1)
    noise = rng.random(desc.shape) < rng.uniform(0.02, 0.08)
    desc = np.packbits(desc ^ noise, axis=1)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Strength order of the source frame survives the window; re-spread it over the new grid.
    order = _spread(points, -np.flatnonzero(inside).astype(np.float32), size, len(points))
    features = Features(points[order], desc[order], *size)
    pdq = _flip(frame["pdq"], int(rng.integers(40, 71)), rng)
    phash = _flip(frame["phash"], int(rng.integers(10, 17)), rng)
    return features, pdq, phash


def _pdq_distance(a: bytes, b: bytes) -> int:
    return int(np.bitwise_count(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def pick_queries(frames: list[dict], n: int) -> list[dict]:
    """``n`` frames spread evenly over the recordings (by position in each video)."""
    by_video: dict[str, list[dict]] = {}
    for f in frames:
        by_video.setdefault(f["video"], []).append(f)
    videos = sorted(by_video)
    chosen = []
    for v, video in enumerate(videos):
        share = n // len(videos) + (1 if v < n % len(videos) else 0)
        run = by_video[video]
        for k in range(share):
            chosen.append(run[int((k + 0.5) * len(run) / share)])
    return chosen


def build_corpus(devset: Path, work: Path, items: int, n_queries: int, jobs: int) -> Path:
    """The reference database (cached in ``work``: rebuilt only when missing)."""
    db = work / f"refs-{items}.sqlite"
    meta = work / f"refs-{items}.json"
    if db.exists() and meta.exists():
        return db
    start = time.perf_counter()
    videos = sorted((devset / "videos").glob("*.mp4"))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        frames = [f for batch in pool.map(_real_frames, videos) for f in batch]
    print(f"real frames fingerprinted: {len(frames)} in {time.perf_counter() - start:.0f} s")
    queries = pick_queries(frames, n_queries)
    eligible = [
        f
        for f in frames
        if all(
            (f["video"] != q["video"] or abs(f["time"] - q["time"]) > GUARD_SECONDS)
            and _pdq_distance(f["pdq"], q["pdq"]) > GUARD_BITS
            for q in queries
        )
    ]
    print(f"frames eligible to derive references from: {len(eligible)}")
    rng = np.random.default_rng(11)
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with open_store(tmp, create=True) as store:
        with store.transaction():
            sources = {v.name: store.ensure_source(SourceInfo(v.name, "game"))[0] for v in videos}
        ids: dict[tuple[str, int], int] = {}
        with store.transaction():
            for f in frames:
                item_id, _ = store.add_item(
                    sources[f["video"]],
                    origin=f"{f['video']}#{f['index']}",
                    item_key=f"frame:{f['video']}:{f['index']}",
                    width=f["size"][0],
                    height=f["size"][1],
                    frame_time=f["time"],
                    hashes=[
                        StoredHash(Hash("pdq", f["pdq"]), f["quality"]),
                        StoredHash(Hash("phash", f["phash"])),
                    ],
                )
                store.put_features(item_id, Features.from_blob(f["features"]))
                ids[(f["video"], f["index"])] = item_id
        made = len(frames)
        while made < items:
            with store.transaction():
                for _ in range(min(20_000, items - made)):
                    frame = eligible[int(rng.integers(len(eligible)))]
                    features, pdq, phash = derived(frame, rng)
                    item_id, _ = store.add_item(
                        sources[frame["video"]],
                        origin=f"derived:{frame['video']}#{frame['index']}:{made}",
                        item_key=f"derived:{made}",
                        width=features.width,
                        height=features.height,
                        hashes=[
                            StoredHash(Hash("pdq", pdq), 100),
                            StoredHash(Hash("phash", phash)),
                        ],
                    )
                    store.put_features(item_id, features)
                    made += 1
            print(f"  {made} references stored ({time.perf_counter() - start:.0f} s)", flush=True)
    tmp.replace(db)
    frame_pdq = {ids[(f["video"], f["index"])]: f["pdq"].hex() for f in frames}
    meta.write_text(
        json.dumps(
            {
                "queries": [
                    {
                        "video": q["video"],
                        "index": q["index"],
                        "time": q["time"],
                        "item_id": ids[(q["video"], q["index"])],
                    }
                    for q in queries
                ],
                "frame_pdq": frame_pdq,
                "frame_video": {ids[(f["video"], f["index"])]: f["video"] for f in frames},
            }
        )
    )
    print(f"corpus built in {time.perf_counter() - start:.0f} s: {db}")
    return db


def make_queries(devset: Path, work: Path, meta: dict, seed: int) -> list[tuple[dict, bytes]]:
    """Crops (50-80% of each side, random position) of the query frames, as JPEG q85 bytes."""
    rng = np.random.default_rng(seed)
    out = []
    for q in meta["queries"]:
        # Decode up to the frame (seeking is not frame-exact with every codec).
        frame = next(
            (a for i, _t, a in _frames(devset / "videos" / q["video"]) if i == q["index"]), None
        )
        if frame is None:
            raise SystemExit(f"cannot read frame {q['index']} of {q['video']}")
        image = Image.fromarray(np.ascontiguousarray(frame))
        w, h = image.size
        fw, fh = rng.uniform(0.5, 0.8, size=2)
        cw, ch = round(w * fw), round(h * fh)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        buffer = io.BytesIO()
        image.crop((x0, y0, x0 + cw, y0 + ch)).save(buffer, "JPEG", quality=85)
        out.append((q, buffer.getvalue()))
    return out


class LegacyKeypointVotes:
    """The retrieval index of commit aa7a0fb, verbatim but for the return type: rebuilt at every
    scan, sorted keys searched with ``searchsorted``, no stop words, votes ranked by count."""

    def __init__(self, owners: np.ndarray, descriptors: np.ndarray) -> None:
        self.owners = np.asarray(owners, dtype=np.int64)
        self.descriptors = np.ascontiguousarray(descriptors, dtype=np.uint8)
        chunks = self.descriptors.view("<u2") if len(self.descriptors) else np.zeros((0, 16), "<u2")
        self._order = np.argsort(chunks, axis=0, kind="stable").astype(np.int32).T
        self._keys = np.take_along_axis(chunks, self._order.T, axis=0).T

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def candidates(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qchunks = np.ascontiguousarray(query, dtype=np.uint8).view("<u2")
        q_rows, s_rows = [], []
        for c in range(16):
            keys = self._keys[c]
            lo = np.searchsorted(keys, qchunks[:, c], side="left")
            hi = np.searchsorted(keys, qchunks[:, c], side="right")
            counts = hi - lo
            if not counts.any():
                continue
            q_rows.append(np.repeat(np.arange(len(qchunks)), counts))
            starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
            s_rows.append(self._order[c][starts + np.arange(counts.sum())])
        if not q_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pairs = np.unique(np.stack([np.concatenate(q_rows), np.concatenate(s_rows)]), axis=1)
        return pairs[0], pairs[1]

    def votes(self, query: np.ndarray, max_distance: int) -> dict:
        from provcheck.search.keypoint_index import Votes

        if len(self) == 0 or query is None or len(query) == 0:
            return {}
        query = np.ascontiguousarray(query, dtype=np.uint8)
        q_rows, s_rows = self.candidates(query)
        if len(q_rows) == 0:
            return {}
        distance = np.bitwise_count(
            query.view(np.uint64)[q_rows] ^ self.descriptors.view(np.uint64)[s_rows]
        ).sum(axis=1)
        close = distance <= max_distance
        voters = np.unique(np.stack([q_rows[close], self.owners[s_rows[close]]]), axis=1)
        owners, counts = np.unique(voters[1], return_counts=True)
        return {
            o: Votes(n, float(n)) for o, n in zip(owners.tolist(), counts.tolist(), strict=True)
        }


def _scan_all(matcher, queries, meta) -> dict:  # noqa: ANN001 - benchmark plumbing
    """Scan every query like ``provcheck scan`` does; time each, score the first match."""
    from provcheck.media.images import decode_image
    from provcheck.signals.fingerprint import query_fingerprint

    frame_pdq = {int(k): bytes.fromhex(v) for k, v in meta["frame_pdq"].items()}
    times, strict, same, video = [], 0, 0, 0
    for q, data in queries:
        start = time.perf_counter()
        loaded = decode_image(data, "query.jpg")
        matches = matcher.match(query_fingerprint(loaded.image), limit=5)
        times.append(time.perf_counter() - start)
        if not matches:
            continue
        first = matches[0].item.id
        strict += first == q["item_id"]
        same += first in frame_pdq and (
            _pdq_distance(frame_pdq[first], frame_pdq[q["item_id"]]) <= SAME_PICTURE_BITS
        )
        video += matches[0].item.source.label == q["video"]
    n = len(queries)
    return {
        "times": times,
        "p50_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * float(np.percentile(times, 90)),
        "strict": strict / n,
        "same": same / n,
        "video": video / n,
    }


def _pooled(runs: list[dict]) -> dict:
    """One row from several rounds of the same scans: percentiles over every timing; the recall
    of the first round (the rounds find the same matches)."""
    times = [t for run in runs for t in run["times"]]
    return {
        **runs[0],
        "p50_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * float(np.percentile(times, 90)),
    }


def _votes_ms(index, fingerprints) -> float:  # noqa: ANN001 - benchmark plumbing
    """Median time of the retrieval step alone: votes of a query's and its mirror's keypoints."""
    from provcheck.matching.candidates import QUERY_VOTERS, VOTE_DISTANCE

    times = []
    for fp in fingerprints:
        start = time.perf_counter()
        for features in (fp.fingerprint.features, fp.mirrored_features):
            index.votes(features.descriptors[:QUERY_VOTERS], VOTE_DISTANCE)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _opencv_two_nearest(query: np.ndarray, reference: np.ndarray) -> tuple:
    """``provcheck.search.nearest.two_nearest`` as verification did it before: OpenCV's brute-force
    matcher, a Python object per match (a one-row reference never occurs in a verification)."""
    import cv2

    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, reference, k=2)
    nearest = np.array([p[0].trainIdx for p in pairs], dtype=np.int64)
    first = np.array([p[0].distance for p in pairs], dtype=np.int64)
    second = np.array([p[1].distance for p in pairs], dtype=np.int64)
    return nearest, first, second


def _row(name: str, r: dict) -> None:
    print(
        f"{name:<44} {r['p50_ms']:8.0f} {r['p90_ms']:8.0f} {r['strict']:7.3f} {r['same']:7.3f}"
        f" {r['video']:7.3f}"
    )


def main() -> None:  # noqa: PLR0915 - a report, top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument(
        "--legacy-queries",
        type=int,
        default=10,
        help="queries scanned with the old index forced on (it is slow)",
    )
    parser.add_argument("--work", type=Path, help="folder for the corpus (default: temp)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds of the timed scans (default 2)"
    )
    args = parser.parse_args()
    import cv2

    from provcheck.matching import geometry as verify
    from provcheck.matching.matcher import Matcher
    from provcheck.matching.references import ReferenceSet
    from provcheck.search import nearest as hamming
    from provcheck.store import FEATURE_KIND
    from provcheck.store.sidecars import sidecar_dir

    work = args.work or Path(tempfile.mkdtemp(prefix="provcheck-crops-"))
    work.mkdir(parents=True, exist_ok=True)
    db = build_corpus(args.devset, work, args.items, args.queries, args.jobs)
    if args.build_only:
        return
    cv2.setNumThreads(1)  # one core, as the target says
    meta = json.loads(db.with_suffix(".json").read_text())
    queries = make_queries(args.devset, work, meta, args.seed)
    print(f"\n== crop queries among {args.items:,} references (one core) ==")
    print(f"database: {db.stat().st_size / args.items:,.0f} bytes/reference on disk")
    with open_store(db, readonly=True) as store:
        folder = sidecar_dir(store.path)
        for old in folder.glob("orb*"):
            old.unlink()  # measure the first scan after a change: it builds the sidecar
        start = time.perf_counter()
        ref = ReferenceSet(store, ("pdq", "phash"))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        ref = ReferenceSet(store, ("pdq", "phash"))
        warm = time.perf_counter() - start
        kp = ref.keypoints
        disk = sum(p.stat().st_size for p in folder.glob(f"{FEATURE_KIND}-*.npy"))
        print(
            f"keypoint index: {len(kp):,} descriptors; first load (builds the sidecar)"
            f" {cold:.1f} s,"
            f" later loads {warm:.2f} s; sidecar {disk / args.items:,.0f} bytes/reference on disk,"
            f" {kp.nbytes / args.items:,.0f} bytes/reference memory-mapped"
            f" (stop words: buckets over {kp.stop_word:,} rows)"
        )
        print(
            f"{'retrieval':<44} {'p50 ms':>8} {'p90 ms':>8} {'strict':>7} {'same':>7} {'video':>7}"
        )
        from provcheck.media.images import decode_image
        from provcheck.signals.fingerprint import query_fingerprint

        fps = [query_fingerprint(decode_image(data, "q.jpg").image) for _q, data in queries]
        some = queries[: args.legacy_queries]
        # Verification's Hamming matcher on the same scans: FAISS (when installed), numpy (no
        # `fast` extra) and OpenCV's brute-force matcher (the code before search.nearest), in
        # alternating rounds after a warm-up, so that neither pays for a cold cache or a noisy
        # minute alone.
        variants = {
            f"new index (sidecar, stop words, idf; {hamming.backend()})": contextlib.nullcontext
        }
        if hamming.backend() == "faiss":
            variants["  verification on numpy (no `fast` extra)"] = lambda: mock.patch.object(
                hamming, "_faiss", lambda: None
            )
        variants["  verification on OpenCV BFMatcher (before)"] = lambda: mock.patch.object(
            verify, "two_nearest", _opencv_two_nearest
        )
        _scan_all(Matcher([ref]), queries[:5], meta)  # warm-up: page cache, lazy imports
        rows: dict[str, list[dict]] = {name: [] for name in variants}
        for round_ in range(args.rounds):
            for name in variants if round_ % 2 == 0 else reversed(variants):
                with variants[name]():
                    rows[name].append(_scan_all(Matcher([ref]), queries, meta))
        for name, runs in rows.items():
            _row(name, _pooled(runs))
        if some:
            _row(f"new index, first {len(some)} queries", _scan_all(Matcher([ref]), some, meta))
        print(f"  retrieval alone (votes, query + mirror): {_votes_ms(kp, fps):.1f} ms p50")
        # Baselines, same database and queries: the code before this change.
        ref.keypoint_retrieval = False
        _row("before: retrieval off past 10,000 items", _scan_all(Matcher([ref]), queries, meta))
        if not some:
            return  # --legacy-queries 0: skip the slow forced-on baseline
        start = time.perf_counter()
        arrays = store.kind_arrays(FEATURE_KIND)
        ref.keypoints = LegacyKeypointVotes(arrays.item_ids, arrays.codes)
        ref.keypoint_retrieval = True
        print(f"before, forced on: index rebuilt in {time.perf_counter() - start:.1f} s per scan")
        _row(f"before, forced on, first {len(some)} queries", _scan_all(Matcher([ref]), some, meta))
        legacy_ms = _votes_ms(ref.keypoints, fps[: len(some)])
        print(f"  retrieval alone (votes, query + mirror): {legacy_ms:.1f} ms p50")


if __name__ == "__main__":
    main()

"""The robustness benchmark's figures: recall per edit, false positives, ``insufficient`` answers,
query time and the reliability of the confidence, for each code version run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from robustness_corpus import Picture
from transforms import TRANSFORMS

#: PDQ distance within which two reference frames are the same picture (re-encoding alone moves
#: PDQ by up to ~10 bits; different content lies ~128 bits apart).
IDENTICAL_BITS = 8
#: Confidence bands of the reliability table.
BANDS = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.01)]


@dataclass(frozen=True)
class Run:
    """One code version's database and its answers to every query, in job order."""

    name: str
    code: str | None
    stored: dict[str, Any]
    results: list[dict[str, Any]]


def _same(key_a: str, key_b: str) -> bool:
    if key_a == key_b:
        return True
    if "@" in key_a and "@" in key_b:
        (va, ta), (vb, tb) = key_a.split("@"), key_b.split("@")
        return va == vb and abs(float(ta) - float(tb)) <= 2.0 + 1e-6
    return False


class Truth:
    """What counts as the right answer: the picture's own reference, a reference frame showing
    the same picture (PDQ within IDENTICAL_BITS: a static camera, a paused game), or for the
    "source" verdict any moment of the right video."""

    def __init__(self, run: Run, pictures: list[Picture]) -> None:
        self.origin_key = {str(p.path): p.key for p in pictures if p.reference}
        self.item_origin = run.stored["origins"]
        self.arrays = run.stored["hashes"]  # kind -> (codes, item ids), read by the worker
        codes, item_ids = self.arrays["pdq"]
        d = np.bitwise_count(codes[:, None, :] ^ codes[None, :, :]).sum(axis=2)
        row_origin = [self.item_origin[int(i)] for i in item_ids]
        self.twins: dict[str, set[str]] = {o: set() for o in row_origin}
        for a, b in zip(*np.nonzero(d <= IDENTICAL_BITS), strict=True):
            self.twins[row_origin[a]].add(self.origin_key[row_origin[b]])

    def strictly(self, origin: str | None, key: str) -> bool:
        return origin is not None and _same(self.origin_key.get(origin, ""), key)

    def correct(self, origin: str | None, key: str) -> bool:
        return origin is not None and (
            self.strictly(origin, key) or any(_same(k, key) for k in self.twins.get(origin, ()))
        )

    def same_source(self, origin: str | None, key: str) -> bool:
        found = self.origin_key.get(origin or "", "")
        return bool(found) and found.split("@")[0] == key.split("@", maxsplit=1)[0]

    def nearest(self, kind: str, code_bytes: bytes) -> tuple[int, str]:
        codes, item_ids = self.arrays[kind]
        code = np.frombuffer(code_bytes, dtype=np.uint8)
        d = np.bitwise_count(codes ^ code).sum(axis=1)
        row = int(np.argmin(d))
        return int(d[row]), self.item_origin[int(item_ids[row])]


def _verdicts(run: Run, truth: Truth, labels: list[tuple[str, bool]]) -> list[dict[str, bool]]:
    return [
        {
            "right": r["status"] == "match" and is_ref and truth.correct(r["origin"], key),
            "strict": r["status"] == "match" and is_ref and truth.strictly(r["origin"], key),
            "source": r["status"] == "match" and is_ref and truth.same_source(r["origin"], key),
        }
        for (key, is_ref), r in zip(labels, run.results, strict=True)
    ]


def _plain_baselines(
    run: Run, truth: Truth, labels: list[tuple[str, bool]], fpr: float
) -> tuple[dict[str, int], dict[str, list[tuple[int, str]]]]:
    """Per query, the nearest reference by plain whole-picture pHash and PDQ, and each hash's
    threshold at provcheck's false-positive rate."""
    nearest = {k: [truth.nearest(k, r["plain"][k]) for r in run.results] for k in ("pdq", "phash")}
    thresholds = {}
    for kind, found in nearest.items():
        pairs = zip(found, labels, strict=True)
        negatives = sorted(d for (d, _o), (_k, is_ref) in pairs if not is_ref)
        allowed = int(np.floor(fpr * len(negatives)))
        thresholds[kind] = negatives[allowed] - 1 if allowed < len(negatives) else 10**6
    return thresholds, nearest


def report(  # noqa: PLR0915 - a report, top to bottom
    runs: list[Run],
    jobs: list[tuple[str, int, str, str]],
    labels: list[tuple[str, bool]],
    pictures: list[Picture],
) -> list[dict[str, Any]]:
    """Print every figure; return one detail row per query and version."""
    flat = {str(p.path) for p in pictures if p.flat}
    main = runs[0]
    truth = {run.name: Truth(run, pictures) for run in runs}
    verdicts = {run.name: _verdicts(run, truth[run.name], labels) for run in runs}
    negatives = [i for i, (_k, is_ref) in enumerate(labels) if not is_ref]
    for run in runs:
        s = run.stored
        n = max(s["added"], 1)
        print(
            f"\n[{run.name}] code {s['code']}: {s['added']} references stored, {len(s['errors'])}"
            f" refused; database {s['bytes'] / n:.0f} bytes/reference on disk, search arrays"
            f" {s['in_memory'] / n:.0f} bytes/reference in memory"
        )
        if s["errors"]:
            refused = ", ".join(sorted(Path(e.split(":")[0]).name for e in s["errors"]))
            print(f"    refused: {refused}")

    fps = {run.name: sum(run.results[i]["status"] == "match" for i in negatives) for run in runs}
    fpr = fps[main.name] / max(len(negatives), 1)
    thresholds, nearest = _plain_baselines(main, truth[main.name], labels, fpr)
    stored = {run.name: set(run.stored["origins"].values()) for run in runs}
    common = set.intersection(*stored.values())
    names = [run.name for run in runs]
    print(
        "\nRecall over the references every version stored (the same queries for each), then"
        " over those only the code under test stored ('new refs')."
    )
    print(
        f"{'edit':26s} "
        + " ".join(f"{n[:9]:>9s}" for n in names)
        + f" {'new refs':>9s} {'strict':>7s} {'source':>7s} {'pHash':>7s} {'PDQ':>7s}"
        + "   FP "
        + " / ".join(names)
        + "   insufficient "
        + " / ".join(names)
    )
    for name in TRANSFORMS:
        rows = [i for i, job in enumerate(jobs) if job[0] == name]
        if not rows:
            continue
        recall, insufficient = [], []
        true_rows = [i for i in rows if labels[i][1] and jobs[i][2] in common]
        for run in runs:
            recall.append(np.mean([verdicts[run.name][i]["right"] for i in true_rows]))
            ours = [i for i in rows if labels[i][1] and jobs[i][2] in stored[run.name]]
            insufficient.append(
                f"{sum(run.results[i]['status'] == 'insufficient' for i in ours)}/{len(ours)}"
            )
        new_rows = [i for i in rows if labels[i][1] and jobs[i][2] in stored[main.name] - common]
        new = np.mean([verdicts[main.name][i]["right"] for i in new_rows]) if new_rows else 0.0
        new_text = f"{new:.3f} ({len(new_rows)})" if new_rows else "-"
        strict, source = (
            np.mean([verdicts[main.name][i][v] for i in true_rows]) for v in ("strict", "source")
        )
        plain = {
            kind: np.mean(
                [
                    nearest[kind][i][0] <= thresholds[kind]
                    and truth[main.name].correct(nearest[kind][i][1], labels[i][0])
                    for i in true_rows
                ]
            )
            for kind in ("phash", "pdq")
        }
        neg_rows = [i for i in rows if not labels[i][1]]
        fp = " / ".join(
            str(sum(run.results[i]["status"] == "match" for i in neg_rows)) for run in runs
        )
        print(
            f"{name:26s} "
            + " ".join(f"{r:9.3f}" for r in recall)
            + f" {new_text:>9s} {strict:7.3f} {source:7.3f} {plain['phash']:7.3f}"
            + f" {plain['pdq']:7.3f}   {fp}/{len(neg_rows)}   "
            + " / ".join(insufficient)
        )

    print()
    flat_rows = [i for i in negatives if jobs[i][2] in flat]
    for run in runs:
        ours = stored[run.name]
        true_rows = [i for i, (_k, r) in enumerate(labels) if r and jobs[i][2] in ours]
        refused = [i for i, (_k, r) in enumerate(labels) if r and jobs[i][2] not in ours]
        right = sum(verdicts[run.name][i]["right"] for i in true_rows)
        insufficient = sum(run.results[i]["status"] == "insufficient" for i in true_rows)
        flat_fp = sum(run.results[i]["status"] == "match" for i in flat_rows)
        seconds = np.array([r["seconds"] for r in run.results]) * 1000
        shared = [i for i in true_rows if jobs[i][2] in common]
        same = sum(verdicts[run.name][i]["right"] for i in shared)
        print(
            f"[{run.name}] recall over the references every version stored {same}/{len(shared)}"
            f" = {same / max(len(shared), 1):.3f}; recall {right}/{len(true_rows)}"
            f" = {right / max(len(true_rows), 1):.3f}"
            f" over stored references ({len(refused)} queries of refused references left out:"
            f" {right / max(len(true_rows) + len(refused), 1):.3f} counting them as misses);"
            f" pooled false positives {fps[run.name]}/{len(negatives)}"
            f" = {100 * fps[run.name] / max(len(negatives), 1):.2f}% (flat distractors"
            f" {flat_fp}/{len(flat_rows)}); insufficient while stored {insufficient}/"
            f"{len(true_rows)} = {100 * insufficient / max(len(true_rows), 1):.2f}%;"
            f" query ms min/median/p90/max {seconds.min():.0f}/{np.median(seconds):.0f}/"
            f"{np.percentile(seconds, 90):.0f}/{seconds.max():.0f}"
        )
    print(
        f"plain-hash baselines at provcheck's rate: pHash <= {thresholds['phash']},"
        f" PDQ <= {thresholds['pdq']}"
    )
    if len(runs) > 1:
        ours = np.array([r["seconds"] for r in main.results])
        theirs = np.array([r["seconds"] for r in runs[1].results])
        ratio = ours / np.maximum(theirs, 1e-9)
        print(
            f"query time {main.name}/{runs[1].name}, same queries: median of ratios"
            f" {np.median(ratio):.2f}, ratio of medians {np.median(ours) / np.median(theirs):.2f}"
        )

    for run in runs:
        print(f"\n[{run.name}] confidence band   reported  right  precision")
        for lo, hi in BANDS:
            rows = [
                i
                for i, r in enumerate(run.results)
                if r["status"] == "match" and lo <= r["confidence"] < hi
            ]
            right = sum(verdicts[run.name][i]["right"] for i in rows)
            share = f"{right / len(rows):.3f}" if rows else "-"
            print(
                f"[{lo:.2f}, {min(hi, 1.0):.2f}{')' if hi <= 1.0 else ']'}  {len(rows):8d}"
                f"  {right:5d}  {share:>9s}"
            )

    details = []
    for run in runs:
        origin_key = truth[run.name].origin_key
        for i, (job, (key, is_ref), r) in enumerate(zip(jobs, labels, run.results, strict=True)):
            details.append(
                {
                    "version": run.name,
                    "edit": job[0],
                    "seed": job[1],
                    "picture": key,
                    "reference": is_ref,
                    "stored": job[2] in stored[run.name],
                    "flat": job[2] in flat,
                    "status": r["status"],
                    "named": origin_key.get(r["origin"] or ""),
                    "confidence": r["confidence"],
                    "quality": r["quality"],
                    "inliers": r["inliers"],
                    "distances": r["distances"],
                    "ms": round(1000 * r["seconds"], 1),
                    **verdicts[run.name][i],
                }
            )
    return details

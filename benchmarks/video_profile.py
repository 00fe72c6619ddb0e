"""Where video ingest spends its time: one timer per stage, next to the real ``add_video``.

    python benchmarks/video_profile.py [--devset ../shared/devset] [--video wesnoth] [--repeat 3]

Each video is ingested for real (``add_video``, thumbnails on as ``db add`` does by default) and
then replayed stage by stage with the same library calls and a timer around each: demux + decode,
the sampler's grey probe (scale + PDQ of 128 px), the sampling decision, and for kept frames only
the working copy (scale + RGB conversion), PDQ, pHash, ORB keypoints, the preview (scaled by the
decoder, then encoded), and the SQLite writes of one transaction. The stage sum should land near
the real ingest time; the difference is the loop's own overhead. Best of ``--repeat`` runs per
stage (the machine is shared).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from provcheck.media.frames import PROBE_SIZE, VideoFacts, VideoLimits, probe_hash, scaled
from provcheck.media.sampling import FrameSampler, SamplingPolicy
from provcheck.services.ingest import stored_hashes
from provcheck.services.video_ingest import add_video
from provcheck.signals.fingerprint import Fingerprint
from provcheck.signals.hashes import WORKING_SIZE, PdqHasher, PHasher
from provcheck.signals.keypoints import REFERENCE_FEATURES, extract
from provcheck.signals.thumbnail import MAX_SIDE as PREVIEW_SIZE
from provcheck.signals.thumbnail import make_thumbnail
from provcheck.store import SourceInfo, open_store

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"


class Timers:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def time(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args)
        self.seconds[stage] += time.perf_counter() - started
        self.calls[stage] += 1
        return out


def _decoded_timed(path: Path, facts: VideoFacts, timers: Timers) -> Iterator[tuple[float, Any]]:
    """The ingest decoder's frames, with demux + decode time charged to 'decode'."""
    import av

    from provcheck.media.container import _decoded, _open_stream

    container = av.open(str(path), mode="r", metadata_errors="ignore")
    stream, _ = _open_stream(container, facts, VideoLimits())
    frames = _decoded(container, stream, facts, VideoLimits())
    with container:
        while True:
            started = time.perf_counter()
            try:
                item = next(frames)
            except StopIteration:
                timers.seconds["decode"] += time.perf_counter() - started
                return
            timers.seconds["decode"] += time.perf_counter() - started
            timers.calls["decode"] += 1
            yield item


def replay(path: Path, db: Path, policy: SamplingPolicy) -> tuple[Timers, int, float]:
    """Ingest ``path`` stage by stage (same calls as ``video_av`` and ``add_video``), timed."""
    from av.video.reformatter import VideoReformatter

    timers = Timers()
    facts = VideoFacts(path.name, "0" * 64)
    sampler = FrameSampler(policy)
    to_gray, to_rgb, to_preview = VideoReformatter(), VideoReformatter(), VideoReformatter()
    kept = []
    for t, frame in _decoded_timed(path, facts, timers):
        probe = scaled(frame.width, frame.height, PROBE_SIZE)
        working = scaled(frame.width, frame.height, WORKING_SIZE)
        small = scaled(frame.width, frame.height, PREVIEW_SIZE)
        gray = timers.time(
            "probe: scale to grey 128 px",
            lambda f=frame, p=probe: to_gray.reformat(
                f, width=p[0], height=p[1], format="gray", interpolation="AREA"
            ).to_ndarray(),
        )
        bits, quality = timers.time("probe: PDQ of 128 px", probe_hash, gray)
        if not timers.time("sampling decision", sampler.offer, t, bits, quality):
            continue
        image = timers.time(
            "kept: scale + RGB working copy",
            lambda f=frame, w=working: to_rgb.reformat(
                f, width=w[0], height=w[1], format="rgb24", interpolation="AREA"
            ).to_image(),
        )
        pdq, quality = timers.time("kept: PDQ", PdqHasher().compute_with_quality, image)
        phash = timers.time("kept: pHash", PHasher().compute, image)
        features = timers.time("kept: ORB keypoints", extract, image, REFERENCE_FEATURES)
        preview = timers.time(
            "kept: preview, scaled by the decoder",
            lambda f=frame, p=small: to_preview.reformat(
                f, width=p[0], height=p[1], format="rgb24", interpolation="AREA"
            ).to_image(),
        )
        thumb = timers.time("kept: preview, WebP encode", make_thumbnail, preview)
        fp = Fingerprint({"pdq": pdq, "phash": phash}, quality, features)
        kept.append((t, fp, thumb))
    with open_store(db, create=True) as store:
        with store.transaction():
            source_id, _ = store.ensure_source(SourceInfo(f"replay {time.time()}", "game"))

        def write() -> None:
            with store.transaction():
                for t, fp, thumb in kept:
                    item_id, _ = store.add_item(
                        source_id,
                        origin=path.name,
                        item_key=facts.sha256,
                        sha256=facts.sha256,
                        frame_time=t,
                        hashes=stored_hashes(fp),
                    )
                    store.put_features(item_id, fp.features)  # type: ignore[arg-type]
                    store.put_thumbnail(item_id, thumb)

        timers.time("SQLite writes (one transaction)", write)
        store.remove_source(source_id)
    return timers, len(kept), facts.duration


def real_ingest(path: Path, db: Path, policy: SamplingPolicy) -> float:
    with open_store(db, create=True) as store:
        with store.transaction():
            source_id, _ = store.ensure_source(SourceInfo(f"real {time.time()}", "game"))
        started = time.perf_counter()
        report = add_video(store, source_id, path, origin=path.name, policy=policy, thumbnails=True)
        seconds = time.perf_counter() - started
        if report.error:
            raise SystemExit(report.error)
        store.remove_source(source_id)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--video", default="wesnoth", help="substring of the video file names")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    policy = SamplingPolicy()
    videos = [p for p in sorted((args.devset / "videos").glob("*.mp4")) if args.video in p.name]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "profile.sqlite"
        for path in videos:
            best: dict[str, float] = {}
            calls: dict[str, int] = {}
            real = float("inf")
            kept, duration = 0, 0.0
            for _ in range(args.repeat):
                real = min(real, real_ingest(path, db, policy))
                timers, kept, duration = replay(path, db, policy)
                for stage, seconds in timers.seconds.items():
                    best[stage] = min(best.get(stage, float("inf")), seconds)
                calls.update(timers.calls)
            total = sum(best.values())
            print(f"\n## {path.name}: {duration:.1f} s of video, {kept} frames kept")
            print(f"{'stage':36} {'calls':>6} {'total s':>8} {'ms/call':>8} {'share':>6}")
            for stage, seconds in best.items():
                n = max(1, calls[stage])
                print(
                    f"{stage:36} {calls[stage]:6d} {seconds:8.3f} {seconds / n * 1000:8.2f}"
                    f" {seconds / total:6.1%}"
                )
            print(
                f"{'sum of stages':36} {'':6} {total:8.3f}   -> {duration / total:.1f}x real time"
            )
            print(
                f"{'real add_video (thumbnails on)':36} {'':6} {real:8.3f}"
                f"   -> {duration / real:.1f}x real time"
            )


if __name__ == "__main__":
    main()

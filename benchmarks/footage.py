"""Video evidence on real footage: the right video, the right moment, the right clip segment.

    python benchmarks/footage.py [--devset ../shared/devset] [--stills 10] [--excerpts 3]
        [--seed 1] [--provcheck NAME=COMMAND ...] [--repeat 3] [--jobs 2]

Corpus: the four real clips of ``devset/footage`` (a close-up, a street scene, a night skyline in
MPEG-2, a fixed-camera classroom experiment) and the five gameplay recordings of
``devset/videos``. Each becomes one source of a fresh database, added with ``provcheck db add``.

Queries, made once per run (seeded) and scanned by every provcheck under test:

* stills at random moments of each video (decoded at full quality, not the sampled frames), each
  with every edit of ``benchmarks/transforms.py`` (which includes a thermal look), saved as JPEG;
* 3 s excerpts at random places, re-encoded (H.264, CRF 28, longest side 640 px) as a re-post is.

Figures, side by side for every provcheck under test:

* stills: right video first; right moment (the still's time within 2 s of the reported frame time,
  or inside a reported stretch no longer than 6 s); confident-and-wrong (right video, a reported
  stretch of at most 2 s, and the still more than 2 s away from every reported stretch);
* excerpts: the first segment names the right video and maps the excerpt onto the reference
  within 2 s; the same with the devset's stills of the same games added as distractors;
* ingest: seconds of video per second for 720p H.264 (one long video; two videos in one call),
  with ``--jobs 1`` and ``--jobs 2``, per wall second (the machine) and per CPU second (a core);
  min/median/max over ``--repeat`` alternating rounds;
* storage: stored frames per minute of video.

Everything goes through the CLI (``db add``, ``db list``, ``scan --format json`` on a folder of
queries in one call), so this script measures any version of provcheck, before or after a
restructure. ``--provcheck main=/path/to/venv/bin/provcheck`` adds a column; the default is the
provcheck importable by this Python.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transforms import TRANSFORMS

HERE = Path(__file__).resolve().parent
#: ../shared/devset beside the checkout (or beside any folder above it: a worktree).
DEFAULT_DEVSET = next(
    (p / "shared" / "devset" for p in HERE.parents if (p / "shared" / "devset").is_dir()),
    HERE.parent.parent / "shared" / "devset",
)
#: Seconds of an excerpt, and the tolerance on every time figure.
EXCERPT_S, TIME_TOLERANCE_S = 3.0, 2.0
#: A reported stretch longer than this does not count as placing the still.
LONGEST_USEFUL_STRETCH_S = 6.0
#: A reported stretch this short is a confident answer.
CONFIDENT_STRETCH_S = 2.0
#: The 720p H.264 recording the long ingest video is remuxed from (four times over: 120 s).
LONG_SOURCE, LONG_REPEATS = "wesnoth_ai_vs_ai.mp4", 4


@dataclass(frozen=True, slots=True)
class Video:
    path: Path
    category: str  # "footage" or "game"
    duration: float  # time of the last frame, from the stream's start (provcheck's clock)


@dataclass(frozen=True, slots=True)
class Still:
    video: str  # file name of the video it was taken from
    time: float
    edit: str
    #: The still lies in a stretch of more than ``LONGEST_USEFUL_STRETCH_S`` where the video's
    #: picture does not change at all (a paused game, a frozen shot): no method can place it.
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class Excerpt:
    video: str
    start: float  # reference time of the excerpt's first frame
    frozen: bool = False  # every frame of it lies in one unchanging stretch (see Still)


@dataclass(slots=True)
class Tool:
    """One provcheck under test, named for the report."""

    name: str
    command: list[str]
    figures: dict[str, Any] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Run outside any checkout: ``python -m provcheck`` puts the working directory first on
        # sys.path, so from a checkout every tool would run that checkout's provcheck, whatever
        # its PYTHONPATH says.
        done = subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            check=False,
            env=_env(),
            cwd=tempfile.gettempdir(),
        )
        if check and done.returncode not in (0, 1):
            sys.exit(f"{self.name}: {' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
        return done


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROVCHECK_DB", None)
    env["NO_COLOR"] = "1"
    return env


# -- the corpus and the queries -------------------------------------------------------------------


def corpus(devset: Path) -> list[Video]:
    videos = [(p, "footage") for p in sorted((devset / "footage").iterdir()) if _is_video(p)]
    videos += [(p, "game") for p in sorted((devset / "videos").glob("*.mp4"))]
    if not videos:
        sys.exit(f"{devset}: no videos in footage/ or videos/")
    return [Video(path, category, _duration(path)) for path, category in videos]


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in {".mp4", ".mpg", ".mkv", ".webm", ".mov", ".avi", ".ogv"}


def _frames(path: Path) -> Iterator[tuple[float, av.VideoFrame]]:
    """Every frame at full quality with its time from the stream's start, as provcheck counts."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        for frame in container.decode(stream):
            yield max(0.0, float(frame.time) - start), frame


def _duration(path: Path) -> float:
    return max(t for t, _ in _frames(path))


#: Two frames show the same picture when no pixel of their 32x32 grey copies differs by more
#: than this (grey levels): encoder noise in a frozen shot moves them by a fraction of a level.
SAME_PICTURE_GREY = 2.0


class FrozenRuns:
    """Where a video does not change at all: runs of consecutive frames identical to the run's
    first (32x32 grey copies within ``SAME_PICTURE_GREY``). The benchmark's ground truth for
    which moments the pixels cannot place, computed from every frame at full quality."""

    def __init__(self, path: Path) -> None:
        times, thumbs = [], []
        for t, frame in _frames(path):
            times.append(t)
            grey = frame.reformat(width=32, height=32, format="gray", interpolation="AREA")
            thumbs.append(grey.to_ndarray().astype(np.int16))
        self.times = times
        self.run_of: list[tuple[float, float]] = []
        start = 0
        for i in range(1, len(thumbs) + 1):
            if i == len(thumbs) or np.abs(thumbs[i] - thumbs[start]).max() > SAME_PICTURE_GREY:
                self.run_of.extend([(times[start], times[i - 1])] * (i - start))
                start = i

    def run(self, t: float) -> tuple[float, float]:
        """The unchanging run holding the frame at ``t`` (a frame time of this video)."""
        i = min(range(len(self.times)), key=lambda k: abs(self.times[k] - t))
        return self.run_of[i]

    def frozen(self, start: float, end: float | None = None) -> bool:
        """Whether [start, end] lies in one unchanging run longer than the useful stretch."""
        s, e = self.run(start)
        return e - s > LONGEST_USEFUL_STRETCH_S and (end is None or self.run(end) == (s, e))


def make_stills(
    videos: Sequence[Video], per_video: int, edits: Sequence[str], seed: int, out: Path
) -> dict[str, Still]:
    """``per_video`` random moments of each video, each under every edit, as JPEG q92 files."""
    truth: dict[str, Still] = {}
    for v, video in enumerate(videos):
        rng = random.Random(seed * 1000 + v)
        wanted = sorted(rng.uniform(0.0, video.duration) for _ in range(per_video))
        runs = FrozenRuns(video.path)
        for s, (t, image) in enumerate(_nearest_frames(video.path, wanted)):
            for e, edit in enumerate(edits):
                edit_rng = np.random.default_rng([seed, v, s, e])
                name = f"s{v:02d}_{s:03d}_{edit}.jpg"
                TRANSFORMS[edit](image, edit_rng).convert("RGB").save(out / name, quality=92)
                truth[name] = Still(video.path.name, t, edit, runs.frozen(t))
    return truth


def _nearest_frames(path: Path, wanted: Sequence[float]) -> Iterator[tuple[float, Image.Image]]:
    """For each wanted time (sorted), the first frame at or after it (the last frame at the end)."""
    pending = list(wanted)
    last: tuple[float, av.VideoFrame] | None = None
    for t, frame in _frames(path):
        while pending and t >= pending[0]:
            pending.pop(0)
            yield t, frame.to_image()
        last = (t, frame)
    for _ in pending:
        assert last is not None
        yield last[0], last[1].to_image()


def make_excerpts(
    videos: Sequence[Video], per_video: int, seed: int, out: Path
) -> dict[str, Excerpt]:
    """``per_video`` excerpts of ``EXCERPT_S`` seconds per video, re-encoded smaller."""
    truth: dict[str, Excerpt] = {}
    for v, video in enumerate(videos):
        rng = random.Random(seed * 1000 + 500 + v)
        runs = FrozenRuns(video.path)
        for x in range(per_video):
            start = rng.uniform(0.0, max(0.0, video.duration - EXCERPT_S))
            name = f"x{v:02d}_{x:02d}.mp4"
            first, last = _encode_excerpt(video.path, start, out / name)
            truth[name] = Excerpt(video.path.name, first, runs.frozen(first, last))
    return truth


def _encode_excerpt(path: Path, start: float, out: Path) -> tuple[float, float]:
    """Encode the excerpt; the reference times of its first and last frames."""
    with av.open(str(path)) as source:
        rate = source.streams.video[0].average_rate or 25
    first: float | None = None
    last = start
    with av.open(str(out), "w") as container:
        stream: Any = None
        for t, frame in _frames(path):
            if t < start or t >= start + EXCERPT_S:
                continue
            if stream is None:
                first = t
                scale = min(1.0, 640 / max(frame.width, frame.height))
                w = max(16, round(frame.width * scale / 2) * 2)
                h = max(16, round(frame.height * scale / 2) * 2)
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"crf": "28", "preset": "veryfast"}
            last = t
            image = frame.to_image().resize((stream.width, stream.height), Image.Resampling.LANCZOS)
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))
    assert first is not None
    return first, last


def remux_long(source: Path, repeats: int, out: Path) -> float:
    """``source`` played ``repeats`` times in one file, packets copied (no re-encoding)."""
    with av.open(str(source)) as first, av.open(str(out), "w") as container:
        src = first.streams.video[0]  # the template must stay open while muxing
        span = int(first.duration / 1_000_000 / src.time_base) + 1 if first.duration else 0
        stream = container.add_stream_from_template(src)
        for n in range(repeats):
            with av.open(str(source)) as again:
                for packet in again.demux(again.streams.video[0]):
                    if packet.dts is None:
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + n * span
                    packet.dts += n * span
                    packet.stream = stream
                    container.mux(packet)
    return _duration(out)


# -- driving provcheck ----------------------------------------------------------------------------


def build_database(tool: Tool, videos: Sequence[Video], db: Path) -> None:
    for video in videos:
        tool.run(
            "db", "add", str(video.path), "--label", video.path.name, "--category",
            video.category, "--db", str(db), "--jobs", "2",
        )  # fmt: skip


def frames_per_video(tool: Tool, db: Path) -> dict[str, int]:
    listing = json.loads(tool.run("db", "list", "--db", str(db), "--format", "json").stdout)
    counts = {}
    for source in listing[0]["rows"]:
        items = tool.run(
            "db", "list", "--db", str(db), "--items", str(source["id"]), "--format", "json"
        )
        counts[source["label"]] = len(json.loads(items.stdout)[0]["rows"])
    return counts


def scan(tool: Tool, folder: Path, db: Path, jobs: int) -> tuple[dict[str, dict[str, Any]], float]:
    """Scan every query in ``folder`` in one call: results by file name, and the wall seconds."""
    out = folder.parent / f"{folder.name}_{tool.name}.json"
    started = time.perf_counter()
    tool.run(
        "scan", str(folder), "--db", str(db), "--format", "json", "-o", str(out), "--jobs",
        str(jobs), "--fail-on", "never", "--no-progress", "--no-config",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    results = json.loads(out.read_text())["results"]
    return {Path(r["input"]).name: r for r in results}, seconds


def _timed(tool: Tool, *args: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one command; CPU of the child processes it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    tool.run(*args)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# -- scoring --------------------------------------------------------------------------------------


def reported_stretches(match: dict[str, Any], duration: float) -> list[tuple[float, float]]:
    """Every stretch of the reference a match reports, its own first (documented JSON fields:
    ``frame_time``, ``frame_until``, ``same_picture_at``; ``frame_until`` null = to the end)."""
    t = match.get("frame_time")
    if t is None:
        return []
    own = (t, duration if match.get("frame_until") is None else match["frame_until"])
    others = [(s, duration if e is None else e) for s, e in match.get("same_picture_at") or []]
    return [own, *others]


def score_still(result: dict[str, Any], truth: Still, duration: float) -> dict[str, bool]:
    matches = result.get("matches") or []
    first = matches[0] if matches else None
    named = first is not None and Path(first["origin"]).name == truth.video
    if not named or first is None or first.get("frame_time") is None:
        return {"named": named, "moment": False, "confident_wrong": False}
    stretches = reported_stretches(first, duration)
    t = truth.time
    near = abs(first["frame_time"] - t) <= TIME_TOLERANCE_S
    inside = any(s <= t <= e and e - s <= LONGEST_USEFUL_STRETCH_S for s, e in stretches)
    far = all(t < s - TIME_TOLERANCE_S or t > e + TIME_TOLERANCE_S for s, e in stretches)
    own = stretches[0]
    return {
        "named": True,
        "moment": near or inside,
        "confident_wrong": far and own[1] - own[0] <= CONFIDENT_STRETCH_S,
    }


def score_excerpt(result: dict[str, Any], truth: Excerpt) -> dict[str, bool]:
    segments = result.get("segments") or []
    seg = segments[0] if segments else None
    named = seg is not None and Path(seg["reference"]["origin"]).name == truth.video
    timed = (
        named
        and seg is not None
        and seg["reference_start"] is not None
        and abs(seg["reference_start"] - (truth.start + seg["query_start"])) <= TIME_TOLERANCE_S
    )
    matches = result.get("matches") or []
    first_match = bool(matches) and Path(matches[0]["origin"]).name == truth.video
    return {"named": named, "right": timed, "first_match": first_match}


# -- the run --------------------------------------------------------------------------------------


def parse_tools(specs: Sequence[str]) -> list[Tool]:
    if not specs:
        return [Tool("this", [sys.executable, "-m", "provcheck"])]
    tools = []
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not command:
            sys.exit(f"--provcheck {spec!r}: want NAME=COMMAND")
        words = shlex.split(command)
        if "/" in words[0] and Path(words[0]).exists():  # tools run elsewhere (``Tool.run``)
            words[0] = str(Path(words[0]).absolute())  # not resolve(): a venv's python is a link
        tools.append(Tool(name, words))
    return tools


def ingest_figures(
    tools: Sequence[Tool], videos: Sequence[Video], long_video: Path, long_s: float, repeat: int,
    tmp: Path, dbs: dict[str, Path],
) -> None:  # fmt: skip
    """Alternating rounds: every tool, every case, once per round; then min/median/max."""
    hd = [v for v in videos if _is_720p_h264(v.path)]
    cases = {
        f"one long video ({long_s:.0f} s)": ([long_video], long_s),
        f"{len(hd)} videos in one call ({sum(v.duration for v in hd):.0f} s)": (
            [v.path for v in hd],
            sum(v.duration for v in hd),
        ),
    }
    samples: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    startup: dict[str, list[float]] = {}
    for r in range(repeat):
        for tool in tools:
            startup.setdefault(tool.name, []).append(
                _timed(tool, "db", "stats", "--db", str(dbs[tool.name]))[0]
            )
            for case, (paths, _) in cases.items():
                for jobs in (1, 2):
                    db = tmp / f"ingest_{tool.name}_{r}_{jobs}.sqlite"
                    db.unlink(missing_ok=True)
                    args = ["db", "add", *map(str, paths), "--label", "t", "--category", "game"]
                    args += ["--db", str(db), "--jobs", str(jobs)]
                    samples.setdefault((tool.name, case, jobs), []).append(_timed(tool, *args))
                    db.unlink(missing_ok=True)
    print(f"\n## ingest, 720p H.264 ({repeat} alternating rounds; min / median / max)")
    print(
        "x = seconds of video per second: wall = the machine, CPU = per core (CPU seconds of"
        " all processes); 'net' subtracts the CLI's start-up (median `db stats`: "
        + ", ".join(f"{t}: {statistics.median(s):.2f} s" for t, s in startup.items())
        + ")"
    )
    for case, (_, seconds) in cases.items():
        for jobs in (1, 2):
            cells = []
            for tool in tools:
                runs = samples[(tool.name, case, jobs)]
                start = statistics.median(startup[tool.name])
                wall = sorted(seconds / w for w, _ in runs)
                net = sorted(seconds / max(1e-3, w - start) for w, _ in runs)
                cpu = sorted(seconds / c for _, c in runs)
                cells.append(f"{tool.name}: wall {_mmm(wall)}, net {_mmm(net)}, CPU {_mmm(cpu)}")
                tool.figures[f"ingest {case} jobs {jobs}"] = statistics.median(net)
            print(f"{case:34} --jobs {jobs}  " + "  |  ".join(cells))


def _mmm(values: Sequence[float]) -> str:
    return f"{min(values):.1f}/{statistics.median(values):.1f}/{max(values):.1f}x"


def _is_720p_h264(path: Path) -> bool:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name == "h264" and (stream.width, stream.height) == (1280, 720)


def still_figures(
    tools: Sequence[Tool], videos: Sequence[Video], truth: dict[str, Still], folder: Path,
    dbs: dict[str, Path], jobs: int, edits: Sequence[str],
) -> None:  # fmt: skip
    """Right video, right moment, confident-and-wrong: overall, per edit, per video."""
    durations = {v.path.name: v.duration for v in videos}
    n, frozen = len(truth), sum(s.frozen for s in truth.values())
    print(
        f"\n## stills ({n} queries: {n // len(edits)} moments x {len(edits)} edits;"
        f" {frozen} inside an unchanging stretch longer than {LONGEST_USEFUL_STRETCH_S:.0f} s)"
    )
    # per table row and tool: [right video, right moment, confident and wrong, queries,
    # right moment among placeable stills, placeable stills]
    tables: dict[str, dict[str, dict[str, list[int]]]] = {"edit": {}, "video": {}}
    for tool in tools:
        results, seconds = scan(tool, folder, dbs[tool.name], jobs)
        for name, still in truth.items():
            got = score_still(results.get(name, {}), still, durations[still.video])
            row = (got["named"], got["moment"], got["confident_wrong"], 1)
            row += (got["moment"] and not still.frozen, not still.frozen)
            for table, key in (("edit", still.edit), ("video", still.video), ("edit", "ALL")):
                cell = tables[table].setdefault(key, {}).setdefault(tool.name, [0] * 6)
                for i, value in enumerate(row):
                    cell[i] += value
        total = tables["edit"]["ALL"][tool.name]
        tool.figures.update(
            {
                "stills: right video": total[0] / n,
                "stills: right moment": total[1] / n,
                "stills: right moment, placeable stills": total[4] / max(1, total[5]),
                "stills: confident and wrong": total[2] / n,
                "stills: seconds per query": seconds / n,
            }
        )
    header = "".join(f"{t.name + ': video / moment (placeable) / conf.wrong':>48}" for t in tools)
    for title, table in tables.items():
        print(f"\n{title:34}{header}")
        for key, cells in sorted(table.items(), key=lambda kv: kv[0] == "ALL"):
            print(
                f"{key:34}"
                + "".join(
                    f"{c[0] / c[3]:>22.3f} / {c[1] / c[3]:.3f}"
                    f" ({c[4] / max(1, c[5]):.3f}) / {c[2]:3d}"
                    for c in (cells[t.name] for t in tools)
                )
            )


def excerpt_figures(
    tools: Sequence[Tool], truth: dict[str, Excerpt], folder: Path,
    dbs: dict[str, dict[str, Path]], jobs: int,
) -> None:  # fmt: skip
    print(f"\n## {len(truth)} excerpts of {EXCERPT_S:.0f} s, re-encoded (H.264 CRF 28, <= 640 px)")
    for variant in ("corpus", "with stills"):
        for tool in tools:
            results, _ = scan(tool, folder, dbs[variant][tool.name], jobs)
            right = named = first = placeable_right = 0
            wrong = []
            for name, excerpt in truth.items():
                got = score_excerpt(results.get(name, {}), excerpt)
                right += got["right"]
                placeable_right += got["right"] and not excerpt.frozen
                named += got["named"]
                first += got["first_match"]
                if not got["right"]:
                    wrong.append(_describe_excerpt(name, excerpt, results.get(name, {})))
            n = len(truth)
            placeable = sum(not x.frozen for x in truth.values())
            tool.figures[f"excerpts ({variant}): right first segment"] = right / n
            tool.figures[f"excerpts ({variant}): placeable, right"] = placeable_right / placeable
            print(
                f"{tool.name} [{variant}]: first segment right video and time {right}/{n}"
                f" ({placeable_right}/{placeable} of those not inside an unchanging stretch),"
                f" right video {named}/{n}; first match right video {first}/{n}"
            )
            for line in wrong:
                print(f"    {line}")


def _describe_excerpt(name: str, truth: Excerpt, result: dict[str, Any]) -> str:
    segments = result.get("segments") or []
    if not segments:
        return f"{name} {truth.video}@{truth.start:.1f}: {result.get('status')}, no segment"
    frozen = " (frozen)" if truth.frozen else ""
    seg = segments[0]
    ref = seg["reference"]
    at = "still" if seg["reference_start"] is None else f"{seg['reference_start']:.1f}"
    return (
        f"{name} {truth.video}@{truth.start:.1f}{frozen}: first {Path(ref['origin']).name}@{at}"
        f" (query {seg['query_start']:.1f}-{seg['query_end']:.1f}, {seg['frames']} frames,"
        f" pdq {ref['distances'].get('pdq')}), {len(segments)} segments"
    )


def databases(
    tools: Sequence[Tool], videos: Sequence[Video], devset: Path, tmp: Path
) -> dict[str, dict[str, Path]]:
    """Per tool: the corpus database, and a copy with the devset's stills of the same games
    added (the distractors a clip's exact video must outrank). Prints frames per minute."""
    dbs: dict[str, dict[str, Path]] = {"corpus": {}, "with stills": {}}
    print("\n## stored frames per minute of video")
    for tool in tools:
        db = tmp / f"refs_{tool.name}.sqlite"
        db.unlink(missing_ok=True)
        build_database(tool, videos, db)
        dbs["corpus"][tool.name] = db
        counts = frames_per_video(tool, db)
        total = sum(counts.values()) / (sum(v.duration for v in videos) / 60)
        tool.figures["frames per minute"] = total
        print(
            f"{tool.name}: all {total:.0f}; "
            + ", ".join(
                f"{v.path.name} {counts.get(v.path.name, 0) / (v.duration / 60):.0f}"
                for v in videos
            )
        )
        with_stills = tmp / f"refs_{tool.name}_stills.sqlite"
        with_stills.write_bytes(db.read_bytes())
        for game in sorted((devset / "frames").iterdir()):
            tool.run(
                "db", "add", str(game), "--label", f"{game.name} stills", "--category",
                "game", "--db", str(with_stills),
            )  # fmt: skip
        dbs["with stills"][tool.name] = with_stills
    return dbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--stills", type=int, default=10, help="random moments per video")
    parser.add_argument("--excerpts", type=int, default=3, help="excerpts per video")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edits", help="comma-separated edits (default: all of transforms.py)")
    parser.add_argument(
        "--provcheck",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="a provcheck to measure (repeatable), e.g. main=/venv/bin/provcheck",
    )
    parser.add_argument("--repeat", type=int, default=3, help="ingest rounds (0: skip ingest)")
    parser.add_argument("--jobs", type=int, default=2, help="scan worker processes")
    parser.add_argument("--keep", type=Path, help="keep queries and databases in this folder")
    parser.add_argument(
        "--parts", default="stills,excerpts,ingest", help="which figures (comma-separated)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    edits = args.edits.split(",") if args.edits else list(TRANSFORMS)
    unknown = [e for e in edits if e not in TRANSFORMS]
    if unknown:
        sys.exit(f"unknown edits: {unknown}; known: {list(TRANSFORMS)}")
    tools = parse_tools(args.provcheck)
    args.devset = args.devset.resolve()
    videos = corpus(args.devset)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = (args.keep or Path(tmp_name)).resolve()
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "stills").mkdir(exist_ok=True)
        (tmp / "excerpts").mkdir(exist_ok=True)
        stills = make_stills(
            videos, args.stills if "stills" in parts else 0, edits, args.seed, tmp / "stills"
        )
        excerpts = make_excerpts(
            videos, args.excerpts if "excerpts" in parts else 0, args.seed, tmp / "excerpts"
        )
        truth = {
            "stills": {k: asdict(v) for k, v in stills.items()},
            "excerpts": {k: asdict(v) for k, v in excerpts.items()},
            "durations": {v.path.name: v.duration for v in videos},
        }
        (tmp / "truth.json").write_text(json.dumps(truth, indent=1))
        print(f"corpus: {len(videos)} videos, {sum(v.duration for v in videos):.0f} s; tools: "
              + ", ".join(f"{t.name} = {' '.join(t.command)}" for t in tools))  # fmt: skip
        dbs = databases(tools, videos, args.devset, tmp)
        if "stills" in parts:
            still_figures(tools, videos, stills, tmp / "stills", dbs["corpus"], args.jobs, edits)
        if "excerpts" in parts:
            excerpt_figures(tools, excerpts, tmp / "excerpts", dbs, args.jobs)
        if args.repeat and "ingest" in parts:
            long_video = tmp / "long_720p.mp4"
            long_s = remux_long(args.devset / "videos" / LONG_SOURCE, LONG_REPEATS, long_video)
            ingest_figures(tools, videos, long_video, long_s, args.repeat, tmp, dbs["corpus"])
    print("\n## summary")
    keys = list(dict.fromkeys(k for t in tools for k in t.figures))
    print(f"{'figure':48}" + "".join(f"{t.name:>12}" for t in tools))
    for key in keys:
        print(f"{key:48}" + "".join(f"{t.figures.get(key, float('nan')):12.3f}" for t in tools))


if __name__ == "__main__":
    main()

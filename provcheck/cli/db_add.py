"""``provcheck db add``: hash images and videos and store them as references of one source, with
a progress bar on terminals."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provcheck.cli.db_commands import db, source_options
from provcheck.cli.group import EXIT_USAGE, say
from provcheck.cli.options import db_option, jobs_option
from provcheck.cli.progress import ProgressBar

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the command
    from provcheck.media.sampling import SamplingPolicy
    from provcheck.services.ingest import AddReport
    from provcheck.services.video_ingest import VideoAddReport
    from provcheck.store import SourceInfo, Store


@db.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_options(required=True)
@db_option
@jobs_option
@click.option(
    "--thumbnails/--no-thumbnails",
    default=True,
    show_default=True,
    help="Keep a small preview (<= 160 px, a few KB) of each item for HTML reports.",
)
@click.option(
    "--frame-every",
    "frame_every",
    type=click.FloatRange(min=0.1, max=3600),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Videos: keep a frame at least this often (besides scene changes), unless it repeats"
    " the last one.",
)
@click.option(
    "--cluster",
    metavar="tcp://HOST:PORT|local",
    help="Hash on a Dask cluster (its scheduler's address), or on a cluster of --jobs local"
    " worker processes; results are written here (needs provcheck[cluster]).",
)
def db_add(
    paths: tuple[Path, ...],
    source: SourceInfo,
    dbs: tuple[str, ...],
    jobs: int | None,
    thumbnails: bool,
    frame_every: float,
    cluster: str | None,
) -> None:
    """Add images and videos (files or folders, recursively) as references of one source.

    A video (any container PyAV decodes: MP4, MOV, WebM, MKV, AVI, MPEG, Ogg/Theora, ...; or an
    animated GIF/WebP) is sampled at scene changes and at least every --frame-every seconds,
    on --jobs processes (a long video is split at keyframes); each kept frame is stored with its
    time (docs/video.md).
    Adding the same file to the same source again changes nothing.

    \b
    Example:
      provcheck db add captures/ac130/ --label "AC-130 Gunship Simulator" \\
          --category game --url https://store.example/ac130 --first-seen 2015-06-01
    """
    from provcheck.media.sampling import SamplingPolicy
    from provcheck.media.sniff import is_video_path
    from provcheck.services.databases import write_database
    from provcheck.services.workers import default_jobs
    from provcheck.store import open_store

    files, missing = _collect(paths)
    for message in missing:
        say(f"provcheck: error: {message}", err=True)
    is_video = {f: is_video_path(f) for f in files}
    videos = [f for f in files if is_video[f]]
    stills = [f for f in files if not is_video[f]]
    target = write_database(dbs)
    policy = SamplingPolicy(max_gap_s=frame_every)
    with open_store(target, create=True) as store:
        if cluster is not None:
            workers = jobs or default_jobs()
            report = _add_on_cluster(
                store, source, stills, videos, cluster, workers, policy, thumbnails
            )
        else:
            report = _add_here(store, source, stills, videos, jobs, policy, thumbnails)
    for note in report.low_detail:
        click.echo(f"provcheck: note: {note}", err=True)
    verb = "created" if report.source_created else "updated"
    failed = len(report.errors) + len(missing)
    if not report.source_id:  # nothing stored: the source was not created either
        say(f"nothing added to {source.label!r}: {failed} failed ({target})")
    else:
        say(
            f"{verb} source {report.source_id} {source.label!r}: {report.added} added,"
            f" {report.already_present} already present, {failed} failed ({target})"
        )
    if report.errors or missing:
        sys.exit(EXIT_USAGE)


def _add_here(
    store: Store,
    source: SourceInfo,
    stills: list[Path],
    videos: list[Path],
    jobs: int | None,
    policy: SamplingPolicy,
    thumbnails: bool,
) -> AddReport:
    """Stills on a pool of ``jobs`` processes, then the videos (split between them too)."""
    from provcheck.services.ingest import add_files
    from provcheck.services.workers import default_jobs

    show_bar = sys.stderr.isatty() and len(stills) > 1
    with ProgressBar(sys.stderr, len(stills), "adding", enabled=show_bar) as bar:
        report = add_files(
            store,
            source,
            stills,
            jobs=jobs or default_jobs(),
            on_item=_item_line(bar),
            thumbnails=thumbnails,
        )
    # The source is named by its provenance: created, if new, with its first frames.
    for done in _add_videos(store, source, videos, policy, thumbnails, jobs):
        done.add_to(report)
    return report


def _add_on_cluster(
    store: Store,
    source: SourceInfo,
    stills: list[Path],
    videos: list[Path],
    address: str,
    workers: int,
    policy: SamplingPolicy,
    thumbnails: bool,
) -> AddReport:
    """Every file hashed on the cluster, written here; one bar over all files on terminals, and
    the local add's lines for errors and for each video stored."""
    from provcheck.services.cluster import cluster_client
    from provcheck.services.cluster_ingest import ClusterAdd

    total = len(stills) + len(videos)
    with (
        ProgressBar(sys.stderr, total, "adding", enabled=sys.stderr.isatty()) as bar,
        cluster_client(address, workers) as client,
    ):

        def on_video(done: VideoAddReport) -> None:
            with bar.above():
                _say_video(done)
                bar.advance()

        run = ClusterAdd(
            client, store, thumbnails, policy=policy, on_item=_item_line(bar), on_video=on_video
        )
        return run.run(source, [p.resolve() for p in stills], [v.resolve() for v in videos])


def _item_line(bar: ProgressBar) -> Callable[[Path, str | None], None]:
    """What each still's result does on the terminal: its error line (above the bar, never
    glued to it), then one step of the bar."""

    def on_item(_path: Path, error: str | None) -> None:
        with bar.above():
            if error:
                say(f"provcheck: error: {error}", err=True)
            bar.advance()

    return on_item


def _collect(paths: tuple[Path, ...]) -> tuple[list[Path], list[str]]:
    """The files to add (folders walked) and, one line each, what could not be looked at."""
    from provcheck.media.targets import walk

    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            for found in walk(path):
                if found.problem is None:
                    files.append(found.path)
                else:
                    missing.append(f"{found.path}: {found.problem}")
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            missing.append(f"{path}: no such file or folder")
    return files, missing


def _add_videos(
    store: Store,
    source: SourceInfo,
    videos: list[Path],
    policy: SamplingPolicy,
    thumbnails: bool,
    jobs: int | None,
) -> list[VideoAddReport]:
    """Add the videos on ``jobs`` processes (one long video is split between them too), with one
    progress bar on terminals (decoding is the slow part) and a line per video stored."""
    from provcheck.media.reading import display_name
    from provcheck.services.video_ingest import add_videos
    from provcheck.services.workers import default_jobs

    if not videos:
        return []
    label = videos[0].name if len(videos) == 1 else f"{len(videos)} videos"
    with ProgressBar(sys.stderr, 1000, label, enabled=sys.stderr.isatty(), show_count=False) as bar:
        shares: dict[Path, float] = {}
        shown = [0]

        def on_progress(path: Path, done: float, total: float) -> None:
            if total > 0:
                shares[path] = min(1.0, done / total)
                step = int(1000 * sum(shares.values()) / len(videos))
                if step > shown[0]:
                    bar.advance(step - shown[0])
                    shown[0] = step

        def on_video(done: VideoAddReport) -> None:
            shares[done.path] = 1.0
            with bar.above():  # a line must not be glued to the bar
                _say_video(done)

        reports = add_videos(
            store,
            source,
            videos,
            origin_of=lambda path: display_name(path.resolve()),
            policy=policy,
            thumbnails=thumbnails,
            jobs=jobs or default_jobs(),
            on_video=on_video,
            on_progress=on_progress,
        )
        bar.advance(1000 - shown[0])  # the last frame starts before the end: close the bar
    return reports


def _say_video(done: VideoAddReport) -> None:
    """One line per video: its error, or what was stored (and the sampler's warnings)."""
    if done.error:
        say(f"provcheck: error: {done.error}", err=True)
        return
    for warning in done.warnings:
        say(f"provcheck: warning: {done.path}: {warning}", err=True)
    say(
        f"{done.path}: {done.frames_added} frames added,"
        f" {done.frames_present} already present ({done.duration:.1f} s,"
        f" {done.frames_decoded} frames decoded)",
        err=True,
    )

"""Split one video into time segments that decode independently, and sample one segment.

A long video is sampled by several processes at once (``provcheck.services.ingest``), or by the
workers of a cluster, by giving each a segment: the frames from one keyframe up to the next
segment's keyframe. Decoding resumes cleanly at a keyframe, so a segment needs nothing from the
one before it, and the segments' kept frames, put end to end, are what one pass would keep (the
sampler starts afresh at each segment: one extra kept frame per boundary at most).

``plan_segments`` opens the file afresh and decodes one keyframe per boundary (about 60 ms each,
whatever the video's length), and ``iter_segments`` hands each segment out as soon as its end is
known, so sampling starts while the rest is planned. Containers whose index cannot be trusted
are caught at sampling time: a seek that lands after the segment's start decodes that segment
from the beginning instead (slower, never wrong).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provcheck.errors import InputError
from provcheck.media.frames import SampledFrame, VideoFacts, VideoLimits, VideoSegment
from provcheck.media.sampling import FrameSampler, SamplingPolicy

#: Shortest segment worth its own process: below it, opening the file and the boundary's extra
#: kept frame cost more than the parallelism gains.
MIN_SEGMENT_S = 8.0

WHOLE = VideoSegment(0, 0.0, None)


def plan_segments(
    path: Path, parts: int, *, min_seconds: float = MIN_SEGMENT_S
) -> list[VideoSegment]:
    """At most ``parts`` segments of about equal length covering the video at ``path``, each
    starting at a keyframe (the first at 0). One segment (the whole video) when the video is
    short, its length unknown, it has too few keyframes, it is an animation, or it cannot be
    opened here (sampling then reports why)."""
    return list(iter_segments(path, parts, min_seconds=min_seconds))


def iter_segments(
    path: Path, parts: int, *, min_seconds: float = MIN_SEGMENT_S
) -> Iterator[VideoSegment]:
    """``plan_segments``, one segment at a time: each as soon as its end is known (one keyframe
    found, about 60 ms), so that its sampling can start while the later ones are planned."""
    if parts <= 1:
        yield WHOLE
        return
    try:
        import av
    except ImportError:
        yield WHOLE
        return
    planned = 0
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if container.streams.video:
                stream = container.streams.video[0]
                for segment in _keyframe_segments(path, container, stream, parts, min_seconds):
                    planned += 1
                    yield segment
    except (av.error.FFmpegError, OSError, ValueError):
        # Opening the file or reading its header failed: before any segment is out (a boundary
        # that cannot be found is skipped inside, so the segments out always cover the video).
        pass
    if not planned:
        yield WHOLE


def _keyframe_segments(
    path: Path, container: Any, stream: Any, parts: int, min_seconds: float
) -> Iterator[VideoSegment]:
    base = stream.time_base
    duration = stream.duration * base if stream.duration and base else None
    if duration is None and container.duration:
        duration = container.duration / 1_000_000
    if not duration or base is None:
        return
    origin = stream.start_time or 0
    count = max(1, min(parts, int(float(duration) // min_seconds)))
    start, seek, index = 0.0, None, 0
    for k in range(1, count):
        target = origin + int(float(duration) * k / count / float(base))
        found = _keyframe_at_or_before(path, target)
        if found is None:
            continue
        pts, next_seek = found
        t = float((pts - origin) * base)
        if t >= start + min_seconds / 2:
            yield VideoSegment(index, start, t, seek)
            start, seek, index = t, next_seek, index + 1
    yield VideoSegment(index, start, None, seek)


def _keyframe_at_or_before(path: Path, target: int) -> tuple[int, int] | None:
    """(pts of the keyframe a backward seek to ``target`` lands on, the seek position), or None
    when the seek fails, or lands on a packet without a time, not flagged as a keyframe, or one
    the decoder cannot start from (the container flags an open GOP's I frame as a keyframe, and
    it decodes grey without the frames before it). The file is opened afresh, as a worker will:
    a decoder that has decoded earlier frames starts from such a frame without complaint."""
    import av

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            container.seek(target, stream=stream, backward=True, any_frame=False)
            pts = _first_decodable(container, stream)
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    return None if pts is None else (pts, target)


def _first_decodable(container: Any, stream: Any) -> int | None:
    """The pts of the keyframe the container is positioned at, if decoding starts cleanly there."""
    first = None
    for packet in container.demux(stream):
        if first is None:
            if packet.pts is None or not packet.is_keyframe:
                return None
            first = int(packet.pts)
        for frame in packet.decode():
            if frame.is_corrupt or frame.pts is None or frame.pts < first:
                return None
            return first
    return None


def sample_segment(
    path: Path,
    segment: VideoSegment,
    *,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    previews: bool = False,
    name: str | None = None,
) -> tuple[VideoFacts, Iterator[SampledFrame]]:
    """Sample one segment of the video at ``path``, as ``media.video.sample_video`` samples a
    whole one: the facts (no sha256: the caller hashes the file once) and the kept frames, lazily.
    Problems raise ``InputError`` naming the video."""
    from provcheck.media.container import av_frames

    label = name or str(path)
    if not path.is_file():
        raise InputError(label, "no such file")
    facts = VideoFacts(label, "")
    frames = av_frames(
        lambda: str(path),
        facts,
        FrameSampler(policy),
        limits or VideoLimits(),
        None,
        previews,
        segment,
    )
    return facts, frames

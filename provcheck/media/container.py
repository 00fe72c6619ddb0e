"""Decode a video container with PyAV into sampled frames: the FFmpeg half of ``video``.

Only what sampling needs is decoded. Non-reference frames are skipped by the decoder (they sit
between reference frames a fraction of a second apart and add nothing to the sampling), the
deblocking filter is skipped (a few PDQ bits at most, measured), and a frame is converted to RGB
only when it is kept; the sampler looks at a 128 px luma copy. PyAV (``av``) bundles FFmpeg, so no
system ffmpeg is needed; it is imported only here, only when a video is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from PIL import Image

from provcheck.errors import InputError
from provcheck.media.frames import (
    PROBE_SIZE,
    Progress,
    SampledFrame,
    VideoFacts,
    VideoLimits,
    VideoSegment,
    charge_frame,
    check_complete,
    check_geometry,
    check_running,
    probe_hash,
    scaled,
)
from provcheck.media.sampling import FrameSampler, thumbnail
from provcheck.signals.hashes import WORKING_SIZE
from provcheck.signals.thumbnail import MAX_SIDE as PREVIEW_SIZE


def av_frames(
    opener: Callable[[], Any],
    facts: VideoFacts,
    sampler: FrameSampler,
    limits: VideoLimits,
    on_progress: Progress | None,
    previews: bool = False,
    segment: VideoSegment | None = None,
) -> Iterator[SampledFrame]:
    """Sample the video ``opener`` opens (the whole of it, or one ``segment`` of it)."""
    av = _import_av(facts.name)
    from av.video.reformatter import VideoReformatter

    try:
        container = av.open(opener(), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(
            facts.name, f"corrupt, truncated or not a video format ({_reason(exc)})"
        ) from None
    with container:
        stream, total = _open_stream(container, facts, limits)
        facts.declared = _declared_duration(container, stream)
        working: tuple[int, int] | None = None
        probe: tuple[int, int] | None = None
        # Reformatters keep their scaling context between frames (a fresh one per call costs
        # more than decoding the frame).
        to_gray, to_rgb, to_preview = VideoReformatter(), VideoReformatter(), VideoReformatter()
        preview: tuple[int, int] | None = None
        # A whole video is checked against its header's duration; a segment ends where it ends
        # (the segments' merge checks the whole: ``services.video_ingest``).
        frames = _decoded(container, stream, facts, limits, complete=True)
        if segment is not None:
            frames = _within(container, stream, facts, limits, segment)
        for t, frame in frames:
            if probe is None or working is None or (frame.width, frame.height) != working[2:]:
                probe = scaled(frame.width, frame.height, PROBE_SIZE)
                preview = scaled(frame.width, frame.height, PREVIEW_SIZE)
                working = (
                    *scaled(frame.width, frame.height, WORKING_SIZE),
                    frame.width,
                    frame.height,
                )
            gray = to_gray.reformat(
                frame, width=probe[0], height=probe[1], format="gray", interpolation="AREA"
            ).to_ndarray()
            bits, quality = probe_hash(gray)
            if on_progress is not None:
                on_progress(t, total)
            if not sampler.offer(t, bits, quality, thumbnail(gray)):
                continue
            image = to_rgb.reformat(
                frame, width=working[0], height=working[1], format="rgb24", interpolation="AREA"
            ).to_image()
            small = None
            if previews and preview is not None:
                small = to_preview.reformat(
                    frame, width=preview[0], height=preview[1], format="rgb24", interpolation="AREA"
                ).to_image()
            facts.frames_kept += 1
            check_running(facts, limits, t)
            yield SampledFrame(round(t, 3), image, small)


def _open_stream(container: Any, facts: VideoFacts, limits: VideoLimits) -> tuple[Any, float]:
    """The first video stream, checked against the limits and set up for fast decoding; with the
    duration the header claims (0 if none; only for progress and an early refusal)."""
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise InputError(facts.name, f"no video stream (has: {', '.join(kinds)})")
    stream = container.streams.video[0]
    context = stream.codec_context
    if context is None or context.codec is None or not context.codec.is_decoder:
        raise InputError(facts.name, "video codec not supported (no decoder for it)")
    facts.codec = context.codec.name
    facts.width, facts.height = context.width, context.height
    check_geometry(facts, limits)
    total = float(container.duration) / 1_000_000 if container.duration else 0.0
    if stream.duration and stream.time_base:
        total = float(stream.duration * stream.time_base)
    if total > limits.max_duration_s:
        raise InputError(
            facts.name,
            f"video is {total / 3600:.1f} h long,"
            f" over the {limits.max_duration_s / 3600:g} h limit",
        )
    # One core, predictable: frame threads would only add latency to a single-file decode.
    stream.thread_type = "NONE"
    context.skip_frame = "NONREF"
    context.options = {"skip_loop_filter": "all"}
    return stream, total


def _declared_duration(container: Any, stream: Any) -> float:
    """How long the header says the video stream lasts (0 if it does not say): the stream's own
    duration, or the container's when the video is its only stream (an audio track may run on)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and len(container.streams) == 1:
        return float(container.duration) / 1_000_000
    return 0.0


def _decoded(
    container: Any, stream: Any, facts: VideoFacts, limits: VideoLimits, complete: bool = False
) -> Iterator[tuple[float, Any]]:
    """(seconds from the start, frame) for every decoded frame, within the limits. Packets that
    fail to decode are skipped, up to ``max_decode_errors``; a video that ends well before its
    header's duration is refused as truncated once its last packet is read."""
    import av

    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    rate = float(stream.average_rate or 25)
    packets = errors = 0
    for packet in _packets(container, stream, facts):
        packets += 1
        if packets > limits.max_frames:
            raise InputError(facts.name, f"more than {limits.max_frames:,} frames; over the limit")
        if packet.pts is not None and packet.time_base is not None:
            # Skipped frames still count towards the length: a clip ends with its last packet.
            facts.duration = max(facts.duration, float(packet.pts * packet.time_base) - start)
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as exc:
            errors += 1
            if errors > limits.max_decode_errors:
                raise InputError(
                    facts.name, f"corrupt video: too many decode errors ({_reason(exc)})"
                ) from None
            continue
        for frame in decoded:
            facts.frames_decoded += 1
            t = facts.frames_decoded / rate if frame.time is None else float(frame.time) - start
            t = max(0.0, t)
            facts.duration = max(facts.duration, t)
            check_running(facts, limits, t)
            if (frame.width, frame.height) != (facts.width, facts.height):
                facts.width, facts.height = frame.width, frame.height
                check_geometry(facts, limits)
            charge_frame(facts, limits.max_decoded_pixels)
            yield t, frame
    if errors:
        facts.warnings.append(f"{errors} packet(s) could not be decoded")
    if facts.frames_decoded == 0:
        raise InputError(facts.name, "no frame could be decoded (corrupt or truncated video)")
    if complete:
        check_complete(facts)


#: A segment's first decoded frame may come this much later than its start (seconds, rounding of
#: the time base) before the seek counts as having missed the segment's keyframe.
SEEK_SLACK_S = 1e-3


def _within(
    container: Any, stream: Any, facts: VideoFacts, limits: VideoLimits, segment: VideoSegment
) -> Iterator[tuple[float, Any]]:
    """The frames of ``segment``: seek to its keyframe, skip what is shown before its start (a
    seek may land earlier; an open GOP's leading frames), stop at its end. If the seek landed
    after the start (an imprecise index) or on a frame the decoder cannot start from, decode
    again from the beginning: slower, never wrong."""
    if segment.seek is not None:
        container.seek(segment.seek, stream=stream, backward=True, any_frame=False)
        stream.codec_context.flush_buffers()
    first = True
    for t, frame in _decoded(container, stream, facts, limits):
        if (
            first
            and segment.seek is not None
            and (t > segment.start + SEEK_SLACK_S or getattr(frame, "is_corrupt", False))
        ):
            # Overshot (the frames from ``start`` to ``t`` would be lost), or landed on a
            # keyframe the decoder cannot start from (an open GOP's I frame decodes grey).
            break
        first = False
        if t < segment.start - SEEK_SLACK_S:
            continue
        if segment.end is not None and t >= segment.end - SEEK_SLACK_S:
            return
        yield t, frame
    else:
        return
    facts.warnings.append("seeking missed a keyframe; segment decoded from the beginning")
    container.seek(0, backward=True, any_frame=False)
    stream.codec_context.flush_buffers()
    yield from _within(
        container, stream, facts, limits, VideoSegment(segment.index, segment.start, segment.end)
    )


def _packets(container: Any, stream: Any, facts: VideoFacts) -> Iterator[Any]:
    """Demux ``stream``; a container that breaks off (truncated file) ends the video early."""
    import av

    demuxer = container.demux(stream)
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            if facts.frames_decoded == 0:
                raise InputError(
                    facts.name, f"corrupt or truncated video ({_reason(exc)})"
                ) from None
            facts.warnings.append(f"video breaks off after {facts.duration:.1f} s ({_reason(exc)})")
            return
        yield packet


def heif_still(data: bytes, name: str) -> Image.Image:
    """The picture of an AVIF/HEIF still that Pillow cannot read (HEIC), decoded by FFmpeg.

    Only a file holding one picture is read: a tiled HEIF (a grid of pictures, as phones write
    large photos) would otherwise give one tile as if it were the whole picture.
    """
    import io

    av = _import_av(name)
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            pictures = container.streams.video
            if len(pictures) != 1:
                raise InputError(
                    name,
                    f"HEIF file holds {len(pictures)} pictures (a tiled photo?); provcheck reads"
                    " single-picture HEIF only: convert it to JPEG or PNG",
                )
            width, height = pictures[0].codec_context.width, pictures[0].codec_context.height
            if width * height > (Image.MAX_IMAGE_PIXELS or width * height):
                raise InputError(name, f"image is {width}x{height}, too large to decode safely")
            for frame in container.decode(pictures[0]):
                return frame.to_image()
    except av.error.FFmpegError as exc:
        raise InputError(name, f"corrupt or unsupported HEIF picture ({_reason(exc)})") from None
    raise InputError(name, "HEIF file holds no picture that could be decoded")


def _import_av(name: str) -> Any:
    try:
        import av
    except ImportError:
        raise InputError(
            name, "reading videos needs PyAV: pip install 'provcheck[video]'"
        ) from None
    return av


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0].strip() or type(exc).__name__

"""Open a video (or an animated GIF/WebP) and sample it into (time, working-copy image) frames.

Decoding lives here and nowhere else; which frames to keep is decided by ``sampling`` (pure). Every
bound a hostile or broken file could abuse is here too: file size, duration, frame size, frames
decoded, frames kept, decode errors. Past a bound the video is refused with a one-line error naming
the file; a video is never half-read silently.

Speed: only what sampling needs is decoded. Non-reference frames are skipped by the decoder (they
sit between reference frames a fraction of a second apart and add nothing to the sampling), the
deblocking filter is skipped (a few PDQ bits at most, measured), and a frame is converted to RGB
only when it is kept; the sampler looks at a 128 px luma copy. PyAV (``av``) bundles FFmpeg, so no
system ffmpeg is needed; it is imported lazily, only when a video is opened.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from provcheck.errors import InputError
from provcheck.fingerprint import WORKING_SIZE
from provcheck.sampling import FrameSampler, SamplingPolicy

#: Container extensions a folder walk picks up as videos. Animated GIF/WebP are found as images by
#: extension and recognised as animations by ``is_animation``.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg"})

#: Image formats that may hold an animation, sampled like a video when they do.
ANIMATION_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".apng"})

#: Longest side of the luma view the sampler hashes: PDQ works on 64x64, so this is plenty.
_PROBE_SIZE = 128

Progress = Callable[[float, float], None]  # (seconds decoded, total seconds or 0 if unknown)


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """Bounds on the work one video may cause. Generous for real material, finite for hostile."""

    max_bytes: int = 8 * 1024**3
    max_duration_s: float = 4 * 3600.0
    max_pixels: int = 8192 * 4320  # one frame; 8K
    max_frames: int = 500_000  # frames decoded (or demuxed packets), whatever the header claims
    max_kept: int = 20_000
    max_decode_errors: int = 50


@dataclass(frozen=True, slots=True)
class SampledFrame:
    time: float  # seconds from the start of the video
    image: Image.Image  # RGB, longest side <= WORKING_SIZE


@dataclass(slots=True)
class VideoFacts:
    """What a video is, filled in as it is read (frame counts and duration grow while sampling)."""

    name: str
    sha256: str
    width: int = 0
    height: int = 0
    codec: str = ""
    duration: float = 0.0
    frames_decoded: int = 0
    frames_kept: int = 0
    warnings: list[str] = field(default_factory=list)


# -- recognising videos --------------------------------------------------------------------------


def sniff_video(head: bytes) -> bool:
    """True if the first bytes look like a video container (MP4/MOV, Matroska/WebM, AVI, MPEG)."""
    return (
        head[4:8] == b"ftyp"
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )


def _may_animate(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a") or head[8:12] == b"WEBP" or head[:4] == b"\x89PNG"


def is_animation(data: bytes | Path) -> bool:
    """True for a GIF/WebP/PNG with more than one frame (Pillow reads little beyond the header)."""
    try:
        if isinstance(data, Path):
            with data.open("rb") as handle:
                if not _may_animate(handle.read(16)):
                    return False
        elif not _may_animate(data[:16]):
            return False
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            return bool(getattr(image, "is_animated", False))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def is_video_path(path: Path) -> bool:
    """Whether ``path`` should be sampled as a video rather than read as one still."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    try:
        with path.open("rb") as handle:
            if sniff_video(handle.read(400)):
                return True
    except OSError:
        return False
    return (suffix in ANIMATION_EXTENSIONS or not suffix) and is_animation(path)


def is_video_bytes(data: bytes) -> bool:
    return sniff_video(data[:400]) or is_animation(data)


# -- reading -------------------------------------------------------------------------------------


def _file_sha256(path: Path, limit: int) -> str:
    name = str(path)
    try:
        if path.is_dir():
            raise InputError(name, "is a folder, not a file")
        size = path.stat().st_size
        if size == 0:
            raise InputError(name, "file is empty (0 bytes)")
        if size > limit:
            raise InputError(name, f"video is {size / 1024**3:.1f} GB, over the limit")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied (cannot read the file)") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


def sample_video(
    source: Path | bytes,
    name: str | None = None,
    *,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    on_progress: Progress | None = None,
) -> tuple[VideoFacts, Iterator[SampledFrame]]:
    """Open ``source`` (a path or the whole file in memory) and sample it lazily.

    Returns the facts (sha256 now; size, duration and counts as sampling goes) and an iterator of
    kept frames. Problems raise ``InputError`` naming the video, at open time or while iterating.
    """
    limits = limits or VideoLimits()
    sampler = FrameSampler(policy)
    if isinstance(source, bytes):
        label = name or "<stdin>"
        if not source:
            raise InputError(label, "file is empty (0 bytes)")
        if len(source) > limits.max_bytes:
            raise InputError(label, "video is over the size limit")
        facts = VideoFacts(label, hashlib.sha256(source).hexdigest())
        animated = is_animation(source)
        opener: Any = lambda: io.BytesIO(source)  # noqa: E731
    else:
        label = name or str(source)
        facts = VideoFacts(label, _file_sha256(source, limits.max_bytes))
        animated = source.suffix.lower() in ANIMATION_EXTENSIONS and is_video_path(source)
        opener = lambda: source  # noqa: E731
    if animated:
        frames = _animation_frames(opener, facts, sampler, limits, on_progress)
    else:
        frames = _av_frames(opener, facts, sampler, limits, on_progress)
    return facts, frames


def _scaled(width: int, height: int, longest: int) -> tuple[int, int]:
    """Size with the longest side at most ``longest``, aspect kept."""
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _probe_hash(gray: np.ndarray) -> tuple[bytes, int]:
    """A cheap PDQ hash of a small luma copy: only for sampling decisions, never stored."""
    import pdqhash

    vector, quality = pdqhash.compute(np.repeat(gray[:, :, None], 3, axis=2))
    return np.packbits(vector.astype(np.uint8)).tobytes(), int(quality)


def _check_geometry(facts: VideoFacts, limits: VideoLimits) -> None:
    if facts.width < 1 or facts.height < 1:
        raise InputError(facts.name, "video has no frame size (corrupt header?)")
    if facts.width * facts.height > limits.max_pixels:
        raise InputError(
            facts.name,
            f"frames are {facts.width}x{facts.height}, over the {limits.max_pixels:,} pixel limit",
        )


def _check_running(facts: VideoFacts, limits: VideoLimits, time_s: float) -> None:
    if facts.frames_decoded > limits.max_frames:
        raise InputError(facts.name, f"more than {limits.max_frames:,} frames; over the limit")
    if time_s > limits.max_duration_s:
        raise InputError(
            facts.name, f"longer than {limits.max_duration_s / 3600:g} h; over the limit"
        )
    if facts.frames_kept > limits.max_kept:
        raise InputError(
            facts.name, f"more than {limits.max_kept:,} distinct frames; over the limit"
        )


def _av_frames(
    opener: Callable[[], Any],
    facts: VideoFacts,
    sampler: FrameSampler,
    limits: VideoLimits,
    on_progress: Progress | None,
) -> Iterator[SampledFrame]:
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
        working: tuple[int, int] | None = None
        probe: tuple[int, int] | None = None
        # Reformatters keep their scaling context between frames (a fresh one per call costs
        # more than decoding the frame).
        to_gray, to_rgb = VideoReformatter(), VideoReformatter()
        for t, frame in _decoded(container, stream, facts, limits):
            if probe is None or working is None or (frame.width, frame.height) != working[2:]:
                probe = _scaled(frame.width, frame.height, _PROBE_SIZE)
                working = (
                    *_scaled(frame.width, frame.height, WORKING_SIZE),
                    frame.width,
                    frame.height,
                )
            gray = to_gray.reformat(
                frame, width=probe[0], height=probe[1], format="gray", interpolation="AREA"
            ).to_ndarray()
            bits, quality = _probe_hash(gray)
            if on_progress is not None:
                on_progress(t, total)
            if not sampler.offer(t, bits, quality):
                continue
            image = to_rgb.reformat(
                frame, width=working[0], height=working[1], format="rgb24", interpolation="AREA"
            ).to_image()
            facts.frames_kept += 1
            _check_running(facts, limits, t)
            yield SampledFrame(round(t, 3), image)


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
    _check_geometry(facts, limits)
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


def _decoded(
    container: Any, stream: Any, facts: VideoFacts, limits: VideoLimits
) -> Iterator[tuple[float, Any]]:
    """(seconds from the start, frame) for every decoded frame, within the limits. Packets that
    fail to decode are skipped, up to ``max_decode_errors``."""
    import av

    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    rate = float(stream.average_rate or 25)
    packets = errors = 0
    for packet in _packets(container, stream, facts):
        packets += 1
        if packets > limits.max_frames:
            raise InputError(facts.name, f"more than {limits.max_frames:,} frames; over the limit")
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
            _check_running(facts, limits, t)
            if (frame.width, frame.height) != (facts.width, facts.height):
                facts.width, facts.height = frame.width, frame.height
                _check_geometry(facts, limits)
            yield t, frame
    if errors:
        facts.warnings.append(f"{errors} packet(s) could not be decoded")
    if facts.frames_decoded == 0:
        raise InputError(facts.name, "no frame could be decoded (corrupt or truncated video)")


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


def _animation_frames(
    opener: Callable[[], Any],
    facts: VideoFacts,
    sampler: FrameSampler,
    limits: VideoLimits,
    on_progress: Progress | None,
) -> Iterator[SampledFrame]:
    import warnings

    from PIL import ImageSequence

    from provcheck.media import _to_working_copy

    t = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(opener()) as image:
                facts.codec = (image.format or "image").lower()
                facts.width, facts.height = image.size
                _check_geometry(facts, limits)
                total_frames = getattr(image, "n_frames", 1)
                for frame in ImageSequence.Iterator(image):
                    facts.frames_decoded += 1
                    facts.duration = t
                    _check_running(facts, limits, t)
                    working = _to_working_copy(frame, WORKING_SIZE)
                    small = working.convert("L")
                    small.thumbnail((_PROBE_SIZE, _PROBE_SIZE), Image.Resampling.BOX)
                    bits, quality = _probe_hash(np.asarray(small))
                    if on_progress is not None:
                        on_progress(facts.frames_decoded, total_frames)
                    if sampler.offer(t, bits, quality):
                        facts.frames_kept += 1
                        yield SampledFrame(round(t, 3), working)
                    # GIF delays under 20 ms are shown as 100 ms by browsers; do the same.
                    delay = frame.info.get("duration") or 100
                    t += (delay if delay >= 20 else 100) / 1000.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(facts.name, "animation is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if facts.frames_decoded == 0:
            raise InputError(facts.name, f"corrupt or truncated animation ({exc})") from None
        facts.warnings.append(f"animation truncated after {facts.frames_decoded} frames")


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

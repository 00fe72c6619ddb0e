"""Tiny videos made in the test with PyAV: a few seconds, small, textured enough for PDQ.

Each "scene" pans across its own random smooth texture, so consecutive frames differ a little,
scenes differ completely, and any frame can be recomputed exactly (``scene_frame``) to play a
still taken at a moment the sampler did not keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

WIDTH, HEIGHT = 160, 120
PAN_PX_PER_S = 3.0


def texture(seed: int, size: tuple[int, int] = (WIDTH * 4, HEIGHT)) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def scene_frame(seed: int, t: float, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """The picture of scene ``seed`` at ``t`` seconds into that scene (pans right)."""
    world = texture(seed)
    x = round(t * PAN_PX_PER_S)
    return world.crop((x, 0, x + WIDTH, HEIGHT)).resize(size, Image.Resampling.BILINEAR)


def frames_for(scenes: Sequence[tuple[int, float]], fps: int) -> list[tuple[float, Image.Image]]:
    """(time, image) for scenes given as (seed, seconds), played one after another."""
    out: list[tuple[float, Image.Image]] = []
    start = 0.0
    for seed, seconds in scenes:
        world = texture(seed)
        for i in range(round(seconds * fps)):
            x = round(i / fps * PAN_PX_PER_S)
            out.append((start + i / fps, world.crop((x, 0, x + WIDTH, HEIGHT))))
        start += seconds
    return out


def write_video(
    path: Path,
    frames: Sequence[tuple[float, Image.Image]] | Sequence[Image.Image],
    *,
    fps: int = 10,
    codec: str = "libx264",
    size: tuple[int, int] | None = None,
) -> Path:
    images = [f[1] if isinstance(f, tuple) else f for f in frames]
    width, height = size or images[0].size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for image in images:
            sized = image.resize((width, height)) if image.size != (width, height) else image
            container.mux(stream.encode(av.VideoFrame.from_image(sized.convert("RGB"))))
        container.mux(stream.encode(None))
    return path


def write_scenes(
    path: Path, scenes: Sequence[tuple[int, float]], fps: int = 10, **kwargs: object
) -> Path:
    return write_video(path, frames_for(scenes, fps), fps=fps, **kwargs)  # type: ignore[arg-type]


def write_gif(path: Path, scenes: Sequence[tuple[int, float]], fps: int = 10) -> Path:
    images = [im for _, im in frames_for(scenes, fps)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mp2", rate=44100)
        samples = 1152
        for i in range(int(seconds * 44100 / samples)):
            tone = np.sin(np.arange(samples) / 10.0 + i).astype(np.float32) * 8000
            frame = av.AudioFrame.from_ndarray(
                tone.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = 44100
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_solid(path: Path, frames: int, fps: int = 25, size: tuple[int, int] = (32, 32)) -> Path:
    """A video of one colour: nothing in it can be hashed meaningfully."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast"}
        gray = np.full((size[1], size[0], 3), 90, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(gray, format="rgb24")
        for _ in range(frames):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path

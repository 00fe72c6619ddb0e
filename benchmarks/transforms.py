"""The edits re-posted "evidence" goes through, as seeded, deterministic functions of an image.

Used by benchmarks/robustness.py and by the tests that pin partial matching on small cases.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def crop(
    image: Image.Image, fraction: float, rng: np.random.Generator, centred: bool
) -> Image.Image:
    w, h = image.size
    cw, ch = round(w * fraction), round(h * fraction)
    x = (w - cw) // 2 if centred else int(rng.integers(0, w - cw + 1))
    y = (h - ch) // 2 if centred else int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch))


def caption_bar(image: Image.Image, rng: np.random.Generator, share: float = 0.14) -> Image.Image:
    out = image.convert("RGB").copy()
    w, h = out.size
    bar = round(h * share)
    draw = ImageDraw.Draw(out)
    colour = [(200, 0, 0), (20, 20, 120), (240, 200, 0)][int(rng.integers(0, 3))]
    draw.rectangle((0, h - bar, w, h), fill=colour)
    draw.text(
        (w * 0.03, h - bar * 0.8),
        "BREAKING: STRIKE ON CONVOY NEAR THE BORDER",
        fill="white",
        font=_font(max(10, bar // 2)),
    )
    draw.rectangle((w * 0.85, h * 0.04, w * 0.97, h * 0.12), fill=(255, 255, 255))
    draw.text((w * 0.86, h * 0.05), "TV24", fill=(200, 0, 0), font=_font(max(8, h // 30)))
    return out


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone screenshot of a social post: the picture is about half the screen."""
    w, h = image.size
    screen_w = round(w * rng.uniform(1.05, 1.2))
    pic_h = round(h * (screen_w * 0.94) / w)
    screen_h = round(pic_h * rng.uniform(1.9, 2.3))
    dark = rng.random() < 0.5
    bg, fg = ((21, 32, 43), (230, 230, 230)) if dark else ((255, 255, 255), (15, 20, 25))
    canvas = Image.new("RGB", (screen_w, screen_h), bg)
    draw = ImageDraw.Draw(canvas)
    font = _font(max(10, screen_w // 28))
    top = round(screen_h * rng.uniform(0.18, 0.3))
    for n, line in enumerate(
        [
            "Ministry of Defence @MoD_official",
            "Our forces struck an enemy",
            "convoy this morning. #breaking",
            "12:04 PM - 3 Mar 2024",
        ]
    ):
        draw.text(
            (screen_w * 0.05, screen_h * 0.04 + n * screen_w * 0.06), line, fill=fg, font=font
        )
    canvas.paste(
        image.convert("RGB").resize((round(screen_w * 0.94), pic_h)), (round(screen_w * 0.03), top)
    )
    draw.text(
        (screen_w * 0.05, top + pic_h + screen_w * 0.04),
        "1.2K Reposts  4.8K Likes",
        fill=fg,
        font=font,
    )
    return canvas


def pad(image: Image.Image, rng: np.random.Generator, share: float = 0.2) -> Image.Image:
    """The reference is a crop of the query: the picture inside a larger scene (20% each side)."""
    w, h = image.size
    pw, ph = round(w * share), round(h * share)
    noise = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    canvas = Image.fromarray(noise).resize((w + 2 * pw, h + 2 * ph), Image.Resampling.BICUBIC)
    canvas = canvas.filter(ImageFilter.GaussianBlur(3))
    canvas.paste(image.convert("RGB"), (pw, ph))
    return canvas


def letterbox(image: Image.Image, _rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    canvas = Image.new("RGB", (w, round(h * 1.5)), (0, 0, 0))
    canvas.paste(image.convert("RGB"), (0, round(h * 0.25)))
    return canvas


def rotate(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.uniform(3, 5)) * (1 if rng.random() < 0.5 else -1)
    w, h = image.size
    turned = image.convert("RGB").rotate(angle, resample=Image.Resampling.BICUBIC)
    m = 0.07
    return turned.crop((round(w * m), round(h * m), round(w * (1 - m)), round(h * (1 - m))))


def thermal(image: Image.Image, _rng: np.random.Generator) -> Image.Image:
    """An 'iron' false-colour palette over luminance, as thermal footage is usually shown."""
    g = np.asarray(ImageOps.grayscale(image), dtype=np.float32) / 255.0
    rgb = np.stack(
        [
            np.clip(1.6 * g, 0, 1),
            np.clip(2.2 * g - 0.8, 0, 1),
            np.clip(np.where(g < 0.4, 2.0 * g, 4.0 * g - 3.0), 0, 1),
        ],
        axis=-1,
    )
    return Image.fromarray((rgb * 255).astype(np.uint8))


def overlay(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = image.convert("RGB").copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.text(
        (w * rng.uniform(0.05, 0.4), h * rng.uniform(0.05, 0.7)),
        "EXCLUSIVE FOOTAGE",
        fill=(255, 255, 0),
        font=_font(max(12, h // 12)),
    )
    r = min(w, h) // 10
    x, y = int(w * 0.05), int(h * 0.8)
    draw.ellipse((x, y - r, x + 2 * r, y + r), fill=(0, 90, 200), outline="white", width=3)
    return out


def noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(image.convert("RGB"), dtype=np.float32)
    arr = arr + rng.normal(0, 12, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def scale(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    return image.resize(
        (max(8, round(w * factor)), max(8, round(h * factor))), Image.Resampling.LANCZOS
    )


def soft_blur(image: Image.Image, _rng: np.random.Generator) -> Image.Image:
    """A Gaussian blur of radius 0.5% of the long side: a soft-focus re-post, a smartphone's
    "portrait" effect, a re-encode at a smaller size shown enlarged."""
    return image.convert("RGB").filter(ImageFilter.GaussianBlur(0.005 * max(image.size)))


def low_contrast(image: Image.Image, _rng: np.random.Generator) -> Image.Image:
    """Darker mid-tones (gamma 1.5) and the contrast halved: a dim, washed-out copy."""
    arr = 255 * (np.asarray(image.convert("RGB")) / 255.0) ** 1.5
    return ImageEnhance.Contrast(Image.fromarray(arr.astype(np.uint8))).enhance(0.5)


def haze(image: Image.Image, _rng: np.random.Generator) -> Image.Image:
    """Footage through haze or dust: 60% of a pale grey veil over the picture, slightly soft."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32)
    veiled = 0.4 * arr + 0.6 * np.float32([200, 204, 208])
    out = Image.fromarray(np.clip(veiled, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(0.002 * max(image.size)))


def thermal_haze(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Thermal footage of a hazy scene: luminance squeezed into the middle third of the range,
    then the 'iron' palette, then JPEG at quality 50."""
    g = np.asarray(ImageOps.grayscale(image), dtype=np.float32)
    squeezed = Image.fromarray((85 + g / 3).astype(np.uint8)).convert("RGB")
    return _jpeg(thermal(squeezed, rng), 50)


def combo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _jpeg(caption_bar(crop(image, 0.8, rng, centred=False), rng), 30)


TRANSFORMS: dict[str, Transform] = {
    "exact": lambda im, _r: _jpeg(im, 95),
    "mirror": lambda im, _r: _jpeg(ImageOps.mirror(im), 90),
    "crop_centre_50": lambda im, r: crop(im, 0.5, r, centred=True),
    "crop_offcentre_50": lambda im, r: crop(im, 0.5, r, centred=False),
    "crop_offcentre_70": lambda im, r: crop(im, 0.7, r, centred=False),
    "ref_is_crop_of_query": pad,
    "screenshot": screenshot,
    "caption_bar": caption_bar,
    "letterbox": letterbox,
    "rotate_5": rotate,
    "grayscale": lambda im, _r: ImageOps.grayscale(im).convert("RGB"),
    "gamma_contrast": lambda im, _r: ImageEnhance.Contrast(
        Image.fromarray((255 * (np.asarray(im.convert("RGB")) / 255.0) ** 0.6).astype(np.uint8))
    ).enhance(1.4),
    "thermal": thermal,
    "blur": lambda im, _r: im.filter(ImageFilter.GaussianBlur(2)),
    "noise": noise,
    "jpeg_q10": lambda im, _r: _jpeg(im, 10),
    "thumbnail_25": lambda im, _r: scale(im, 0.25),
    "upscale_2x": lambda im, _r: scale(im, 2.0),
    "text_logo_overlay": overlay,
    "combo_crop_caption_jpeg": combo,
    # Last, so that adding it left every other edit's queries as they were (one seeded draw).
    "mirror_crop_offcentre_50": lambda im, r: ImageOps.mirror(crop(im, 0.5, r, centred=False)),
    # Soft and low-contrast edits (issue 20), last for the same reason.
    "crop_offcentre_60": lambda im, r: crop(im, 0.6, r, centred=False),
    "blur_soft": soft_blur,
    "low_contrast": low_contrast,
    "haze": haze,
    "thermal_haze": thermal_haze,
}

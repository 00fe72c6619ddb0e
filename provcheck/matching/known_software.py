"""Software names that tell how a picture was made, as they appear in EXIF ``Software`` (and, for
game consoles, ``Make``): image editors, game engines, game and screen capture tools, 3D
renderers and AI image generators.

Only names listed here count: camera firmware writes all sorts of version strings ("Ver.1.00",
"HDR+ 1.0.345", "17.2.1") into ``Software``, and none of them says the picture was edited.
Patterns are matched case-insensitively anywhere in the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kinds, with their article: flag reasons read "written by GIMP, an image editor".
EDITOR = "an image editor"
ENGINE = "a game engine"
GAME_CAPTURE = "a game capture tool"
SCREEN_CAPTURE = "a screenshot tool"
RENDERER = "a 3D renderer"
GENERATOR = "an AI image generator"


@dataclass(frozen=True, slots=True)
class KnownSoftware:
    name: str
    kind: str
    pattern: re.Pattern[str]


def _known(name: str, kind: str, pattern: str) -> KnownSoftware:
    return KnownSoftware(name, kind, re.compile(pattern, re.IGNORECASE))


KNOWN_SOFTWARE = (
    _known("Adobe Lightroom", EDITOR, r"lightroom"),
    _known("Adobe Photoshop", EDITOR, r"photoshop"),
    _known("GIMP", EDITOR, r"\bgimp\b"),
    _known("Affinity Photo", EDITOR, r"affinity photo"),
    _known("Pixelmator", EDITOR, r"pixelmator"),
    _known("Paint.NET", EDITOR, r"paint\.net"),
    _known("Corel PaintShop", EDITOR, r"paintshop|paint shop pro"),
    _known("Krita", EDITOR, r"\bkrita\b"),
    _known("Photopea", EDITOR, r"photopea"),
    _known("Snapseed", EDITOR, r"snapseed"),
    _known("PicsArt", EDITOR, r"picsart"),
    _known("Canva", EDITOR, r"\bcanva\b"),
    _known("Facetune", EDITOR, r"facetune"),
    _known("VSCO", EDITOR, r"\bvsco\b"),
    _known("Fotor", EDITOR, r"\bfotor\b"),
    _known("Polarr", EDITOR, r"polarr"),
    _known("Luminar", EDITOR, r"\bluminar\b"),
    _known("Capture One", EDITOR, r"capture one"),
    _known("darktable", EDITOR, r"darktable"),
    _known("RawTherapee", EDITOR, r"rawtherapee"),
    _known("ACDSee", EDITOR, r"acdsee"),
    _known("PhotoScape", EDITOR, r"photoscape"),
    _known("Unity", ENGINE, r"\bunity\b"),
    _known("Unreal Engine", ENGINE, r"unreal engine|\bunreal\b"),
    _known("Godot", ENGINE, r"\bgodot\b"),
    _known("Steam", GAME_CAPTURE, r"\bsteam\b"),
    _known("NVIDIA Ansel / ShadowPlay", GAME_CAPTURE, r"ansel|shadowplay|geforce experience"),
    _known("OBS Studio", GAME_CAPTURE, r"\bobs\b|obs studio|obs-studio"),
    _known("Xbox Game Bar", GAME_CAPTURE, r"xbox|game ?bar"),
    _known("PlayStation", GAME_CAPTURE, r"playstation|\bps[45]\b"),
    _known("Nintendo Switch", GAME_CAPTURE, r"nintendo"),
    _known("ReShade", GAME_CAPTURE, r"reshade"),
    _known("Fraps", GAME_CAPTURE, r"\bfraps\b"),
    _known("Bandicam", GAME_CAPTURE, r"bandicam"),
    _known("Snipping Tool", SCREEN_CAPTURE, r"snipping tool|snip ?& ?sketch"),
    _known("Greenshot", SCREEN_CAPTURE, r"greenshot"),
    _known("ShareX", SCREEN_CAPTURE, r"sharex"),
    _known("Snagit", SCREEN_CAPTURE, r"snagit"),
    _known("Lightshot", SCREEN_CAPTURE, r"lightshot"),
    _known("Flameshot", SCREEN_CAPTURE, r"flameshot"),
    _known("Blender", RENDERER, r"\bblender\b"),
    _known("Cinema 4D", RENDERER, r"cinema ?4d"),
    _known("KeyShot", RENDERER, r"keyshot"),
    _known("Midjourney", GENERATOR, r"midjourney"),
    _known("DALL-E", GENERATOR, r"dall[-·.\s]?e\b"),
    _known("Stable Diffusion", GENERATOR, r"stable ?diffusion|comfyui|automatic1111"),
    _known("Adobe Firefly", GENERATOR, r"firefly"),
    _known("NovelAI", GENERATOR, r"novelai"),
)


def identify(text: str | None) -> KnownSoftware | None:
    """The first known program named in ``text`` (an EXIF Software or Make value)."""
    if not text:
        return None
    return next((known for known in KNOWN_SOFTWARE if known.pattern.search(text)), None)

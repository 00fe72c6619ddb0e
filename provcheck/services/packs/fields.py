"""What each field of a pack's record may hold, checked as the record is read.

A pack may come from anyone. A value of the wrong type or range that got into the database would
break every later scan that matched it (a ``frame_time`` of ``Infinity`` or ``"soon"``, a
quality of ``"high"``, a region of NaN), or stop the import with an internal error instead of a
line number. Each check raises ``ValueError`` with the reason; the readers (``formats``) put
``FILE:LINE:`` in front of it.
"""

from __future__ import annotations

import math
from typing import Any

#: Longest origin (a path or a URL) and item key accepted from an import.
MAX_ORIGIN, MAX_KEY = 8192, 1000
#: Longest video a stored frame time may point into (ten days, in seconds): far past any limit.
MAX_FRAME_TIME = 10 * 24 * 3600.0
#: Largest picture side an item may claim.
MAX_SIDE = 1_000_000


def text(value: Any, name: str, *, longest: int, single_line: bool = False) -> str:
    """A non-empty string, UTF-8 encodable, at most ``longest`` characters, without NUL (and,
    when ``single_line``, without any control character: keys and labels are names)."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {value!r}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > longest:
        raise ValueError(f"{name} is {len(value):,} characters long; at most {longest:,}")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character")
    if single_line and any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ValueError(f"{name} must not contain control characters, got {value[:80]!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not valid Unicode text (a lone surrogate)") from None
    return value


def key(value: Any, name: str) -> str | int:
    """A source key: a string or an integer (the export writes the source's id)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name} must be a string or an integer, not {value!r}")
    if isinstance(value, str):
        return text(value, name, longest=MAX_KEY, single_line=True)
    return value


def count(value: Any, name: str, *, top: int) -> int | None:
    """None, or a whole number from 0 to ``top``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError(f"{name} must be null or a whole number from 0 to {top:,}, not {value!r}")
    return value


def seconds(value: Any, name: str) -> float | None:
    """None, or a finite number of seconds from 0 (a frame's time in its video)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be null or a number of seconds, not {value!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_FRAME_TIME:
        raise ValueError(f"{name} must be a finite number of seconds from 0, not {value!r}")
    return float(value)


def sha256(value: Any) -> str | None:
    """None, or the file's digest as a short single-line string (hex digits as provcheck writes
    it; other writers' forms are kept as they are, it is only shown)."""
    if value is None:
        return None
    return text(value, "sha256", longest=128, single_line=True)


def region(value: Any) -> tuple[float, float, float, float] | None:
    """None (the whole item), or ``[x, y, w, h]``: fractions of the item, inside it."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("region must be null or [x, y, w, h]")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        raise ValueError(f"region must hold four numbers, not {value!r}")
    x, y, w, h = (float(v) for v in value)
    inside = all(math.isfinite(v) and 0 <= v <= 1 for v in (x, y, w, h))
    if not inside or w <= 0 or h <= 0 or x + w > 1 + 1e-6 or y + h > 1 + 1e-6:
        raise ValueError(f"region must be fractions [x, y, w, h] inside the item, not {value!r}")
    return (x, y, w, h)


def hash_list(value: Any) -> list[dict[str, Any]]:
    """An item's hashes: a non-empty list of objects."""
    if not isinstance(value, list) or not value:
        raise ValueError("hashes must be a non-empty list of {kind, hex, quality, region}")
    if not all(isinstance(entry, dict) for entry in value):
        raise ValueError("each hash must be an object {kind, hex, quality, region}")
    return value


def hash_kind_and_hex(entry: dict[str, Any]) -> tuple[str, str]:
    kind, digits = entry.get("kind"), entry.get("hex")
    if not isinstance(kind, str) or not isinstance(digits, str):
        raise ValueError(f"a hash needs a kind and hex digits as strings, not {kind!r}, {digits!r}")
    return kind, digits

"""Colour for reports read on a terminal: the status word of each text line, nothing else.

Colour is on only where a person reads it: the stream is a terminal, ``NO_COLOR`` is unset or
empty (https://no-color.org) and ``TERM`` is not ``dumb``. Files and pipes never get escape codes,
so a report saved with ``-o`` or piped to ``grep`` is the same text with or without a terminal.
"""

from __future__ import annotations

import os
from typing import IO

#: SGR codes per status word: what needs a look stands out, what is fine recedes.
_STYLES = {
    "MATCH": "1;31",  # bold red
    "ERROR": "1;33",  # bold yellow
    "clean": "32",  # green
    "insufficient": "2",  # dim
}
_RESET = "\x1b[0m"


def colour_wanted(stream: IO[str]) -> bool:
    """Whether text written to ``stream`` should be coloured."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def paint(word: str, enabled: bool) -> str:
    """``word`` (a status as the text report spells it) in its colour, or unchanged."""
    code = _STYLES.get(word)
    if not enabled or code is None:
        return word
    return f"\x1b[{code}m{word}{_RESET}"

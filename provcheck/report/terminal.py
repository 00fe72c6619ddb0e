"""Text that reaches a terminal cannot act on it: the one place that makes a string safe to print.

File names, labels, origins, URLs and servers' error messages come from whoever made the file, the
database or the web page. Printed raw, a newline forges a line of output (``MATCH ...``), a
carriage return overwrites one, and escape sequences clear the screen, set the window title or
write to the clipboard (OSC 52); bidirectional overrides make a name read backwards. The text
report, the ``db`` commands and every message on standard error print through ``for_terminal``,
which writes each such character as a visible escape (``\\n``, ``\\x1b``, ``\\u202e``). It is
idempotent: escaped text holds none of them, so escaping it again changes nothing.

Machine-readable formats (JSON, CSV, HTML, SARIF) escape control characters their own way and keep
the exact text; they only need what no encoder accepts made printable, which the scan does when it
names its results (``provcheck.media.reading.display_name``).
"""

from __future__ import annotations

import re

from provcheck.media.reading import display_name

#: C0 and C1 controls and DEL; line and paragraph separators; the bidirectional embeddings,
#: overrides, isolates and marks; and lone surrogates (a file name's bytes that are not UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: object) -> str:
    """``text`` as one harmless line: every character a terminal would act on, escaped."""
    return _UNSAFE.sub(_escape, display_name(str(text)))

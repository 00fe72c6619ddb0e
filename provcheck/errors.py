"""One exception tree for the whole package.

Library code raises these; only the CLI turns them into exit codes (see README, "Exit codes").
Every message is one line that names the input or file and, where there is one, the fix.
"""

from __future__ import annotations


class ProvcheckError(Exception):
    """Base of every error provcheck raises on purpose."""


class UsageError(ProvcheckError):
    """The caller asked for something that cannot be done as asked (bad option, bad combination)."""


class InputError(ProvcheckError):
    """One input (file, URL, stream) could not be read as an image or video.

    Scans record it against that input and go on with the rest of the batch.
    """

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class FetchError(InputError):
    """A URL could not be fetched, or what came back is not something we will read."""


class DatabaseError(ProvcheckError):
    """A reference database is missing, foreign, too new, or could not be written."""


class FormatError(ProvcheckError):
    """An import file does not follow the format it claims (export JSON Lines or a PDQ list)."""

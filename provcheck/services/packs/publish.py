"""``db export``: write the references in one format to a file or standard output (compressed as
the file name says), and sign what was written when a key is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provcheck.errors import UsageError
from provcheck.services.packs import signing
from provcheck.services.packs.export import (
    JSONL,
    PDQ,
    THREATEXCHANGE,
    VPDQ,
    export_lines,
    export_vpdq,
    pdq_lines,
    threatexchange_lines,
)
from provcheck.services.packs.streams import open_output
from provcheck.store import Store


@dataclass(frozen=True, slots=True)
class ExportReport:
    format: str
    lines: int = 0
    bytes: int = 0
    sha256: str = ""
    signature: Path | None = None
    files: tuple[Path, ...] = ()


def export_pack(
    store: Store,
    output: Path | None,
    *,
    fmt: str = JSONL,
    thumbnails: bool = False,
    sign_key: Path | None = None,
    name: str | None = None,
) -> ExportReport:
    """Write ``store``'s references to ``output`` (standard output when None) as ``fmt``.

    With ``sign_key`` the bytes written are signed and the signature goes to ``output`` +
    ``.sig`` (so a signed export needs a file). ``--format vpdq`` writes a folder of files, one per
    reference video, and is not signed (there is no one file to sign).
    """
    if thumbnails and fmt != JSONL:
        raise UsageError(
            "--thumbnails only goes with --format jsonl (the others carry hashes only)"
        )
    if fmt == VPDQ:
        if output is None:
            raise UsageError("--format vpdq writes one file per video: give --output FOLDER")
        if sign_key is not None:
            raise UsageError("--sign-key signs one file; --format vpdq writes a folder")
        files = export_vpdq(store, output)
        return ExportReport(fmt, files=tuple(files))
    if sign_key is not None and output is None:
        raise UsageError("--sign-key writes OUTPUT.sig beside the pack: give --output FILE")
    key = signing.load_private_key(sign_key) if sign_key is not None else None
    if fmt == JSONL:
        lines = export_lines(store, thumbnails=thumbnails, name=name)
    elif fmt == PDQ:
        lines = pdq_lines(store)
    elif fmt == THREATEXCHANGE:
        lines = threatexchange_lines(store)
    else:
        raise UsageError(f"unknown export format {fmt!r}")
    count = 0
    with open_output(output) as (text, digest):
        for line in lines:
            text.write(line)
            text.write("\n")
            count += 1
    sha256 = digest.sha256.hexdigest()
    signature = None
    if key is not None and output is not None:
        signature = output.with_name(output.name + ".sig")
        signature.write_bytes(signing.sign(key, sha256, digest.size))
    return ExportReport(fmt, lines=count, bytes=digest.size, sha256=sha256, signature=signature)

"""Turn what the user typed (files, folders, URLs, '-') into an ordered list of scan inputs."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provcheck.media.fetch import is_url
from provcheck.media.images import IMAGE_EXTENSIONS
from provcheck.media.sniff import VIDEO_EXTENSIONS

#: What a folder walk picks up by default: stills and videos.
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

STDIN = "-"


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to scan. ``kind`` is "file", "url" or "stdin"; ``problem`` marks a target that is
    already known to be unreadable (a missing path), so it is reported in its place in the batch.
    ``page`` is set on an image URL found on a web page the user asked to scan."""

    kind: str
    value: str
    problem: str | None = None
    page: str | None = None


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def walk_folder(
    folder: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extensions: frozenset[str] = MEDIA_EXTENSIONS,
) -> list[Path]:
    """Media files under ``folder`` in a stable (sorted) order, skipping hidden entries.

    ``include``/``exclude`` are globs matched against the path relative to ``folder`` and against
    the file name; an include list replaces the extension filter.
    """
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            if include:
                if not _matches(rel, include):
                    continue
            elif path.suffix.lower() not in extensions:
                continue
            if exclude and _matches(rel, exclude):
                continue
            found.append(path)
    return found


def expand_targets(
    items: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extensions: frozenset[str] = MEDIA_EXTENSIONS,
) -> list[Target]:
    targets: list[Target] = []
    for item in items:
        if item == STDIN:
            targets.append(Target("stdin", STDIN))
        elif is_url(item):
            targets.append(Target("url", item))
        else:
            path = Path(item)
            if path.is_dir():
                targets.extend(
                    Target("file", str(p)) for p in walk_folder(path, include, exclude, extensions)
                )
            elif path.exists() or path.is_symlink():
                targets.append(Target("file", item))
            else:
                targets.append(Target("file", item, problem="no such file or folder"))
    return targets

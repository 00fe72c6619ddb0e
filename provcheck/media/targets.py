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


#: Folder levels a walk goes down: far beyond real archives, short of the paths and the time a
#: hostile tree (a thousand nested folders) would cost. Deeper folders are reported, not read.
MAX_DEPTH = 100


@dataclass(frozen=True, slots=True)
class Found:
    """What a folder walk found: a file to read, or a folder it could not read (``problem``)."""

    path: Path
    problem: str | None = None


def walk(
    folder: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extensions: frozenset[str] = MEDIA_EXTENSIONS,
) -> list[Found]:
    """Media files under ``folder`` in a stable (sorted, depth-first) order, skipping hidden
    entries, with each folder that could not be read (or lies deeper than ``MAX_DEPTH``) in its
    place, so that it is reported rather than silently skipped.

    ``include``/``exclude`` are globs matched against the path relative to ``folder`` and against
    the file name; an include list replaces the extension filter. Symbolic links to folders are
    not followed. The walk keeps its own stack: a deep tree cannot overflow Python's.
    """
    found: list[Found] = []
    stack: list[tuple[Path, int]] = [(folder, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            problem = f"folder is nested deeper than {MAX_DEPTH} levels; skipped"
            found.append(Found(current, problem))
            continue
        try:
            with os.scandir(current) as entries:
                listed = sorted((e.name, e.is_dir()) for e in entries if not e.name.startswith("."))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            found.append(Found(current, f"cannot read this folder ({reason}); skipped"))
            continue
        subfolders = []
        for name, is_dir in listed:
            path = current / name
            if is_dir:
                if not path.is_symlink():
                    subfolders.append(path)
                continue
            rel = path.relative_to(folder).as_posix()
            if include:
                if not _matches(rel, include):
                    continue
            elif path.suffix.lower() not in extensions:
                continue
            if not (exclude and _matches(rel, exclude)):
                found.append(Found(path))
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))
    return found


def walk_folder(
    folder: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extensions: frozenset[str] = MEDIA_EXTENSIONS,
) -> list[Path]:
    """The files of ``walk`` (for callers that report nothing about unreadable folders)."""
    return [f.path for f in walk(folder, include, exclude, extensions) if f.problem is None]


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
                    Target("file", str(f.path), problem=f.problem)
                    for f in walk(path, include, exclude, extensions)
                )
            elif path.exists() or path.is_symlink():
                targets.append(Target("file", item))
            else:
                targets.append(Target("file", item, problem="no such file or folder"))
    return targets

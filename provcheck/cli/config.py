"""Project settings for ``provcheck scan``: a ``provcheck.toml``, or ``[tool.provcheck]`` in a
``pyproject.toml``, found by walking up from the working directory (or named with ``--config``).

The file only supplies defaults: an option given on the command line always wins. Validation is
strict because a typo in a CI policy (``fail-on = "macth"``) must stop the run, not be ignored.
Every error is one line naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcheck.errors import UsageError

CONFIG_NAME = "provcheck.toml"
PYPROJECT = "pyproject.toml"

#: Keys a settings table may hold, with what each must be (checked by ``_check``).
KEYS: Mapping[str, str] = {
    "databases": "a list of file paths (relative to the config file) or postgresql:// URLs",
    "fail_on": "one of any, match, error, never",
    "format": "an output format name",
    "include": "a list of glob strings",
    "exclude": "a list of glob strings",
    "limit": "a whole number of at least 1",
    "max_distance": "a table of hash kind = whole number, e.g. { pdq = 31, phash = 8 }",
}


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Validated settings from one file; ``None``/empty means "not set in the file"."""

    path: Path
    databases: tuple[str, ...] = ()
    fail_on: str | None = None
    format: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limit: int | None = None
    max_distance: dict[str, int] = field(default_factory=dict)


def find_config(start: Path) -> Path | None:
    """The nearest ``provcheck.toml``, or ``pyproject.toml`` with a ``[tool.provcheck]`` table,
    in ``start`` or its parents. In one folder ``provcheck.toml`` wins over ``pyproject.toml``."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    return "provcheck" in _read_toml(path).get("tool", {})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None


def load_config(path: Path) -> ScanConfig:
    """Read and validate one config file. A ``pyproject.toml`` must hold ``[tool.provcheck]``;
    a ``provcheck.toml`` holds the settings at top level (or under ``[tool.provcheck]``)."""
    doc = _read_toml(path)
    if path.name == PYPROJECT or "tool" in doc:
        table = doc.get("tool", {}).get("provcheck")
        where = "[tool.provcheck]"
        if table is None:
            raise UsageError(f"{path}: no [tool.provcheck] table")
        if path.name != PYPROJECT and set(doc) != {"tool"}:
            extra = sorted(set(doc) - {"tool"})[0]
            raise UsageError(f"{path}: unknown key {extra!r} (put settings under {where})")
    else:
        table, where = doc, "the file"
    if not isinstance(table, dict):
        raise UsageError(f"{path}: {where} must be a table")
    return _check(path, table)


def _check_keys(path: Path, table: Mapping[str, Any]) -> None:
    for key in table:
        if key not in KEYS:
            hint = key.replace("-", "_")
            fix = f" (did you mean {hint!r}?)" if hint in KEYS else ""
            known = ", ".join(KEYS)
            raise UsageError(f"{path}: unknown key {key!r}{fix}; known keys: {known}")


def _check(path: Path, table: Mapping[str, Any]) -> ScanConfig:
    _check_keys(path, table)

    def bad(key: str) -> UsageError:
        return UsageError(f"{path}: {key} must be {KEYS[key]}, got {table[key]!r}")

    values: dict[str, Any] = {}
    for key in ("include", "exclude", "databases"):
        if key in table:
            items = table[key]
            if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
                raise bad(key)
            values[key] = tuple(items)
    if "databases" in values:
        # Relative to the file, not to wherever the command happens to run.
        from provcheck.store.server_url import is_server_url

        values["databases"] = tuple(
            p if is_server_url(p) else str(path.parent / p) for p in values["databases"]
        )
    if "fail_on" in table:
        from provcheck.report.summary import FAIL_ON

        if table["fail_on"] not in FAIL_ON:
            raise bad("fail_on")
        values["fail_on"] = table["fail_on"]
    if "format" in table:
        from provcheck.report import FORMATS

        if table["format"] not in FORMATS:
            raise UsageError(
                f"{path}: format must be one of {', '.join(FORMATS)}, got {table['format']!r}"
            )
        values["format"] = table["format"]
    if "limit" in table:
        if not _is_int(table["limit"]) or table["limit"] < 1:
            raise bad("limit")
        values["limit"] = table["limit"]
    if "max_distance" in table:
        values["max_distance"] = _check_distances(path, table["max_distance"])
    return ScanConfig(path=path, **values)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_distances(path: Path, table: object) -> dict[str, int]:
    from provcheck.signals.hashes import get_hasher

    if not isinstance(table, dict):
        raise UsageError(f"{path}: max_distance must be {KEYS['max_distance']}, got {table!r}")
    out: dict[str, int] = {}
    for kind, n in table.items():
        key = f"max_distance.{kind}"
        try:
            hasher = get_hasher(kind)
        except ValueError as exc:
            raise UsageError(f"{path}: {key}: {exc}") from None
        if not _is_int(n) or n < 0:
            raise UsageError(f"{path}: {key} must be a whole number of at least 0, got {n!r}")
        if n > hasher.bits // 2:
            raise UsageError(
                f"{path}: {key} = {n} would match unrelated images ({hasher.bits}-bit hash;"
                f" keep it below {hasher.bits // 2})"
            )
        out[hasher.name] = n
    return out


def resolve_config(explicit: Path | None, *, disabled: bool, cwd: Path) -> ScanConfig | None:
    """The settings a scan uses: ``--config FILE``, else the nearest file above ``cwd``."""
    if disabled:
        if explicit is not None:
            raise UsageError("give --config or --no-config, not both")
        return None
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: no such config file (--config)")
        return load_config(explicit)
    found = find_config(cwd)
    return load_config(found) if found else None


def merge_scan_options(
    config: ScanConfig | None, options: Mapping[str, Any], given: Sequence[str]
) -> dict[str, Any]:
    """The scan command's option values with the file filling in what was not ``given`` on the
    command line. ``max_distance`` merges per hash kind. Precedence for databases: ``--db``, then
    ``PROVCHECK_DB``, then the file, then the built-in default."""
    from provcheck.services.databases import ENV_VAR

    merged = dict(options)
    if config is None:
        return merged
    taken = set(given)
    if os.environ.get(ENV_VAR, "").strip():
        taken.add("dbs")  # PROVCHECK_DB names this run's databases: it outranks a project file
    simple = {
        "fail_on": config.fail_on,
        "fmt": config.format,
        "limit": config.limit,
        "include": config.include or None,
        "exclude": config.exclude or None,
        "dbs": config.databases or None,
    }
    for name, value in simple.items():
        if value is not None and name not in taken:
            merged[name] = value
    if config.max_distance:
        merged["max_distance"] = {**config.max_distance, **dict(options.get("max_distance", {}))}
    return merged

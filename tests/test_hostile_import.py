"""Imports of wrong types (issue 18, item 11): every field of the export format, and the PDQ list's
labels, are checked as they are read. A wrong one stops the import with ``FILE:LINE: reason`` and
exit status 2, and the database is left as it was: nothing that would break a later scan gets in.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from provcheck.cli import cli

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
PHASH = "0123456789abcdef"
INF, NAN = float("inf"), float("nan")


def _records() -> list[dict]:
    return [
        {"format": "provcheck-export", "version": 1, "provcheck": "0.1.0"},
        {"type": "source", "key": 1, "label": "Partner", "category": "footage",
         "url": "https://p.example/", "first_seen": "2015-06-01", "license": None, "notes": None},
        {"type": "item", "source": 1, "origin": "/archive/a.jpg", "item_key": "a" * 64,
         "sha256": "a" * 64, "width": 640, "height": 480, "frame_time": None,
         "hashes": [{"kind": "pdq", "hex": PDQ, "quality": 90, "region": None},
                    {"kind": "phash", "hex": PHASH, "quality": None, "region": [0, 0, 1, 1]}]},
    ]  # fmt: skip


def _write(path: Path, records: list[dict]) -> Path:
    # json.dumps writes NaN and Infinity as the bare words a hostile file would hold.
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def _import(*args):
    return CliRunner().invoke(cli, ["db", "import", *map(str, args)])


def _unchanged(db: Path) -> bool:
    if not db.exists():
        return True
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM items)")
        return rows.fetchone() == (0, 0)


def test_a_good_file_imports(tmp_path):
    db = tmp_path / "refs.sqlite"
    result = _import(_write(tmp_path / "good.jsonl", _records()), "--db", db)
    assert result.exit_code == 0, result.output


BAD_ITEMS = [
    ("frame_time", INF), ("frame_time", -INF), ("frame_time", NAN), ("frame_time", "soon"),
    ("frame_time", True), ("frame_time", -1.0), ("frame_time", [1]),
    ("width", "wide"), ("width", -5), ("width", 1.5), ("width", True), ("width", 2**70),
    ("height", {"h": 1}),
    ("sha256", 123), ("sha256", "two\nlines"), ("sha256", "x" * 200),
    ("origin", 123), ("origin", None), ("origin", "a\x00b"),
    ("item_key", 123), ("item_key", ["x"]), ("item_key", ""), ("item_key", "k\x00"),
    ("source", [1]), ("source", {"k": 1}),
    ("hashes", []), ("hashes", "pdq"), ("hashes", [42]), ("hashes", None),
]  # fmt: skip

BAD_HASHES = [
    ("quality", "high"), ("quality", 101), ("quality", -1), ("quality", 2.5), ("quality", True),
    ("quality", NAN),
    ("region", [NAN, 0, 1, 1]), ("region", [0, 0, INF, 1]), ("region", ["a", 0, 1, 1]),
    ("region", [0, 0, 2, 1]), ("region", [0.5, 0, 0.6, 1]), ("region", [0, 0, 0, 0]),
    ("region", {"x": 0}), ("region", [0, 0, 1]),
    ("kind", "md5"), ("kind", 5), ("kind", None), ("hex", "zz"), ("hex", 7), ("hex", PDQ[:-2]),
]  # fmt: skip

BAD_SOURCES = [
    ("label", "a\x00b"), ("label", 123), ("label", None), ("label", "  "),
    ("category", 5), ("category", "weird"),
    ("url", 123), ("url", "https://x.example/\x00"), ("first_seen", 20150601),
    ("first_seen", "2015-13-01"), ("license", ["MIT"]), ("notes", {"n": 1}),
    ("key", [1]), ("key", {"a": 1}), ("key", None), ("key", 1.5),
]  # fmt: skip


@pytest.mark.parametrize(("line", "field", "value"), [
    *[(3, f, v) for f, v in BAD_ITEMS],
    *[(3, f"hashes.0.{f}", v) for f, v in BAD_HASHES],
    *[(2, f, v) for f, v in BAD_SOURCES],
    (1, "version", "1"), (1, "version", 1.0), (1, "version", True),
])  # fmt: skip
def test_a_wrong_type_is_file_line_reason_and_exit_2(tmp_path, line, field, value):
    records = _records()
    target = records[line - 1]
    *path, last = field.split(".")
    for step in path:
        target = target[int(step)] if step.isdigit() else target[step]
    target[last] = value
    bad = _write(tmp_path / "bad.jsonl", records)
    db = tmp_path / "refs.sqlite"
    result = _import(bad, "--db", db)
    assert result.exit_code == 2, (result.output, result.exception)
    (message,) = result.stderr.strip().splitlines()
    assert message.startswith("provcheck: error: ") and f"{bad}:{line}: " in message, message
    assert _unchanged(db)


@pytest.mark.parametrize(
    "line",
    [
        f"{PDQ} label with a NUL\x00 in it",
        f"{PDQ} label with an escape \x1b[2J",
        f"{PDQ}\t" + "x" * 100_000,
    ],
)
def test_a_pdq_list_label_is_checked(tmp_path, line):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{PDQ} fine\n{line}\n", encoding="utf-8")
    db = tmp_path / "refs.sqlite"
    result = _import(listing, "--db", db, "--label", "L", "--category", "game")
    assert result.exit_code == 2, (result.output, result.exception)
    (message,) = result.stderr.strip().splitlines()
    assert f"{listing}:2: " in message
    assert _unchanged(db)


def test_non_finite_values_already_in_a_database_do_not_break_a_scan(tmp_path, pictures):
    """A database written before these checks (or by hand) may hold them: scans still work and
    JSON output stays JSON (no bare Infinity or NaN)."""
    db = tmp_path / "refs.sqlite"
    added = CliRunner().invoke(
        cli, ["db", "add", str(pictures["known"]), "--db", str(db), "--label", "K",
              "--category", "game"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE items SET frame_time = 9e999, width = -1")
        conn.execute("UPDATE hashes SET rx = 9e999 WHERE kind = 'phash'")
    result = CliRunner().invoke(
        cli, ["scan", str(pictures["known"]), "--db", str(db), "--format", "json"]
    )
    assert result.exit_code == 1, (result.output, result.exception)

    def refuse(constant):
        raise AssertionError(f"bare {constant} in JSON output")

    doc = json.loads(result.stdout, parse_constant=refuse)
    assert doc["results"][0]["status"] == "match"
    text = CliRunner().invoke(cli, ["scan", str(pictures["known"]), "--db", str(db)])
    assert text.exit_code == 1, (text.output, text.exception)

"""Seeded mutation fuzzing of the decode and import paths (issue 18).

Every case is a small valid file, mutated (bit flips, boundary values in header fields, cuts,
splices; for imports, wrong types and values in every field): decoding must end in a picture or an
``InputError`` naming the input, importing in a stored file or a ``FormatError``/``UsageError``
with nothing stored, each case within a time bound. A fixed number of cases runs in CI
(``PROVCHECK_FUZZ_CASES`` runs more: the seeds are deterministic, so any failure replays).
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import math
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import noise_picture
from tests.hostile_corpus import time_bound

CASES = int(os.environ.get("PROVCHECK_FUZZ_CASES", "250"))
SEED = int(os.environ.get("PROVCHECK_FUZZ_SEED", "18"))
CASE_BOUND_S = 10


def _first(*names: str):
    """The first of ``names`` ("module:attribute") that imports: the package layout moved."""
    for name in names:
        module, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue
    raise ImportError(names)


def _bounded(label: str):
    """Fail the test if one case runs past ``CASE_BOUND_S`` (see ``hostile_corpus.time_bound``:
    an overrun is not an exception the decoders could catch)."""
    return time_bound(CASE_BOUND_S, label)


# -- decoding ----------------------------------------------------------------------------------


def _seed_files() -> dict[str, bytes]:
    picture = noise_picture(3, (96, 72))
    out = {}
    for fmt, kwargs in (
        ("JPEG", {"quality": 80}), ("PNG", {}), ("WEBP", {"quality": 80}), ("TIFF", {}),
        ("BMP", {}), ("GIF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ):  # fmt: skip
        buf = io.BytesIO()
        picture.save(buf, fmt, **kwargs)
        out[f"{fmt}{len(out)}"] = buf.getvalue()
    frames = [noise_picture(n, (64, 48)) for n in range(3)]
    for fmt in ("GIF", "WEBP", "PNG"):
        buf = io.BytesIO()
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        out[f"animated {fmt}"] = buf.getvalue()
    return out


_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff", b"\x00\x00\x00\x00", b"\xff" * 4)


def _mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        at = rng.randrange(max(1, len(out)))
        if kind == 0:  # flip bits
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # a boundary value over a header field
            value = rng.choice(_INTERESTING)
            at = rng.randrange(min(len(out), 64))
            out[at : at + len(value)] = value
        elif kind == 2:  # cut
            del out[at:]
        elif kind == 3:  # duplicate a chunk
            size = rng.randint(1, 256)
            out[at:at] = out[at : at + size] * rng.randint(1, 8)
        elif kind == 4:  # splice another file in
            other = rng.choice(others)
            out[at:] = other[rng.randrange(len(other)) :]
        else:  # random bytes
            out[at : at + 8] = rng.randbytes(8)
    return bytes(out)


def test_fuzz_decoding_never_crashes_or_hangs():
    decode_image = _first("provcheck.media.images:decode_image", "provcheck.media:decode_image")
    is_video_bytes = _first(
        "provcheck.media.sniff:is_video_bytes", "provcheck.media.video:is_video_bytes",
        "provcheck.video:is_video_bytes",
    )  # fmt: skip
    sample_video = _first("provcheck.media.video:sample_video", "provcheck.video:sample_video")
    input_error = _first("provcheck.errors:InputError")
    seeds = _seed_files()
    files = list(seeds.values())
    rng = random.Random(SEED)
    outcomes = {"decoded": 0, "refused": 0}
    for case in range(CASES):
        name = rng.choice(list(seeds))
        data = _mutate(seeds[name], rng, files)
        with _bounded(f"decoding case {case} (from {name})"):
            try:
                if is_video_bytes(data):
                    _facts, frames = sample_video(data, "fuzz.bin")
                    for _frame in frames:
                        pass
                else:
                    decode_image(data, "fuzz.bin")
                outcomes["decoded"] += 1
            except input_error as exc:
                assert "fuzz.bin" in str(exc) and "\n" not in str(exc), str(exc)
                outcomes["refused"] += 1
    assert outcomes["decoded"] and outcomes["refused"], outcomes


#: Cases of seed 18 that found defects in deeper runs (PROVCHECK_FUZZ_CASES=5000): an animated
#: GIF on which Pillow raised IndexError (a crash, exit 3), and one that made it print its
#: decompression-bomb warning. Replayed on every run, whatever ``CASES`` is.
FOUND = (1079, 3035)


def test_fuzz_cases_that_found_defects_stay_fixed():
    decode_image = _first("provcheck.media.images:decode_image")
    is_video_bytes = _first("provcheck.media.sniff:is_video_bytes")
    sample_video = _first("provcheck.media.video:sample_video")
    input_error = _first("provcheck.errors:InputError")
    seeds = _seed_files()
    files = list(seeds.values())
    rng = random.Random(18)
    for case in range(max(FOUND) + 1):
        name = rng.choice(list(seeds))
        data = _mutate(seeds[name], rng, files)  # mutating is cheap: only the found are decoded
        if case not in FOUND:
            continue
        with _bounded(f"decoding case {case}"):
            try:
                if is_video_bytes(data):
                    for _frame in sample_video(data, "fuzz.bin")[1]:
                        pass
                else:
                    decode_image(data, "fuzz.bin")
            except input_error as exc:
                assert "fuzz.bin" in str(exc)


# -- importing ---------------------------------------------------------------------------------

_VALUES = (
    None, True, False, 0, -1, 1.5, 2**63, 2**70, math.nan, math.inf, -math.inf, "", " ", "x" * 5000,
    "a\x00b", "\x1b[2J", "\ud800", [], {}, [1, 2], [0, 0, 1, 1], {"a": 1}, "2015-06-01", "game",
    "f" * 64, "0" * 16, "pdq", "phash",
)  # fmt: skip


def _records() -> list[dict]:
    return [
        {"format": "provcheck-export", "version": 1},
        {"type": "source", "key": 1, "label": "A", "category": "game", "url": None,
         "first_seen": "2015-06-01", "license": None, "notes": None},
        {"type": "source", "key": "two", "label": "B", "category": "footage"},
        {"type": "item", "source": 1, "origin": "/a.jpg", "item_key": "k1", "sha256": "a" * 64,
         "width": 640, "height": 480, "frame_time": None,
         "hashes": [{"kind": "pdq", "hex": "f" * 64, "quality": 90, "region": None},
                    {"kind": "phash", "hex": "0" * 16, "quality": None, "region": None}]},
        {"type": "item", "source": "two", "origin": "v.mp4", "item_key": "k2", "frame_time": 1.5,
         "hashes": [{"kind": "pdq", "hex": "e" * 64, "quality": 60,
                     "region": [0.1, 0.1, 0.5, 0.5]}]},
    ]  # fmt: skip


def _mutate_records(rng: random.Random) -> str:
    records = _records()
    for _ in range(rng.randint(1, 3)):
        record = rng.choice(records)
        target, key = record, rng.choice(list(record))
        if key == "hashes" and rng.random() < 0.7:
            target = rng.choice(record["hashes"])
            key = rng.choice(list(target))
        if isinstance(target.get(key), list) and target[key] and rng.random() < 0.5:
            target[key][rng.randrange(len(target[key]))] = copy.deepcopy(rng.choice(_VALUES))
        elif rng.random() < 0.1:
            del target[key]
        else:
            target[key] = copy.deepcopy(rng.choice(_VALUES))
    lines = [json.dumps(r) for r in records]
    if rng.random() < 0.2:
        at = rng.randrange(len(lines))
        text = lines[at]
        cut = rng.randrange(len(text))
        lines[at] = text[:cut] + rng.choice(['"', "}", "\\", "\x00", ""]) + text[cut + 1 :]
    return "\n".join(lines) + "\n"


def _assert_well_typed(line: str) -> None:
    """What an accepted import stored, as exported: the types a later scan relies on."""
    record = json.loads(line, parse_constant=lambda c: pytest.fail(f"stored {c}"))
    if record.get("type") != "item":
        return
    assert record["frame_time"] is None or record["frame_time"] >= 0
    for field in ("width", "height"):
        assert record[field] is None or (type(record[field]) is int and record[field] >= 0)
    assert record["hashes"], record
    for entry in record["hashes"]:
        quality = entry["quality"]
        assert quality is None or (type(quality) is int and 0 <= quality <= 100), entry
        region = entry["region"]
        assert region is None or all(0 <= v <= 1 for v in region), entry


@pytest.fixture
def scratch(tmp_path):
    """A folder for many short-lived databases: in memory (/dev/shm) where there is one, as
    creating a database on disk costs a few synchronous writes each."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="provcheck-fuzz-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


def test_fuzz_importing_stores_well_typed_records_or_nothing(scratch):
    import_file = _first("provcheck.services.packs.importing:import_file")
    export_lines = _first("provcheck.services.packs.export:export_lines")
    open_store = _first("provcheck.store:open_store")
    errors = (_first("provcheck.errors:FormatError"), _first("provcheck.errors:UsageError"))
    rng = random.Random(SEED * 101)
    outcomes = {"imported": 0, "refused": 0}
    for case in range(CASES):
        path = scratch / f"case{case}.jsonl"
        path.write_text(_mutate_records(rng), encoding="utf-8", errors="surrogatepass")
        db = scratch / f"case{case}.sqlite"
        with _bounded(f"import case {case}"), open_store(db, create=True) as store:
            try:
                import_file(store, path)
            except errors as exc:
                assert "\n" not in str(exc), str(exc)
                assert store.counts() == {"items": 0, "sources": 0}, path.read_text()
                outcomes["refused"] += 1
            else:
                for line in export_lines(store):
                    _assert_well_typed(line)
                outcomes["imported"] += 1
        for leftover in scratch.glob(f"case{case}.*"):
            leftover.unlink()
    assert outcomes["imported"] and outcomes["refused"], outcomes

"""Reference packs: round trips per format, compression, standard input, a loopback HTTP server,
digests, signatures (wrong key, tampered bytes), version-1 files and pack updates."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.errors import FormatError, UsageError
from provcheck.services.packs.export import export_lines
from provcheck.services.packs.importing import ImportOptions, import_pack
from provcheck.services.packs.signing import generate_key_pair
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features
from provcheck.store import NewItem, SourceInfo, StoredHash, open_store
from tests.http_fixtures import serve_routes

GAME = SourceInfo("Game", "game", "https://g.example", "2015-06-01", "CC-BY", "trailer frames")


def _hex(seed: int, digits: int = 64) -> str:
    return np.random.default_rng(seed).integers(0, 256, digits // 2, dtype=np.uint8).tobytes().hex()


def _features(seed: int, n: int = 40) -> Features:
    rng = np.random.default_rng(seed)
    points = np.round(rng.random((n, 2)) * [[630, 470]], 2).astype(np.float32)
    return Features(points, rng.integers(0, 256, (n, 32), dtype=np.uint8), 640, 480)


def _item(source_id: int, i: int, *, frame_time: float | None = None) -> NewItem:
    return NewItem(
        source_id,
        origin=f"/data/{i}.jpg",
        item_key=f"{i:064x}",
        sha256=f"{i:064x}",
        width=640,
        height=480,
        frame_time=frame_time,
        hashes=[
            StoredHash(Hash.from_hex("pdq", _hex(i)), 90),
            StoredHash(Hash.from_hex("pdq", _hex(i + 1000)), 80, (0.25, 0.0, 0.5, 0.5)),
            StoredHash(Hash.from_hex("phash", _hex(i, 16))),
        ],
        features=_features(i),
    )


def _fill(path: Path, items: range = range(6), video: bool = True) -> Path:
    with open_store(path, create=True) as store, store.transaction():
        game, _ = store.ensure_source(GAME)
        store.add_items_bulk([_item(game, i) for i in items])
        if video:
            footage, _ = store.ensure_source(SourceInfo("Strike video", "footage"))
            store.add_items_bulk(
                [_item(footage, 99, frame_time=t) for t in (0.0, 1.5, 4.25, 9.125)]
            )
    return path


def _run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def _dump(db: Path) -> list[str]:
    """A database as its pack's lines: equal dumps, equal databases."""
    with open_store(db, readonly=True) as store:
        return list(export_lines(store))


@pytest.fixture
def original(tmp_path) -> Path:
    return _fill(tmp_path / "original.sqlite")


@pytest.mark.parametrize("name", ["pack.jsonl", "pack.jsonl.gz", "pack.jsonl.zst"])
def test_pack_round_trip_keeps_every_hash_region_and_keypoint(original, tmp_path, name):
    pack = tmp_path / name
    assert _run("db", "export", "--db", str(original), "-o", str(pack)).exit_code == 0
    copy = tmp_path / "copy.sqlite"
    done = _run("db", "import", str(pack), "--db", str(copy))
    assert done.exit_code == 0, done.output
    assert "10 items added" in done.output
    assert _dump(copy) == _dump(original)
    with open_store(original, readonly=True) as a, open_store(copy, readonly=True) as b:
        ids = [item.id for item in a.items()]
        assert len(a.features(ids)) == len(ids)
        for item_id in ids:
            assert (
                a.features([item_id])[item_id].to_blob() == b.features([item_id])[item_id].to_blob()
            )
    if name.endswith(".gz"):
        assert pack.read_bytes()[:2] == b"\x1f\x8b"
    if name.endswith(".zst"):
        assert pack.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"


def test_standard_input_reads_packs_pipes_and_compressed_ones(original, tmp_path):
    pack = tmp_path / "pack.jsonl.gz"
    _run("db", "export", "--db", str(original), "-o", str(pack))
    copy = tmp_path / "copy.sqlite"
    done = _run("db", "import", "-", "--db", str(copy), stdin=pack.read_bytes())
    assert done.exit_code == 0, done.output
    assert "imported <stdin> (export): 10 items added" in done.output
    assert _dump(copy) == _dump(original)


@pytest.mark.slow
def test_a_real_pipe_is_read_without_seeking(original, tmp_path):
    """``db import -`` from a pipe and ``db import /dev/fd/N`` (a process substitution) crashed
    with 'underlying stream is not seekable'."""
    pack = tmp_path / "pack.jsonl"
    _run("db", "export", "--db", str(original), "-o", str(pack))
    entry = [sys.executable, "-m", "provcheck"]
    copy = tmp_path / "copy.sqlite"
    cat = subprocess.Popen(["cat", str(pack)], stdout=subprocess.PIPE)
    done = subprocess.run(
        [*entry, "db", "import", "-", "--db", str(copy)],
        stdin=cat.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    cat.wait()
    cat.stdout.close()
    assert done.returncode == 0, done.stderr
    other = tmp_path / "other.sqlite"
    script = f"{' '.join(entry)} db import <(cat {pack}) --db {other}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert _dump(copy) == _dump(other) == _dump(original)


def _signed_pack(original: Path, tmp_path: Path) -> tuple[Path, Path]:
    key, public = generate_key_pair(tmp_path / "keys" / "desk.key")
    pack = tmp_path / "pack.jsonl.gz"
    done = _run("db", "export", "--db", str(original), "-o", str(pack), "--sign-key", str(key))
    assert done.exit_code == 0, done.output
    return pack, public


def test_http_pack_with_signature_and_digest(original, tmp_path):
    pack, public = _signed_pack(original, tmp_path)
    body, signature = pack.read_bytes(), (tmp_path / "pack.jsonl.gz.sig").read_bytes()
    octets = {"Content-Type": "application/octet-stream"}
    routes = {
        "/p.jsonl.gz": (200, octets, body),
        "/p.jsonl.gz.sig": (200, {"Content-Type": "application/json"}, signature),
        "/moved": (302, {"Location": "/p.jsonl.gz"}, b""),
        "/error.html": (200, {"Content-Type": "text/html"}, b"<html>gone</html>"),
    }
    copy = tmp_path / "copy.sqlite"
    with serve_routes(routes) as base:
        refused = _run("db", "import", f"{base}/p.jsonl.gz", "--db", str(copy))
        assert refused.exit_code == 2 and "loopback" in refused.output
        digest = hashlib.sha256(body).hexdigest()
        done = _run(
            "db", "import", f"{base}/p.jsonl.gz", "--db", str(copy), "--allow-private",
            "--verify-key", str(public), "--sha256", digest.upper(),
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "(verified)" in done.output
        again = _run("db", "import", f"{base}/moved", "--db", str(copy), "--allow-private")
        assert "0 items added, 10 already present" in again.output
        page = _run("db", "import", f"{base}/error.html", "--db", str(copy), "--allow-private")
        assert page.exit_code == 2 and "content-type text/html" in page.output
    listing = json.loads(_run("db", "list", "--db", str(copy), "--format", "json").stdout)
    origin = listing[0]["rows"][0]["pack"]
    assert origin["sha256"] == digest and origin["location"] == f"{base}/moved"
    assert _dump(copy) == _dump(original)


def test_signed_pack_records_who_signed_it_and_when(original, tmp_path):
    pack, public = _signed_pack(original, tmp_path)
    copy = tmp_path / "copy.sqlite"
    done = _run("db", "import", str(pack), "--db", str(copy), "--verify-key", str(public))
    assert done.exit_code == 0, done.output
    statement = json.loads((tmp_path / "pack.jsonl.gz.sig").read_text())
    listing = _run("db", "list", "--db", str(copy)).output
    assert f"signed by {statement['public_key']} at {statement['signed_at']}" in listing
    rows = json.loads(_run("db", "list", "--db", str(copy), "--format", "json").stdout)[0]["rows"]
    assert {row["pack"]["signer"] for row in rows} == {statement["public_key"]}
    assert {row["pack"]["sha256"] for row in rows} == {statement["sha256"]}


def _refused(copy: Path, *args: str) -> str:
    done = _run("db", "import", *args, "--db", str(copy))
    assert done.exit_code == 2, done.output
    with open_store(copy, readonly=True) as store:
        assert store.counts() == {"items": 0, "sources": 0}  # a refused pack changes nothing
    return done.output


def test_wrong_digest_is_refused_and_changes_nothing(original, tmp_path):
    pack = tmp_path / "pack.jsonl"
    _run("db", "export", "--db", str(original), "-o", str(pack))
    out = _refused(tmp_path / "copy.sqlite", str(pack), "--sha256", "0" * 64)
    assert "refused, nothing imported" in out
    assert "must be 64 hex digits" in _run("db", "import", str(pack), "--sha256", "abc").output


def test_wrong_key_missing_signature_and_tampered_pack_are_refused(original, tmp_path):
    pack, _public = _signed_pack(original, tmp_path)
    _other_key, other_public = generate_key_pair(tmp_path / "other.key")
    copy = tmp_path / "copy.sqlite"
    assert "not by" in _refused(copy, str(pack), "--verify-key", str(other_public))
    unsigned = tmp_path / "unsigned.jsonl.gz"
    unsigned.write_bytes(pack.read_bytes())
    assert "no such file" in _refused(copy, str(unsigned), "--verify-key", str(_public))
    # one byte changed, inside the compressed data: gzip's own check or ours refuses it
    tampered = tmp_path / "tampered.jsonl.gz"
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    (tmp_path / "tampered.jsonl.gz.sig").write_bytes((tmp_path / "pack.jsonl.gz.sig").read_bytes())
    _refused(copy, str(tampered), "--verify-key", str(_public))
    # one byte changed in an uncompressed pack that still parses: only the signature tells
    plain = tmp_path / "plain.jsonl"
    key = tmp_path / "keys" / "desk.key"
    _run("db", "export", "--db", str(original), "-o", str(plain), "--sign-key", str(key))
    text = plain.read_text()
    changed = text.replace('"quality":90', '"quality":91', 1)
    assert changed != text and len(changed) == len(text)
    plain.write_text(changed)
    assert "not the ones signed" in _refused(copy, str(plain), "--verify-key", str(_public))
    # the signature itself altered
    statement = json.loads((tmp_path / "plain.jsonl.sig").read_text())
    statement["signed_at"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / "plain.jsonl.sig").write_text(json.dumps(statement))
    plain.write_text(text)
    assert "does not verify" in _refused(copy, str(plain), "--verify-key", str(_public))


def test_export_with_a_public_key_as_signing_key_writes_nothing(original, tmp_path):
    _key, public = generate_key_pair(tmp_path / "k")
    pack = tmp_path / "pack.jsonl"
    done = _run("db", "export", "--db", str(original), "-o", str(pack), "--sign-key", str(public))
    assert done.exit_code == 2 and "did you pass the .pub file?" in done.output
    assert not pack.exists()


def test_keygen_refuses_to_overwrite_and_keeps_the_private_key_private(tmp_path):
    key = tmp_path / "k"
    assert _run("db", "keygen", "--output", str(key)).exit_code == 0
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = _run("db", "keygen", "--output", str(key))
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


def test_stdin_with_verify_key_needs_a_signature_file(original, tmp_path):
    pack, public = _signed_pack(original, tmp_path)
    copy = tmp_path / "copy.sqlite"
    out = _run("db", "import", "-", "--db", str(copy), "--verify-key", str(public))
    assert out.exit_code == 2 and "--signature" in out.output
    done = _run(
        "db", "import", "-", "--db", str(copy), "--verify-key", str(public),
        "--signature", str(tmp_path / "pack.jsonl.gz.sig"), stdin=pack.read_bytes(),
    )  # fmt: skip
    assert done.exit_code == 0, done.output


def test_version_1_pack_still_imports(tmp_path):
    v1 = tmp_path / "v1.jsonl"
    v1.write_text(
        '{"format": "provcheck-export", "version": 1, "provcheck": "0.1.0",'
        ' "hash_kinds": {"pdq": 256, "phash": 64}}\n'
        '{"type": "source", "key": 1, "label": "Old", "category": "footage", "url": null,'
        ' "first_seen": "2019-02-03", "license": null, "notes": null}\n'
        '{"type": "item", "source": 1, "origin": "/x.jpg", "item_key": "k", "sha256": null,'
        ' "width": 10, "height": 10, "frame_time": 2.5, "hashes": [{"kind": "pdq", "hex": "'
        + _hex(1)
        + '", "quality": 70, "region": [0, 0, 0.5, 0.5]}]}\n'
    )
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        report = import_pack(store, str(v1))
        [item] = store.items(with_hashes=True)
        assert (report.format, report.items_added) == ("export", 1)
        assert item.hashes[0].region == (0.0, 0.0, 0.5, 0.5) and item.frame_time == 2.5
        assert store.features([item.id]) == {}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"features": "!!"}, "not valid base64"),
        ({"features": "UENGMQ=="}, "not a PCF1"),
        ({"features": "UENGMQEAAQABAA=="}, "not 1 keypoints"),
        ({"features": 7}, "must be a base64 string"),
    ],
)
def test_bad_keypoints_are_refused_with_the_line(original, tmp_path, record, message):
    lines = _dump(original)
    item = json.loads(lines[3]) | record
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:3], json.dumps(item), *lines[4:]]) + "\n")
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        with pytest.raises(FormatError, match=rf"bad\.jsonl:4: .*{message}"):
            import_pack(store, str(bad))
        assert store.counts()["items"] == 0


def test_pdq_and_threatexchange_round_trips(original, tmp_path):
    listing, signals = tmp_path / "hashes.txt", tmp_path / "signals.txt"
    _run("db", "export", "--db", str(original), "--format", "pdq", "-o", str(listing))
    _run("db", "export", "--db", str(original), "--format", "threatexchange", "-o", str(signals))
    with open_store(original, readonly=True) as store:
        pdqs = {
            h.hash.hex for item in store.items(with_hashes=True) for h in item.hashes
            if h.hash.kind == "pdq"
        }  # fmt: skip
    tx_lines = signals.read_text().splitlines()
    assert set(tx_lines) == {f"pdq {h}" for h in pdqs} and len(tx_lines) == len(pdqs)
    copy = tmp_path / "copy.sqlite"
    done = _run(
        "db", "import", str(listing), "--db", str(copy), "--label", "P", "--category", "game"
    )
    assert done.exit_code == 0, done.output
    labels = {r["label"]: r["items"] for r in _list(copy)}
    assert labels == {"Game": 12, "Strike video": 2}  # a video's frames share two hashes
    other = tmp_path / "other.sqlite"
    done = _run("db", "import", str(signals), "--db", str(other), "--label", "TX", "--category",
                "footage")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert {r["label"]: r["items"] for r in _list(other)} == {"TX": len(pdqs)}


def _list(db: Path) -> list[dict]:
    return json.loads(_run("db", "list", "--db", str(db), "--format", "json").stdout)[0]["rows"]


def test_threatexchange_file_as_python_threatexchange_writes_it(tmp_path):
    signals = tmp_path / "signals.txt"
    signals.write_text(f"pdq {_hex(1)}\nurl https://example.org/x\npdq {_hex(2).upper()}\n\n")
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        report = import_pack(
            store, str(signals), ImportOptions(default_source=SourceInfo("TX", "other"))
        )
        assert (report.format, report.items_added, report.skipped) == (
            "threatexchange",
            2,
            {"url": 1},
        )
    with (
        pytest.raises(UsageError, match="--label"),
        open_store(tmp_path / "db2.sqlite", create=True) as store,
    ):
        import_pack(store, str(signals))


def test_vpdq_export_and_import(original, tmp_path):
    folder = tmp_path / "vpdq"
    done = _run("db", "export", "--db", str(original), "--format", "vpdq", "-o", str(folder))
    assert done.exit_code == 0, done.output
    [video] = folder.iterdir()
    assert video.name == f"{99:064x}.txt"
    lines = video.read_text().splitlines()
    assert lines[0] == f"0,90,{_hex(99)},0.000"
    assert [line.split(",")[3] for line in lines] == ["0.000", "1.500", "4.250", "9.125"]
    copy = tmp_path / "copy.sqlite"
    done = _run("db", "import", str(video), "--db", str(copy), "--label", "Strike video",
                "--category", "footage")  # fmt: skip
    assert done.exit_code == 0, done.output
    with open_store(copy, readonly=True) as store:
        items = store.items(with_hashes=True)
        assert [i.frame_time for i in items] == [0.0, 1.5, 4.25, 9.125]
        assert {i.item_key for i in items} == {f"{99:064x}"}
        assert items[0].hashes[0].quality == 90 and items[0].hashes[0].hash.hex == _hex(99)


def test_meta_vpdq_file_imports_as_one_video(tmp_path):
    """Lines as vpdq-hash-video writes them (frame numbers of a 30 fps video, 3 decimals)."""
    hashes = tmp_path / "clip-hashes.txt"
    hashes.write_text(f"0,100,{_hex(5)},0.000\n30,99,{_hex(6)},1.000\n60,40,{_hex(7)},2.002\n")
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        options = ImportOptions(default_source=SourceInfo("Clip", "footage"))
        report = import_pack(store, str(hashes), options)
        assert (report.format, report.items_added) == ("vpdq", 3)
        assert import_pack(store, str(hashes), options).items_present == 3
        [key] = {item.item_key for item in store.items()}
        assert key.startswith("vpdq:")


def test_newer_pack_adds_reports_removed_and_prunes(tmp_path):
    old = _fill(tmp_path / "v1.sqlite", range(6))
    new = _fill(tmp_path / "v2.sqlite", range(2, 9), video=False)
    old_pack, new_pack = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    _run("db", "export", "--db", str(old), "-o", str(old_pack))
    _run("db", "export", "--db", str(new), "-o", str(new_pack))
    desk = tmp_path / "desk.sqlite"
    _run("db", "import", str(old_pack), "--db", str(desk))
    update = _run("db", "import", str(new_pack), "--db", str(desk))
    assert "3 items added, 4 already present" in update.output
    assert "2 items of these sources are no longer in the pack" in update.output
    assert {r["label"]: r["items"] for r in _list(desk)} == {"Game": 9, "Strike video": 4}
    pruned = _run("db", "import", str(new_pack), "--db", str(desk), "--prune")
    assert "pruned 2 items" in pruned.output
    assert {r["label"]: r["items"] for r in _list(desk)} == {"Game": 7, "Strike video": 4}
    with open_store(desk, readonly=True) as store:
        assert sorted(i.origin for i in store.items(source_id=1)) == sorted(
            f"/data/{i}.jpg" for i in range(2, 9)
        )


def test_empty_and_binary_inputs_name_the_problem(tmp_path):
    empty, blob = tmp_path / "empty.txt", tmp_path / "blob.gz"
    empty.write_text("\n# only a comment\n")
    blob.write_bytes(b"\x1f\x8b" + bytes(range(256)))
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        with pytest.raises(FormatError, match=r"empty\.txt: nothing to import"):
            import_pack(store, str(empty))
        with pytest.raises(FormatError, match=r"blob\.gz: the compressed data is corrupt"):
            import_pack(store, str(blob))
    gz = tmp_path / "text.gz"
    gz.write_bytes(gzip.compress(b"\xff\xfe not utf-8\n"))
    with open_store(tmp_path / "db.sqlite") as store, pytest.raises(FormatError, match="UTF-8"):
        import_pack(store, str(gz))


def test_a_desks_own_source_is_not_pruned_by_a_pack_that_shares_its_label(tmp_path):
    desk = _fill(tmp_path / "desk.sqlite", range(4), video=False)  # added by hand: no pack
    publisher = _fill(tmp_path / "pub.sqlite", range(2, 6), video=False)
    pack = tmp_path / "pack.jsonl"
    _run("db", "export", "--db", str(publisher), "-o", str(pack))
    first = _run("db", "import", str(pack), "--db", str(desk), "--prune")
    assert "2 items added, 2 already present" in first.output
    assert "pruned" not in first.output and "no longer" not in first.output
    assert {r["label"]: r["items"] for r in _list(desk)} == {"Game": 6}

"""What reading a file's own metadata costs per image, next to a default scan of the same image.

    python benchmarks/metadata_cost.py [--rounds 5] [--mosaics 1]

Scan (the baseline): decode, fingerprint with keypoints (the default), read the metadata and
match against the bundled pack, as ``provcheck serve`` does for an upload (``hash_bytes`` +
``judge``). Metadata: the call the hashing worker makes for it (``read_metadata`` on the decoded
image's EXIF block and working copy: the EXIF facts, the embedded thumbnail decoded and compared
with the working copy, the C2PA marker search and, when the file has a manifest, c2pa-python's
read and validation), timed alone on the same image in the same round.

Pictures: devset gameplay frames (they match the bundled pack), scikit-image's photographs
(512 px, no match: the cheapest scans, so the largest ratios) and 8 MP mosaics of devset frames;
each in three versions: stripped (no metadata), camera EXIF (dates, make, model, software, GPS,
a 160x120 letterboxed thumbnail), and camera EXIF plus a C2PA manifest signed with a throwaway
chain. Rounds alternate scan and metadata per image; a ratio is metadata time / scan time of
the same image in the same round. Timings are wall-clock on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from provcheck.matching.verdict import judge
from provcheck.media.images import LoadedImage, decode_image
from provcheck.services.scan import hash_bytes
from provcheck.signals.c2pa import TrustList
from provcheck.signals.metadata import read_metadata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from realimages import DEVSET_FRAMES, make_mosaics  # noqa: E402

from tests.c2pa_signing import CAMERA, Chain, manifest, sign  # noqa: E402
from tests.exif_blocks import camera_thumbnail, pillow_exif, with_thumbnail  # noqa: E402

VERSIONS = ("stripped", "exif", "exif+c2pa")


def camera_exif(picture: Image.Image) -> bytes:
    exif = pillow_exif(
        make="Canon",
        model="Canon EOS R6",
        software="Firmware Version 1.8.1",
        captured="2024:03:05 14:22:10",
        captured_offset="+01:00",
        digitized="2024:03:05 14:22:10",
        gps=(48.856613, 2.352222),
        orientation=1,
    )
    return with_thumbnail(exif.tobytes(), camera_thumbnail(picture))


def versions(picture: Image.Image, chain: Chain) -> dict[str, bytes]:
    picture = picture.convert("RGB")
    stripped, exif = io.BytesIO(), io.BytesIO()
    picture.save(stripped, "JPEG", quality=90)
    picture.save(exif, "JPEG", quality=90, exif=camera_exif(picture))
    signed = sign(exif.getvalue(), "image/jpeg", chain, manifest(CAMERA))
    return {"stripped": stripped.getvalue(), "exif": exif.getvalue(), "exif+c2pa": signed}


def pictures(mosaics: int, workdir: Path, devset: Path) -> dict[str, list[Image.Image]]:
    import numpy as np
    import skimage.data as sk

    frames = sorted(devset.rglob("*.jpg"))[::6]
    photos = ("astronaut", "chelsea", "coffee", "rocket", "retina", "immunohistochemistry")
    out = {
        "devset frame": [Image.open(f).convert("RGB") for f in frames],
        "photo 512px": [Image.fromarray(np.asarray(getattr(sk, n)())) for n in photos],
    }
    if mosaics:
        paths = make_mosaics(workdir, per_game=mosaics, devset=devset)
        out["8 MP mosaic"] = [Image.open(p).convert("RGB") for p in paths]
    return out


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


_LOADED: dict[int, LoadedImage] = {}


def _loaded(data: bytes) -> LoadedImage:
    """The decoded image the worker already holds when it reads the metadata."""
    if id(data) not in _LOADED:
        _LOADED[id(data)] = decode_image(data, "x")
    return _LOADED[id(data)]


def _metadata(data: bytes, trust: TrustList) -> object:
    loaded = _loaded(data)
    return read_metadata(data, loaded.exif, loaded.image, loaded.format, trust)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mosaics", type=int, default=1, help="8 MP mosaics per game (0: none)")
    parser.add_argument("--devset", type=Path, default=DEVSET_FRAMES, help="devset frames folder")
    args = parser.parse_args()
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp()  # the bundled pack only, never a user db
    from provcheck.services.databases import open_references

    chain = Chain()
    workdir = Path(tempfile.mkdtemp())
    anchors = workdir / "anchors.pem"
    anchors.write_bytes(chain.root_pem)
    from provcheck.signals.c2pa import load_trust_list

    trust = load_trust_list(anchors)
    groups = pictures(args.mosaics, workdir / "mosaics", args.devset)
    files = {
        (group, version, n): data
        for group, items in groups.items()
        for n, picture in enumerate(items)
        for version, data in versions(picture, chain).items()
    }
    with open_references() as refs:
        scan = {key: [] for key in files}
        meta = {key: [] for key in files}
        for data in files.values():  # warm-up: lazy imports, caches, c2pa context
            judge(hash_bytes(data, "x", trust), refs.matcher)
            _metadata(data, trust)
        for _ in range(args.rounds):
            for key, data in files.items():
                scan[key].append(
                    timed(lambda d=data: judge(hash_bytes(d, "x", trust), refs.matcher))
                )
                meta[key].append(timed(lambda d=data: _metadata(d, trust)))
    print(
        f"{args.rounds} rounds, {len(files)} files; scan = decode + fingerprint (keypoints)"
        " + metadata + match; ratio = metadata / scan, same image, same round"
    )
    print(
        f"{'pictures':14} {'version':10} {'n':>3} {'scan ms':>8} {'metadata ms':>12}"
        f" {'ratio min':>10} {'median':>7} {'max':>7}"
    )
    for group in groups:
        for version in VERSIONS:
            keys = [k for k in files if k[0] == group and k[1] == version]
            ratios = [m / s for k in keys for m, s in zip(meta[k], scan[k], strict=True)]
            scan_ms = statistics.median(t for k in keys for t in scan[k]) * 1000
            meta_ms = statistics.median(t for k in keys for t in meta[k]) * 1000
            print(
                f"{group:14} {version:10} {len(keys):3d} {scan_ms:8.1f} {meta_ms:12.2f}"
                f" {min(ratios):10.1%} {statistics.median(ratios):7.1%} {max(ratios):7.1%}"
            )


if __name__ == "__main__":
    main()

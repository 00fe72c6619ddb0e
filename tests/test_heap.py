"""The PDQ hasher sets up the heap so hashing a working copy does not page-fault afresh."""

from __future__ import annotations

import subprocess
import sys

import pytest

from provcheck.signals.heap import keep_hashing_buffers

# Minor page faults per PDQ hash of a 512x288 working copy, in a fresh interpreter; ``{hash}`` is
# either the provcheck hasher or pdqhash called directly (glibc's defaults).
_FAULTS = """
import resource
import numpy as np
from PIL import Image
{setup}
image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (288, 512, 3), dtype=np.uint8))
array = np.asarray(image)
for _ in range(3):
    {hash}
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    {hash}
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_hash(setup: str, call: str) -> float:
    code = _FAULTS.format(setup=setup, hash=call)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return float(out.stdout)


@pytest.mark.slow
def test_pdq_hashes_reuse_heap_memory() -> None:
    if not keep_hashing_buffers():
        pytest.skip("not glibc: the heap is left alone")
    plain = _faults_per_hash("import pdqhash", "pdqhash.compute(array)")
    if plain < 200:
        pytest.skip(f"this C library does not page-fault here ({plain:.0f} per hash)")
    tuned = _faults_per_hash(
        "from provcheck.signals.fingerprint import PdqHasher", "PdqHasher().compute(image)"
    )
    assert tuned < 50, f"{tuned:.0f} page faults per hash (glibc defaults: {plain:.0f})"

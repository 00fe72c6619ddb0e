"""glibc heap settings for a process that hashes many pictures: PDQ without page faults.

pdqhash turns each 512 px working copy into float luma through numpy temporaries of ~1.2 MB. By
default glibc serves a block that size with a fresh ``mmap`` (its threshold adapts, but only up to
the largest block freed so far) and hands free memory at the top of the heap back to the kernel
once it passes twice that, so every hash touched ~2.8 MB of new pages: ~690 minor page faults,
about 40 % of PDQ's time on a 720p video frame (3.6 ms against 2.4 ms per hash, measured). Fixing
the two thresholds a little above those blocks keeps them on the heap, reused from hash to hash,
for at most ``TRIM_THRESHOLD`` of memory held back.

Only a speed matter: on other C libraries (macOS, musl, Windows) nothing is changed.
"""

from __future__ import annotations

import sys
from functools import cache

#: Blocks up to this size come from the heap instead of a fresh ``mmap`` each time.
MMAP_THRESHOLD = 4 * 1024 * 1024
#: Free memory kept at the top of the heap before it is returned to the kernel.
TRIM_THRESHOLD = 8 * 1024 * 1024

# <malloc.h> parameter numbers (glibc)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@cache
def keep_hashing_buffers() -> bool:
    """Set glibc's mmap and trim thresholds for the process, once; whether they were set.

    Called by the PDQ hasher before its first hash, so every entry point (CLI, server,
    benchmarks, library use) hashes the same way; ctypes is imported only then."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import os

    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (ValueError, OSError):  # not glibc (musl has no such name)
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; fixing either threshold also stops glibc adapting it.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )

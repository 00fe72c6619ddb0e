"""How much a picture shows: flat (nothing to compare) or not.

PDQ's quality score (``hashes.MIN_QUALITY``) says whether the hashes *alone* can be trusted: it
sums grey-level steps of a 64x64 copy, so it falls with contrast and softness as much as with a
lack of content. A hazy, dim or blurred copy of a good picture scores low while it still shows
everything its reference shows. What no evidence can decide is a *flat* picture: one colour, a
black frame with sensor noise, a blank screen, noise on a flat colour. Flatness is measured here
on a block-averaged copy (noise averages out) as the spread of grey levels, which does not care
how soft the picture is, only whether anything in it varies.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Side of the block-averaged copy flatness is measured on: PDQ's own scale, coarse enough that
#: sensor noise and JPEG noise average away (a 512 px working copy: 8x8 blocks).
FLAT_SIDE = 64
#: A picture whose block-averaged grey levels spread less than this (standard deviation, grey
#: levels of 255) is flat. Measured (benchmarks/soft_corpus.py): one colour 0, black frames with
#: sensor noise and noise of up to 12 levels on a flat colour at most 0.62, under any edit;
#: 95% of real wallpapers and photos 2.1 or more, and 0.9 or more under a 60% grey veil. Only a
#: fast exit: a picture above it still needs strong evidence to match.
FLAT_SPREAD = 1.0


def grey_spread(image: Image.Image) -> float:
    """Standard deviation of the grey levels of a ``FLAT_SIDE`` block-averaged copy."""
    small = image.convert("L").resize((FLAT_SIDE, FLAT_SIDE), Image.Resampling.BOX)
    return float(np.asarray(small, dtype=np.float32).std())


def is_flat_grey(blocks: np.ndarray) -> bool:
    """``is_flat`` for a block-averaged grey copy already at hand (a video sampler's thumbnail):
    the spread of its levels under ``FLAT_SPREAD``."""
    return blocks.size == 0 or float(np.asarray(blocks, dtype=np.float32).std()) < FLAT_SPREAD


def is_flat(image: Image.Image) -> bool:
    """Nothing to compare: one colour, a black frame, a blank screen, noise on a flat colour."""
    return grey_spread(image) < FLAT_SPREAD

"""Matching: a query fingerprint against loaded references -> decided, scored, ranked matches,
and the verdict on an input. Pure: no file or network I/O beyond the reference stores' reads.

``matcher`` orchestrates ``candidates`` (hash and keypoint retrieval), ``verification`` and
``geometry`` (do the keypoints agree on one transform), ``calibration`` (the decision and the
confidence) and ``ranking`` (evidence and ``agreement``, the pixels of a preview); ``verdict``
turns matches into an input's status; ``segments`` and ``timeline`` place clips and stills in
time against reference videos.
"""

"""Search: exact nearest-neighbour lookups over packed binary codes, knowing nothing of items,
sources or databases. ``hash_index`` (whole-picture hashes: a linear scan and a multi-index that
answers exactly as it does), ``keypoint_index`` (which references own descriptors near a query's
keypoints), ``nearest`` (the two nearest descriptors, for verification)."""

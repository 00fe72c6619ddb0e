"""A keypoint retrieval index made of several parts, answering exactly as one index over all of
them would.

Building ``KeypointIndex`` costs about 1 s per million descriptors (13 s at 100k references of
128 descriptors), so an index kept in step with a growing shared store (``store.postgres``) cannot
be rebuilt for every few references a colleague adds. Instead the references added since the last
build form a small part of their own, and parts are merged from time to time (``merge_plan``:
log-structured, so each descriptor is rebuilt O(log n) times over the life of a store).

Exactness: a part holds whole items (every descriptor of an item is in one part), and a query is
answered over the union: a slot is a stop word when the SUM of its runs over the parts exceeds the
stop-word limit of the union's item count, and votes are weighed by the union's item count, so
``vote_arrays`` returns what ``KeypointIndex.build`` over the concatenated parts returns
(tests/test_tiered_keypoints.py checks it against that).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from provcheck.search.keypoint_index import (
    MIN_STOP_WORD,
    STOP_WORD_SHARE,
    KeypointIndex,
    VoteArrays,
    Votes,
    query_slots,
    tally_votes,
)

#: A part is merged into the one before it once it holds at least this share of that one's rows.
MERGE_RATIO = 0.25


class TieredKeypointIndex:
    """``KeypointIndex``'s queries over several parts holding disjoint items."""

    def __init__(self, parts: Sequence[KeypointIndex]) -> None:
        self.parts = [part for part in parts if len(part)]
        self.items = sum(part.items for part in self.parts)
        self.stop_word = max(MIN_STOP_WORD, int(STOP_WORD_SHARE * self.items))

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def nbytes(self) -> int:
        return sum(part.nbytes for part in self.parts)

    def votes(self, query: np.ndarray | None, max_distance: int) -> dict[int, Votes]:
        """Items owning a descriptor within ``max_distance`` of some query keypoint."""
        return self.vote_arrays(query, max_distance).as_votes()

    def vote_arrays(self, query: np.ndarray | None, max_distance: int) -> VoteArrays:
        if query is None or len(query) == 0 or len(self) == 0:
            return VoteArrays.empty()
        query = np.ascontiguousarray(query, dtype=np.uint8).reshape(-1, 32)
        slots = query_slots(query)
        runs = [part.slot_runs(slots) for part in self.parts]
        stop = sum(lengths for _lo, lengths in runs) > self.stop_word
        owners: list[np.ndarray] = []
        voters: list[np.ndarray] = []
        for part, (lo, lengths) in zip(self.parts, runs, strict=True):
            lengths[stop] = 0
            q_rows, s_rows = part.expand_runs(slots, lo, lengths)
            if len(q_rows):
                found, by = part.close_owners(query, q_rows, s_rows, max_distance)
                owners.append(found)
                voters.append(by)
        if not owners:
            return VoteArrays.empty()
        return tally_votes(np.concatenate(owners), np.concatenate(voters), len(query), self.items)


def merge_plan(sizes: Sequence[int]) -> int:
    """How many of the last parts (rows ``sizes``, oldest first) to merge into one: 0 when the
    parts are in shape, else from the first part whose successors together reach
    ``MERGE_RATIO`` of it."""
    for i in range(len(sizes) - 1):
        if sum(sizes[i + 1 :]) >= MERGE_RATIO * sizes[i]:
            return len(sizes) - i
    return 0


#: What a scan's keypoint retrieval runs on: one index, or one in parts.
KeypointSearch = KeypointIndex | TieredKeypointIndex

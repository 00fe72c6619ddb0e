"""Why the evidence report has no picture of a reference: the true reason, from its database."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from provcheck.matching.match import Match
from provcheck.store import Store

#: Said where no reason is known for a missing reference picture.
NO_PREVIEW = "no preview stored for this reference"


def missing_preview_reasons(stores: Iterable[Store]) -> Callable[[Match], str]:
    """Why a reference has no stored preview, as far as its database can tell: an item without
    keypoints came from a hash-only import (a PDQ list, an export without pictures); one with
    keypoints was added with --no-thumbnails or imported without its previews."""
    by_name = {str(store.path): store for store in stores}

    def reason(match: Match) -> str:
        store = by_name.get(match.database)
        if store is None:
            return NO_PREVIEW
        if not store.features([match.item.id]):
            return (
                "no preview: this reference came from a hash-only import (hashes and"
                " provenance, no pictures)"
            )
        return (
            "no preview: this reference was added with --no-thumbnails or imported"
            " without its previews (db export --thumbnails carries them)"
        )

    return reason

"""Time ranges of matches on video frames: the frame's own stretch and look-alikes elsewhere."""

from __future__ import annotations

from datetime import date

from provcheck.matching.match import Match
from provcheck.matching.references import ReferenceSet
from provcheck.matching.timeline import SAME_PICTURE_BITS, with_stretches
from provcheck.report.records import match_record
from provcheck.report.text import describe_match
from provcheck.signals.hashes import Hash
from provcheck.store import SourceInfo, StoredHash, open_store


def _pdq(first_bits: int, base: int = 0) -> list[StoredHash]:
    """A PDQ hash: byte ``base`` repeated, with its first ``first_bits`` bits flipped."""
    bits = bytearray([base]) * 32
    for bit in range(first_bits):
        bits[bit // 8] ^= 0x80 >> (bit % 8)
    return [StoredHash(Hash("pdq", bytes(bits)), 90)]


#: A video whose picture A is shown at 0 s (held until 4 s) and again at 6 s; B and C are other
#: pictures. ``near`` differs from A by fewer bits than SAME_PICTURE_BITS, ``far`` by more.
FRAMES = [
    (0.0, _pdq(0)),  # A
    (4.0, _pdq(0, base=0xFF)),  # B
    (6.0, _pdq(SAME_PICTURE_BITS - 2)),  # A again (re-rendered: a few bits off)
    (7.0, _pdq(0, base=0x0F)),  # C
    (9.0, _pdq(SAME_PICTURE_BITS + 20)),  # close to A, but not the same picture
]


def _reference_set(db_path):
    store = open_store(db_path, create=True)
    ids = {}
    with store.transaction():
        sid, _ = store.ensure_source(SourceInfo("Game", "game"))
        for t, hashes in FRAMES:
            ids[t], _ = store.add_item(
                sid, origin="/v.mp4", item_key="v", frame_time=t, hashes=hashes
            )
        ids["still"], _ = store.add_item(sid, origin="/s.png", item_key="s", hashes=_pdq(1))
    return store, ReferenceSet(store, ("pdq",)), ids


def _match(ref: ReferenceSet, item_id: int) -> Match:
    (record,) = ref.store.items([item_id])
    return Match(ref.name, record, {"pdq": 0}, 1.0, "original")


def test_next_frame_time_is_the_next_stored_frame_of_the_same_video(db_path):
    store, _ref, _ids = _reference_set(db_path)
    with store:
        sid = store.sources()[0].id
        assert store.next_frame_time(sid, "v", 0.0) == 4.0
        assert store.next_frame_time(sid, "v", 6.5) == 7.0
        assert store.next_frame_time(sid, "v", 9.0) is None
        assert store.next_frame_time(sid, "other", 0.0) is None


def test_a_frame_reports_its_stretch_then_the_same_picture_elsewhere(db_path):
    store, ref, ids = _reference_set(db_path)
    with store:
        (first,) = with_stretches([_match(ref, ids[0.0])], [ref])
        assert first.shown_at == ((0.0, 4.0), (6.0, 7.0))
        (again,) = with_stretches([_match(ref, ids[6.0])], [ref])
        assert again.shown_at == ((6.0, 7.0), (0.0, 4.0))
        (other,) = with_stretches([_match(ref, ids[4.0])], [ref])
        assert other.shown_at == ((4.0, 6.0),)


def test_last_frame_runs_to_the_end_and_stills_have_no_times(db_path):
    store, ref, ids = _reference_set(db_path)
    with store:
        last, still = with_stretches([_match(ref, ids[9.0]), _match(ref, ids["still"])], [ref])
        assert last.shown_at == ((9.0, None),)
        assert still.shown_at == ()


def test_reports_say_how_long_the_picture_is_held_and_where_else_it_is_shown(db_path):
    store, ref, ids = _reference_set(db_path)
    with store:
        (first,) = with_stretches([_match(ref, ids[0.0])], [ref])
        text = describe_match(first, None)
        assert "frame at 00:00:00.0 (same picture until 00:00:04.0)" in text
        assert "also shown at 00:00:06.0" in text
        record = match_record(first, date(2024, 1, 1))
        assert record["frame_until"] == 4.0
        assert record["same_picture_at"] == [[6.0, 7.0]]
        (short,) = with_stretches([_match(ref, ids[6.0])], [ref])
        assert "(same picture until" not in describe_match(short, None)  # 1 s: ordinary spacing


def test_html_details_show_the_stretch_and_the_other_times(db_path):
    from provcheck.report.html import _details

    store, ref, ids = _reference_set(db_path)
    with store:
        (first,) = with_stretches([_match(ref, ids[0.0])], [ref])
        html = _details(match_record(first, None))
        assert "00:00:00.0 (same picture until 00:00:04.0), also shown at 00:00:06.0" in html

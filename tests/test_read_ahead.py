"""``workers.read_ahead``: a video's frames decoded on a second thread while the ones before are
fingerprinted. Order, errors and stopping early must be exactly those of plain iteration."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from provcheck.errors import InputError
from provcheck.services.workers import read_ahead


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "provcheck-read-ahead"]


def test_every_item_comes_in_order():
    assert list(read_ahead(iter(range(500)), depth=3)) == list(range(500))
    assert list(read_ahead([], depth=3)) == []
    assert not _read_ahead_threads()


def test_an_error_while_producing_is_raised_in_the_consumer_after_the_items_before_it():
    def frames() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("clip.mp4", "corrupt video: too many decode errors")

    got = []
    with pytest.raises(InputError, match=r"clip\.mp4: corrupt video"):
        for item in read_ahead(frames()):
            got.append(item)
    assert got == [1, 2]
    assert not _read_ahead_threads()


class _Source:
    """An iterator that records where it was closed (a video container must be closed on the
    thread that read it) and how far it was read."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed_on: str | None = None

    def __iter__(self) -> Iterator[int]:
        try:
            while True:
                self.produced += 1
                yield self.produced
        finally:
            self.closed_on = threading.current_thread().name


def test_stopping_early_stops_the_producer_and_closes_the_source_on_its_thread():
    source = _Source()
    items = read_ahead(iter(source), depth=2)
    assert [next(items), next(items)] == [1, 2]
    items.close()  # what a ``break`` out of the for loop does
    assert source.closed_on == "provcheck-read-ahead"
    assert source.produced <= 2 + 2 + 1  # what was consumed, the queue's depth, one in hand
    assert not _read_ahead_threads()


def test_an_error_in_the_consumer_stops_the_producer_too():
    source = _Source()
    with pytest.raises(ZeroDivisionError):
        for item in read_ahead(iter(source), depth=4):
            if item == 3:
                raise ZeroDivisionError
    assert source.closed_on == "provcheck-read-ahead"
    assert not _read_ahead_threads()

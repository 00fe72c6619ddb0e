"""The scan service ``provcheck serve`` runs: the loaded references, the hashing workers, the URL
fetches and the request counters, with every bound a hostile client could push on.

The reference indexes are loaded once and only read afterwards (the Matcher serialises its one
SQLite look-up). Uploads and fetched pictures are decoded and fingerprinted in worker processes
(``workers.IsolatedWorkers``), each job within the request's deadline. URLs are fetched in
threads of their own, at most ``URL_SCANS_PER_WORKER`` per worker at a time, each fetch within
the same deadline: a slow or endless server ties up one URL slot, never the uploads. Verdicts
(matching) run in a small thread pool of their own.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from provcheck import __version__
from provcheck.errors import InputError, ProvcheckError
from provcheck.matching.verdict import STATUSES, Fingerprinted, ScanResult, judge
from provcheck.media.deadline import expire_all
from provcheck.media.fetch import FETCH_TIMEOUT_S, Fetched, fetch_image, fetch_image_or_page
from provcheck.media.webpage import DEFAULT_MAX_IMAGES, decode_page, page_images
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary, exit_code
from provcheck.server.workers import IsolatedWorkers
from provcheck.services.databases import References
from provcheck.services.scan import fingerprint_download, hash_bytes
from provcheck.signals.c2pa import TrustList

#: Default cap on a request body: far above a news photo, far below what would hurt the server.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
#: URL scans in flight per hashing worker: they mostly wait on the network.
URL_SCANS_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class ServeSettings:
    max_bytes: int = DEFAULT_MAX_BYTES
    token: str | None = None
    workers: int = 1
    limit: int = 5
    allow_private: bool = False
    page_images: int = DEFAULT_MAX_IMAGES
    c2pa_trust: TrustList | None = None  # PEM anchors for C2PA signers (--c2pa-trust)
    #: Seconds between checks for references colleagues added (``References.refresh``).
    refresh_s: float = 1.0
    #: Seconds a scan request may take in all: body, waiting for a worker, fetching, hashing.
    request_timeout: float = 60.0
    #: Seconds the whole request body may take to arrive.
    body_timeout: float = 10.0
    #: Requests handled at once (the health check is always answered); more get 503.
    max_connections: int = 64


class ServiceBusyError(Exception):
    """The service is at one of its limits: answered 503 with Retry-After."""


@dataclass(slots=True)
class _Counters:
    started: float = field(default_factory=time.time)
    requests: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def count_request(self, outcome: str) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1


class ScanService:
    """Loaded references, hashing workers, fetch threads; its coroutines run on one event loop."""

    def __init__(self, references: References, settings: ServeSettings) -> None:
        self.references = references
        self.settings = settings
        self.database_stats = self._database_stats()
        self.workers = IsolatedWorkers(settings.workers, (hash_bytes, (b"", "warm-up")))
        self.url_slots = URL_SCANS_PER_WORKER * settings.workers
        self._fetchers = ThreadPoolExecutor(max_workers=self.url_slots, thread_name_prefix="fetch")
        self._judges = ThreadPoolExecutor(settings.workers + 1, thread_name_prefix="match")
        self.counters = _Counters()
        self.in_flight = 0  # requests being handled (the app's admission control counts them)
        self._url_scans = 0
        self._closed = False
        self._stop = threading.Event()
        self._refresher = threading.Thread(
            target=self._keep_fresh, name="provcheck-refresh", daemon=True
        )
        self._refresher.start()

    def _database_stats(self) -> list[dict[str, Any]]:
        """Each database's role and counts, for /v1/stats (read when loaded or reloaded, not per
        request)."""
        refs = self.references
        return [
            {"role": ref.role, **store.stats()}
            for store, ref in zip(refs.stores, refs.refs, strict=True)
        ]

    def _keep_fresh(self) -> None:
        """Every ``refresh_s``: load what changed in the databases (a colleague's new
        references are matchable without a restart). A failed check (the server unreachable for
        a moment) is reported once per failure and the loaded references stay in use."""
        while not self._stop.wait(self.settings.refresh_s):
            try:
                if self.references.refresh():
                    self.database_stats = self._database_stats()
            except ProvcheckError as exc:
                print(
                    f"provcheck serve: warning: could not reload references: {exc}", file=sys.stderr
                )

    def close(self) -> None:
        """Stop fetches and workers at once and close the databases; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._refresher.join()
        expire_all("the server is stopping")
        self.workers.close()
        self._fetchers.shutdown(wait=False, cancel_futures=True)
        self._judges.shutdown(wait=False, cancel_futures=True)
        self.references.close()

    def health(self) -> tuple[int, dict[str, Any]]:
        """The truth about whether a scan sent now would be served: (HTTP status, document)."""
        alive = self.workers.alive
        if alive == 0:
            status = "unavailable: no hashing worker is running"
        elif self.in_flight >= self.settings.max_connections:
            status = "busy: every connection is taken"
        else:
            status = "ok"
        doc = {
            "status": status,
            "provcheck": __version__,
            "workers": alive,
            "idle_workers": self.workers.idle,
            "requests_in_flight": self.in_flight,
        }
        return (200 if status == "ok" else 503), doc

    async def scan_upload(
        self, data: bytes, name: str, claimed: date | None, deadline: float
    ) -> dict[str, Any]:
        started = time.perf_counter()
        trust = self.settings.c2pa_trust
        hashed = await self.workers.run(_left(deadline), hash_bytes, data, name, trust)
        return self._document(await self._judged([hashed]), claimed, started)

    async def scan_url(self, url: str, claimed: date | None, deadline: float) -> dict[str, Any]:
        if self._url_scans >= self.url_slots:
            busy = f"{self._url_scans} URL scans are in progress; try again shortly"
            raise ServiceBusyError(busy)
        self._url_scans += 1
        started = time.perf_counter()
        try:
            hashed = await self._fingerprint_url(url, deadline)
        finally:
            self._url_scans -= 1
        return self._document(await self._judged(hashed), claimed, started)

    async def _fingerprint_url(self, url: str, deadline: float) -> list[Fingerprinted]:
        """The URL's fingerprints: the picture or clip it names, or the images of its page."""
        fetched = await self._fetch(fetch_image_or_page, url, deadline)
        if isinstance(fetched, Fingerprinted):
            return [fetched]
        if not fetched.is_page:
            return [await self._fingerprint(fetched, url, None, deadline)]
        found = page_images(decode_page(fetched.data), fetched.url, self.settings.page_images)
        if not found:
            problem = "web page declares no images (og:image, img) to scan"
            return [Fingerprinted(url, error=str(InputError(url, problem)), page=url)]
        out = []
        for image in found:
            got = await self._fetch(fetch_image, image, deadline, page=url)
            if not isinstance(got, Fingerprinted):
                got = await self._fingerprint(got, image, url, deadline)
            out.append(got)
        return out

    async def _fetch(
        self, fetcher: Callable[..., Fetched], url: str, deadline: float, page: str | None = None
    ) -> Fetched | Fingerprinted:
        seconds = min(_left(deadline), FETCH_TIMEOUT_S)
        call = _Fetch(fetcher, url, self.settings.allow_private, seconds)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._fetchers, call.run)
        except InputError as exc:
            return Fingerprinted(url, error=str(exc), page=page)

    async def _fingerprint(
        self, fetched: Fetched, name: str, page: str | None, deadline: float
    ) -> Fingerprinted:
        return await self.workers.run(
            _left(deadline),
            fingerprint_download,
            fetched.data,
            name,
            page=page,
            video=fetched.is_video,
            c2pa_trust=self.settings.c2pa_trust,
        )

    async def _judged(self, hashed: list[Fingerprinted]) -> list[ScanResult]:
        loop = asyncio.get_running_loop()
        matcher, limit = self.references.matcher, self.settings.limit
        return [await loop.run_in_executor(self._judges, judge, h, matcher, limit) for h in hashed]

    def _document(
        self, results: list[ScanResult], claimed: date | None, started: float
    ) -> dict[str, Any]:
        summary = ScanSummary(databases=self.references.databases, claimed_date=claimed)
        for result in results:
            summary.count(result)
            self.counters.results[result.status] += 1
        summary.elapsed_s = time.perf_counter() - started
        summary.exit_code = exit_code(summary.counts)
        return {
            "results": [result_record(r, claimed) for r in results],
            "summary": summary.as_dict(),
        }

    def stats(self) -> dict[str, Any]:
        return {
            "provcheck": __version__,
            "uptime_s": round(time.time() - self.counters.started, 1),
            "workers": self.settings.workers,
            "workers_alive": self.workers.alive,
            "max_bytes": self.settings.max_bytes,
            "databases": self.database_stats,
            "requests": dict(sorted(self.counters.requests.items())),
            "results": dict(self.counters.results),
        }


@dataclass(frozen=True, slots=True)
class _Fetch:
    """One bounded fetch, as a call a thread can run."""

    fetcher: Callable[..., Fetched]
    url: str
    allow_private: bool
    seconds: float

    def run(self) -> Fetched:
        return self.fetcher(self.url, allow_private=self.allow_private, deadline_s=self.seconds)


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value), never below a tick."""
    return max(0.05, deadline - time.monotonic())

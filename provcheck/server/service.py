"""The scan service ``provcheck serve`` runs: the loaded references, the hashing pool and the
request counters. Every method is safe to call from many threads: the reference indexes are loaded
once and only read afterwards (the Matcher serialises its one SQLite look-up); hashing is CPU-bound,
so uploads are decoded and fingerprinted in a process pool while the event loop keeps accepting
requests; URL scans spend their time waiting on the network and run in the thread pool.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool

from provcheck import __version__
from provcheck.errors import ProvcheckError
from provcheck.matching.verdict import STATUSES, ScanResult, judge
from provcheck.media.targets import Target
from provcheck.media.webpage import DEFAULT_MAX_IMAGES
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary, exit_code
from provcheck.services.databases import References
from provcheck.services.scan import ScanOptions, hash_bytes, scan_targets
from provcheck.signals.c2pa import TrustList

#: Default cap on a request body: far above a news photo, far below what would hurt the server.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


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


@dataclass(slots=True)
class _Counters:
    started: float = field(default_factory=time.time)
    requests: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def count_request(self, outcome: str) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1


class ScanService:
    """Loaded references plus the hashing pool; every method is safe to call from many threads."""

    def __init__(self, references: References, settings: ServeSettings) -> None:
        self.references = references
        self.settings = settings
        self.database_stats = [
            {"role": ref.role, **store.stats()}
            for store, ref in zip(references.stores, references.refs, strict=True)
        ]
        # spawn, not fork: forking a process that already runs threads (the server) is unsafe.
        self.pool = ProcessPoolExecutor(
            max_workers=settings.workers, mp_context=multiprocessing.get_context("spawn")
        )
        # Start the workers now (importing numpy and the hashers), not on the first request.
        for warm in [self.pool.submit(hash_bytes, b"", "warm-up") for _ in range(settings.workers)]:
            warm.result()
        self.counters = _Counters()
        self._closed = False
        self._stop = threading.Event()
        self._refresher = threading.Thread(
            target=self._keep_fresh, name="provcheck-refresh", daemon=True
        )
        self._refresher.start()

    def _keep_fresh(self) -> None:
        """Every ``refresh_s``: load what changed in the databases (a colleague's new
        references are matchable without a restart). A failed check (the server unreachable for
        a moment) is reported once per failure and the loaded references stay in use."""
        while not self._stop.wait(self.settings.refresh_s):
            try:
                if self.references.refresh():
                    self.database_stats = [
                        {"role": ref.role, **store.stats()}
                        for store, ref in zip(
                            self.references.stores, self.references.refs, strict=True
                        )
                    ]
            except ProvcheckError as exc:
                print(
                    f"provcheck serve: warning: could not reload references: {exc}", file=sys.stderr
                )

    def close(self) -> None:
        """Stop the workers and close the databases; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._refresher.join()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.references.close()

    def _options(self, claimed: date | None) -> ScanOptions:
        return ScanOptions(
            limit=self.settings.limit,
            jobs=1,
            claimed_date=claimed,
            allow_private=self.settings.allow_private,
            page_images=self.settings.page_images,
            c2pa_trust=self.settings.c2pa_trust,
        )

    async def scan_upload(self, data: bytes, name: str, claimed: date | None) -> dict[str, Any]:
        started = time.perf_counter()
        trust = self.settings.c2pa_trust
        hashed = await asyncio.wrap_future(self.pool.submit(hash_bytes, data, name, trust))
        result = await run_in_threadpool(
            judge, hashed, self.references.matcher, self.settings.limit
        )
        return self._document([result], claimed, started)

    async def scan_url(self, url: str, claimed: date | None) -> dict[str, Any]:
        started = time.perf_counter()
        results = await run_in_threadpool(
            scan_targets, [Target("url", url)], self.references.matcher, self._options(claimed)
        )
        return self._document(results, claimed, started)

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
            "max_bytes": self.settings.max_bytes,
            "databases": self.database_stats,
            "requests": dict(sorted(self.counters.requests.items())),
            "results": dict(self.counters.results),
        }

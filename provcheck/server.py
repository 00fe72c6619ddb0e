"""``provcheck serve``: the scan service over HTTP, for upload systems and newsroom tools.

Routes (all JSON): ``POST /v1/scan`` (a multipart upload in the field ``file``, or a JSON body
``{"url": ...}``) answers with the CLI's JSON document; ``GET /v1/health``; ``GET /v1/stats``.

Concurrency: the reference indexes are loaded once at start-up and only read afterwards (the
Matcher serialises its one SQLite look-up); hashing is CPU-bound, so uploads are decoded and
fingerprinted in a process pool while the event loop keeps accepting requests. URL scans spend
their time waiting on the network and run in the thread pool.

Starlette and uvicorn are the ``provcheck[serve]`` extra: this module is imported only by the
``serve`` command, so the CLI starts without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provcheck import __version__
from provcheck.references import References
from provcheck.report.records import ScanSummary, result_record
from provcheck.scan import (
    STATUSES,
    ScanOptions,
    ScanResult,
    exit_code,
    hash_bytes,
    judge,
    scan_targets,
)
from provcheck.targets import Target
from provcheck.webpage import DEFAULT_MAX_IMAGES

#: Default cap on a request body: far above a news photo, far below what would hurt the server.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_URL_LENGTH = 2048

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ServeSettings:
    max_bytes: int = DEFAULT_MAX_BYTES
    token: str | None = None
    workers: int = 1
    limit: int = 5
    allow_private: bool = False
    page_images: int = DEFAULT_MAX_IMAGES


class _TooLargeError(Exception):
    """The request body is over ``max_bytes`` (answered with 413)."""


class _BadRequestError(Exception):
    """The request is malformed (answered with 400 and the message)."""


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

    def close(self) -> None:
        """Stop the workers and close the databases; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.references.close()

    def _options(self, claimed: date | None) -> ScanOptions:
        return ScanOptions(
            limit=self.settings.limit,
            jobs=1,
            claimed_date=claimed,
            allow_private=self.settings.allow_private,
            page_images=self.settings.page_images,
        )

    async def scan_upload(self, data: bytes, name: str, claimed: date | None) -> dict[str, Any]:
        started = time.perf_counter()
        hashed = await asyncio.wrap_future(self.pool.submit(hash_bytes, data, name))
        result = await run_in_threadpool(
            judge, hashed, self.references.matcher, self._options(claimed)
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


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest on bytes: constant time in the token's content (a length leak is harmless).
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _claimed(value: object) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _BadRequestError("claimed_date must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _BadRequestError(
            f"claimed_date must be a date as YYYY-MM-DD, got {value!r}"
        ) from None


async def _scan_request(service: ScanService, request: Request, body: bytes) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _BadRequestError("the body is not valid JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
            raise _BadRequestError(
                'send {"url": "https://..."} or a multipart upload in field "file"'
            )
        unknown = sorted(set(doc) - {"url", "claimed_date"})
        if unknown:
            raise _BadRequestError(f"unknown field {unknown[0]!r} (known: url, claimed_date)")
        url = doc["url"].strip()
        if len(url) > MAX_URL_LENGTH:
            raise _BadRequestError(f"url is longer than {MAX_URL_LENGTH} characters")
        return await service.scan_url(url, _claimed(doc.get("claimed_date")))
    if ctype == "multipart/form-data":

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
        except HTTPException as exc:
            raise _BadRequestError(f"malformed multipart body ({exc.detail})") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _BadRequestError('no file in the form field "file"')
            data = await upload.read()
            name = upload.filename or "upload"
            claimed = _claimed(form.get("claimed_date"))
        finally:
            await form.close()
        return await service.scan_upload(data, name, claimed)
    raise _BadRequestError(
        'send multipart/form-data with the image in field "file", or application/json {"url": ...}'
    )


def create_app(service: ScanService) -> Starlette:
    """The ASGI application over an already started ``service`` (which the caller closes)."""
    settings = service.settings

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def check(request: Request) -> Response:
            if settings.token is not None and not _authorized(request, settings.token):
                service.counters.count_request("unauthorized")
                return _error(
                    401,
                    "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                    {"WWW-Authenticate": "Bearer"},
                )
            return await endpoint(request)

        return check

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "provcheck": __version__})

    async def stats(_request: Request) -> Response:
        return JSONResponse(service.stats())

    async def scan(request: Request) -> Response:
        try:
            body = await _read_body(request, settings.max_bytes)
            doc = await _scan_request(service, request, body)
        except _TooLargeError:
            service.counters.count_request("too_large")
            return _error(413, f"request body is over the {settings.max_bytes:,}-byte limit")
        except _BadRequestError as exc:
            service.counters.count_request("bad_request")
            return _error(400, str(exc))
        service.counters.count_request("scanned")
        return JSONResponse(doc)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # uvicorn re-raises SIGTERM/SIGINT once it has stopped, which ends the process before
        # the caller's ``finally`` runs: the workers are stopped here, at application shutdown.
        yield
        service.close()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/v1/health", health, methods=["GET"]),
            Route("/v1/stats", guarded(stats), methods=["GET"]),
            Route("/v1/scan", guarded(scan), methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error},
    )


def run(service: ScanService, host: str, port: int) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM and drains open requests)."""
    import uvicorn

    uvicorn.run(create_app(service), host=host, port=port, log_level="warning", access_log=False)

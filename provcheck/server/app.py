"""``provcheck serve``: the scan service over HTTP, for upload systems and newsroom tools.

Routes (all JSON): ``POST /v1/scan`` (a multipart upload in the field ``file``, or a JSON body
``{"url": ...}``) answers with the CLI's JSON document; ``GET /v1/health``; ``GET /v1/stats``.
The work is ``service.ScanService``'s; this module parses requests and renders answers.

Every answer is JSON, failures included: 400 malformed, 401 token, 408 a body that does not
arrive within the body timeout, 413 too large, 503 at a limit (connections, URL scans, a lost
worker; with Retry-After), 504 past the request deadline, 500 a bug. A client that goes away is
not an error worth a traceback.

Starlette and uvicorn are the ``provcheck[serve]`` extra: this package is imported only by the
``serve`` command, so the CLI starts without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from provcheck.server.service import ScanService, ServiceBusyError
from provcheck.server.workers import JobTimeoutError, WorkerLostError

MAX_URL_LENGTH = 2048

Endpoint = Callable[[Request], Awaitable[Response]]


class _TooLargeError(Exception):
    """The request body is over ``max_bytes`` (answered with 413)."""


class _BadRequestError(Exception):
    """The request is malformed (answered with 400 and the message)."""


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


_RETRY = {"Retry-After": "1"}


class _Admission:
    """At most ``max_connections`` requests are handled at once; one more is answered 503 (JSON)
    at once instead of queueing. The health check is always answered, and says it is busy."""

    def __init__(self, app: ASGIApp, service: ScanService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/v1/health":
            await self.app(scope, receive, send)
            return
        service = self.service
        if service.in_flight >= service.settings.max_connections:
            service.counters.count_request("busy")
            busy = _error(503, "the service is busy (every connection is taken); retry", _RETRY)
            await busy(scope, receive, send)
            return
        service.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            service.in_flight -= 1


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


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _scan_request(
    service: ScanService, request: Request, body: bytes, deadline: float
) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _BadRequestError("the body is not valid JSON") from None
        except RecursionError:
            raise _BadRequestError("the JSON is nested too deeply") from None
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
        if not url.isascii() and not _encodable(url):
            raise _BadRequestError("url is not valid text")
        return await service.scan_url(url, _claimed(doc.get("claimed_date")), deadline)
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
        return await service.scan_upload(data, name, claimed, deadline)
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
        status, doc = service.health()
        return JSONResponse(doc, status_code=status)

    async def stats(_request: Request) -> Response:
        return JSONResponse(service.stats())

    async def scan(request: Request) -> Response:
        deadline = time.monotonic() + settings.request_timeout
        try:
            body = await asyncio.wait_for(
                _read_body(request, settings.max_bytes), settings.body_timeout
            )
        except ClientDisconnect:
            service.counters.count_request("disconnected")
            return Response(status_code=400)  # no one is listening; nothing worth a traceback
        except _TooLargeError:
            service.counters.count_request("too_large")
            return _error(413, f"request body is over the {settings.max_bytes:,}-byte limit")
        except TimeoutError:
            service.counters.count_request("body_timeout")
            wait = settings.body_timeout
            return _error(408, f"the request body did not arrive within {wait:g} s")
        return await _scanned(request, body, deadline)

    async def _scanned(request: Request, body: bytes, deadline: float) -> Response:
        try:
            doc = await asyncio.wait_for(
                _scan_request(service, request, body, deadline), deadline - time.monotonic()
            )
        except _BadRequestError as exc:
            service.counters.count_request("bad_request")
            return _error(400, str(exc))
        except (ServiceBusyError, WorkerLostError) as exc:
            service.counters.count_request("busy")
            return _error(503, f"{exc}; retry", _RETRY)
        except (TimeoutError, JobTimeoutError):
            service.counters.count_request("timed_out")
            took = settings.request_timeout
            return _error(504, f"the scan took more than {took:g} s (the request deadline)")
        service.counters.count_request("scanned")
        return JSONResponse(doc)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def internal_error(_request: Request, exc: Exception) -> Response:
        return _error(500, f"internal error: {type(exc).__name__} (please report it)")

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
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        middleware=[Middleware(_Admission, service=service)],
    )


#: Seconds open requests get to finish once SIGTERM (or Ctrl-C) arrives; then they are cut.
GRACEFUL_SHUTDOWN_S = 2


def run(service: ScanService, host: str, port: int) -> None:
    """Serve until interrupted: uvicorn stops on SIGINT/SIGTERM, gives open requests
    ``GRACEFUL_SHUTDOWN_S`` to finish, then the service stops its fetches and workers."""
    import uvicorn

    uvicorn.run(
        create_app(service),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )

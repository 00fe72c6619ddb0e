"""``provcheck serve``: the scan service over HTTP for upload systems."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from provcheck.cli.group import cli
from provcheck.cli.options import (
    c2pa_trust_option,
    db_option,
    limit_option,
    max_distance_option,
    positive,
)
from provcheck.errors import UsageError

if TYPE_CHECKING:
    from provcheck.signals.c2pa import TrustList


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--token",
    envvar="PROVCHECK_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every route but /v1/health."
    " Default: PROVCHECK_TOKEN; none means open.",
)
@click.option(
    "--workers",
    type=int,
    callback=positive,
    help="Hashing processes. Default: all cores.",
)
@click.option(
    "--max-upload-mb",
    type=float,
    default=25.0,
    show_default=True,
    help="Largest request body accepted; larger ones get 413.",
)
@max_distance_option
@limit_option
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=1, max=3600),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Time a scan request may take in all (body, waiting, fetching, hashing); then 504.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.5, max=3600),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Time the request body may take to arrive; then 408.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1, max=100_000),
    default=64,
    show_default=True,
    help="Requests handled at once; more are answered 503 at once (health is always answered).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help='Let {"url": ...} scans reach loopback, private and link-local addresses.',
)
@c2pa_trust_option
def serve(
    dbs: tuple[str, ...],
    host: str,
    port: int,
    token: str | None,
    workers: int | None,
    max_upload_mb: float,
    max_distance: dict[str, int],
    limit: int,
    request_timeout: float,
    body_timeout: float,
    max_connections: int,
    allow_private: bool,
    c2pa_trust: TrustList | None,
) -> None:
    """Run the scan service over HTTP (needs the extra: pip install 'provcheck[serve]').

    POST /v1/scan takes a multipart upload (field "file") or JSON {"url": ...} and answers
    with the same JSON as "scan --format json"; GET /v1/health and GET /v1/stats.

    \b
    Example:
      provcheck serve --db refs.sqlite --port 8000 --token s3cret &
      curl -H 'Authorization: Bearer s3cret' -F file=@photo.jpg http://127.0.0.1:8000/v1/scan
    """
    try:
        from provcheck import server
    except ImportError as exc:
        raise UsageError(
            f"serve needs the 'serve' extra ({exc.name} is missing): pip install 'provcheck[serve]'"
        ) from None
    from provcheck.services.databases import open_references
    from provcheck.services.workers import default_jobs

    if max_upload_mb <= 0:
        raise click.BadParameter("must be above 0", param_hint="--max-upload-mb")
    settings = server.ServeSettings(
        max_bytes=int(max_upload_mb * 1024 * 1024),
        token=token or None,
        workers=workers or default_jobs(),
        limit=limit,
        allow_private=allow_private,
        request_timeout=request_timeout,
        body_timeout=body_timeout,
        max_connections=max_connections,
        c2pa_trust=c2pa_trust,
    )
    with open_references(dbs, max_distance) as references:
        service = server.ScanService(references, settings)
        try:
            refs = sum(int(d["items"]) for d in references.databases)
            click.echo(
                f"provcheck serve: http://{host}:{port}/v1/ ({refs} references in"
                f" {len(references.databases)} databases, {settings.workers} hashing workers,"
                f" {'token required' if settings.token else 'no token'})",
                err=True,
            )
            if settings.token is None and host not in ("127.0.0.1", "::1", "localhost"):
                click.echo(
                    "provcheck serve: warning: listening beyond this machine without --token",
                    err=True,
                )
            server.run(service, host, port)
        finally:
            service.close()

"""``provcheck serve``: the scan service over HTTP (``app``: routes and requests; ``service``:
the loaded references and the hashing pool). Needs the ``serve`` extra (Starlette, uvicorn)."""

from provcheck.server.app import create_app, run
from provcheck.server.service import DEFAULT_MAX_BYTES, ScanService, ServeSettings

__all__ = ["DEFAULT_MAX_BYTES", "ScanService", "ServeSettings", "create_app", "run"]

"""A Dask cluster to hash on (``provcheck[cluster]``): connect to a running scheduler, or start a
LocalCluster on this machine, and check that every worker runs this provcheck.

A worker running another version would hash differently (another sampler, other keypoints) and
store references that do not match what this version scans for: refused, naming the worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from provcheck import __version__
from provcheck.errors import UsageError

#: ``--cluster local``: a LocalCluster of ``--jobs`` worker processes on this machine.
LOCAL = "local"
#: Seconds to wait for a scheduler, and for its first worker.
CONNECT_TIMEOUT_S = 30


def _worker_version() -> str:
    return __version__


@contextmanager
def cluster_client(address: str, local_workers: int) -> Iterator[Any]:
    """A connected ``dask.distributed.Client`` (starting a LocalCluster for ``local``), its
    workers checked; closed (and the LocalCluster stopped) afterwards."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--cluster needs Dask: pip install 'provcheck[cluster]'") from None
    cluster = None
    try:
        if address == LOCAL:
            cluster = LocalCluster(
                n_workers=local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # no fixed port: no clash, no warning
            )
            client = Client(cluster)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise UsageError(f"{address}: cannot reach the Dask scheduler ({exc})") from None
    try:
        _check_workers(client, address)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_workers(client: Any, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise UsageError(f"{address}: no Dask worker joined the scheduler") from None
    for worker, version in sorted(client.run(_worker_version).items()):
        if version != __version__:
            raise UsageError(
                f"Dask worker {worker} runs provcheck {version}, this is {__version__}:"
                " install the same version on every worker"
            )

"""Requests per second of ``provcheck serve`` on one image, against baselines from the same run.

Starts a real server on a free 127.0.0.1 port, then POSTs the same image from N client threads
(each with its own keep-alive session) for a bounded number of requests or seconds. Baselines
measured in the same run: one client against the same server, and the in-process cost of
hashing + matching the image with no HTTP at all (single thread).

    .venv/bin/python benchmarks/serve.py                       # bundled pack, a devset still
    .venv/bin/python benchmarks/serve.py --clients 8 --requests 400 --db refs.sqlite
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

DEVSET = Path("/work/shared/devset/frames")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _default_image() -> Path:
    found = sorted(DEVSET.glob("*/*.jpg"))
    if not found:
        sys.exit("no --image given and no devset stills under /work/shared/devset/frames")
    return found[0]


def _load(base: str, data: bytes, name: str, clients: int, total: int, seconds: float) -> dict:
    """Send up to ``total`` uploads from ``clients`` threads, stopping after ``seconds``."""
    lock = threading.Lock()
    sent = {"n": 0, "ok": 0, "failed": 0}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if sent["n"] >= total or time.perf_counter() > deadline:
                        return
                    sent["n"] += 1
                t0 = time.perf_counter()
                r = session.post(f"{base}/v1/scan", files={"file": (name, data)}, timeout=120)
                dt = time.perf_counter() - t0
                ok = r.status_code == 200 and r.json()["results"][0]["status"] != "error"
                with lock:
                    sent["ok" if ok else "failed"] += 1
                    latencies.append(dt)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": sent["ok"] + sent["failed"],
        "failed": sent["failed"],
        "elapsed": elapsed,
        "rps": (sent["ok"] + sent["failed"]) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
    }


def _in_process(db: list[Path], data: bytes, name: str, seconds: float) -> float:
    from provcheck.matching.verdict import judge
    from provcheck.services.databases import open_references
    from provcheck.services.scan import ScanOptions, hash_bytes

    with open_references(db) as refs:
        options = ScanOptions()
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds or n < 5:
            result = judge(hash_bytes(data, name), refs.matcher, options.limit)
            assert result.status != "error", result.error
            n += 1
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, action="append", default=[])
    parser.add_argument("--image", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300, help="cap on requests per phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="cap on time per phase")
    parser.add_argument("--workers", type=int, help="hashing processes (default: all cores)")
    args = parser.parse_args()

    image = args.image or _default_image()
    data = image.read_bytes()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "provcheck", "serve", "--port", str(port)]
    for db in args.db:
        command += ["--db", str(db)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    env = {k: v for k, v in os.environ.items() if k != "PROVCHECK_TOKEN"}
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        print(f"image: {image} ({len(data):,} bytes); cores: {os.cpu_count()} (shared machine)")
        _load(base, data, image.name, 2, 10, 10.0)  # warm-up
        one = _load(base, data, image.name, 1, args.requests, args.seconds)
        many = _load(base, data, image.name, args.clients, args.requests, args.seconds)
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=60)
    print(err.strip())
    inproc = _in_process(args.db, data, image.name, min(args.seconds, 10.0))
    for label, r in (("1 client", one), (f"{args.clients} clients", many)):
        print(
            f"serve, {label:>10}: {r['rps']:7.1f} req/s  ({r['requests']} requests,"
            f" {r['failed']} failed, {r['elapsed']:.1f} s; p50 {r['p50_ms']:.0f} ms,"
            f" p95 {r['p95_ms']:.0f} ms)"
        )
    print(f"baseline, in-process hash+match, 1 thread, no HTTP: {inproc:7.1f} images/s")
    print(
        f"ratios: {args.clients} clients / 1 client = {many['rps'] / one['rps']:.2f};"
        f" {args.clients} clients / in-process = {many['rps'] / inproc:.2f}"
    )


if __name__ == "__main__":
    main()

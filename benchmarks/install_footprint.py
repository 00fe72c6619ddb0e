"""Install time and environment size of the README's install commands, each in a fresh virtual
environment, next to the core install (no extras) measured in the same run as the baseline.

    python benchmarks/install_footprint.py [--source DIR] [--warm] [--rounds N]

Steps, each in its own new environment unless said otherwise:
  core   pip install -e .                           the baseline: provcheck without extras
  user   pip install -e '.[video,fast,serve,c2pa]'  the README's first command (its install)
  flow   the user install, then in the same environment pip install -e '.[test]': the README's
         two commands in order (the figure printed is the second step alone)
  test   pip install -e '.[test]'                   the test install on its own

Every step installs from a copy of --source (default: this checkout) so the checkout gets no
build files. Cold (default): each step has an empty pip cache, so every package is downloaded,
as for a new user; the times then measure the network as much as the machine. --warm shares one
cache filled by an untimed first install, so the times are unpacking and building only. Sizes
are the environment's files in MiB, as allocated on disk (``du -sm`` also counts the folders
themselves: about 1% more). Needs a reachable package index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER_SPEC = ".[video,fast,serve,c2pa]"
TEST_SPEC = ".[test]"


def _disk_mib(folder: Path) -> float:
    """Disk use of the files under ``folder`` in MiB (allocated blocks, as ``du`` counts them)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                total += path.stat().st_blocks * 512
    return total / 2**20


def _packages(venv: Path) -> int:
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return len(json.loads(listed.stdout))


def _install(venv: Path, source: Path, spec: str, cache: Path) -> float:
    """Seconds to pip-install ``spec`` (editable) from ``source`` into ``venv``."""
    env = {**os.environ, "PIP_CACHE_DIR": str(cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    started = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "-e", spec],
        cwd=source,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _new_venv(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return time.perf_counter() - started


def run_step(step: str, source: Path, work: Path, shared_cache: Path | None) -> str:
    venv = work / f"venv-{step}"
    cache = shared_cache or work / f"cache-{step}"
    seconds = _new_venv(venv)
    if step == "flow":
        _install(venv, source, USER_SPEC, cache)
        seconds = _install(venv, source, TEST_SPEC, cache)
    else:
        spec = {"core": ".", "user": USER_SPEC, "test": TEST_SPEC}[step]
        seconds += _install(venv, source, spec, cache)
    line = f"{step:5s} {seconds:7.1f} s {_disk_mib(venv):7.0f} MiB {_packages(venv):4d} packages"
    shutil.rmtree(venv)
    if shared_cache is None:
        shutil.rmtree(cache, ignore_errors=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--warm", action="store_true", help="share a pre-filled pip cache")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--steps", default="core,user,flow,test", help="comma-separated: core,user,flow,test"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provcheck-footprint-") as tmp:
        work = Path(tmp)
        source = work / "source"
        shutil.copytree(
            args.source,
            source,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".ci-venv", "build", "*.egg-info", "__pycache__"
            ),
        )
        cache = None
        if args.warm:
            cache = work / "cache"
            _new_venv(work / "fill")
            _install(work / "fill", source, TEST_SPEC, cache)
            _install(work / "fill", source, USER_SPEC, cache)
            shutil.rmtree(work / "fill")
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        mode = "warm cache" if args.warm else "cold cache"
        print(f"# {args.source}: {mode}, load average {load}; flow = the test step after user")
        for _ in range(args.rounds):
            for step in args.steps.split(","):
                print(run_step(step, source, work, cache), flush=True)


if __name__ == "__main__":
    main()

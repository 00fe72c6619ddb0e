"""Start-up stays cheap: --help loads no numpy; fingerprinting a query loads no scipy, imagehash
or faiss."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


@pytest.mark.slow
def test_help_path_imports_no_numpy() -> None:
    loaded = _modules_after(
        "from click.testing import CliRunner\n"
        "from provcheck.cli import cli\n"
        "assert CliRunner().invoke(cli, ['--help']).exit_code == 0"
    )
    assert "provcheck.cli" in loaded
    assert not {"numpy", "PIL", "pdqhash", "sqlite3"} & loaded


@pytest.mark.slow
def test_fingerprinting_imports_no_scipy_imagehash_or_faiss() -> None:
    loaded = _modules_after(
        "from PIL import Image, ImageDraw\n"
        "import provcheck.matching.matcher, provcheck.services.scan\n"
        "from provcheck.signals.fingerprint import query_fingerprint\n"
        "im = Image.new('RGB', (200, 150), 'white')\n"
        "ImageDraw.Draw(im).rectangle((20, 30, 120, 90), fill='red')\n"
        "query_fingerprint(im)"
    )
    assert "provcheck.store.sidecars" in loaded
    assert not {"scipy", "imagehash", "faiss"} & loaded  # faiss: only once a candidate is verified

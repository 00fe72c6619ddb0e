"""What an install carries: the license it is given under, no developer script, and no core
dependency the package never imports (imagehash, with scipy and PyWavelets, was one)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_license_file_is_the_apache_license_pyproject_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "provcheck").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_core_dependency_is_imported_by_the_package():
    """A core dependency is installed for every user: it must be one the package uses."""
    by_module = packages_distributions()
    imported = {
        _normalise(dist) for module in _imported_top_levels() for dist in by_module.get(module, [])
    }
    core = {_normalise(Requirement(spec).name) for spec in PYPROJECT["project"]["dependencies"]}
    assert core - imported == set()
    assert "imagehash" not in core  # the pHash tests' reference: in the test extra
    test_extra = PYPROJECT["project"]["optional-dependencies"]["test"]
    assert "imagehash" in {_normalise(Requirement(spec).name) for spec in test_extra}


def test_the_recipe_of_the_bundled_pack_is_outside_the_shipped_package():
    """reference_db/ ships as provcheck.bundled with every module in it; the developer script
    that rebuilds the pack lives in a folder below it that is no package."""
    folder = ROOT / PYPROJECT["tool"]["setuptools"]["package-dir"]["provcheck.bundled"]
    assert sorted(p.name for p in folder.glob("*.py")) == ["__init__.py"]
    assert (folder / "recipe" / "build_pack.py").exists()
    assert not (folder / "recipe" / "__init__.py").exists()


@pytest.mark.slow
def test_the_wheel_ships_the_license_and_no_developer_script(tmp_path):
    """Built from a clean copy of the sources (a checkout's build/ folder can hold stale files)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite-wal", "*.sqlite-shm")
    for name in ("provcheck", "reference_db"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("provcheck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n for n in names if n.startswith("provcheck/bundled/")) == [
        "provcheck/bundled/__init__.py",
        "provcheck/bundled/pack.sqlite",
    ]
    assert not [n for n in names if "build_pack" in n or "recipe" in n]
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert zipfile.ZipFile(wheel).read(license_file) == (ROOT / "LICENSE").read_bytes()

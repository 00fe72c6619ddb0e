"""docs/workflow.md cannot drift from the commands and the config keys it documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from provcheck.cli import cli
from provcheck.cli.config import KEYS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "workflow.md").read_text()


@pytest.mark.parametrize(
    "option",
    [
        p.opts[0]
        for p in cli.commands["serve"].params  # type: ignore[attr-defined]
        if p.opts[0].startswith("--")
    ]
    + ["--config", "--no-config", "--allow-private", "--page-images"],
)
def test_option_documented(option):
    assert f"`{option}" in DOC


@pytest.mark.parametrize("key", list(KEYS))
def test_config_key_documented(key):
    assert f"`{key}`" in DOC

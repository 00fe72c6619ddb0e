"""The pre-commit hook run for real against a temporary git repository, and the GitHub Action's
scan step run by bash the way the runner runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, pictures, ref_db, monkeypatch) -> Path:
    """A git repository whose provcheck.toml points at the test references."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "newsroom"
    path.mkdir()
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "desk@example.org")
    _git(path, "config", "user.name", "Photo Desk")
    (path / "provcheck.toml").write_text(f'databases = ["{ref_db}"]\nfail_on = "match"\n')
    return path


def _local_config(repo: Path) -> None:
    """Our hook manifest as a `repo: local` hook. pre-commit's `language: python` would build a
    virtualenv and pip-install provcheck and its dependencies from a package index; tests must
    run offline, so the hook runs this interpreter's provcheck (`language: system`) with every
    other field exactly as published (see docs/workflow.md for what was tried)."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["language"] == "python"
    assert hook["entry"].startswith("provcheck ")
    local = {
        **hook,
        "language": "system",
        "entry": f"{sys.executable} -m provcheck {hook['entry'].removeprefix('provcheck ')}",
    }
    local.pop("minimum_pre_commit_version", None)
    local.pop("additional_dependencies", None)  # installed into this interpreter already
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))


def _pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", *args],
        cwd=repo,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,  # a published hook's first run builds its environment from a package index
    )


@pytest.mark.slow
def test_pre_commit_hook_blocks_a_recycled_picture(repo, pictures):
    _local_config(repo)
    shutil.copy(pictures["unknown"], repo / "fresh.JPG")
    (repo / "notes.txt").write_text("not a picture\n")
    _git(repo, "add", ".")
    run = _pre_commit(repo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Passed" in run.stdout
    _git(repo, "commit", "-q", "-m", "fresh")

    shutil.copy(pictures["known"], repo / "strike.jpg")
    _git(repo, "add", "strike.jpg")
    run = _pre_commit(repo)
    assert run.returncode == 1
    assert "MATCH  strike.jpg" in run.stdout
    assert "fresh.JPG" not in run.stdout  # only staged files are scanned
    assert "1 input: 1 match" in run.stdout

    run = _pre_commit(repo, "--all-files")
    assert run.returncode == 1
    assert "2 inputs: 1 match, 1 clean" in run.stdout  # notes.txt is not passed


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PROVCHECK_TEST_PRECOMMIT_INSTALL") != "1",
    reason="pre-commit's language: python installs provcheck's dependencies from a package"
    " index; set PROVCHECK_TEST_PRECOMMIT_INSTALL=1 where one is reachable",
)
def test_pre_commit_try_repo_installs_the_published_hook(repo, pictures):
    shutil.copy(pictures["known"], repo / "strike.jpg")
    _git(repo, "add", "strike.jpg")
    run = subprocess.run(
        [str(BIN / "pre-commit"), "try-repo", str(ROOT), "provcheck"],
        cwd=repo,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "MATCH  strike.jpg" in run.stdout


#: Where the hook and the action are shown for users to copy.
SNIPPET_FILES = ("README.md", "docs/workflow.md", ".pre-commit-hooks.yaml", "action.yml")


def _documented_revs() -> list[tuple[str, str]]:
    """(file, rev) for each ``rev:`` of a provcheck snippet and each ``provcheck/provcheck@REF``."""
    found = []
    for name in SNIPPET_FILES:
        text = (ROOT / name).read_text()
        for pattern in (r"^[\s#-]*rev:\s*([^\s#`]+)", r"uses:\s*provcheck/provcheck@([^\s#`]+)"):
            found += [(name, rev) for rev in re.findall(pattern, text, flags=re.MULTILINE)]
    return found


def test_every_documented_rev_resolves_in_this_repository():
    """A snippet users copy must work as written: ``rev: v0.1.0`` named a tag that never existed.
    Every rev and action ref shown must resolve to a commit of this repository."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no refs to resolve the documented revs against")
    revs = _documented_revs()
    assert {name for name, _ in revs} == set(SNIPPET_FILES)
    for name, rev in revs:
        resolved = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        assert resolved.returncode == 0, f"{name}: rev {rev!r} is no commit of this repository"


def test_docs_quote_the_hook_as_it_is_published():
    """docs/workflow.md once said videos were left out of the hook after they were added: what it
    says of the hook's file pattern and dependencies is checked against the manifest."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    doc = (ROOT / "docs" / "workflow.md").read_text()
    section = doc[doc.index("## pre-commit hook") : doc.index("## GitHub Action")]
    assert f"`files: {hook['files']}`" in section
    assert f"files: {hook['files']}\n" in section  # the repo: local example
    assert all(dep in section for dep in hook["additional_dependencies"])
    assert "not in the `files` pattern" not in section
    for extension in ("mp4", "webm", "mkv"):
        assert extension in hook["files"]


def _readme_snippet() -> list[dict]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"```yaml\n(\s*- repo: https://github.com/provcheck/provcheck\n.*?)```", readme, re.S
    )
    assert block, "README has no pre-commit snippet"
    return yaml.safe_load(textwrap.dedent(block.group(1)))


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PROVCHECK_TEST_PRECOMMIT_INSTALL") != "1",
    reason="pre-commit's language: python installs provcheck's dependencies from a package"
    " index; set PROVCHECK_TEST_PRECOMMIT_INSTALL=1 where one is reachable",
)
def test_the_readme_snippet_works_as_written(repo, pictures, ref_db):
    """The README's snippet as a user pastes it, its ``repo`` pointed at this checkout (the one
    change: the tests have no network but the package index) and its ``--db`` at the test
    references; pre-commit clones ``rev``, builds the hook's environment and blocks a match."""
    (entry,) = _readme_snippet()
    assert entry["rev"] == "main"
    entry["repo"] = str(ROOT)
    entry["hooks"][0]["args"] = ["--db", str(ref_db)]
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [entry]}))
    shutil.copy(pictures["known"], repo / "strike.jpg")
    _git(repo, "add", "strike.jpg", ".pre-commit-config.yaml")
    run = _pre_commit(repo)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "MATCH  strike.jpg" in run.stdout


def _action_step(name: str) -> dict:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return next(s for s in action["runs"]["steps"] if s["name"] == name)


def _run_scan_step(tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, dict]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update({k.replace("_", "-"): v for k, v in inputs.items()})
    step = _action_step("Scan")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for var, expr in step["env"].items():
        name = expr.removeprefix("${{ inputs.").removesuffix(" }}")
        env[var] = values[name]
    env["GITHUB_OUTPUT"] = str(tmp_path / "github_output")
    run = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = {}
    if (tmp_path / "github_output").exists():
        for line in (tmp_path / "github_output").read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
    return run, outputs


@pytest.mark.slow
def test_action_scan_step_writes_report_and_applies_policy(tmp_path, pictures, ref_db):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(pictures["known"], inbox / "a.jpg")
    shutil.copy(pictures["unknown"], inbox / "b.jpg")
    run, outputs = _run_scan_step(
        tmp_path, paths="inbox\n", database=str(ref_db), fail_on="match", report="out/r.json"
    )
    assert run.returncode == 1, run.stderr
    assert outputs == {"exit-code": "1", "report": "out/r.json"}
    doc = json.loads((tmp_path / "out" / "r.json").read_text())
    assert [(Path(r["input"]).name, r["status"]) for r in doc["results"]] == [
        ("a.jpg", "match"),
        ("b.jpg", "clean"),
    ]


@pytest.mark.slow
def test_action_scan_step_report_and_never(tmp_path, pictures, ref_db):
    shutil.copy(pictures["known"], tmp_path / "a.jpg")
    run, outputs = _run_scan_step(
        tmp_path, paths="a.jpg", database=str(ref_db), fail_on="never", report="report.json"
    )
    assert run.returncode == 0, run.stderr
    assert outputs == {"exit-code": "0", "report": "report.json"}
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["results"][0]["status"] == "match"
    assert "report written to report.json (exit status 0)" in run.stdout


def test_action_inputs_only_reach_the_script_through_the_environment():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]
    assert {"database", "fail-on", "report", "format", "paths"} <= set(action["inputs"])

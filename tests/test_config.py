"""Config files: discovery, strict validation, and the command line winning over the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.cli.config import find_config, load_config, merge_scan_options, resolve_config
from provcheck.errors import UsageError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_find_config_walks_up_and_prefers_provcheck_toml(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) is None or not str(find_config(deep)).startswith(str(tmp_path))
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')  # no [tool.provcheck]: skipped
    write(tmp_path / "a" / "pyproject.toml", "[tool.provcheck]\nfail_on = 'match'\n")
    assert find_config(deep) == tmp_path / "a" / "pyproject.toml"
    write(tmp_path / "a" / "provcheck.toml", "fail_on = 'error'\n")
    assert find_config(deep) == tmp_path / "a" / "provcheck.toml"
    write(deep / "provcheck.toml", "limit = 2\n")
    assert find_config(deep) == deep / "provcheck.toml"


def test_load_full_config(tmp_path):
    path = write(
        tmp_path / "provcheck.toml",
        """
databases = ["refs/newsroom.sqlite"]
fail_on = "match"
format = "json"
include = ["*.jpg", "*.png"]
exclude = ["drafts/*"]
limit = 3

[max_distance]
pdq = 20
phash = 6
""",
    )
    config = load_config(path)
    assert config.databases == (str(tmp_path / "refs" / "newsroom.sqlite"),)
    assert (config.fail_on, config.format, config.limit) == ("match", "json", 3)
    assert config.include == ("*.jpg", "*.png")
    assert config.exclude == ("drafts/*",)
    assert config.max_distance == {"pdq": 20, "phash": 6}


def test_pyproject_table(tmp_path):
    path = write(tmp_path / "pyproject.toml", "[tool.provcheck]\nlimit = 4\n[tool.ruff]\n")
    assert load_config(path).limit == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail-on = 'match'", "unknown key 'fail-on' (did you mean 'fail_on'?)"),
        ("colour = 'red'", "unknown key 'colour'"),
        ("fail_on = 'macth'", "fail_on must be one of any, match, error, never, got 'macth'"),
        ("format = 'pdf'", "format must be one of"),
        ("limit = '3'", "limit must be a whole number of at least 1, got '3'"),
        ("limit = true", "limit must be a whole number"),
        ("limit = 0", "limit must be a whole number"),
        ("include = '*.jpg'", "include must be a list of glob strings"),
        ("databases = [1]", "databases must be a list of file paths"),
        ("max_distance = 3", "max_distance must be a table"),
        ("[max_distance]\nsha = 3", "max_distance.sha:"),
        ("[max_distance]\npdq = 'x'", "max_distance.pdq must be a whole number"),
        ("[max_distance]\npdq = 200", "max_distance.pdq = 200 would match unrelated images"),
        ("fail_on = ", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path / "provcheck.toml", text + "\n")
    with pytest.raises(UsageError) as info:
        load_config(path)
    text_out = str(info.value)
    assert text_out.startswith(f"{path}: ")
    assert message in text_out
    assert "\n" not in text_out


def test_pyproject_without_table_and_stray_top_level_keys(tmp_path):
    with pytest.raises(UsageError, match=r"no \[tool.provcheck\] table"):
        load_config(write(tmp_path / "pyproject.toml", "[tool.ruff]\n"))
    with pytest.raises(UsageError, match="unknown key 'limit'"):
        load_config(write(tmp_path / "provcheck.toml", "limit = 2\n[tool.provcheck]\nlimit = 3\n"))


def test_resolve_explicit_missing_and_conflicting(tmp_path):
    with pytest.raises(UsageError, match="no such config file"):
        resolve_config(tmp_path / "nope.toml", disabled=False, cwd=tmp_path)
    with pytest.raises(UsageError, match="not both"):
        resolve_config(tmp_path / "nope.toml", disabled=True, cwd=tmp_path)
    write(tmp_path / "provcheck.toml", "limit = 2\n")
    assert resolve_config(None, disabled=True, cwd=tmp_path) is None
    assert resolve_config(None, disabled=False, cwd=tmp_path).limit == 2


def test_merge_command_line_wins(tmp_path, monkeypatch):
    config = load_config(
        write(
            tmp_path / "provcheck.toml",
            'fail_on = "never"\nlimit = 2\ndatabases = ["a.sqlite"]\n[max_distance]\npdq = 20\n'
            "phash = 4\n",
        )
    )
    options = {"fail_on": "any", "limit": 5, "dbs": (), "fmt": "text", "max_distance": {"pdq": 9}}
    merged = merge_scan_options(config, options, given=["fail_on", "max_distance"])
    assert merged["fail_on"] == "any"  # given on the command line
    assert merged["limit"] == 2  # from the file
    assert merged["fmt"] == "text"  # in neither: the default stays
    assert merged["dbs"] == (str(tmp_path / "a.sqlite"),)
    assert merged["max_distance"] == {"pdq": 9, "phash": 4}  # per kind, the command line wins
    monkeypatch.setenv("PROVCHECK_DB", "/elsewhere.sqlite")
    assert merge_scan_options(config, options, given=[])["dbs"] == ()  # environment outranks file


@pytest.fixture
def _scan(monkeypatch):
    def run(args, cwd):
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, ["scan", *args])

    return run


def test_scan_reads_config_and_command_line_wins(tmp_path, pictures, ref_db, _scan):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    write(
        project / "provcheck.toml",
        f'databases = ["{ref_db}"]\nfail_on = "never"\nformat = "json"\n',
    )
    result = _scan([str(pictures["known"])], project / "sub")
    assert result.exit_code == 0, result.output  # fail_on = never from the file
    doc = json.loads(result.output)  # format = json from the file
    assert doc["results"][0]["status"] == "match"
    assert doc["summary"]["databases"][0]["path"] == str(ref_db)

    result = _scan([str(pictures["known"]), "--fail-on", "match", "--format", "jsonl"], project)
    assert result.exit_code == 1  # the command line wins
    assert json.loads(result.output.splitlines()[0])["status"] == "match"

    result = _scan([str(pictures["known"]), "--no-config", "--db", str(ref_db)], project)
    assert result.exit_code == 1
    assert result.output.startswith("MATCH")


def test_scan_with_bad_config_exits_2_with_one_line(tmp_path, pictures, _scan):
    bad = write(tmp_path / "custom.toml", "threshold = 3\n")
    result = _scan([str(pictures["known"]), "--config", str(bad)], tmp_path)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"provcheck: error: {bad}: unknown key 'threshold'; known keys: databases, fail_on,"
        " format, include, exclude, limit, max_distance"
    ]


def test_config_include_exclude_and_distances(tmp_path, pictures, ref_db, _scan):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(pictures["known"].read_bytes())
    (folder / "skip.jpg").write_bytes(pictures["known"].read_bytes())
    (folder / "b.jpeg").write_bytes(pictures["unknown"].read_bytes())
    write(
        tmp_path / "provcheck.toml",
        f'databases = ["{ref_db}"]\nformat = "json"\ninclude = ["*.jpg"]\nexclude = ["skip*"]\n'
        "[max_distance]\npdq = 0\nphash = 0\n",
    )
    doc = json.loads(_scan([str(folder)], tmp_path).output)
    assert [Path(r["input"]).name for r in doc["results"]] == ["a.jpg"]
    assert doc["results"][0]["status"] == "match"
    doc = json.loads(_scan([str(folder), "--include", "*.jpeg"], tmp_path).output)
    assert [Path(r["input"]).name for r in doc["results"]] == ["b.jpeg"]

"""provcheck serve takes video uploads (multipart field ``file``) and answers as the CLI does."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from provcheck.cli import cli
from provcheck.server import ScanService, ServeSettings, create_app
from provcheck.services.databases import open_references
from tests.video_samples import frames_for, write_scenes, write_video


@pytest.fixture(scope="module")
def video_refs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_video")
    reference = write_scenes(folder / "reference.mp4", [(11, 3.0), (12, 3.0), (13, 3.0)])
    db = folder / "refs.sqlite"
    added = CliRunner().invoke(
        cli,
        ["db", "add", str(reference), "--label", "Ref", "--category", "footage", "--db", str(db)],
    )
    assert added.exit_code == 0, added.output
    # A re-posted excerpt: 3 s from the middle of the reference, smaller, in another container.
    excerpt = [(t, im.resize((120, 90))) for t, im in frames_for([(12, 3.0)], 10)]
    clip = write_video(folder / "clip.webm", excerpt, codec="libvpx-vp9")
    return db, clip


def test_video_upload_answers_as_the_cli(video_refs):
    db, clip = video_refs
    references = open_references([db])
    service = ScanService(references, ServeSettings(max_bytes=5_000_000, workers=1))
    try:
        with TestClient(create_app(service)) as client:
            response = client.post(
                "/v1/scan", files={"file": ("clip.webm", clip.read_bytes(), "video/webm")}
            )
    finally:
        service.close()
    assert response.status_code == 200, response.text
    (served,) = response.json()["results"]
    cli_run = CliRunner().invoke(cli, ["scan", str(clip), "--db", str(db), "--format", "json"])
    (scanned,) = json.loads(cli_run.output)["results"]
    assert served["status"] == scanned["status"] == "match"
    assert served["kind"] == scanned["kind"] == "video"
    assert served["frames_sampled"] == scanned["frames_sampled"]
    first, cli_first = served["segments"][0], scanned["segments"][0]
    for key in ("query_start", "query_end", "reference_start", "reference_end", "frames"):
        assert first[key] == cli_first[key]
    assert first["reference"]["label"] == "Ref"
    assert first["reference_start"] == pytest.approx(3.0, abs=1.0)


def test_video_upload_over_the_size_limit_is_refused(video_refs):
    db, clip = video_refs
    references = open_references([db])
    service = ScanService(references, ServeSettings(max_bytes=1_000, workers=1))
    try:
        with TestClient(create_app(service)) as client:
            response = client.post("/v1/scan", files={"file": ("clip.webm", clip.read_bytes())})
    finally:
        service.close()
    assert response.status_code == 413

"""Content Credentials: files signed in the test with a throwaway chain, validated offline; and
what tampered, remote, malformed and hostile manifests give (a finding, never an exception)."""

from __future__ import annotations

import http.server
import io
import json
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from provcheck.signals.c2pa import (
    TrustList,
    has_c2pa_marker,
    load_trust_list,
    read_credentials,
    read_file_credentials,
)
from provcheck.signals.credentials import (
    MAX_LISTED,
    MAX_MANIFEST_JSON,
    credentials_from_store,
)
from tests.c2pa_signing import CAMERA, CLAIM_SIGNING, Chain, manifest, sign
from tests.conftest import synthetic_picture


def encoded(fmt: str, seed: int = 1) -> bytes:
    out = io.BytesIO()
    synthetic_picture(seed, (96, 64)).save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


@pytest.fixture
def trust(chain: Chain, tmp_path: Path) -> TrustList:
    path = tmp_path / "anchors.pem"
    path.write_bytes(chain.root_pem)
    return load_trust_list(path)


@pytest.fixture(scope="module")
def signed_jpeg(chain: Chain) -> bytes:
    return sign(encoded("JPEG"), "image/jpeg", chain)


def test_a_signed_file_against_its_own_anchor_is_trusted(signed_jpeg: bytes, trust: TrustList):
    found = read_credentials(signed_jpeg, "image/jpeg", trust)
    assert found is not None and found.state == "trusted"
    assert (found.signer, found.issuer) == ("Newsroom Camera", "provcheck test")
    assert found.claim_generator == "Test Generator 2.0"
    assert found.title == "signed in a test"
    assert [a.description for a in found.actions] == ["created by a generative AI model"]
    assert found.actions[0].source_type == "trainedAlgorithmicMedia"
    assert found.ai_generated and found.failures == () and found.notes == ()
    record = found.as_dict()
    assert record["state_meaning"] == "signature valid, signer on your trust list"
    assert record["actions"][0]["digital_source_type"] == "trainedAlgorithmicMedia"
    json.dumps(record)


def test_without_a_trust_list_the_same_file_is_valid_not_trusted(signed_jpeg: bytes) -> None:
    found = read_credentials(signed_jpeg, "image/jpeg")
    assert found is not None and found.state == "valid" and found.failures == ()


def test_another_anchor_does_not_make_it_trusted(signed_jpeg: bytes, tmp_path: Path) -> None:
    path = tmp_path / "other.pem"
    path.write_bytes(Chain().root_pem)
    found = read_credentials(signed_jpeg, "image/jpeg", load_trust_list(path))
    assert found is not None and found.state == "valid"


def test_a_claim_signing_certificate_is_accepted(tmp_path: Path) -> None:
    # c2pa-rs accepts only email-protection signers under given anchors unless told the C2PA
    # EKUs: without provcheck's SIGNER_EKUS this file reads "invalid".
    chain = Chain(eku=CLAIM_SIGNING)
    path = tmp_path / "anchors.pem"
    path.write_bytes(chain.root_pem)
    data = sign(encoded("JPEG"), "image/jpeg", chain, manifest(CAMERA))
    found = read_credentials(data, "image/jpeg", load_trust_list(path))
    assert found is not None and found.state == "trusted"
    assert [a.description for a in found.actions] == ["created by a camera"]
    assert not found.ai_generated


def test_changed_pixels_make_the_credentials_invalid(signed_jpeg: bytes, trust: TrustList):
    tampered = bytearray(signed_jpeg)
    tampered[-10] ^= 0xFF  # inside the entropy-coded picture, just before EOI
    found = read_credentials(bytes(tampered), "image/jpeg", trust)
    assert found is not None and found.state == "invalid"
    assert "assertion.dataHash.mismatch" in [code for code, _ in found.failures]
    assert found.signer == "Newsroom Camera"  # what it claims is still reported


def test_a_changed_manifest_makes_the_credentials_invalid(signed_jpeg: bytes) -> None:
    tampered = bytearray(signed_jpeg)
    at = tampered.index(b"Test Generator")
    tampered[at] = ord("X")
    found = read_credentials(bytes(tampered), "image/jpeg")
    assert found is not None and found.state == "invalid"
    assert "claimSignature.mismatch" in [code for code, _ in found.failures]


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp(fmt: str, mime: str, chain: Chain, trust: TrustList) -> None:
    data = sign(encoded(fmt), mime, chain, manifest(CAMERA))
    found = read_credentials(data, mime, trust)
    assert found is not None and found.state == "trusted"
    assert read_credentials(data, None, trust) == found  # the format is found from the bytes


def test_mp4_is_read_from_the_file_by_streaming(tmp_path: Path, chain: Chain, trust: TrustList):
    from tests.video_samples import frames_for, write_video

    plain = write_video(tmp_path / "clip.mp4", frames_for([(1, 1.0)], fps=10))
    assert read_file_credentials(plain, "video/mp4", trust) is None
    signed = tmp_path / "signed.mp4"
    signed.write_bytes(sign(plain.read_bytes(), "video/mp4", chain, manifest(CAMERA)))
    found = read_file_credentials(signed, "video/mp4", trust)
    assert found is not None and found.state == "trusted"
    assert read_credentials(signed.read_bytes(), "video/mp4", trust) == found


def test_an_ingredient_made_by_ai_is_reported(chain: Chain, signed_jpeg: bytes) -> None:
    edited = manifest(CAMERA, action="c2pa.edited", generator="Test Editor")
    edited["assertions"][0]["data"]["actions"] = [{"action": "c2pa.edited"}]
    data = sign(encoded("JPEG", 2), "image/jpeg", chain, edited, ingredient=(signed_jpeg, "jpeg"))
    found = read_credentials(data, "image/jpeg")
    assert found is not None
    assert "edited" in [a.description for a in found.actions]
    assert [(i.relationship, i.has_credentials, i.ai_generated) for i in found.ingredients] == [
        ("parentOf", True, True)
    ]
    assert found.ai_generated


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 - shared with the test on purpose

    def do_GET(self) -> None:
        _Counting.requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    _Counting.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_remote_manifest_is_reported_not_fetched(chain: Chain, local_server: str) -> None:
    url = f"{local_server}/manifest.c2pa"
    data = sign(encoded("JPEG"), "image/jpeg", chain, remote_url=url)
    found = read_credentials(data, "image/jpeg")
    assert found is not None and found.state == "remote" and found.remote_url == url
    assert _Counting.requests == []


def test_a_file_without_markers_never_reaches_the_native_reader(monkeypatch) -> None:
    import c2pa

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the native reader was called")

    monkeypatch.setattr(c2pa, "Reader", boom)
    data = encoded("JPEG")
    assert not has_c2pa_marker(data) and read_credentials(data, "image/jpeg") is None


def test_in_a_jpeg_only_the_segments_before_the_picture_data_are_searched(signed_jpeg: bytes):
    plain = encoded("JPEG")
    assert has_c2pa_marker(signed_jpeg)
    assert not has_c2pa_marker(plain + b"c2pa")  # after the picture data: never a manifest
    broken = plain[:2] + b"\x00" + plain[3:]  # no clean segment chain: the whole file is searched
    assert has_c2pa_marker(broken + b"c2pa")


def test_a_marker_without_a_manifest_is_no_credentials() -> None:
    data = encoded("PNG")
    assert read_credentials(data.replace(b"IEND", b"IEND") + b"c2pa", "image/png") is None


def test_without_c2pa_python_a_manifest_is_noted_not_read(signed_jpeg: bytes, monkeypatch):
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa now raises ImportError
    found = read_credentials(signed_jpeg, "image/jpeg")
    assert found is not None and found.state == "not_checked"
    assert found.notes == ("present, not read (install provcheck[c2pa])",)


def test_garbage_where_the_manifest_was_is_unreadable_not_an_error(signed_jpeg: bytes) -> None:
    start = signed_jpeg.index(b"\xff\xeb")  # the APP11 segment carrying the JUMBF store
    length = int.from_bytes(signed_jpeg[start + 2 : start + 4], "big")
    garbage = bytes(random.Random(5).randrange(256) for _ in range(length - 40))
    hostile = signed_jpeg[: start + 40] + garbage + signed_jpeg[start + 2 + length :]
    found = read_credentials(hostile, "image/jpeg")
    assert found is None or found.state in ("invalid", "unreadable")


def test_random_damage_to_a_manifest_never_raises(signed_jpeg: bytes) -> None:
    start = signed_jpeg.index(b"\xff\xeb")
    length = int.from_bytes(signed_jpeg[start + 2 : start + 4], "big")
    rng = random.Random(11)
    states = set()
    for _ in range(40):
        damaged = bytearray(signed_jpeg)
        for _ in range(3):
            damaged[rng.randrange(start + 4, start + 2 + length)] = rng.randrange(256)
        found = read_credentials(bytes(damaged), "image/jpeg")
        states.add(found.state if found else None)
    assert states <= {"invalid", "unreadable", "valid", None}
    assert "invalid" in states or "unreadable" in states


def test_trust_list_problems_are_one_line_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.pem: cannot read the C2PA trust list"):
        load_trust_list(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match=r"junk\.pem: not a list of PEM certificates"):
        load_trust_list(junk)
    two = tmp_path / "two.pem"
    two.write_bytes(Chain().root_pem + Chain().root_pem)
    assert load_trust_list(two).anchors == 2


def _store(active: dict) -> str:
    return json.dumps({"active_manifest": "m", "manifests": {"m": active}})


def test_hostile_store_fields_of_the_wrong_type_are_ignored() -> None:
    found = credentials_from_store(
        json.dumps(
            {
                "active_manifest": ["not", "a", "label"],
                "manifests": "not a dict",
                "validation_state": 7,
                "validation_results": {"activeManifest": {"failure": [5, {"code": None}]}},
            }
        )
    )
    assert found.state == "invalid" and found.failures == (("?", ""),)
    weird = {
        "title": {"x": 1},
        "signature_info": ["no"],
        "claim_generator_info": "no",
        "assertions": [7, {"label": "c2pa.actions", "data": {"actions": [1, {"action": 2}]}}],
        "ingredients": [None, {"title": 3, "active_manifest": 4}],
    }
    found = credentials_from_store(_store(weird))
    assert found.state == "valid" and found.title is None and found.actions == ()
    assert [i.has_credentials for i in found.ingredients] == [False, False]


def test_long_lists_and_texts_are_bounded() -> None:
    actions = [{"action": "c2pa.edited", "softwareAgent": "x" * 1000}] * (MAX_LISTED + 10)
    found = credentials_from_store(
        _store({"assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]})
    )
    assert len(found.actions) == MAX_LISTED
    assert found.notes == (
        f"C2PA manifest lists {MAX_LISTED + 10} actions; the first 50 are shown",
    )
    assert found.actions[0].software is not None and len(found.actions[0].software) == 301


def test_not_json_or_too_large_is_unreadable() -> None:
    assert credentials_from_store("{not json").state == "unreadable"
    huge = credentials_from_store(" " * (MAX_MANIFEST_JSON + 1))
    assert huge.state == "unreadable" and huge.notes == ("C2PA manifest store is 4.0 MB: not read",)


def test_pillow_still_decodes_a_signed_file(signed_jpeg: bytes) -> None:
    with Image.open(io.BytesIO(signed_jpeg)) as opened:
        opened.load()
        assert opened.size == (96, 64)

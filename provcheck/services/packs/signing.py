"""Who published a pack: Ed25519 key pairs, detached signatures, and their verification.

A signature covers a small statement (JSON) naming the pack's SHA-256, its size in bytes and when
it was signed, rather than the pack's bytes themselves: Ed25519 signs a message held whole in
memory, and a pack may be gigabytes. Verifying means checking the statement's signature against a
key the desk trusts and the pack's bytes against the statement (docs/packs.md, "Signatures").

Keys are files: the private key as PKCS#8 PEM (mode 0600), the public key as SubjectPublicKeyInfo
PEM, the forms OpenSSL and most tools read. The ``cryptography`` library does the mathematics.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provcheck.errors import FormatError, UsageError

SIGNATURE_FORMAT = "provcheck-pack-signature"
SIGNATURE_VERSION = 1
ALGORITHM = "ed25519"


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """What a signature vouches for: these bytes (digest, size), this signer, at this time."""

    sha256: str
    size: int
    signed_at: str
    public_key: str  # raw 32-byte Ed25519 public key, base64

    def message(self) -> bytes:
        """The exact bytes signed: the statement's fields as canonical JSON (sorted keys, no
        spaces), so any implementation can rebuild them."""
        return json.dumps(
            {
                "algorithm": ALGORITHM,
                "format": SIGNATURE_FORMAT,
                "public_key": self.public_key,
                "sha256": self.sha256,
                "signed_at": self.signed_at,
                "size": self.size,
                "version": SIGNATURE_VERSION,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("ascii")


def generate_key_pair(path: Path) -> tuple[Path, Path]:
    """Write a new private key to ``path`` (readable by its owner only) and its public key to
    ``path.pub``. Existing files are never overwritten: a lost private key cannot be undone."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public_path = path.with_name(path.name + ".pub")
    for target in (path, public_path):
        if target.exists():
            raise UsageError(f"{target}: already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the key ({exc.strerror or exc})") from None
    return path, public_path


def _load(path: Path, *, private: bool) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    what = "private" if private else "public"
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} key ({exc.strerror or exc})") from None
    try:
        key = (
            serialization.load_pem_private_key(data, password=None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (ValueError, TypeError):
        hint = " (did you pass the .pub file?)" if private else " (did you pass the private key?)"
        raise UsageError(f"{path}: not a PEM {what} key{hint}") from None
    wanted = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, wanted):
        raise UsageError(f"{path}: not an Ed25519 {what} key")
    return key


def public_key_text(key: Any) -> str:
    """An Ed25519 public key as base64 of its 32 raw bytes: how a signer is named."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_private_key(key_path: Path) -> Any:
    """The signing key, loaded before a pack is written: a wrong key file fails first."""
    return _load(key_path, private=True)


def sign(key: Any, sha256: str, size: int) -> bytes:
    """A detached signature (the ``.sig`` file's bytes) for a pack with this digest and size."""
    statement = SignedStatement(
        sha256=sha256,
        size=size,
        signed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        public_key=public_key_text(key.public_key()),
    )
    signature = base64.b64encode(key.sign(statement.message())).decode("ascii")
    document = {
        "format": SIGNATURE_FORMAT,
        "version": SIGNATURE_VERSION,
        "algorithm": ALGORITHM,
        "sha256": statement.sha256,
        "size": statement.size,
        "signed_at": statement.signed_at,
        "public_key": statement.public_key,
        "signature": signature,
    }
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def verify(
    signature: bytes, trusted_key: Path, sha256: str, size: int, name: str
) -> SignedStatement:
    """The statement of a signature made by ``trusted_key`` over exactly these bytes; raises
    FormatError (signature unreadable) or UsageError (wrong key, other bytes) otherwise."""
    from cryptography.exceptions import InvalidSignature

    key = _load(trusted_key, private=False)
    statement, raw_signature = _parse(signature, name)
    if statement.public_key != public_key_text(key):
        raise UsageError(
            f"{name}: signed by key {statement.public_key}, not by {trusted_key}; refused"
        )
    try:
        key.verify(raw_signature, statement.message())
    except InvalidSignature:
        raise UsageError(
            f"{name}: the signature does not verify with {trusted_key}; refused"
        ) from None
    if statement.sha256 != sha256 or statement.size != size:
        raise UsageError(
            f"{name}: the pack's bytes are not the ones signed (SHA-256 {sha256}, signed"
            f" {statement.sha256}); refused"
        )
    return statement


def _parse(signature: bytes, name: str) -> tuple[SignedStatement, bytes]:
    try:
        document = json.loads(signature.decode("utf-8"))
        if not isinstance(document, dict) or document.get("format") != SIGNATURE_FORMAT:
            raise ValueError("not a provcheck pack signature")
        if document.get("version") != SIGNATURE_VERSION or document.get("algorithm") != ALGORITHM:
            raise ValueError(
                f"signature version {document.get('version')!r} /"
                f" {document.get('algorithm')!r}; this provcheck reads 1 / ed25519"
            )
        statement = SignedStatement(
            sha256=str(document["sha256"]),
            size=int(document["size"]),
            signed_at=str(document["signed_at"]),
            public_key=str(document["public_key"]),
        )
        raw = base64.b64decode(str(document["signature"]), validate=True)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise FormatError(f"{name}: unreadable signature ({exc})") from None
    return statement, raw

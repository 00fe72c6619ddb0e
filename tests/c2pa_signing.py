"""Content Credentials made in the test: a throwaway certificate chain (made with `cryptography`)
and files signed with it by c2pa-python.

What c2pa-python's signer accepts (measured with c2pa-python 0.38, see
/work/notes/metadata/c2pa_signer_matrix.txt): ES256/ES384 (EC P-256/P-384), PS256 (RSA-PSS) and
Ed25519 keys; a leaf that is not a CA, with a critical key usage including digital signature, a
subject and an authority key identifier, and an EKU of email protection, document signing or
C2PA claim signing (server authentication alone, or no EKU, is refused at signing); the chain
handed to the signer is the leaf then the intermediate (the root is the trust anchor). No
timestamp authority: signing stays offline.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLAIM_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAMERA = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "provcheck test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class Chain:
    """Root (the trust anchor), intermediate and signing leaf, all EC P-256."""

    eku: x509.ObjectIdentifier = ExtendedKeyUsageOID.EMAIL_PROTECTION
    signer_name: str = "Newsroom Camera"
    root_pem: bytes = field(init=False)
    chain_pem: bytes = field(init=False)
    key_pem: bytes = field(init=False)

    def __post_init__(self) -> None:
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
        root = _certificate("Test Root", keys[0], "Test Root", keys[0], ca=True)
        inter = _certificate("Test Intermediate", keys[1], "Test Root", keys[0], ca=True)
        leaf = _certificate(
            self.signer_name, keys[2], "Test Intermediate", keys[1], ca=False, eku=self.eku
        )
        self.root_pem = _pem(root)
        self.chain_pem = _pem(leaf) + _pem(inter)
        self.key_pem = keys[2].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def manifest(
    source_type: str = AI, action: str = "c2pa.created", generator: str = "Test Generator"
) -> dict[str, Any]:
    entry = {"action": action, "digitalSourceType": source_type}
    return {
        "claim_generator_info": [{"name": generator, "version": "2.0"}],
        "title": "signed in a test",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [entry]}}],
    }


def sign(
    data: bytes,
    mime: str,
    chain: Chain,
    definition: dict[str, Any] | None = None,
    *,
    ingredient: tuple[bytes, str] | None = None,
    remote_url: str | None = None,
) -> bytes:
    """``data`` signed with ``chain``'s leaf; ``ingredient`` (bytes, mime) is added as the
    parent; ``remote_url`` leaves the manifest out of the file and points at the URL instead."""
    context = c2pa.Context.from_dict(
        {
            "builder": {"thumbnail": {"enabled": False}},
            "verify": {"remote_manifest_fetch": False, "verify_after_sign": False},
        }
    )
    info = c2pa.C2paSignerInfo(b"es256", chain.chain_pem, chain.key_pem, None)
    with (
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(definition or manifest(), context) as b,
    ):
        if ingredient is not None:
            b.add_ingredient(
                {"title": "parent", "relationship": "parentOf"},
                ingredient[1],
                io.BytesIO(ingredient[0]),
            )
        if remote_url is not None:
            b.set_no_embed()
            b.set_remote_url(remote_url)
        out = io.BytesIO()
        b.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()

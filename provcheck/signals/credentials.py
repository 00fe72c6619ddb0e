"""Content Credentials as values: what a C2PA manifest store says, in the few fields a reader of
a provcheck report needs (state, signer, tool, actions, ingredients, validation failures).

``credentials_from_store`` reads the JSON c2pa-python renders from a file's manifest store. That
JSON is the native library's rendering of bytes someone else wrote, so every field is
type-checked and every list and string bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Largest manifest store (as the reader's JSON) read field by field; past it only the state.
MAX_MANIFEST_JSON = 4 * 1024 * 1024
#: Actions, ingredients and validation failures listed; the count of the rest is noted.
MAX_LISTED = 50
#: Characters kept of any text from a manifest.
MAX_TEXT = 300

#: How each state reads. ``trusted``/``valid``/``invalid`` are c2pa's validation states.
STATES = {
    "trusted": "signature valid, signer on your trust list",
    "valid": "signature valid, signer not on your trust list",
    "invalid": "does not validate",
    "remote": "refers to a manifest on the web (not fetched)",
    "unreadable": "present but could not be parsed",
    "not_checked": "present, not read (install provcheck[c2pa])",
}

_ACTIONS = {
    "c2pa.created": "created",
    "c2pa.opened": "opened from an existing file",
    "c2pa.edited": "edited",
    "c2pa.edited.metadata": "metadata edited",
    "c2pa.placed": "another picture placed in it",
    "c2pa.cropped": "cropped",
    "c2pa.resized": "resized",
    "c2pa.orientation": "turned or flipped",
    "c2pa.color_adjustments": "colours adjusted",
    "c2pa.filtered": "filtered",
    "c2pa.drawing": "drawn on",
    "c2pa.removed": "something removed",
    "c2pa.redacted": "redacted",
    "c2pa.converted": "converted to another format",
    "c2pa.transcoded": "transcoded",
    "c2pa.repackaged": "repackaged",
    "c2pa.watermarked": "watermarked",
    "c2pa.published": "published",
    "c2pa.unknown": "changed in an unspecified way",
}
#: IPTC digital source types (the last part of their URL) and how they read after an action.
_SOURCES = {
    "trainedAlgorithmicMedia": "by a generative AI model",
    "compositeWithTrainedAlgorithmicMedia": "by combining generative AI output with other material",
    "algorithmicMedia": "by an algorithm (no trained model)",
    "digitalCapture": "by a camera",
    "computationalCapture": "by a camera with computational processing",
    "compositeCapture": "from several camera captures",
    "screenCapture": "as a screen capture",
    "virtualRecording": "as a recording of a virtual scene (a game or 3D engine)",
    "digitalCreation": "by a person with software",
    "digitalArt": "by a person with software",
    "compositeSynthetic": "as a composite of synthetic elements",
    "algorithmicallyEnhanced": "and enhanced by an algorithm",
    "minorHumanEdits": "with minor human edits",
    "negativeFilm": "scanned from film",
    "positiveFilm": "scanned from film",
    "print": "scanned from a print",
    "dataDrivenMedia": "from data",
}
#: Digital source types that say a generative model made the picture or part of it.
AI_SOURCES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
#: What the commonest failure codes mean for a reader of the report.
FAILURE_MEANINGS = {
    "assertion.dataHash.mismatch": "the file was changed after it was signed",
    "assertion.bmffHash.mismatch": "the file was changed after it was signed",
    "assertion.boxesHash.mismatch": "the file was changed after it was signed",
    "claimSignature.mismatch": "the manifest was changed after it was signed",
    "assertion.hashedURI.mismatch": "a statement in the manifest was changed after signing",
    "signingCredential.invalid": "the signing certificate is not valid for signing",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.revoked": "the signing certificate was revoked",
}


@dataclass(frozen=True, slots=True)
class Action:
    action: str  # e.g. "c2pa.created"
    description: str  # e.g. "created by a generative AI model"
    source_type: str | None = None  # the IPTC digital source type's short name
    software: str | None = None  # the softwareAgent that performed it

    @property
    def ai_generated(self) -> bool:
        return self.source_type in AI_SOURCES

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "description": self.description,
            "digital_source_type": self.source_type,
            "software_agent": self.software,
        }


@dataclass(frozen=True, slots=True)
class Ingredient:
    title: str | None
    format: str | None
    relationship: str | None  # parentOf, componentOf, inputTo
    has_credentials: bool  # the ingredient carried its own manifest
    ai_generated: bool = False  # ...and that manifest says a generative model made it

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "format": self.format,
            "relationship": self.relationship,
            "has_credentials": self.has_credentials,
            "ai_generated": self.ai_generated,
        }


@dataclass(frozen=True, slots=True)
class ContentCredentials:
    state: str  # a key of STATES
    signer: str | None = None  # the signing certificate's common name
    issuer: str | None = None  # its organisation
    signed_at: str | None = None  # trusted timestamp, when the manifest carries one
    claim_generator: str | None = None  # the tool that wrote the manifest
    title: str | None = None
    actions: tuple[Action, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (code, explanation), trust aside
    remote_url: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ai_generated(self) -> bool:
        """The active manifest or an ingredient's says a generative model made the picture."""
        return any(a.ai_generated for a in self.actions) or any(
            i.ai_generated for i in self.ingredients
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "state_meaning": STATES.get(self.state),
            "signer": self.signer,
            "issuer": self.issuer,
            "signed_at": self.signed_at,
            "claim_generator": self.claim_generator,
            "title": self.title,
            "actions": [a.as_dict() for a in self.actions],
            "ingredients": [i.as_dict() for i in self.ingredients],
            "ai_generated": self.ai_generated,
            "failures": [{"code": c, "explanation": e} for c, e in self.failures],
            "remote_url": self.remote_url,
            "notes": list(self.notes),
        }


def credentials_from_store(text: str) -> ContentCredentials:
    """What a manifest store (the reader's JSON) says, every field type-checked: the JSON is
    the native library's rendering of bytes someone else wrote."""
    if len(text) > MAX_MANIFEST_JSON:
        size = f"{len(text) / 1024 / 1024:.1f} MB"
        return ContentCredentials("unreadable", notes=(f"C2PA manifest store is {size}: not read",))
    try:
        store = json.loads(text)
    except ValueError:
        return ContentCredentials("unreadable", notes=("C2PA manifest store is not JSON",))
    store = store if isinstance(store, dict) else {}
    manifests = _dict(store.get("manifests"))
    label = store.get("active_manifest")
    active = _dict(manifests.get(label)) if isinstance(label, str) else {}
    notes: list[str] = []
    failures = _failures(store)
    state = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}.get(
        _text(store.get("validation_state")) or "", "invalid" if failures else "valid"
    )
    signature = _dict(active.get("signature_info"))
    return ContentCredentials(
        state=state,
        signer=clip(_text(signature.get("common_name"))),
        issuer=clip(_text(signature.get("issuer"))),
        signed_at=clip(_text(signature.get("time"))),
        claim_generator=_claim_generator(active),
        title=clip(_text(active.get("title"))),
        actions=tuple(_bounded(_actions(active), "actions", notes)),
        ingredients=tuple(_bounded(_ingredients(active, manifests), "ingredients", notes)),
        failures=tuple(_bounded(failures, "validation failures", notes)),
        notes=tuple(notes),
    )


def _failures(store: dict[str, Any]) -> list[tuple[str, str]]:
    """The active manifest's validation failures, less "signer not on the trust list" (which is
    what ``valid`` against ``trusted`` already says)."""
    results = _dict(_dict(store.get("validation_results")).get("activeManifest"))
    found = []
    for failure in (f for f in _list(results.get("failure")) if isinstance(f, dict)):
        code = _text(failure.get("code")) or "?"
        if code != "signingCredential.untrusted":
            found.append((clip(code) or "?", clip(_text(failure.get("explanation"))) or ""))
    return found


def _actions(manifest: dict[str, Any]) -> list[Action]:
    found = []
    for assertion in (_dict(a) for a in _list(manifest.get("assertions"))):
        if _text(assertion.get("label")) not in ("c2pa.actions", "c2pa.actions.v2"):
            continue
        for entry in (_dict(a) for a in _list(_dict(assertion.get("data")).get("actions"))):
            name = _text(entry.get("action"))
            if name is None:
                continue
            source = _text(entry.get("digitalSourceType"))
            short = source.rstrip("/").rsplit("/", 1)[-1] if source else None
            described = _ACTIONS.get(name, name)
            if short in _SOURCES:
                described += " " + _SOURCES[short]
            agent = entry.get("softwareAgent")
            software = _text(_dict(agent).get("name")) if isinstance(agent, dict) else _text(agent)
            found.append(Action(clip(name), clip(described), clip(short), clip(software)))
    return found


def _ingredients(manifest: dict[str, Any], manifests: dict[str, Any]) -> list[Ingredient]:
    found = []
    for entry in (_dict(i) for i in _list(manifest.get("ingredients"))):
        label = entry.get("active_manifest")
        own = _dict(manifests.get(label)) if isinstance(label, str) else {}
        found.append(
            Ingredient(
                clip(_text(entry.get("title"))),
                clip(_text(entry.get("format"))),
                clip(_text(entry.get("relationship"))),
                has_credentials=isinstance(label, str),
                ai_generated=any(a.ai_generated for a in _actions(own)),
            )
        )
    return found


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    for info in (_dict(i) for i in _list(manifest.get("claim_generator_info"))):
        name = _text(info.get("name"))
        if name:
            version = _text(info.get("version"))
            return clip(f"{name} {version}" if version else name)
    return clip(_text(manifest.get("claim_generator")))


def _bounded(items: list[Any], what: str, notes: list[str]) -> list[Any]:
    if len(items) > MAX_LISTED:
        notes.append(f"C2PA manifest lists {len(items)} {what}; the first {MAX_LISTED} are shown")
    return items[:MAX_LISTED]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def clip(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"

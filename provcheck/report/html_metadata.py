"""The HTML report's metadata panels: what each input's file says about itself (EXIF, C2PA) and
the flags raised, with flags that set a date against the claim or the match shown first and in
colour on a matched input.

Every value here comes from the file (EXIF text, C2PA signer names, a remote manifest's URL) or
is built from it, so all of it is escaped on the way in. The one link written, to a map, is
rebuilt by provcheck from two numbers, never taken from the record's text; a remote manifest's
URL is shown as text, never as a link.
"""

from __future__ import annotations

from html import escape
from typing import Any

from provcheck.report.metadata_view import DATE_FLAGS, camera
from provcheck.signals.exif import GpsPosition

CSS = """
.alert { border: 2px solid var(--flag); background: #fdecea; border-radius: 6px;
         padding: 10px 14px; margin: 0 0 12px; }
.alert strong { color: var(--flag); }
.alert ul { margin: 4px 0 0; padding-left: 20px; }
.flags { margin: 4px 0 10px; padding-left: 20px; }
.metadata { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px;
            margin: 0 0 16px; background: #fafbfc; }
.metadata h3 { font-size: 15px; margin: 0 0 8px; word-break: break-all; }
.flagname { font-family: ui-monospace, monospace; font-size: 12px; background: #eef1f4;
            border-radius: 4px; padding: 1px 5px; margin-right: 4px; white-space: nowrap; }
.flags .date { color: var(--flag); font-weight: 600; }
.note { color: var(--muted); font-size: 13px; }
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def flag_names(record: dict[str, Any]) -> str:
    """The flag names as small badges, for the summary table."""
    flags = (record.get("metadata") or {}).get("flags") or []
    return "".join(f' <span class="flagname">{_e(f["name"])}</span>' for f in flags)


def date_alert(record: dict[str, Any]) -> str:
    """For a matched input: the flags that contradict a date, in a box above its pictures."""
    flags = (record.get("metadata") or {}).get("flags") or []
    dated = [f for f in flags if f["name"] in DATE_FLAGS]
    if not dated:
        return ""
    items = "".join(f"<li>{_e(f['reason'])}</li>" for f in dated)
    return (
        '<div class="alert"><strong>The file\'s own date contradicts the claim or the match'
        f"</strong><ul>{items}</ul></div>"
    )


def metadata_panel(record: dict[str, Any], heading: str = "File metadata") -> str:
    """One input's metadata as a panel; empty when the file could not be read at all."""
    meta = record.get("metadata")
    if not meta:
        return ""
    exif, c2pa = meta.get("exif") or {}, meta.get("c2pa")
    flags = "".join(
        f'<li class="{"date" if f["name"] in DATE_FLAGS else ""}">'
        f'<span class="flagname">{_e(f["name"])}</span> {_e(f["reason"])}</li>'
        for f in meta.get("flags") or []
    )
    rows = _exif_rows(exif) + (_c2pa_rows(c2pa) if c2pa else [])
    notes = [*exif.get("notes", []), *((c2pa or {}).get("notes") or [])]
    if notes:
        rows.append(("notes", "<br>".join(f'<span class="note">{_e(n)}</span>' for n in notes)))
    table = "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>" if rows else ""
    return (
        f'<div class="metadata"><h3>{_e(heading)}</h3>'
        + (f'<ul class="flags">{flags}</ul>' if flags else "")
        + table
        + "</div>"
    )


def other_inputs_section(records: list[tuple[int, dict[str, Any]]]) -> str:
    """Panels for the inputs that have no case section of their own (clean, insufficient)."""
    panels = "".join(
        metadata_panel(record, f"{n}. {record['input']}")
        for n, record in records
        if record.get("metadata")
    )
    if not panels:
        return ""
    return f'<h2 id="metadata">File metadata of the other inputs</h2>{panels}'


def _exif_rows(exif: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, label in (("captured", "taken"), ("digitized", "digitised"), ("modified", "changed")):
        if exif.get(key):
            rows.append((label, _e(exif[key])))
    if camera(exif):
        rows.append(("camera", _e(camera(exif))))
    if exif.get("software"):
        rows.append(("software", _e(exif["software"])))
    gps = exif.get("gps")
    if gps:
        altitude = (
            f", {float(gps['altitude_m']):.1f} m" if gps.get("altitude_m") is not None else ""
        )
        lat, lon = float(gps["latitude"]), float(gps["longitude"])
        link = (
            f'<a href="{_e(GpsPosition(lat, lon).map_url)}" rel="noopener noreferrer nofollow">'
            "OpenStreetMap</a>"
        )
        rows.append(("GPS", f"{lat:.6f}, {lon:.6f}{altitude} ({link})"))
    thumb = exif.get("thumbnail")
    if thumb:
        distance = thumb.get("pdq_distance")
        compared = (
            f", PDQ distance {int(distance)} from the picture" if distance is not None else ""
        )
        rows.append(("EXIF thumbnail", f"{int(thumb['width'])}x{int(thumb['height'])}{compared}"))
    return rows


def _c2pa_rows(c2pa: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("C2PA", f"{_e(c2pa.get('state'))} ({_e(c2pa.get('state_meaning'))})")]
    signer = ", ".join(_e(v) for v in (c2pa.get("signer"), c2pa.get("issuer")) if v)
    if signer:
        rows.append(
            (
                "signed by",
                signer + (f" at {_e(c2pa['signed_at'])}" if c2pa.get("signed_at") else ""),
            )
        )
    if c2pa.get("claim_generator"):
        rows.append(("made with", _e(c2pa["claim_generator"])))
    if c2pa.get("actions"):
        rows.append(("actions", "; ".join(_e(a["description"]) for a in c2pa["actions"])))
    if c2pa.get("ingredients"):
        described = [
            f"{_e(i.get('title') or 'untitled')} ({_e(i.get('relationship') or '?')}"
            + (", made by AI" if i.get("ai_generated") else "")
            + ")"
            for i in c2pa["ingredients"]
        ]
        rows.append(("ingredients", "; ".join(described)))
    if c2pa.get("failures"):
        rows.append(
            (
                "failures",
                "; ".join(f"{_e(f['code'])}: {_e(f['explanation'])}" for f in c2pa["failures"]),
            )
        )
    if c2pa.get("remote_url"):
        rows.append(("remote manifest", f"{_e(c2pa['remote_url'])} (not fetched)"))
    return rows

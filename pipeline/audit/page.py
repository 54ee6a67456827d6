"""The report as one self-contained HTML page: no scripts, no fonts, no fetches; pictures
inline (small JPEGs of findings and of masked frames, as written); prints on A4.
"""
from __future__ import annotations

import base64
import html
import json

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#111}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;
vertical-align:top}code{font-size:12px;word-break:break-all}.warn{color:#a00;font-weight:bold}.ok{color:#060}
figure{display:inline-block;margin:4px}figcaption{font-size:12px}img{max-width:320px}
@media print{body{margin:0;max-width:none}figure{break-inside:avoid}}"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[dict], keys: list[str]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return f"<code>{value}</code>"
    if isinstance(value, (list, dict)):
        return f"<code>{_e(json.dumps(value, ensure_ascii=False))}</code>"
    return _e(value)


def _pairs(mapping: dict) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_cell(v)}</td></tr>" for k, v in mapping.items()) + "</table>"


def render(report: dict, pictures: list[tuple[str, bytes]] = ()) -> str:
    audit = report.get("audit", {})
    findings = audit.get("findings", [])
    checked = audit.get("checked", [])
    if audit.get("mode") == "off":
        verdict = '<p class="warn">The audit was switched off: no one looked at the outputs again.</p>'
    elif findings:
        frames = sorted({f["frame"] for f in findings})
        verdict = (f'<p class="warn">{len(findings)} possible face(s) or person(s) left visible in {len(frames)} '
                   f'of {len(checked)} checked frames: check them before sharing.</p>')
    else:
        verdict = f'<p class="ok">No uncovered face or person found in the {len(checked)} checked frames.</p>'
    tool = report.get("tool", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Anonymization report: {_e(report['input']['name'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Anonymization report: {_e(report['input']['name'])}</h1>", verdict,
        _pairs({"tool": f"{tool.get('name')} {tool.get('version')}", "started (UTC)": report.get("started_utc"),
                "ended (UTC)": report.get("ended_utc"), "stop reason": report.get("stop_reason")}),
        "<h2>Input</h2>", _pairs({k: v for k, v in report["input"].items()}),
        "<h2>Outputs</h2>", _table(report.get("outputs", []), ["name", "bytes", "sha256", "note"]),
        "<h2>Models</h2>", _table(report.get("models", []), ["role", "name", "sha256", "note"]),
        "<h2>Counts</h2>", _pairs(report.get("counts", {})),
        "<h2>Audit</h2>", _pairs({"mode": audit.get("mode"), "seconds": audit.get("seconds"),
                                  "budget (s)": audit.get("budget_s"), "frames checked": len(checked),
                                  "left visible on purpose (not findings)": audit.get("left_visible_detections"),
                                  "notes": "; ".join(audit.get("notes", [])) or None}),
        _table(audit.get("detectors", []), ["name", "model", "threshold", "model_file"]),
        "<h3>Findings</h3>", _table(findings, ["frame", "time_s", "box", "score", "detector", "output", "image"]),
        f"<p>Checked frames: <code>{_e(', '.join(map(str, checked)))}</code></p>",
    ]
    if pictures:
        parts.append("<h3>Pictures (as written)</h3>")
        parts += [f"<figure><img alt='{_e(c)}' src='data:image/jpeg;base64,{base64.b64encode(b).decode()}'>"
                  f"<figcaption>{_e(c)}</figcaption></figure>" for c, b in pictures]
    parts += ["<h2>Tracks</h2>",
              _table(report.get("tracks", []), ["track", "person", "first_s", "last_s", "frames_covered",
                                                "left_visible", "frames_left_visible", "reason"]),
              "<h2>Boxes drawn by hand</h2>", _table(report.get("manual_boxes", []), ["frame", "time_s", "box", "track"]),
              "<h2>Audio</h2>", _pairs(report.get("audio", {})),
              "<h2>Settings</h2>", _pairs(report.get("settings", {}))]
    if report.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in report["notes"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)

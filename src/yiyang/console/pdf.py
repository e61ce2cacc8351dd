"""The 120 brief as a one-page PDF. ReportLab's built-in Adobe CID font for Simplified Chinese
(STSong-Light) needs no font file on the server, so the PDF works on any machine."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from yiyang.core.clock import now, to_local
from yiyang.core.i18n import gettext as _

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
BODY = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=15, wordWrap="CJK")
TITLE = ParagraphStyle("title", parent=BODY, fontSize=17, leading=22, spaceAfter=4)
HEAD = ParagraphStyle("head", parent=BODY, fontSize=12, leading=17, spaceBefore=6)


def stamp() -> str:
    """When a brief was generated, in local time (printed on it)."""
    local = to_local(now())
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else ""


def _p(text: Any, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _join(items: Any) -> str:
    return "、".join(str(i) for i in items) if items else _("none recorded")


def render(brief: dict[str, Any], generated_at: str) -> bytes:
    e, a, m = brief["elder"], brief["alert"], brief.get("medical")
    age = _("%(n)s years", n=e["age"])  # outside the f-string, where pybabel extract sees it
    rows: list[list[Any]] = [
        [_p(_("Elder")), _p(f"{e['name']}  {age}  {e['phone'] or ''}")],
        [_p(_("Address")), _p(f"{e['address']} ({e['street']} {e['community']})")],
        [
            _p(_("Coordinates")),
            _p(f"{e['latitude']:.6f}, {e['longitude']:.6f}" if e["latitude"] else "—"),
        ],
        [_p(_("Access")), _p(" / ".join(x for x in (e["key_holder"], e["access_notes"]) if x))],
        [_p(_("What happened")), _p(f"{a['title']}: {a['what']} ({a['first_at']})")],
    ]
    if m:
        rows += [
            [_p(_("Conditions")), _p(_join(m["conditions"]))],
            [_p(_("Medications")), _p(_join(m["medications"]))],
            [_p(_("Allergies")), _p(_join(m["allergies"]))],
            [
                _p(_("Mobility")),
                _p(f"{m['mobility']}  {_('Blood type')}: {m['blood_type'] or '—'}"),
            ],
        ]
        if m["dementia"]:
            rows.append([_p(_("Dementia")), _p(_("yes"))])
    contacts = "; ".join(
        f"{c['priority']}. {c['relation']} {c['name']} {c['phone'] or ''}"
        for c in brief["contacts"]
    )
    rows.append([_p(_("Contacts")), _p(contacts or "—")])
    doc = brief["family_doctor"]
    rows.append(
        [
            _p(_("Family doctor")),
            _p(" ".join(x for x in (doc["name"], doc["organisation"], doc["phone"]) if x) or "—"),
        ]
    )
    for h in brief["nearest_hospitals"]:
        rows.append([_p(_("Hospital")), _p(f"{h['name']} {h['distance_m']} m {h['phone'] or ''}")])
    table = Table(rows, colWidths=[32 * mm, 140 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"120 {e['name']}",
        author="Yiyang",
    )
    pdf.build(
        [
            _p(_("120 emergency brief") + f" · {_('Alert')} #{a['id']}", TITLE),
            _p(f"{_('Prepared by')} {brief['prepared_by']} · {generated_at}"),
            Spacer(1, 4 * mm),
            table,
        ]
    )
    return out.getvalue()

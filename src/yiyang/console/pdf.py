"""The 120 brief as a one-page PDF, with its Chinese font embedded.

A PDF that names a font without embedding it (ReportLab's built-in STSong-Light CID font) shows
whatever the reader substitutes: missing-glyph boxes for "·" on many viewers. So the brief embeds
Noto Sans CJK SC from Debian's ``fonts-noto-cjk`` (installed by ``.ci/run``). ReportLab embeds
only TrueType outlines and Noto CJK ships PostScript (CFF) ones, so each brief takes from the font
just the characters it prints (fontTools' subsetter) and turns their outlines into TrueType
(``cu2qu``) before ReportLab embeds them — about half a second (ADR 0015). Without the font (a
user machine with no ``fonts-noto-cjk``) the brief falls back to STSong-Light and says so in the
log once; under CI the tests require the font.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
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
from yiyang.registry.enums import label

log = logging.getLogger(__name__)

FALLBACK = "STSong-Light"  # not embedded: the reader's own font, only when Noto is missing
FAMILY = "Noto Sans CJK SC"
FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # Debian, Ubuntu
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),  # Arch, Fedora
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
)
ALWAYS = "0123456789 .,:;/-—()（）：；、·#%"  # characters the layout adds itself
_lock = threading.Lock()  # ReportLab's font registry is one dict for the process


def stamp() -> str:
    """When a brief was generated, in local time (printed on it)."""
    local = to_local(now())
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else ""


def local_time(iso: str | None) -> str:
    """A stored ISO instant (UTC) as local wall time for the reader."""
    if not iso:
        return ""
    local = to_local(dt.datetime.fromisoformat(iso))
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else iso


@cache
def font_file() -> tuple[Path, int] | None:
    """Where Noto Sans CJK SC is on this machine (file and face in the collection), or None."""
    try:
        from fontTools.ttLib import TTCollection
    except ImportError:  # pragma: no cover - a dependency; kept for a broken install
        log.warning("fontTools is not installed: 120 briefs fall back to %s", FALLBACK)
        return None
    for path in FONT_FILES:
        if not path.exists():
            continue
        collection = TTCollection(str(path), lazy=True)
        for index, face in enumerate(collection.fonts):
            if face["name"].getDebugName(1) == FAMILY:
                return path, index
    log.warning(
        "%s not found (%s): 120 briefs fall back to the PDF reader's %s; install Debian's "
        "fonts-noto-cjk to embed it",
        FAMILY,
        ", ".join(str(p) for p in FONT_FILES),
        FALLBACK,
    )
    return None


def truetype_subset(text: str) -> tuple[bytes, set[str]]:
    """Noto Sans CJK SC cut down to the characters of ``text``, with TrueType outlines (what
    ReportLab can embed); and the characters the font has no glyph for."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.subset import Options, Subsetter
    from fontTools.ttLib import TTFont, newTable

    found = font_file()
    assert found is not None
    path, index = found
    font = TTFont(str(path), fontNumber=index, lazy=True)
    cmap = font.getBestCmap()
    wanted = {ch for ch in text if not ch.isspace()} | set(ALWAYS)
    missing = {ch for ch in wanted if ord(ch) not in cmap}
    options = Options()
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    subsetter = Subsetter(options)
    subsetter.populate(text="".join(sorted(wanted - missing)))
    subsetter.subset(font)
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    del font["CFF "]
    font["glyf"], font["loca"] = glyf, newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
        "maxPoints",
        "maxContours",
        "maxCompositePoints",
        "maxCompositeContours",
        "maxComponentDepth",
    ):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    out = io.BytesIO()
    font.save(out)  # recalculates maxp and the bounding boxes from the new outlines
    return out.getvalue(), missing


def _register(text: str) -> str:
    """Register a font for ``text`` with ReportLab; its name (the fallback without Noto)."""
    if font_file() is None:
        if FALLBACK not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
        return FALLBACK
    from reportlab.pdfbase.ttfonts import TTFont

    data, missing = truetype_subset(text)
    if missing:
        log.warning("120 brief: no glyph in %s for %r", FAMILY, "".join(sorted(missing)))
    name = "YiyangCJK-" + hashlib.sha1(data).hexdigest()[:12]
    pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    return name


def _forget(name: str) -> None:
    """Drop a per-brief font from ReportLab's registry (it holds every font ever registered)."""
    if name != FALLBACK:
        pdfmetrics._fonts.pop(name, None)


def _styles(font: str) -> tuple[ParagraphStyle, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=22, spaceAfter=4)
    return body, title


def _join(items: Iterable[Any]) -> str:
    items = list(items)
    return "、".join(str(i) for i in items) if items else _("none recorded")


def _spaced(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p)


def rows(brief: dict[str, Any]) -> list[tuple[str, str]]:
    """The brief as (label, value) lines, every label and value in the reader's language."""
    e, a, m = brief["elder"], brief["alert"], brief.get("medical")
    age = _("%(n)s years", n=e["age"])
    out = [
        (_("Elder"), _spaced(e["name"], label(e["gender"]), age, e["phone"])),
        (_("Address"), f"{e['address']} ({_spaced(e['street'], e['community'])})"),
        (
            _("Coordinates"),
            f"{e['latitude']:.6f}, {e['longitude']:.6f}" if e["latitude"] else "—",
        ),
        (_("Access"), " / ".join(x for x in (e["key_holder"], e["access_notes"]) if x) or "—"),
        (_("What happened"), f"{a['title']}: {a['what']}"),
        (_("Time"), local_time(a["first_at"])),
    ]
    if m:
        out += [
            (_("Conditions"), _join(m["conditions"])),
            (_("Medications"), _join(m["medications"])),
            (_("Allergies"), _join(m["allergies"])),
            (
                _("Mobility"),
                f"{label(m['mobility']) or '—'} · {_('Blood type')} {m['blood_type'] or '—'}",
            ),
        ]
        if m["dementia"]:
            out.append((_("Dementia"), _("yes")))
    contacts = "; ".join(
        _spaced(f"{c['priority']}.", c["relation"], c["name"], c["phone"])
        for c in brief["contacts"]
    )
    out.append((_("Contacts"), contacts or "—"))
    doc = brief["family_doctor"]
    out.append((_("Family doctor"), _spaced(doc["name"], doc["organisation"], doc["phone"]) or "—"))
    for h in brief["nearest_hospitals"]:
        out.append((_("Hospital"), _spaced(h["name"], f"{h['distance_m']} m", h["phone"])))
    return out


def title_lines(brief: dict[str, Any], generated_at: str) -> tuple[str, str]:
    head = _("120 emergency brief") + f" · {_('Alert')} #{brief['alert']['id']}"
    return head, f"{_('Prepared by')} {brief['prepared_by']} · {generated_at}"


def text_of(brief: dict[str, Any], generated_at: str) -> str:
    """Every character the PDF prints (what the embedded font must cover)."""
    lines = [*title_lines(brief, generated_at), *(f"{k} {v}" for k, v in rows(brief))]
    return "\n".join(lines)


def render(brief: dict[str, Any], generated_at: str) -> bytes:
    lines = rows(brief)
    head, sub = title_lines(brief, generated_at)
    with _lock:
        font = _register(text_of(brief, generated_at))
        try:
            return _build(brief, lines, head, sub, font)
        finally:
            _forget(font)


def _build(
    brief: dict[str, Any], lines: list[tuple[str, str]], head: str, sub: str, font: str
) -> bytes:
    body, title = _styles(font)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    table = Table([[p(k), p(v)] for k, v in lines], colWidths=[32 * mm, 140 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
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
        title=f"120 {brief['elder']['name']}",
        author="Yiyang",
        initialFontName=font,  # not Helvetica: every font the PDF names is the embedded one
    )
    pdf.build([p(head, title), p(sub), Spacer(1, 4 * mm), table])
    return out.getvalue()

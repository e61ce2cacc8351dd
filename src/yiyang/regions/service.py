"""Building the region tree (demo data, CLI import of a code list)."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.regions.models import Region, RegionLevel


def add_region(
    session: Session, code: str, name: str, level: RegionLevel, parent: Region | None
) -> Region:
    if len(code) != 12 or not code.isdigit():
        raise ValidationFailed(f"region code must be 12 digits: {code!r}", field="code")
    path = (parent.path if parent else "/") + code + "/"
    region = Region(
        code=code, name=name, level=level, parent_id=parent.id if parent else None, path=path
    )
    session.add(region)
    session.flush()
    return region


# ---------------------------------------------------------------------------- division lists
@dataclass(frozen=True)
class Division:
    """One line of an official administrative-division list (统计用区划代码)."""

    code: str
    name: str
    parent_code: str


@dataclass
class LoadResult:
    created: int = 0
    renamed: int = 0
    unchanged: int = 0


def level_of(code: str) -> RegionLevel:
    """The tree level a 12-digit code names: ``PPCCDD000000`` a district (county), ``…SSS000``
    a street or town, anything else a community or village."""
    if code[6:] == "000000":
        if code[4:6] == "00":
            raise ValidationFailed(
                _(
                    "%(code)s is a province or city; the list starts at a district.",
                    code=code,
                ),
                field="code",
            )
        return RegionLevel.DISTRICT
    return RegionLevel.STREET if code[9:] == "000" else RegionLevel.COMMUNITY


def read_division_csv(data: bytes) -> list[Division]:
    """The rows of a ``code,name,parent_code`` CSV (UTF-8 or GBK), checked and ordered parents
    first. Raises ``ValidationFailed`` naming the line of the first problem."""
    text = _decode(data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or not {"code", "name", "parent_code"} <= {
        (f or "").strip() for f in reader.fieldnames
    }:
        raise ValidationFailed(
            _("The list needs the columns code, name and parent_code."), field="file"
        )
    rows: list[Division] = []
    for line, raw in enumerate(reader, start=2):
        item = {
            (k or "").strip(): unicodedata.normalize("NFKC", v or "").strip()
            for k, v in raw.items()
        }
        code, name, parent = item["code"], item["name"], item["parent_code"]
        if not (len(code) == 12 and code.isdigit()):
            raise ValidationFailed(
                _("Line %(line)d: the code must have 12 digits.", line=line), field="code"
            )
        if parent and not (len(parent) == 12 and parent.isdigit()):
            raise ValidationFailed(
                _("Line %(line)d: the parent code must have 12 digits.", line=line), field="code"
            )
        if not name or len(name) > 64:
            raise ValidationFailed(
                _("Line %(line)d: the name must have 1 to 64 characters.", line=line),
                field="name",
            )
        level_of(code)
        rows.append(Division(code, name, parent))
    depth = {RegionLevel.DISTRICT: 0, RegionLevel.STREET: 1, RegionLevel.COMMUNITY: 2}
    return sorted(rows, key=lambda d: (depth[level_of(d.code)], d.code))


def load_divisions(session: Session, rows: list[Division]) -> LoadResult:
    """Create the regions of ``rows`` that are missing and rename those whose official name
    changed; a code already in the tree keeps its place. Idempotent; every write is audited
    (``Region`` is audited). Flushes, never commits."""
    existing = {r.code: r for r in session.scalars(select(Region))}
    result = LoadResult()
    for row in rows:
        region = existing.get(row.code)
        if region is not None:
            if region.name != row.name:
                region.name = row.name
                result.renamed += 1
            else:
                result.unchanged += 1
            continue
        parent = existing.get(row.parent_code) if row.parent_code else None
        if row.parent_code and parent is None:
            raise ValidationFailed(
                _(
                    "%(code)s: its parent %(parent)s is neither in the list nor in the tree.",
                    code=row.code,
                    parent=row.parent_code,
                ),
                field="parent_code",
            )
        existing[row.code] = add_region(session, row.code, row.name, level_of(row.code), parent)
        result.created += 1
    session.flush()
    return result


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(_("The file is neither UTF-8 nor GBK encoded."), field="file")

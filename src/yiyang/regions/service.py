"""Building the region tree (demo data, CLI import of a code list)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions import repository
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
    # what changed, for the upload page's report: (code, name) created, (code, old, new) renamed
    new: list[tuple[str, str]] = field(default_factory=list)
    renames: list[tuple[str, str, str]] = field(default_factory=list)


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
    text = decode_list(data)
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
                result.renames.append((row.code, region.name, row.name))
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
        result.new.append((row.code, row.name))
    session.flush()
    return result


def decode_list(data: bytes) -> str:
    """The text of a list file, UTF-8 (with or without BOM) or GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(_("The file is neither UTF-8 nor GBK encoded."), field="file")


# ---------------------------------------------------------------------------- the tree page
ElderCounter = Callable[[Session, Actor], dict[int, int]]
"""``(session, actor)`` → elders per region id among those ``actor`` may read (one grouped
query). Registered by the registry (``registry.permissions.register``): regions import no
registry."""
_counters: list[ElderCounter] = []


def register_elder_counter(counter: ElderCounter) -> None:
    """Idempotent, like the other start-up registrations."""
    if counter not in _counters:
        _counters.append(counter)


def elder_counts(session: Session, actor: Actor) -> dict[int, int]:
    counts: dict[int, int] = {}
    for counter in _counters:
        for region_id, n in counter(session, actor).items():
            counts[region_id] = counts.get(region_id, 0) + n
    return counts


@dataclass
class TreeNode:
    region: Region
    elders: int = 0  # on this node and below
    children: list[TreeNode] = field(default_factory=list)


def build_tree(regions: Sequence[Region], counts: Mapping[int, int]) -> list[TreeNode]:
    """The nodes of ``regions`` (any order) as a forest, children by code, each with the elders
    of its subtree. Pure."""
    nodes = {r.id: TreeNode(r, counts.get(r.id, 0)) for r in regions}
    roots: list[TreeNode] = []
    for node in sorted(nodes.values(), key=lambda n: n.region.path):
        parent = nodes.get(node.region.parent_id or 0)
        (parent.children if parent else roots).append(node)

    def total(node: TreeNode) -> int:
        node.elders += sum(total(c) for c in node.children)
        return node.elders

    for root in roots:
        total(root)
    return roots


CHILD_LEVEL = {RegionLevel.DISTRICT: RegionLevel.STREET, RegionLevel.STREET: RegionLevel.COMMUNITY}


def check_child_code(parent_code: str, parent_level: RegionLevel, code: str) -> str | None:
    """Why ``code`` cannot name a new child of the parent (None when it can). A street of
    ``PPCCDD000000`` is ``PPCCDDSSS000`` (SSS not 000); a community of ``PPCCDDSSS000`` is
    ``PPCCDDSSSCCC`` (CCC not 000). Pure."""
    if not (len(code) == 12 and code.isascii() and code.isdigit()):
        return _("The region code has 12 digits.")
    if parent_level is RegionLevel.DISTRICT:
        if code[:6] != parent_code[:6] or code[6:9] == "000" or code[9:] != "000":
            return _(
                "A street of %(parent)s has a code %(prefix)sSSS000 (SSS from 001).",
                parent=parent_code,
                prefix=parent_code[:6],
            )
        return None
    if parent_level is RegionLevel.STREET:
        if code[:9] != parent_code[:9] or code[9:] == "000":
            return _(
                "A community of %(parent)s has a code %(prefix)sCCC (CCC from 001).",
                parent=parent_code,
                prefix=parent_code[:9],
            )
        return None
    return _("A community has no regions below it.")


def check_name(name: str) -> str:
    """The name as kept (NFKC, trimmed), or ``ValidationFailed`` on the name field."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text or len(text) > 64:
        raise ValidationFailed(_("The name must have 1 to 64 characters."), field="name")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") for c in text):
        raise ValidationFailed(
            _("The name may not contain control or invisible characters."), field="name"
        )
    return text


def _check_manager(actor: Actor, region: Region) -> None:
    if not actor.can(Perm.MANAGE_REGIONS):
        raise Forbidden(_("Your role may not do this."))
    if not repository.within(region.path, actor):
        raise NotFound(_("No such region."))


def get_region(session: Session, actor: Actor, region_id: int) -> Region:
    """The region if it is in ``actor``'s area (404 otherwise, as if it did not exist)."""
    region = session.get(Region, region_id)
    if region is None or not repository.within(region.path, actor):
        raise NotFound(_("No such region."))
    return region


def add_child(session: Session, actor: Actor, parent: Region, code: str, name: str) -> Region:
    """A new street of a district or community of a street, its code checked under the
    parent's. Audited (``Region``). Flushes."""
    _check_manager(actor, parent)
    code = unicodedata.normalize("NFKC", code).strip()
    level = CHILD_LEVEL.get(RegionLevel(parent.level))
    if level is None:
        raise ValidationFailed(_("A community has no regions below it."), field="code")
    problem = check_child_code(parent.code, RegionLevel(parent.level), code)
    if problem:
        raise ValidationFailed(problem, field="code")
    kept = check_name(name)
    if repository.by_code(session, code) is not None:
        raise ValidationFailed(
            _("The code %(code)s is in the tree already.", code=code), field="code"
        )
    return add_region(session, code, kept, level, parent)


def rename(session: Session, actor: Actor, region: Region, name: str) -> Region:
    """Rename a street or community (a district keeps its official name). Audited."""
    _check_manager(actor, region)
    if region.level == RegionLevel.DISTRICT:
        raise ValidationFailed(_("A district keeps its official name."), field="name")
    region.name = check_name(name)
    session.flush()
    return region


def retire(session: Session, actor: Actor, region: Region) -> None:
    """Remove a street or community with no regions and no elders below it; anything else that
    still refers to it (a user's area, alarm settings) refuses too. Audited (the delete)."""
    _check_manager(actor, region)
    if region.level == RegionLevel.DISTRICT:
        raise Conflict(_("A district cannot be retired here."))
    if session.scalar(select(func.count()).where(Region.parent_id == region.id)):
        raise Conflict(_("Retire the communities below it first."))
    if elder_counts(session, actor).get(region.id, 0):
        raise Conflict(_("Elders are still registered here; move them first."))
    try:
        with session.begin_nested():
            session.delete(region)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            _("Users, devices or settings still refer to this region; move them first.")
        ) from exc


@dataclass
class UploadReport:
    rows: int
    result: LoadResult
    committed: bool


def upload_divisions(session: Session, actor: Actor, data: bytes, *, commit: bool) -> UploadReport:
    """The official list read by the loader (``read_division_csv``) and loaded by it
    (``load_divisions``) — for a dry run in a savepoint rolled back, so nothing (not even an
    audit row) stays. Rows outside ``actor``'s area are refused. Flushes, never commits."""
    if not actor.can(Perm.MANAGE_REGIONS):
        raise Forbidden(_("Your role may not do this."))
    rows = read_division_csv(data)
    outside = check_area(rows, region_scope_path(actor) or actor.region_path)
    if outside:
        raise ValidationFailed(
            _(
                "These codes are outside your area: %(codes)s",
                codes="、".join(outside[:8]) + (" …" if len(outside) > 8 else ""),
            ),
            field="file",
        )
    if commit:
        return UploadReport(len(rows), load_divisions(session, rows), True)
    savepoint = session.begin_nested()
    try:
        result = load_divisions(session, rows)
    finally:
        savepoint.rollback()
    return UploadReport(len(rows), result, False)


def check_area(rows: Sequence[Division], scope: str) -> list[str]:
    """The codes of ``rows`` outside the area whose materialised path is ``scope``: a code
    carries its district (first 6 digits) and street (first 9), so a district's area is its
    6-digit prefix, a street's its 9-digit one. Pure."""
    if scope == "/":
        return []
    own = scope.strip("/").rsplit("/", 1)[-1]
    level = level_of(own)
    width = {RegionLevel.DISTRICT: 6, RegionLevel.STREET: 9}.get(level, 12)
    return [r.code for r in rows if r.code[:width] != own[:width]]

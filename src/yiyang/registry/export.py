"""Export of the filtered elder list to XLSX, masked for the reader's role, and audited."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.clock import age_on, today_local
from yiyang.core.errors import Forbidden, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.regions import repository as regions
from yiyang.registry import repository
from yiyang.registry.enums import label
from yiyang.registry.permissions import shown_id_number, shown_phone
from yiyang.registry.schemas import ElderFilters
from yiyang.registry.service import filter_region_path

EXPORT_LIMIT = 200_000


def export_xlsx(session: Session, actor: Actor, f: ElderFilters) -> tuple[bytes, int]:
    if not actor.can(Perm.EXPORT_ELDERS):
        raise Forbidden(_("Your role may not do this."))
    region_path = filter_region_path(session, f)
    names = {r.id: (r.code, r.name) for r in regions.visible(session, actor)}
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Elders"))
    sheet.append(
        [
            _("Name"),
            _("Gender"),
            _("Age"),
            _("ID number"),
            _("Mobile phone"),
            _("Home phone"),
            _("Address"),
            _("Region code"),
            _("Community"),
            _("Household"),
            _("Categories"),
            _("Care level"),
            _("Dementia"),
            _("Status"),
        ]
    )
    today = today_local()
    count = 0
    for e in repository.iter_filtered(session, actor, f, region_path):
        count += 1
        if count > EXPORT_LIMIT:
            raise ValidationFailed(
                _("An export may hold at most %(n)d rows; narrow the filter.", n=EXPORT_LIMIT)
            )
        code, region_name = names.get(e.region_id, ("", ""))
        sheet.append(
            [
                e.name,
                label(e.gender),
                age_on(e.birth_date, today),
                shown_id_number(actor, e.id_number),
                shown_phone(actor, e.mobile_phone) or "",
                shown_phone(actor, e.home_phone) or "",
                e.address,
                code,
                region_name,
                label(e.household),
                "、".join(label(c) for c in e.category_codes),
                e.care_level if e.care_level is not None else "",
                _("Yes") if e.dementia else _("No"),
                label(e.status),
            ]
        )
    buf = io.BytesIO()
    book.save(buf)
    audit.record(
        session,
        "export",
        "elder",
        None,
        region_path=region_path or actor.region_path,
        summary=f"{count} rows",
        after={"filters": f.model_dump(mode="json", exclude_defaults=True)},
    )
    return buf.getvalue(), count

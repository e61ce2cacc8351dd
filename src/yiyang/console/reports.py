"""Service-level reports for the alarm centre: today (live, on the console) and per month
(page and XLSX export). The figures come from ``sla`` (pure); this module loads and shapes."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from openpyxl import Workbook
from sqlalchemy.orm import Session

from yiyang.console import sla
from yiyang.console.repository import sla_alarms
from yiyang.core import audit
from yiyang.core.clock import local_zone, now, to_local
from yiyang.core.config import get_settings
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor

SHIFT_LABELS = {"day": N_("Day shift"), "evening": N_("Evening shift"), "night": N_("Night shift")}


def shift_label(code: str) -> str:
    return _(SHIFT_LABELS[code]) if code in SHIFT_LABELS else code


def shifts() -> tuple[sla.Shift, ...]:
    """Shifts from YIYANG_CONSOLE_SHIFTS, e.g. ``day=08:00-16:00,night=16:00-08:00``."""
    out = []
    for part in get_settings().console_shifts.split(","):
        code, _, span = part.strip().partition("=")
        start, _, end = span.partition("-")
        out.append(sla.Shift(code, dt.time.fromisoformat(start), dt.time.fromisoformat(end)))
    return tuple(out) or sla.DEFAULT_SHIFTS


def parse_month(value: str) -> dt.date:
    if not value:
        local = to_local(now())
        assert local is not None
        return local.date().replace(day=1)
    try:
        return dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise ValidationFailed(_("Give the month as YYYY-MM."), field="month") from None


def recent_months(n: int = 12) -> list[dt.date]:
    first = parse_month("")
    out = []
    for _i in range(n):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return out


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = local_zone()
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last, dt.time(), zone).astimezone(dt.UTC)
    return start, end


def _next_month(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass
class Period:
    first: dt.date
    report: sla.Report
    generated_at: dt.datetime


def monthly(session: Session, actor: Actor, first: dt.date) -> Period:
    start, end = _bounds(first, _next_month(first))
    at = now()
    alarms = sla_alarms(session, actor, start, end)
    return Period(first, sla.report(alarms, at, to_local, shifts()), at)


def today(session: Session, actor: Actor) -> sla.Summary:
    local = to_local(now()).date()
    start, end = _bounds(local, local + dt.timedelta(days=1))
    return sla.summarise(sla_alarms(session, actor, start, end), now())


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def export_xlsx(session: Session, actor: Actor, first: dt.date) -> bytes:
    """The month's report as a workbook: summary, per operator, per shift, false alarms by
    device type, and the exception list (every alarm answered after 180 s or not at all)."""
    period = monthly(session, actor, first)
    rep = period.report
    wb = Workbook()
    head = [
        _("Alarms"),
        _("Answered"),
        _("Within 60 s"),
        _("Within 180 s"),
        _("Meets standard"),
        _("Acknowledge median (s)"),
        _("Acknowledge p90 (s)"),
        _("Resolve median (s)"),
        _("Resolve p90 (s)"),
        _("Waiting over 180 s"),
        _("False-alarm rate"),
    ]

    def line(s: sla.Summary) -> list[object]:
        return [
            s.alarms,
            s.answered,
            _pct(s.share_within_target),
            _pct(s.share_within_slow),
            "" if s.meets_standard is None else (_("yes") if s.meets_standard else _("no")),
            _s(s.ack_median_s),
            _s(s.ack_p90_s),
            _s(s.resolve_median_s),
            _s(s.resolve_p90_s),
            s.unanswered_overdue,
            _pct(s.false_alarm_rate),
        ]

    ws = wb.active
    assert ws is not None
    ws.title = _("Summary")
    ws.append(
        [
            _("Month"),
            f"{first:%Y-%m}",
            _("Generated"),
            f"{to_local(period.generated_at):%Y-%m-%d %H:%M}",
        ]
    )
    ws.append(head)
    ws.append(line(rep.overall))
    for title, groups in ((_("Operators"), rep.by_operator), (_("Shifts"), rep.by_shift)):
        sheet = wb.create_sheet(title)
        sheet.append([title, *head])
        for name, s in groups.items():
            shown = shift_label(name) if groups is rep.by_shift else name
            sheet.append([shown if shown != "—" else _("not answered"), *line(s)])
    devices = wb.create_sheet(_("False alarms"))
    devices.append([_("Device type"), _("False alarms"), _("Resolved"), _("False-alarm rate")])
    for device, (false, resolved) in rep.false_by_device.items():
        devices.append([device, false, resolved, _pct(false / resolved if resolved else None)])
    exc = wb.create_sheet(_("Exceptions"))
    exc.append(
        [
            _("Alert"),
            _("Raised"),
            _("Waited (s)"),
            _("Answered by"),
            _("Severity"),
            _("Device type"),
        ]
    )
    for e in rep.exceptions:
        exc.append(
            [
                e.alert_id,
                f"{to_local(e.created_at):%Y-%m-%d %H:%M:%S}",
                round(e.waited_s),
                e.answered_by or "",
                e.severity,
                e.device_type or "",
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    audit.record(
        session,
        "export",
        "sla_report",
        f"{first:%Y-%m}",
        region_path=actor.region_path,
        summary=f"{rep.overall.alarms} alarms",
    )
    return out.getvalue()

"""Per-elder tuning of the silence thresholds (issue #16 item 5, ADR 0014 §5), pure.

Two things widen or narrow how long a quiet home waits before a check-in:

- the elder's **sensitivity** (``Params.silence_sensitivity``, set by those who may set the
  elder's rule settings): low ×1.5, normal ×1, high ×0.75;
- the operators' **verdicts** on this elder's silence alerts (``Facts.outcomes``, from the
  alerts table through ``repository.ElderFacts``): each "false alarm" in the last 28 days widens
  by ``silence_feedback_step`` (×1.25), at most ``silence_feedback_max`` (×1.75); a "real
  emergency" on a silence alert starts the count afresh; a verdict older than 28 days no longer
  counts (so the widening decays as they age out).

The product scales the learned check-in threshold — its margin, and its factor when it widens
(so a widened check-in comes at ``scale × (factor × usual + margin)``, a "high" one at
``factor × usual + 0.75 × margin``: sooner, never before the home's own longest silence at this
hour) — and the cold-start ``inactivity_hours``. Each false alarm (and "low") also reads the
home's own silences an hour further either side of the time of day (``silence_hours_around``,
at most 3): the usual false alarm is a late morning, which a factor alone does not move, since
an hour past the latest getting-up time ever seen the home's usual silence is a short daytime
one. It never moves the floor (no check-in under ``silence.CHECK_FLOOR_MIN``, inactivity never
under ``INACTIVITY_FLOOR_HOURS``) nor the cap (``silence_max_hours``: no alarm later, whatever
the scale). With no verdicts and the normal sensitivity nothing changes (``yiyang replay`` has
neither and gives the same output as before).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Outcome
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Facts, Finding
from yiyang.core.i18n import gettext as _
from yiyang.core.i18n import ngettext

WINDOW = dt.timedelta(days=28)  # verdicts older than this no longer count
SENSITIVITY = {"low": 1.5, "normal": 1.0, "high": 0.75}
INACTIVITY_FLOOR_HOURS = 3.0  # "high" never brings the fixed inactivity rule under this
MAX_AROUND = 3  # hours either side of the time of day (``Params.silence_hours_around``)
# The silence-type alerts whose verdicts count (learned silence and inactivity share a type).
SILENCE_TYPES = frozenset(
    {
        AlertType.INACTIVITY,
        AlertType.MORNING_SILENCE,
        AlertType.ROUTINE,
        AlertType.NOT_IN_BED,
        AlertType.OUT_TOO_LONG,
    }
)
# The findings whose threshold the scale moves (and whose reason says so).
WIDENED = frozenset({AlertType.INACTIVITY})


@dataclass(frozen=True, slots=True)
class Feedback:
    false_alarms: int  # counted now (since the last real emergency, within the window)
    factor: float  # what they widen the thresholds by (1.0: nothing)


NONE = Feedback(0, 1.0)


def feedback(
    outcomes: Iterable[tuple[dt.datetime, str, str]], now: dt.datetime, p: Params
) -> Feedback:
    """The widening from (when, alert type, outcome) verdicts at ``now``: ``step`` per false
    alarm on a silence alert in the last 28 days after the latest real emergency on one, at
    most ``silence_feedback_max``."""
    counted = 0
    for _at, _type, outcome in sorted(
        (at, kind, out)
        for at, kind, out in outcomes
        if kind in SILENCE_TYPES and now - WINDOW <= at <= now
    ):
        if outcome == Outcome.REAL_EMERGENCY:
            counted = 0
        elif outcome == Outcome.FALSE_ALARM:
            counted += 1
    factor = min(p.silence_feedback_max, p.silence_feedback_step**counted)
    if not counted or factor <= 1.0:  # none, or the district turned the feedback off
        return NONE
    return Feedback(counted, factor)


def scale(p: Params, fb: Feedback) -> float:
    """The sensitivity times the feedback: what the silence thresholds are multiplied by."""
    return SENSITIVITY[p.silence_sensitivity] * fb.factor


def tuned(p: Params, facts: Facts, now: dt.datetime) -> tuple[Params, Feedback]:
    """The elder's parameters as the silence rules should read them at ``now`` (the module's
    docstring), within the floors and ``silence_max_hours``: a derived view for one tick, never
    stored, and not itself checked against the safe ranges (a "high" factor is under 1). The
    same object when the scale is 1 (no verdicts, normal sensitivity)."""
    fb = feedback(facts.outcomes, now, p) if facts.outcomes else NONE
    s = scale(p, fb)
    if s == 1.0:
        return p, fb
    hours = p.inactivity_hours
    cap = max(hours, p.silence_max_hours)  # a set value past the cap stays as set
    floor = min(hours, INACTIVITY_FLOOR_HOURS)
    wider = fb.false_alarms + (1 if p.silence_sensitivity == "low" else 0)
    changed = {
        # sooner only by the margin: never before the home's own longest silence at this hour
        "silence_check_factor": p.silence_check_factor * max(1.0, s),
        "silence_check_margin_minutes": round(p.silence_check_margin_minutes * s),
        "inactivity_hours": min(cap, max(floor, hours * s)),
        # a routine an hour later than ever seen (the usual false alarm: a late morning) is
        # still the routine: an hour more either side per false alarm (and for "low"), at most 3
        "silence_hours_around": min(MAX_AROUND, p.silence_hours_around + wider),
    }
    return p.model_copy(update=changed), fb


def widened_text(fb: Feedback) -> str:
    return ngettext(
        "threshold widened after %(count)s false alarm this month",
        "threshold widened after %(count)s false alarms this month",
        fb.false_alarms,
        count=fb.false_alarms,
    )


def explain(found: list[Finding], fb: Feedback, now: dt.datetime, tz: ZoneInfo) -> list[Finding]:
    """Say in the reason of each widened finding that false alarms widened it (the fixed
    inactivity rule, which has no sentence of its own, gets "no activity since …" first)."""
    if not fb.false_alarms:
        return found
    out = []
    for f in found:
        if f.alert_type not in WIDENED or f.prompt_elder:
            out.append(f)
            continue
        text = widened_text(fb)
        reason = f.reason
        last = f.detail.get("last_activity")
        if not reason and isinstance(last, str):
            since = dt.datetime.fromisoformat(last)
            reason = _(
                "no activity since %(since)s (%(duration)s)",
                since=silence.since_text(since, now, tz),
                duration=silence.duration(int((now - since).total_seconds() // 60)),
            )
        reason = f"{reason}; {text}" if reason else text
        detail = {**f.detail, "reason": reason, "false_alarms": fb.false_alarms}
        out.append(replace(f, reason=reason, detail=detail))
    return out

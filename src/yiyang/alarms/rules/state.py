"""What the rules read and write: the elder's facts (from the registry), the per-elder state
between messages, one message (``Event``) and what a rule raises (``Finding``)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from yiyang.alarms.enums import AlertType, Severity
from yiyang.devices.enums import DeviceType, EventKind


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules need to know about the elder (from the registry)."""

    elder_id: int
    dementia: bool = False
    home: tuple[float, float] | None = None  # (lat, lon)
    # The health-monitoring consent is in force (PIPL art. 29; registry.consents). False: the
    # engine runs no passive rule for the elder (``alarms.engine``); alarms still raise.
    monitoring: bool = True
    # The operators' verdicts on this elder's recent alerts, (when it happened, alert type,
    # outcome), from the alerts table through ``repository.ElderFacts``: what
    # ``feedback.py`` widens the silence thresholds by. Empty in a replay (no operators).
    outcomes: tuple[tuple[dt.datetime, str, str], ...] = ()
    # Someone reached the elder and found them well at this moment (a community worker's
    # check-in call, ``repository.life_signs``): for the silence rules the quiet starts again
    # from it. None in a replay.
    well_at: dt.datetime | None = None


@dataclass(slots=True)
class State:
    """Per-elder memory between messages (stored in ``elder_state``)."""

    last_activity_at: dt.datetime | None = None
    last_water_use_at: dt.datetime | None = None
    water_running_since: dt.datetime | None = None
    last_meter_litres: float | None = None
    last_meter_at: dt.datetime | None = None
    in_bed: bool | None = None
    bed_changed_at: dt.datetime | None = None
    outside_since: dt.datetime | None = None
    outside_points: int = 0
    not_worn_since: dt.datetime | None = None
    prewarned_at: dt.datetime | None = None
    recent: dict[str, list[Any]] = field(default_factory=dict)
    baseline: list[float] | None = None
    baseline_days: int = 0
    # The home has a motion or door sensor: only then does silence mean something (an elder
    # with only a watch or a bed sensor is not "inactive" when those report nothing).
    activity_sensed: bool = False
    # What the rules learn of this home (``silence.py``): per local day and hour the longest
    # silence in progress, the main rest of each day, the front door and the away button. JSON;
    # never edited in place (the worker compares it with a snapshot), always replaced. An old
    # row without it loads as ``{}``: the cold start, today's fixed rules.
    learned: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    device_id: int
    device_type: DeviceType
    event: EventKind
    at: dt.datetime
    data: dict[str, Any]
    battery: int | None = None


class Response(enum.StrEnum):
    """What a finding asks of people: an ``alarm`` goes to the operator queue; a ``check_in``
    (unusually quiet, not alarming) asks someone to call the elder: the pipeline makes it a
    check-in task for a community worker (``yiyang.checkins``, which the rules do not know)."""

    ALARM = "alarm"
    CHECK_IN = "check_in"


@dataclass(frozen=True, slots=True)
class Finding:
    alert_type: AlertType
    severity: Severity
    key: str  # dedupe key: repeats with the same key merge into one open alert
    at: dt.datetime
    detail: dict[str, Any] = field(default_factory=dict)
    device_id: int | None = None
    repeat_counts: bool = True  # an event repeat bumps the count; a re-evaluated tick does not
    episodic: bool = False  # keyed by episode: once resolved, the same episode never re-opens
    prompt_elder: bool = False  # not an alert: ask the elder to check in first
    restore: bool = False  # the device reports the condition over: never opens an alert
    response: Response = Response.ALARM
    reason: str = ""  # a sentence a person can act on, in the locale current when raised

    @property
    def check_in(self) -> bool:
        """Unusually quiet, not alarming: a check-in rather than an operator alarm."""
        return self.response is Response.CHECK_IN

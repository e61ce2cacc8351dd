"""On-site proof (刷卡) checks (pure): a check-in far from the home, a service much shorter than
booked, a missing check-out, a late arrival. Flags are for a supervisor to look at; they never
block the caregiver (GPS indoors drifts, and the elder's confirmation is the stronger proof).
And the rule for the elder's 6-digit confirmation code: when it is compared, and when it locks."""

from __future__ import annotations

import datetime as dt
import enum
import hmac
from dataclasses import dataclass

from yiyang.core.geo import distance_m
from yiyang.services.enums import Flag


@dataclass(frozen=True, slots=True)
class ProofRules:
    far_m: float = 300.0  # beyond this from the registered home
    short_ratio: float = 0.6  # served less than 60 % of the booked time
    late_after: dt.timedelta = dt.timedelta(minutes=30)
    missing_checkout_after: dt.timedelta = dt.timedelta(hours=2)  # past the booked end


def distance_from_home(
    home_lat: float | None, home_lon: float | None, lat: float | None, lon: float | None
) -> float | None:
    if None in (home_lat, home_lon, lat, lon):
        return None
    return round(distance_m(home_lat, home_lon, lat, lon), 1)  # type: ignore[arg-type]


def check_in_flags(
    scheduled: dt.datetime, at: dt.datetime, metres: float | None, rules: ProofRules
) -> list[Flag]:
    flags = []
    if metres is not None and metres > rules.far_m:
        flags.append(Flag.FAR_CHECKIN)
    if at - scheduled > rules.late_after:
        flags.append(Flag.LATE_ARRIVAL)
    return flags


def check_out_flags(
    checked_in: dt.datetime,
    at: dt.datetime,
    booked_minutes: int,
    metres: float | None,
    rules: ProofRules,
) -> list[Flag]:
    flags = []
    if metres is not None and metres > rules.far_m:
        flags.append(Flag.FAR_CHECKOUT)
    served = (at - checked_in).total_seconds() / 60
    if booked_minutes > 0 and served < booked_minutes * rules.short_ratio:
        flags.append(Flag.SHORT_SERVICE)
    return flags


def checkout_overdue(
    checked_in: dt.datetime, booked_minutes: int, at: dt.datetime, rules: ProofRules
) -> bool:
    """Still "in service" long after the booked end: the caregiver forgot, or left unproven."""
    return at > checked_in + dt.timedelta(minutes=booked_minutes) + rules.missing_checkout_after


# --- the elder's confirmation code ------------------------------------------------------------

CODE_MAX_FAILURES = 5  # wrong codes in a row lock that order's code until it is reissued


class CodeOutcome(enum.StrEnum):
    """What one attempt at the elder's code came to (each is audited)."""

    RIGHT = "right"
    WRONG = "wrong"
    LOCKING = "locking"  # wrong, and the last try: the code is locked from now on
    LOCKED = "locked"  # the code was already locked: nothing compared
    NOT_NOW = "not_now"  # the order is not at the step that takes a code: nothing compared


def judge_code(
    given: str, expected: str, *, usable: bool, locked: bool, failures: int
) -> CodeOutcome:
    """One attempt at the code, decided in this order so that no answer depends on the code
    unless the code may be used: the order must be at the step that takes it (``usable``;
    before that every attempt is answered alike), the code must not be locked, and only then
    is it compared — in constant time, as bytes (a full-width digit is simply wrong)."""
    if not usable:
        return CodeOutcome.NOT_NOW
    if locked:
        return CodeOutcome.LOCKED
    if hmac.compare_digest(given.strip().encode(), expected.encode()):
        return CodeOutcome.RIGHT
    return CodeOutcome.LOCKING if failures + 1 >= CODE_MAX_FAILURES else CodeOutcome.WRONG

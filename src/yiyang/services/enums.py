"""Service vocabularies and the order state machine (pure)."""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class ServiceCategory(enum.StrEnum):
    MEAL = "meal"  # 助餐
    BATHING = "bathing"  # 助浴
    CLEANING = "cleaning"  # 助洁
    HAIRCUT = "haircut"  # 理发
    REHAB = "rehab"  # 康复
    ESCORT = "escort"  # 陪同就医
    DAYCARE = "daycare"  # 日间照料
    NURSING = "nursing"  # 上门护理


class Unit(enum.StrEnum):
    VISIT = "visit"
    HOUR = "hour"
    MEAL = "meal"


class OrderState(enum.StrEnum):
    PLACED = "placed"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    ON_THE_WAY = "on_the_way"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"


class ComplaintState(enum.StrEnum):
    RECEIVED = "received"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class Flag(enum.StrEnum):
    """On-site proof anomalies a supervisor should look at."""

    FAR_CHECKIN = "far_checkin"
    FAR_CHECKOUT = "far_checkout"
    SHORT_SERVICE = "short_service"
    MISSING_CHECKOUT = "missing_checkout"
    LATE_ARRIVAL = "late_arrival"


S = OrderState
# Which action takes an order from which states to which state.
TRANSITIONS: dict[str, tuple[frozenset[OrderState], OrderState]] = {
    "assign": (frozenset({S.PLACED, S.ASSIGNED, S.ACCEPTED}), S.ASSIGNED),
    "accept": (frozenset({S.ASSIGNED}), S.ACCEPTED),
    "decline": (frozenset({S.ASSIGNED}), S.PLACED),
    "depart": (frozenset({S.ACCEPTED}), S.ON_THE_WAY),
    "check_in": (frozenset({S.ACCEPTED, S.ON_THE_WAY}), S.IN_SERVICE),
    "check_out": (frozenset({S.IN_SERVICE}), S.COMPLETED),
    "confirm": (frozenset({S.COMPLETED}), S.CONFIRMED),
    "dispute": (frozenset({S.COMPLETED, S.CONFIRMED}), S.DISPUTED),
    # a dispute found unfounded: the service stands and is paid again
    "reject_dispute": (frozenset({S.DISPUTED}), S.CONFIRMED),
    # a dispute upheld: the service did not happen as booked; it stays unpaid
    "uphold_dispute": (frozenset({S.DISPUTED}), S.CANCELLED),
    "cancel": (frozenset({S.PLACED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY}), S.CANCELLED),
}
OPEN_STATES = frozenset(
    {S.PLACED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.IN_SERVICE, S.COMPLETED, S.DISPUTED}
)
# Jobs that occupy a caregiver's day (for load and route).
BUSY_STATES = frozenset({S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.IN_SERVICE})


def next_state(current: OrderState | str, action: str) -> OrderState | None:
    """The state ``action`` leads to from ``current``, or None when it is not allowed."""
    sources, target = TRANSITIONS[action]
    return target if OrderState(current) in sources else None


LABELS: dict[str, str] = {
    "meal": N_("Meals"),
    "bathing": N_("Bathing"),
    "cleaning": N_("Cleaning"),
    "haircut": N_("Haircut"),
    "rehab": N_("Rehabilitation"),
    "escort": N_("Accompanied doctor visit"),
    "daycare": N_("Day care"),
    "nursing": N_("Home nursing"),
    "visit": N_("per visit"),
    "hour": N_("per hour"),
    "placed": N_("Placed"),
    "assigned": N_("Assigned"),
    "accepted": N_("Accepted"),
    "on_the_way": N_("On the way"),
    "in_service": N_("In service"),
    "completed": N_("Completed"),
    "confirmed": N_("Confirmed"),
    "disputed": N_("Disputed"),
    "cancelled": N_("Cancelled"),
    "received": N_("Received"),
    "investigating": N_("Investigating"),
    "resolved": N_("Resolved"),
    "far_checkin": N_("Checked in far from the home"),
    "far_checkout": N_("Checked out far from the home"),
    "short_service": N_("Much shorter than booked"),
    "missing_checkout": N_("No check-out"),
    "late_arrival": N_("Arrived late"),
}

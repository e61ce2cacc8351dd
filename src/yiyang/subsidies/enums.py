from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class PolicyKind(enum.StrEnum):
    CREDIT = "credit"  # a monthly service credit in fen (特困: 600 元/月)
    HOURS = "hours"  # monthly service time in minutes (失能: 照护等级 → hours)
    PER_MEAL = "per_meal"  # a fixed amount off each meal (助餐补贴)


class CarryOver(enum.StrEnum):
    NONE = "none"  # what is left at month end expires
    CAP = "cap"  # carried over up to ``carry_cap``; the rest expires
    UNLIMITED = "unlimited"  # carried over while the policy runs


class EntryKind(enum.StrEnum):
    ALLOCATION = "allocation"
    EXPIRY = "expiry"
    PAYMENT = "payment"
    MEAL = "meal"
    REVERSAL = "reversal"


LABELS = {
    "credit": N_("Service credit"),
    "hours": N_("Service hours"),
    "per_meal": N_("Per-meal subsidy"),
    "none": N_("Expires at month end"),
    "cap": N_("Carried over up to a cap"),
    "unlimited": N_("Carried over"),
    "allocation": N_("Monthly allocation"),
    "expiry": N_("Expired"),
    "payment": N_("Payment"),
    "meal": N_("Meal"),
    "reversal": N_("Reversal"),
}

"""Registry vocabularies. Values are stable English codes; labels are translated in the UI."""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import ROLE_LABELS, Role

ROLE_KEYS = frozenset(r.value for r in Role)


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class Household(enum.StrEnum):
    ALONE = "alone"  # 独居
    EMPTY_NEST = "empty_nest"  # 空巢 (elderly couple, no children at home)
    WITH_FAMILY = "with_family"  # 与家人同住


class Category(enum.StrEnum):
    EXTREME_POVERTY = "extreme_poverty"  # 特困
    MINIMUM_LIVING = "minimum_living"  # 低保
    LOW_INCOME = "low_income"  # 低收入
    DISABLED_CARE = "disabled_care"  # 失能
    SEMI_DISABLED = "semi_disabled"  # 半失能
    DISABILITY = "disability"  # 残疾
    ADVANCED_AGE = "advanced_age"  # 高龄
    FAMILY_PLANNING_SPECIAL = "family_planning_special"  # 计划生育特殊家庭
    VETERAN = "veteran"  # 退役军人
    LIVING_ALONE = "living_alone_registered"  # 独居登记 (registered with the street office)


class Mobility(enum.StrEnum):
    INDEPENDENT = "independent"
    WALKS_WITH_AID = "walks_with_aid"
    WHEELCHAIR = "wheelchair"
    BEDRIDDEN = "bedridden"


class ElderStatus(enum.StrEnum):
    ACTIVE = "active"
    MOVED_OUT = "moved_out"
    DECEASED = "deceased"


class BloodType(enum.StrEnum):
    A = "A"
    B = "B"
    AB = "AB"
    O = "O"  # noqa: E741
    UNKNOWN = "unknown"


def label(value: enum.Enum | str | None) -> str:
    """Human label for an enum value in the current locale."""
    if value is None:
        return ""
    key = value.value if isinstance(value, enum.Enum) else value
    if key in ROLE_KEYS:
        return _(ROLE_LABELS[Role(key)])
    return _(LABELS.get(key, key))


# Reasons the system writes on a status change itself (a person's reason is their own text).
STATUS_REASONS: dict[str, str] = {
    "imported": N_("Registered by a roll import"),
    "registered": N_("Registered on the elder form"),
}


def status_reason(reason: str | None) -> str:
    """A status change's reason as shown: the system's codes translated, a person's text as
    typed."""
    if not reason:
        return ""
    return _(STATUS_REASONS[reason]) if reason in STATUS_REASONS else reason


# English labels are the gettext msgids; zh_CN comes from the catalogue.
LABELS: dict[str, str] = {
    "male": N_("Male"),
    "female": N_("Female"),
    "alone": N_("Living alone"),
    "empty_nest": N_("Empty-nest"),
    "with_family": N_("With family"),
    "extreme_poverty": N_("Extreme poverty"),
    "minimum_living": N_("Minimum living allowance"),
    "low_income": N_("Low income"),
    "disabled_care": N_("Disabled"),
    "semi_disabled": N_("Semi-disabled"),
    "disability": N_("Disability"),
    "advanced_age": N_("Advanced age"),
    "family_planning_special": N_("Special family-planning family"),
    "veteran": N_("Veteran"),
    "living_alone_registered": N_("Registered living alone"),
    "independent": N_("Independent"),
    "walks_with_aid": N_("Walks with aid"),
    "wheelchair": N_("Wheelchair"),
    "bedridden": N_("Bedridden"),
    "active": N_("Active"),
    "moved_out": N_("Moved out"),
    "deceased": N_("Deceased"),
    "unknown": N_("Unknown"),
}

# Chinese spellings accepted in import files (and the codes themselves).
CATEGORY_ALIASES: dict[str, Category] = {
    "特困": Category.EXTREME_POVERTY,
    "特困供养": Category.EXTREME_POVERTY,
    "低保": Category.MINIMUM_LIVING,
    "低收入": Category.LOW_INCOME,
    "失能": Category.DISABLED_CARE,
    "半失能": Category.SEMI_DISABLED,
    "残疾": Category.DISABILITY,
    "残疾人": Category.DISABILITY,
    "高龄": Category.ADVANCED_AGE,
    "计划生育特殊家庭": Category.FAMILY_PLANNING_SPECIAL,
    "计生特殊家庭": Category.FAMILY_PLANNING_SPECIAL,
    "退役军人": Category.VETERAN,
    "独居": Category.LIVING_ALONE,
    **{c.value: c for c in Category},
}
HOUSEHOLD_ALIASES: dict[str, Household] = {
    "独居": Household.ALONE,
    "空巢": Household.EMPTY_NEST,
    "与家人同住": Household.WITH_FAMILY,
    "与子女同住": Household.WITH_FAMILY,
    "同住": Household.WITH_FAMILY,
    **{h.value: h for h in Household},
}
GENDER_ALIASES: dict[str, Gender] = {
    "男": Gender.MALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "f": Gender.FEMALE,
    **{g.value: g for g in Gender},
}

"""Synonym tables: the wordings rolls use for household, gender, categories and the relation of
an emergency contact, mapped to the registry's codes. Pure: the defaults ship with the package;
a district's own additions (``registry.models.RegistrySynonym``, edited through the API) are
laid over them by ``Synonyms.with_additions``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from yiyang.core.i18n import gettext as _
from yiyang.registry.enums import (
    CATEGORY_ALIASES,
    GENDER_ALIASES,
    HOUSEHOLD_ALIASES,
    Category,
    Gender,
    Household,
    label,
)
from yiyang.registry.validation import normalize


class SynonymKind(enum.StrEnum):
    HOUSEHOLD = "household"
    GENDER = "gender"
    CATEGORY = "category"
    RELATION = "relation"


# Wordings seen in district rolls, beyond the enums' own aliases.
DEFAULT_HOUSEHOLD: dict[str, Household] = {
    **HOUSEHOLD_ALIASES,
    "独居老人": Household.ALONE,
    "孤寡": Household.ALONE,
    "孤寡老人": Household.ALONE,
    "一人居住": Household.ALONE,
    "单独居住": Household.ALONE,
    "独自居住": Household.ALONE,
    "空巢老人": Household.EMPTY_NEST,
    "子女不在身边": Household.EMPTY_NEST,
    "老两口": Household.EMPTY_NEST,
    "夫妻同住": Household.EMPTY_NEST,
    "与配偶同住": Household.EMPTY_NEST,
    "纯老家庭": Household.EMPTY_NEST,
    "与子女居住": Household.WITH_FAMILY,
    "和子女同住": Household.WITH_FAMILY,
    "与家人居住": Household.WITH_FAMILY,
    "与亲属同住": Household.WITH_FAMILY,
    "非独居": Household.WITH_FAMILY,
}
DEFAULT_GENDER: dict[str, Gender] = {
    **GENDER_ALIASES,
    "男性": Gender.MALE,
    "女性": Gender.FEMALE,
    "男士": Gender.MALE,
    "女士": Gender.FEMALE,
    "man": Gender.MALE,
    "woman": Gender.FEMALE,
}
DEFAULT_CATEGORY: dict[str, Category] = {
    **CATEGORY_ALIASES,
    "特困人员": Category.EXTREME_POVERTY,
    "五保": Category.EXTREME_POVERTY,
    "五保户": Category.EXTREME_POVERTY,
    "低保户": Category.MINIMUM_LIVING,
    "最低生活保障": Category.MINIMUM_LIVING,
    "低收入户": Category.LOW_INCOME,
    "失能老人": Category.DISABLED_CARE,
    "半失能老人": Category.SEMI_DISABLED,
    "高龄老人": Category.ADVANCED_AGE,
    "失独": Category.FAMILY_PLANNING_SPECIAL,
    "失独家庭": Category.FAMILY_PLANNING_SPECIAL,
    "计生特扶": Category.FAMILY_PLANNING_SPECIAL,
    "独居老人": Category.LIVING_ALONE,
    "军人": Category.VETERAN,
    "复员军人": Category.VETERAN,
    "退伍军人": Category.VETERAN,
}
# Relations are free text on the record; the common wordings are folded into one spelling.
DEFAULT_RELATION: dict[str, str] = {
    "儿": "儿子",
    "子": "儿子",
    "长子": "儿子",
    "次子": "儿子",
    "女": "女儿",
    "长女": "女儿",
    "次女": "女儿",
    "闺女": "女儿",
    "夫": "配偶",
    "妻": "配偶",
    "丈夫": "配偶",
    "妻子": "配偶",
    "老伴": "配偶",
    "爱人": "配偶",
    "媳妇": "儿媳",
    "儿媳妇": "儿媳",
    "孙": "孙子",
    "孙女儿": "孙女",
    "外孙女儿": "外孙女",
    "侄": "侄子",
    "邻": "邻居",
    "朋友": "朋友",
}


def key(wording: str) -> str:
    """How wordings are compared: NFKC, no spaces, lower case."""
    return "".join(normalize(wording).split()).lower()


@dataclass
class Synonyms:
    """Wording (compared by ``key``) → code, per kind. Picklable."""

    household: dict[str, str] = field(default_factory=dict)
    gender: dict[str, str] = field(default_factory=dict)
    category: dict[str, str] = field(default_factory=dict)
    relation: dict[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Synonyms:
        return cls(
            household={key(k): v.value for k, v in DEFAULT_HOUSEHOLD.items()},
            gender={key(k): v.value for k, v in DEFAULT_GENDER.items()},
            category={key(k): v.value for k, v in DEFAULT_CATEGORY.items()},
            relation={key(k): v for k, v in DEFAULT_RELATION.items()},
        )

    def with_additions(self, additions: Iterable[tuple[str, str, str]]) -> Synonyms:
        """The defaults with a district's own (kind, wording, value) laid over them."""
        out = Synonyms(
            dict(self.household), dict(self.gender), dict(self.category), dict(self.relation)
        )
        for kind, wording, value in additions:
            table: dict[str, str] = getattr(out, SynonymKind(kind).value)
            table[key(wording)] = value
        return out

    def table(self, kind: SynonymKind) -> Mapping[str, str]:
        result: Mapping[str, str] = getattr(self, kind.value)
        return result


VALUES: dict[SynonymKind, frozenset[str] | None] = {
    SynonymKind.HOUSEHOLD: frozenset(h.value for h in Household),
    SynonymKind.GENDER: frozenset(g.value for g in Gender),
    SynonymKind.CATEGORY: frozenset(c.value for c in Category),
    SynonymKind.RELATION: None,  # free text
}


def check_addition(kind: SynonymKind, wording: str, value: str) -> str | None:
    """Why a district may not add ``wording`` → ``value`` to the ``kind`` table (None when it
    may): a wording the package ships is not redefined (every district reads it alike), nor
    added again with its shipped value. Pure."""
    shipped = Synonyms.default().table(kind).get(key(wording))
    if shipped is None:
        return None
    if shipped == value:
        return _("%(wording)s is shipped with this value already.", wording=wording)
    return _(
        "%(wording)s is a shipped wording for %(value)s; a district cannot change it.",
        wording=wording,
        value=label(shipped),
    )

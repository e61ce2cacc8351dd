"""Pure checks for registry fields: resident ID (GB 11643, via python-stdnum) and phones.

Each check returns the normalised value or raises ``FieldError`` with a message a person can
act on. No I/O; used by the API schemas and the bulk importer alike.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from stdnum.cn import ric

from yiyang.core.i18n import gettext as _
from yiyang.registry.enums import Gender


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    gender: Gender


@lru_cache(maxsize=8192)
def _area_known(prefix6: str) -> bool:
    """Is this a county code that has existed at any time?

    ``ric.validate`` also demands that the county existed in the *birth year*. That rejects
    genuine numbers of elders: IDs were issued from 1985 on with the codes current then, so a
    person born in 1940 commonly carries a code created in the 1980s (see docs/adr/0003).
    """
    from stdnum import numdb

    parts = numdb.get("cn/loc").info(prefix6)
    return any("county" in props for _part, props in parts)


def check_id_number(value: str) -> ResidentId:
    """Validate an 18-digit resident identity number (居民身份证号码, GB 11643-1999)."""
    # Same normalisation as ric.compact (spaces and dashes out, upper case), without its
    # per-character generator: this runs a million times in a district import.
    number = _SEPARATORS.sub("", value or "").upper()
    if not number:
        raise FieldError("id_number", _("The ID number is missing."))
    if len(number) != 18:
        raise FieldError(
            "id_number", _("The ID number must have 18 characters, not %(n)d.", n=len(number))
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise FieldError("id_number", _("The ID number may contain only digits and a final X."))
    if number[17] != ric.calc_check_digit(number):
        raise FieldError(
            "id_number",
            _(
                "The ID number's check digit is wrong (expected %(digit)s); please re-check it.",
                digit=ric.calc_check_digit(number),
            ),
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise FieldError(
            "id_number", _("The ID number contains an impossible birth date.")
        ) from None
    if not _area_known(number[:6]):
        raise FieldError(
            "id_number", _("The ID number's area code %(code)s does not exist.", code=number[:6])
        )
    gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
    return ResidentId(number=number, birth_date=birth, gender=gender)


_SEPARATORS = re.compile(r"[\s\-]+")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")


def check_phone(value: str | None, field: str = "phone") -> str | None:
    """A mainland mobile (11 digits) or landline (with or without area code); None if empty."""
    if value is None:
        return None
    text = re.sub(r"[\s\-()（）]", "", str(value))
    if text.endswith(".0"):  # numbers that spreadsheets turned into floats
        text = text[:-2]
    text = text.removeprefix("+86").removeprefix("0086")
    if not text:
        return None
    if _MOBILE.match(text) or _LANDLINE.match(text) or _LOCAL.match(text):
        return text
    raise FieldError(field, _("%(value)s is not a valid phone number.", value=str(value)[:32]))


def check_birth_matches(resident: ResidentId, birth_date: dt.date | None) -> None:
    if birth_date is not None and birth_date != resident.birth_date:
        raise FieldError(
            "birth_date",
            _(
                "The birth date %(given)s contradicts the ID number (%(expected)s).",
                given=birth_date.isoformat(),
                expected=resident.birth_date.isoformat(),
            ),
        )


def check_gender_matches(resident: ResidentId, gender: Gender | None) -> None:
    if gender is not None and gender is not resident.gender:
        raise FieldError("gender", _("The gender contradicts the ID number."))

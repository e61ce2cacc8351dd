"""Pure checks for registry fields: resident ID (GB 11643, via python-stdnum), names and phones.

Every value is Unicode-NFKC normalised first (full-width digits, letters, spaces and brackets
from Chinese input methods become their ASCII forms), and each check judges the normalised
value. Each check returns the normalised value or raises ``FieldError`` with a message a person
can act on. No I/O; the one module the API schemas, the forms and the bulk importer all use.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
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
    legacy: str | None = None  # the 15-digit first-generation number it was upgraded from


def normalize(value: str) -> str:
    """NFKC (full-width → ASCII, compatibility forms folded), stripped. ASCII is left alone
    cheaply: this runs on every cell of a million-row roll."""
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", value).strip()


_SPACES = re.compile(r"\s+")
_CJK = "\u3400-\u9fff\uf900-\ufaff\u00b7\u30fb"  # and the middle dot of 阿依古丽·买买提
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


def normalize_name(value: str) -> str:
    """A person's name: NFKC; spaces between Chinese characters go (``任　明`` → ``任明``, so a
    search for 任明 finds it); other runs of spaces become one (``Anna  Maria``)."""
    text = normalize(value)
    if " " not in text and text.isprintable():
        return text  # no space of any kind inside (NFKC made U+3000 a space; \s is unprintable)
    if " " in text or not text.isascii():
        text = _SPACES.sub(" ", _SPACE_BETWEEN_CJK.sub("", text))
    return text


def upgrade_id15(number: str) -> str:
    """A 15-digit first-generation ID (GB 11643-1989) as its 18-digit form: the century ``19``
    goes before the two-digit birth year and the ISO 7064 MOD 11-2 check digit is appended."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


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
    """Validate an 18-digit resident identity number (居民身份证号码, GB 11643-1999); a 15-digit
    first-generation number is upgraded to 18 digits first and checked as such."""
    # NFKC (full-width digits and X), then the same normalisation as ric.compact (spaces and
    # dashes out, upper case), without its per-character generator: this runs a million times
    # in a district import.
    if len(value) == 18 and value.isascii() and value[:17].isdigit() and value[17] in _CHECK:
        number = value  # already compact (the usual case): nothing to normalise
    else:
        number = _SEPARATORS.sub("", normalize(value or "")).upper()
    if not number:
        raise FieldError("id_number", _("The ID number is missing."))
    legacy = None
    if len(number) == 15 and number.isdigit():
        legacy, number = number, upgrade_id15(number)
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
    return ResidentId(number=number, birth_date=birth, gender=gender, legacy=legacy)


_CHECK = frozenset("0123456789X")
_SEPARATORS = re.compile(r"[\s\-]+")  # after NFKC: every kind of space, ASCII dashes
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")


def check_phone(value: str | None, field: str = "phone") -> str | None:
    """A mainland mobile (11 digits) or landline (with or without area code); None if empty."""
    if value is None:
        return None
    text = re.sub(r"[\s\-()]", "", normalize(str(value)))
    if text.endswith(".0"):  # numbers that spreadsheets turned into floats
        text = text[:-2]
    text = text.removeprefix("+86").removeprefix("0086")
    if not text:
        return None
    if _MOBILE.match(text) or _LANDLINE.match(text) or _LOCAL.match(text):
        return text
    raise FieldError(field, _("%(value)s is not a valid phone number.", value=str(value)[:32]))


@dataclass
class Phones:
    """The numbers of one cell, classified. ``notes`` keeps what was written beside a number
    (``13812345678（儿子）``) as that number's note, never as part of it."""

    mobiles: list[str] = field(default_factory=list)
    landlines: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def extend(self, other: Phones) -> None:
        self.mobiles += [m for m in other.mobiles if m not in self.mobiles]
        self.landlines += [n for n in other.landlines if n not in self.landlines]
        self.notes.update(other.notes)


_PHONE_PARTS = re.compile(r"[,;/、|]+|\s{2,}")  # after NFKC: ，→ , and ；→ ;
_PHONE_NOTE = re.compile(r"\(([^)]*)\)")
_PHONE_RUN = re.compile(r"(?:\+?86[\s\-]?)?\d[\d\s\-]*\d")
_NO_PHONE = frozenset({"无", "暂无", "没有", "-", "—", "/"})
_PHONE_LABELS = frozenset({"手机", "手机号", "电话", "联系电话", "座机", "固话", "tel", "mobile"})
_FLOAT_TAIL = re.compile(r"^(\d+)\.0$")


def classify_phone(number: str, area_code: str = "") -> str | None:
    """``"mobile:<digits>"`` or ``"landline:<digits>"`` for one compact number, or None.
    A 7–8-digit local number gets the district's default area code when one is set."""
    if number.endswith(".0"):  # numbers that spreadsheets turned into floats
        number = number[:-2]
    for prefix in ("+86", "0086"):
        number = number.removeprefix(prefix)
    if len(number) == 13 and number.startswith("861"):
        number = number[2:]
    if _MOBILE.match(number):
        return "mobile:" + number
    if _LANDLINE.match(number):
        return "landline:" + number
    if _LOCAL.match(number):
        return "landline:" + area_code + number
    return None


def _numbers_of(run: str, area_code: str) -> list[str] | None:
    """A run of digits, spaces and dashes: one number (``138 1234 5678``) or several written
    with spaces between them (``13812345678 13912345678``)."""
    whole = classify_phone(_SEPARATORS.sub("", run), area_code)
    if whole is not None:
        return [whole]
    parts = [classify_phone(p, area_code) for p in run.split()]
    if len(parts) > 1 and all(parts):
        return [p for p in parts if p]
    return None


def split_phones(value: str | None, field: str = "phone", area_code: str = "") -> Phones:
    """Every number in a cell, classified into mobiles and landlines, each with its note.
    Raises ``FieldError`` naming the part that is not a phone number."""
    text = normalize(str(value)) if value is not None else ""
    if len(text) == 11 and _MOBILE.match(text):  # the common case: one plain mobile
        return Phones([text])
    phones = Phones()
    text = _FLOAT_TAIL.sub(r"\1", text)  # a number a spreadsheet turned into a float
    for part in _PHONE_PARTS.split(text):
        part = part.strip()
        if not part or part in _NO_PHONE:
            continue
        notes = [n.strip() for n in _PHONE_NOTE.findall(part) if n.strip()]
        rest = _PHONE_NOTE.sub(" ", part)
        runs = _PHONE_RUN.findall(rest)
        words = _PHONE_RUN.sub(" ", rest).strip(" :-")
        if words and words.lower() not in _PHONE_LABELS:
            notes.append(words)
        found: list[str] = []
        for run in runs:
            numbers = _numbers_of(run, area_code)
            if numbers is None:
                found = []
                break
            found += numbers
        if not found:
            raise FieldError(field, _("%(value)s is not a valid phone number.", value=part[:32]))
        for kind_number in found:
            kind, number = kind_number.split(":", 1)
            target = phones.mobiles if kind == "mobile" else phones.landlines
            if number not in target:
                target.append(number)
            if notes:
                phones.notes[number] = "，".join(notes)[:60]
    return phones


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

"""Reading and validating an elder roll (XLSX or CSV in UTF-8/GBK). Pure: bytes in, valid rows
and rejected rows (with every reason) out. Writing is ``registry.imports``'s job.

Rolls arrive as clerks build them: a title row above the headers, the community by name, values
typed with full-width digits, old 15-digit IDs, Excel date serials, several phones in a cell.
The header row is found (``find_header``), every value is NFKC-normalised before it is judged
(``registry.validation``), and a rejected row keeps the file's own columns and cell text."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from yiyang.core.i18n import N_, set_locale
from yiyang.core.i18n import gettext as _
from yiyang.regions.names import RegionIndex, RegionRef
from yiyang.registry.enums import Gender
from yiyang.registry.synonyms import Synonyms
from yiyang.registry.synonyms import key as synonym_key
from yiyang.registry.validation import (
    FieldError,
    Phones,
    check_birth_matches,
    check_gender_matches,
    check_id_number,
    normalize,
    normalize_name,
    split_phones,
)

__all__ = ["RegionIndex", "RegionRef"]  # RegionRef is imported from here by callers and tests

# Column headers accepted (Chinese as districts write them, and the English field names).
HEADERS: dict[str, str] = {
    "姓名": "name",
    "name": "name",
    "性别": "gender",
    "gender": "gender",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "id_number": "id_number",
    "出生日期": "birth_date",
    "birth_date": "birth_date",
    "手机": "mobile_phone",
    "手机号": "mobile_phone",
    "手机号码": "mobile_phone",
    "mobile_phone": "mobile_phone",
    # A phone column of either kind: its numbers are classified into mobile and landline.
    "联系电话": "phone",
    "电话": "phone",
    "电话号码": "phone",
    "联系方式": "phone",
    "本人电话": "phone",
    "phone": "phone",
    "固定电话": "home_phone",
    "座机": "home_phone",
    "home_phone": "home_phone",
    "住址": "address",
    "家庭住址": "address",
    "居住地址": "address",
    "address": "address",
    "区划代码": "region_code",
    "社区代码": "region_code",
    "所属社区代码": "region_code",
    "region_code": "region_code",
    "所属街道": "street_name",
    "街道": "street_name",
    "街道(镇)": "street_name",
    "街镇": "street_name",
    "所属街镇": "street_name",
    "street_name": "street_name",
    "所属社区": "community_name",
    "社区": "community_name",
    "社区(村)": "community_name",
    "居委会": "community_name",
    "所属居委": "community_name",
    "所属居委会": "community_name",
    "community_name": "community_name",
    "居住情况": "household",
    "居住状况": "household",
    "household": "household",
    "类别": "categories",
    "人员类别": "categories",
    "categories": "categories",
    "照护等级": "care_level",
    "care_level": "care_level",
    "慢性病": "chronic_conditions",
    "chronic_conditions": "chronic_conditions",
    "过敏史": "allergies",
    "过敏": "allergies",
    "allergies": "allergies",
    "失智": "dementia",
    "认知障碍": "dementia",
    "dementia": "dementia",
    "紧急联系人": "contact_name",
    "contact_name": "contact_name",
    "联系人关系": "contact_relation",
    "与老人关系": "contact_relation",
    "contact_relation": "contact_relation",
    "联系人电话": "contact_phone",
    "contact_phone": "contact_phone",
    "纬度": "latitude",
    "latitude": "latitude",
    "经度": "longitude",
    "longitude": "longitude",
    "家庭医生": "family_doctor_name",
    "family_doctor_name": "family_doctor_name",
    "用药": "medications",
    "当前用药": "medications",
    "medications": "medications",
    "钥匙保管人": "key_holder",
    "key_holder": "key_holder",
    "入户说明": "access_notes",
    "access_notes": "access_notes",
}
# Known columns that carry nothing to store (not reported as "ignored").
SKIPPED_HEADERS = frozenset({"序号", "编号", "no", "no.", "备注"})
REQUIRED = ("name", "id_number", "address", "household")
# The region is required as either column: the 12-digit code or the community's name.
REGION_FIELDS = ("region_code", "community_name")
HEADER_SCAN = 30  # rows searched for the header row (title, blank and notes rows above it)
# Template column order for a blank roll (and for rejected-row downloads).
TEMPLATE = [
    "姓名",
    "性别",
    "身份证号",
    "出生日期",
    "手机",
    "固定电话",
    "住址",
    "区划代码",
    "居住情况",
    "类别",
    "照护等级",
    "慢性病",
    "过敏史",
    "失智",
    "紧急联系人",
    "联系人关系",
    "联系人电话",
    "纬度",
    "经度",
    "家庭医生",
    "用药",
    "钥匙保管人",
    "入户说明",
]
_SPLIT = re.compile(r"[、,，;；/|\s]+")
_YES = {"是", "有", "y", "yes", "true", "1"}
_NO = {"否", "无", "n", "no", "false", "0", ""}
MAX_ROWS = 2_000_000


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong format, no header, no required columns)."""


@dataclass
class ParsedTable:
    headers: list[str]  # the file's own header cells, as written
    columns: dict[str, int]  # field name → column index
    unknown_headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (spreadsheet row number, raw cells)
    header_row: int = 1  # the spreadsheet row the headers were found in

    def layout(self) -> dict[str, Any]:
        """The header row and the column mapping (file column → field), JSON-ready: shown on
        the import page, kept on the batch for its commit and its rejected-rows download."""
        fields = {index: name for name, index in self.columns.items()}
        return {
            "header_row": self.header_row,
            "headers": self.headers,
            "fields": [fields.get(i) for i in range(len(self.headers))],
        }


@dataclass
class ImportContext:
    """A district's settings for an import (picklable): default area code, synonym tables."""

    area_code: str = ""
    synonyms: Synonyms = field(default_factory=Synonyms.default)


@dataclass
class ValidRow:
    row: int
    values: dict[str, Any]
    categories: list[str]
    contact: dict[str, Any] | None
    cells: list[Any] = field(default_factory=list, repr=False)  # as read, for a later rejection


@dataclass
class RejectedRow:
    row: int
    errors: list[dict[str, str]]
    values: dict[str, str] = field(default_factory=dict)  # field → the cell as written
    cells: list[str] = field(default_factory=list)  # every cell of the row, as written


# ---------------------------------------------------------------------------- reading
def read_table(
    data: bytes, filename: str, mapping: Mapping[int, str | None] | None = None
) -> ParsedTable:
    """The table in ``data``: its header row found, its columns mapped to fields (or as the
    clerk mapped them: ``mapping`` is column index → field, None for "ignore")."""
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm", ".xls")) or data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise ImportFileError(_("Only .xlsx and .csv files can be imported."))
    header_row, header_cells, rows = find_header(rows)
    headers = [_original(h) for h in header_cells]
    if mapping is not None:
        columns = {f: i for i, f in sorted(mapping.items()) if f and i < len(headers)}
        columns = {f: i for f, i in columns.items() if f in FIELDS}
        unknown = [h for i, h in enumerate(headers) if h and i not in columns.values()]
    else:
        columns, unknown = map_headers(headers)
    missing = [_column_label(f) for f in REQUIRED if f not in columns]
    if not any(f in columns for f in REGION_FIELDS):
        missing.append(" / ".join(_column_label(f) for f in REGION_FIELDS))
    if missing:
        raise ImportFileError(
            _(
                "Required columns are missing: %(cols)s (headers read from row %(row)d).",
                cols=", ".join(missing),
                row=header_row,
            )
        )
    return ParsedTable(headers, columns, unknown, rows, header_row)


FIELDS = frozenset(HEADERS.values())


def header_key(header: str) -> str:
    """A header as compared: NFKC, no spaces or required-field stars, lower case."""
    return "".join(normalize(header).split()).strip("*").lower()


_HEADER_KEYS = {header_key(h): f for h, f in HEADERS.items()}


def map_headers(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Field → column index for the headers we know (the first column of a field wins), and
    the headers we do not."""
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for i, h in enumerate(headers):
        key = _HEADER_KEYS.get(header_key(h))
        if key and key not in columns:
            columns[key] = i
        elif h and header_key(h) not in SKIPPED_HEADERS:
            unknown.append(h)
    return columns, unknown


def _header_score(cells: list[Any]) -> tuple[bool, int]:
    columns, _unknown = map_headers([_original(c) for c in cells])
    complete = all(f in columns for f in REQUIRED) and any(f in columns for f in REGION_FIELDS)
    return complete, len(columns)


def find_header(
    rows: Iterator[tuple[int, list[Any]]],
) -> tuple[int, list[Any], Iterator[tuple[int, list[Any]]]]:
    """The header row among the first non-empty rows: the first that has every required
    column, else the one naming most known columns (a title row merged across the columns, a
    blank row, a notes row above it are skipped). Returns its number, its cells and the rows
    after it."""
    seen: list[tuple[int, list[Any]]] = []
    best: tuple[int, int] | None = None  # (score, position in seen)
    for item in islice(rows, HEADER_SCAN):
        seen.append(item)
        complete, score = _header_score(item[1])
        if complete:
            best = (score, len(seen) - 1)
            break
        if score >= 2 and (best is None or score > best[0]):
            best = (score, len(seen) - 1)
    if not seen:
        raise ImportFileError(_("The file is empty."))
    position = best[1] if best is not None else 0
    number, cells = seen[position]
    return number, cells, chain(seen[position + 1 :], rows)


# What each field is called on the import page's column mapping (gettext msgids).
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "gender": N_("Gender"),
    "id_number": N_("ID number"),
    "birth_date": N_("Birth date"),
    "mobile_phone": N_("Mobile phone"),
    "home_phone": N_("Home phone"),
    "phone": N_("Phone (mobile or landline)"),
    "address": N_("Address"),
    "region_code": N_("Region code"),
    "street_name": N_("Street (name)"),
    "community_name": N_("Community (name)"),
    "household": N_("Household"),
    "categories": N_("Categories"),
    "care_level": N_("Care level"),
    "chronic_conditions": N_("Chronic conditions"),
    "allergies": N_("Allergies"),
    "dementia": N_("Dementia"),
    "contact_name": N_("Emergency contact"),
    "contact_relation": N_("Contact's relation"),
    "contact_phone": N_("Contact's phone"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "family_doctor_name": N_("Family doctor"),
    "medications": N_("Medications"),
    "key_holder": N_("Key holder"),
    "access_notes": N_("Access notes"),
}


def field_label(field_name: str) -> str:
    """A field's name for people, in the current language, with its usual column header."""
    label = FIELD_LABELS.get(field_name)
    return f"{_(label)} ({_column_label(field_name)})" if label else field_name


def _column_label(field_name: str) -> str:
    for header, key in HEADERS.items():
        if key == field_name:
            return header
    return field_name


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The CSV file is neither UTF-8 nor GBK encoded."))


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    for number, row in enumerate(reader, start=1):
        if "".join(row).strip():  # not a blank row (one C call, not a generator per row)
            yield number, row


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = book.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ImportFileError(
            _("The Excel file cannot be read: %(err)s", err=str(exc)[:200])
        ) from None
    start = sheet.start[0] + 1 if sheet.start else 1
    # Cells come as their raw values: a number is a float (an ID Excel turned into a number
    # stays the number it stored, never re-formatted into made-up digits), a date cell a date.
    for number, row in enumerate(sheet.iter_rows(), start=start):
        if any(cell not in ("", None) for cell in row):
            yield number, row


# ---------------------------------------------------------------------------- validation
def _text(value: Any) -> str:
    """A cell as the text that is judged: NFKC-normalised and stripped."""
    if type(value) is str:  # the common case (every CSV cell); normalize() inlined
        return value.strip() if value.isascii() else _unicode_normalize("NFKC", value).strip()
    if value is None:
        return ""
    if isinstance(value, float):  # a spreadsheet number: see _original (no digits made up)
        return _original(value)
    return normalize(str(value))


def _original(value: Any) -> str:
    """A cell as it was written: text unchanged; a number as the spreadsheet stored it (a
    float keeps its own digits, ``3.10104194203151e+17``, never padded out into an ID)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_unicode_normalize = unicodedata.normalize  # called directly in the hot loop: no Python frame


def _phones(text: str, field_name: str, area_code: str) -> Phones:
    """``split_phones`` with the common case (one plain mobile) answered here."""
    if len(text) == 11 and _PLAIN_MOBILE.match(text):
        return Phones([text])
    if _PLAIN_LANDLINE.match(text) and not text.startswith("0086"):
        return Phones([], [text])  # one landline with its area code, as split_phones finds it
    return split_phones(text, field_name, area_code)


_PLAIN_MOBILE = re.compile(r"1[3-9]\d{9}$")
_PLAIN_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?e\+?\d+$", re.IGNORECASE)
# Excel day serials accepted for dates: 61 (1900-03-01, after Excel's phantom 1900-02-29) to
# 73050 (2099-12-31).
SERIAL_MIN, SERIAL_MAX = 61, 73050
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def excel_serial_date(serial: float) -> dt.date:
    """An Excel day serial (1900 date system) as a date; ``22108`` → 1960-07-11."""
    if not SERIAL_MIN <= serial <= SERIAL_MAX or not float(serial).is_integer():
        raise ValueError(serial)
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return excel_serial_date(value)  # a number cell not formatted as a date
    text = _text(value)
    if text.isdigit() and len(text) <= 5:
        return excel_serial_date(int(text))  # a date cell exported to CSV as its serial
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _split(value: Any) -> list[str]:
    if type(value) is str:  # a roll repeats few wordings (高血压、糖尿病): split each once
        return list(_split_text(value))
    return [p for p in _SPLIT.split(_text(value)) if p]


@lru_cache(maxsize=4096)
def _split_text(value: str) -> tuple[str, ...]:
    return tuple(p for p in _SPLIT.split(_text(value)) if p)


class _Row:
    """One row being judged: its cells (raw, as judged, as written), values and errors."""

    __slots__ = ("columns", "errors", "number", "raw", "text", "values")

    def __init__(self, number: int, cells: list[Any], columns: Mapping[str, int]) -> None:
        self.number = number
        self.columns = columns
        keys, pick, width = _cell_plan(columns)
        if len(cells) >= width:
            picked = pick(cells)  # every cell of a mapped column, in one C call
        else:  # a short row: the missing cells are empty
            picked = tuple(cells[i] if i < len(cells) else None for i in columns.values())
        self.raw = dict(zip(keys, picked, strict=True))
        # _text inlined for str cells (every CSV cell, most XLSX cells)
        self.text = {
            key: (
                (value.strip() if value.isascii() else _unicode_normalize("NFKC", value).strip())
                if type(value) is str
                else _text(value)
            )
            for key, value in zip(keys, picked, strict=True)
        }
        self.errors: list[dict[str, str]] = []
        self.values: dict[str, Any] = {}

    def error(self, field_name: str, message: str) -> None:
        """A reason, with the cell as written beside it (and as judged, when that differs)."""
        item = {"field": field_name, "column": _column_label(field_name), "message": message}
        if field_name in self.raw:
            original = _original(self.raw[field_name])
            item["value"] = original
            if self.text[field_name] != original.strip():
                item["normalised"] = self.text[field_name]
        self.errors.append(item)

    def originals(self) -> dict[str, str]:
        return {key: _original(value) for key, value in self.raw.items()}


_last_plan: tuple[Mapping[str, int], tuple[tuple[str, ...], Any, int]] | None = None


def _cell_plan(columns: Mapping[str, int]) -> tuple[tuple[str, ...], Any, int]:
    """The fields, a getter of their cells and the row width they need, for one mapping; kept
    for the last mapping seen (a file has one: every row asks again). Replaced as one tuple, so
    imports validating in two request threads at once never read each other's plan."""
    global _last_plan
    cached = _last_plan
    if cached is None or cached[0] is not columns:
        keys = tuple(columns)
        indexes = tuple(columns.values())
        if len(indexes) == 1:
            only = indexes[0]
            pick: Any = lambda cells: (cells[only],)  # noqa: E731 (itemgetter returns a bare item)
        else:
            pick = itemgetter(*indexes)
        cached = (columns, (keys, pick, max(indexes, default=-1) + 1))
        _last_plan = cached
    return cached[1]


def validate_row(
    number: int,
    cells: list[Any],
    columns: Mapping[str, int],
    regions: Mapping[str, RegionRef] | RegionIndex,
    scope_prefix: str,
    context: ImportContext | None = None,
) -> ValidRow | RejectedRow:
    """Every problem in the row is reported, not just the first."""
    context = context or _DEFAULT_CONTEXT
    row = _Row(number, cells, columns)
    if "\x00" in "".join(row.text.values()):  # one C call; the loop only for a damaged row
        for key, value in row.text.items():
            if "\x00" in value:
                row.error(
                    key,
                    _(
                        "This cell contains a NUL character (a damaged export); "
                        "remove it and import the row again."
                    ),
                )
    for required in REQUIRED:
        if row.text.get(required, "") == "":
            row.error(required, _("This required field is empty."))
    name = normalize_name(row.text.get("name", ""))
    if len(name) > 64:
        row.error("name", _("The name is longer than 64 characters."))
    row.values["name"] = name
    _check_identity(row, context.synonyms)
    _check_phones(row, context.area_code)
    address = row.text.get("address", "")
    if address and len(address) < 2:
        row.error("address", _("The address is too short."))
    row.values["address"] = address[:255]
    _check_region(row, RegionIndex.of(regions), scope_prefix)
    _check_household(row, context.synonyms)
    categories = _check_categories(row, context.synonyms)
    _check_care(row)
    _check_coordinates(row)
    contact = _check_contact(row, context)
    if row.errors:
        return RejectedRow(number, row.errors, row.originals(), [_original(c) for c in cells])
    # Only what the file carries is written: a roll without an allergies column must not wipe
    # the allergies already on record.
    kept = row.values
    for key in _dropped_keys(tuple(columns)):
        kept.pop(key, None)
    return ValidRow(
        number,
        kept,
        categories if "categories" in columns else [],
        contact if "contact_name" in columns or "contact_phone" in columns else None,
        cells,
    )


def _lost_digits(raw: Any, text: str) -> bool:
    """An ID that Excel turned into a number: a numeric cell too long for its 15 significant
    digits, or its text form in a CSV (``3.10104E+17``)."""
    if type(raw) is str:  # the usual case: no exponent, nothing to match
        return ("e" in text or "E" in text) and _SCIENTIFIC.match(text) is not None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return abs(raw) >= 1e15 or not float(raw).is_integer()
    return bool(_SCIENTIFIC.match(text))


def _check_identity(row: _Row, synonyms: Synonyms) -> None:
    id_text = row.text.get("id_number", "")
    resident = None
    if id_text and _lost_digits(row.raw.get("id_number"), id_text):
        row.error(
            "id_number",
            _(
                "Excel turned this ID into a number and lost its last digits; "
                "format the column as text and export again."
            ),
        )
    elif id_text:
        try:
            resident = check_id_number(id_text)
        except FieldError as exc:
            row.error("id_number", exc.message)
    gender = None
    gender_text = row.text.get("gender", "")
    if gender_text:
        code = _lookup(synonyms.gender, gender_text)
        if code is None:
            row.error(
                "gender", _("Gender must be 男 or 女; %(value)s is not known.", value=gender_text)
            )
        else:
            gender = Gender(code)
    birth = None
    if row.text.get("birth_date", ""):
        try:
            birth = _parse_date(row.raw.get("birth_date"))
        except ValueError:
            row.error("birth_date", _("The birth date is not a date (use YYYY-MM-DD)."))
    if resident is None:
        return
    try:
        check_birth_matches(resident, birth)
    except FieldError as exc:
        row.error(exc.field, exc.message)
    try:
        check_gender_matches(resident, gender)
    except FieldError as exc:
        row.error(exc.field, exc.message)
    row.values["id_number"] = resident.number
    row.values["id_number_legacy"] = resident.legacy
    row.values["id_tail"] = resident.number[-4:]
    row.values["birth_date"] = resident.birth_date
    row.values["gender"] = resident.gender.value


def _with_note(number: str, phones: Phones) -> str:
    note = phones.notes.get(number)
    return f"{number}（{note}）" if note else number


_PHONE_ORDER = ("mobile_phone", "phone", "home_phone")


def _check_phones(row: _Row, area_code: str) -> None:
    """Mobile and landline from whichever phone columns the file has (联系电话 holds either);
    a number with no column of its kind in the file, a second number, and a number's note go
    to the phone notes — kept, never merged into a number."""
    phones = Phones()
    for key in _PHONE_ORDER:
        text = row.text.get(key)
        if text:
            try:
                found = _phones(text, key, area_code)
            except FieldError as exc:
                row.error(key, exc.message)
                continue
            if phones.mobiles or phones.landlines:
                phones.extend(found)
            else:
                phones = found
    mobiles, landlines = list(phones.mobiles), list(phones.landlines)
    cols = row.columns
    mobile = mobiles.pop(0) if mobiles and ("mobile_phone" in cols or "phone" in cols) else None
    home = landlines.pop(0) if landlines and ("home_phone" in cols or "phone" in cols) else None
    row.values["mobile_phone"] = mobile
    row.values["home_phone"] = home
    notes = [_with_note(n, phones) for n in (mobile, home) if n and n in phones.notes]
    notes += [_with_note(n, phones) for n in mobiles + landlines]
    row.values["phone_notes"] = "；".join(notes)[:255] or None


def _check_region(row: _Row, regions: RegionIndex, scope_prefix: str) -> None:
    code = row.text.get("region_code", "")
    community = row.text.get("community_name", "")
    if code:
        region = regions.get(code)
        if region is None:
            row.error("region_code", _("Unknown region code %(code)s.", code=code))
        elif scope_prefix != "/" and not region.path.startswith(scope_prefix):
            row.error("region_code", _("Region %(code)s is outside your jurisdiction.", code=code))
        else:
            row.values["region_id"] = region.id
            row.values["region_path"] = region.path
        return
    if not community:
        target = "region_code" if "region_code" in row.columns else "community_name"
        if "community_name" in row.columns and "region_code" in row.columns:
            message = _("Give the community (所属社区) or the 12-digit region code.")
        else:
            message = _("This required field is empty.")
        row.error(target, message)
        return
    found = regions.resolve(row.text.get("street_name", ""), community, scope_prefix)
    if found.region is None:
        row.error(found.field, found.message)
    else:
        row.values["region_id"] = found.region.id
        row.values["region_path"] = found.region.path


def _lookup(table: Mapping[str, str], text: str) -> str | None:
    """A synonym table look-up: the (already normalised) text as it is — the usual hit — then
    as the tables compare wordings (no spaces, lower case)."""
    found = table.get(text)
    return found if found is not None else table.get(synonym_key(text))


def _check_household(row: _Row, synonyms: Synonyms) -> None:
    household_text = row.text.get("household", "")
    if not household_text:
        return
    code = _lookup(synonyms.household, household_text)
    if code is None:
        row.error(
            "household",
            _(
                "Household must be 独居, 空巢 or 与家人同住 (or a wording your district added); "
                "%(value)s is not known.",
                value=household_text[:20],
            ),
        )
    else:
        row.values["household"] = code


def _check_categories(row: _Row, synonyms: Synonyms) -> list[str]:
    categories: list[str] = []
    for part in _split(row.raw.get("categories")):
        code = _lookup(synonyms.category, part)
        if code is None:
            row.error("categories", _("Unknown category %(value)s.", value=part[:20]))
        elif code not in categories:
            categories.append(code)
    categories.sort()
    return categories


def _check_care(row: _Row) -> None:
    level_text = row.text.get("care_level", "")
    row.values["care_level"] = None
    if level_text:
        if level_text.isdigit() and 0 <= int(level_text) <= 6:
            row.values["care_level"] = int(level_text)
        else:
            row.error("care_level", _("The care level must be a whole number from 0 to 6."))
    row.values["chronic_conditions"] = _split(row.raw.get("chronic_conditions"))
    row.values["allergies"] = _split(row.raw.get("allergies"))
    dementia = row.text.get("dementia", "").lower()
    if dementia in _YES:
        row.values["dementia"] = True
    elif dementia in _NO:
        row.values["dementia"] = False
    else:
        row.error("dementia", _("Dementia must be 是 or 否."))
    text = row.text
    row.values["family_doctor_name"] = text.get("family_doctor_name", "")[:64] or None
    row.values["medications"] = list(_medications(text.get("medications", "")))
    row.values["key_holder"] = text.get("key_holder", "")[:128] or None
    row.values["access_notes"] = text.get("access_notes", "")[:2000] or None


@lru_cache(maxsize=4096)
def _medications(text: str) -> tuple[str, ...]:
    return tuple(m for m in _MEDICATIONS.split(text) if m)


_MEDICATIONS = re.compile(r"[、;；\n]+")


def _check_coordinates(row: _Row) -> None:
    row.values["latitude"] = _coordinate(row, "latitude", 90.0)
    row.values["longitude"] = _coordinate(row, "longitude", 180.0)


def _coordinate(row: _Row, key: str, bound: float) -> float | None:
    coordinate = row.text.get(key, "")
    if not coordinate:
        return None
    try:
        number_value = float(coordinate)
    except ValueError:
        number_value = float("nan")
    if -bound <= number_value <= bound:
        return number_value
    row.error(key, _("%(value)s is not a valid coordinate.", value=coordinate[:20]))
    return None


def _check_contact(row: _Row, context: ImportContext) -> dict[str, Any] | None:
    contact_name = normalize_name(row.text.get("contact_name", ""))
    contact_phone_text = row.text.get("contact_phone", "")
    if not (contact_name or contact_phone_text):
        return None
    try:
        phones = _phones(contact_phone_text, "contact_phone", context.area_code)
    except FieldError as exc:
        row.error("contact_phone", exc.message)
        return None
    numbers = phones.mobiles + phones.landlines
    if not numbers:
        row.error("contact_phone", _("The emergency contact needs a phone number."))
        return None
    relation = row.text.get("contact_relation", "")
    relation = (_lookup(context.synonyms.relation, relation) or relation) if relation else ""
    return {
        "name": contact_name[:64] or _("(no name)"),
        "relation": relation[:32] or _("Other"),
        "phone": numbers[0],
    }


@lru_cache(maxsize=64)
def _kept_keys(columns: tuple[str, ...]) -> frozenset[str]:
    """Stored values whose source column the file has."""
    present = set(columns)
    every = {*HEADERS.values(), *_SOURCES}
    return frozenset(k for k in every if present & _SOURCES.get(k, {k}))


@lru_cache(maxsize=64)
def _dropped_keys(columns: tuple[str, ...]) -> tuple[str, ...]:
    """Values validation sets whose source column the file lacks (the complement of
    ``_kept_keys``): popped, fewer than the values kept."""
    keep = _kept_keys(columns)
    return tuple(sorted(k for k in {*HEADERS.values(), *_SOURCES} if k not in keep))


# Which columns a stored value comes from (derived values follow their source columns).
_PHONE_COLUMNS = frozenset({"mobile_phone", "home_phone", "phone"})
_SOURCES: dict[str, frozenset[str]] = {
    "id_tail": frozenset({"id_number"}),
    "id_number_legacy": frozenset({"id_number"}),
    "birth_date": frozenset({"id_number"}),
    "gender": frozenset({"id_number"}),
    "mobile_phone": frozenset({"mobile_phone", "phone"}),
    "home_phone": frozenset({"home_phone", "phone"}),
    "phone_notes": _PHONE_COLUMNS,
    "phone": frozenset(),  # classified into the fields above, not stored itself
    "street_name": frozenset(),
    "community_name": frozenset(),
    "region_code": frozenset(),
    "region_id": frozenset(REGION_FIELDS),
    "region_path": frozenset(REGION_FIELDS),
}
_DEFAULT_CONTEXT = ImportContext()


def validate_rows(
    rows: list[tuple[int, list[Any]]],
    columns: Mapping[str, int],
    regions: Mapping[str, RegionRef] | RegionIndex,
    scope_prefix: str,
    locale: str | None = None,
    context: ImportContext | None = None,
) -> list[ValidRow | RejectedRow]:
    """Validate a chunk of rows. Picklable arguments, so it can run in a worker process;
    ``locale`` carries the caller's language there."""
    if locale is not None:
        set_locale(locale)
    index = RegionIndex.of(regions)
    return [
        validate_row(number, cells, columns, index, scope_prefix, context) for number, cells in rows
    ]


class DuplicateCheck:
    """An ID number that appears twice in one file rejects the later rows. Compared after
    normalisation and the 15→18 upgrade: a copy typed with full-width digits, or in its old
    15-digit form, is a duplicate."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def split(
        self, results: Iterable[ValidRow | RejectedRow], columns: Mapping[str, int]
    ) -> tuple[list[ValidRow], list[RejectedRow]]:
        good: list[ValidRow] = []
        bad: list[RejectedRow] = []
        for result in results:
            if isinstance(result, RejectedRow):
                bad.append(result)
                continue
            number = result.values["id_number"]
            first = self.seen.get(number)
            if first is None:
                self.seen[number] = result.row
                good.append(result)
                continue
            bad.append(duplicate(result, columns, first))
        return good, bad


def duplicate(result: ValidRow, columns: Mapping[str, int], first: int) -> RejectedRow:
    message = _("This ID number already appears in row %(row)d of the file.", row=first)
    return rejection(
        result,
        columns,
        {"field": "id_number", "column": _column_label("id_number"), "message": message},
    )


def rejection(result: ValidRow, columns: Mapping[str, int], error: dict[str, str]) -> RejectedRow:
    """A row that passed validation but is refused later, with its cells as written."""
    cells = result.cells
    values = {k: _original(cells[i]) if i < len(cells) else "" for k, i in columns.items()}
    if error["field"] in values:
        error = {**error, "value": values[error["field"]]}
        if result.values.get(error["field"], error["value"]) != error["value"]:
            error["normalised"] = str(result.values[error["field"]])
    return RejectedRow(result.row, [error], values, [_original(c) for c in cells])


def chunked(
    rows: Iterator[tuple[int, list[Any]]], size: int
) -> Iterator[list[tuple[int, list[Any]]]]:
    count = 0
    while chunk := list(islice(rows, size)):
        count += len(chunk)
        if count > MAX_ROWS:
            raise ImportFileError(_("A file may hold at most %(n)d rows.", n=MAX_ROWS))
        yield chunk


def validate(
    table: ParsedTable,
    regions: Mapping[str, RegionRef] | RegionIndex,
    scope_prefix: str,
    context: ImportContext | None = None,
) -> tuple[list[ValidRow], list[RejectedRow]]:
    """Validate a whole table in this process (tests, small files)."""
    dupes = DuplicateCheck()
    index = RegionIndex.of(regions)
    good: list[ValidRow] = []
    bad: list[RejectedRow] = []
    for chunk in chunked(table.rows, 5000):
        g, b = dupes.split(
            validate_rows(chunk, table.columns, index, scope_prefix, context=context),
            table.columns,
        )
        good += g
        bad += b
    relabel(bad, table)
    return good, bad


def relabel(rejected: Iterable[RejectedRow], table: ParsedTable) -> None:
    """Reasons name the file's own column headers (联系电话, not the product's 手机)."""
    for item in rejected:
        for error in item.errors:
            index = table.columns.get(error["field"])
            if index is not None and index < len(table.headers) and table.headers[index]:
                error["column"] = table.headers[index]


def rejected_to_rows(
    rejected: Iterable[dict[str, Any]], headers: list[str] | None = None
) -> Iterator[list[str]]:
    """Rows for the rejected-rows download: the file's own columns and cell text (``headers``
    and each row's ``cells``; the template columns for batches that kept no layout), then the
    row number and the reasons."""
    yield [*(headers if headers is not None else TEMPLATE), "原行号 row", "错误原因 errors"]
    fields = [HEADERS[h] for h in TEMPLATE]
    for item in rejected:
        reasons = "；".join(_reason(e) for e in item["errors"])
        if headers is not None and "cells" in item:
            cells = list(item["cells"])[: len(headers)]
            cells += [""] * (len(headers) - len(cells))
        else:
            values = item.get("values", {})
            cells = [values.get(f, "") for f in fields]
        yield [*cells, str(item["row"]), reasons]


def _reason(error: Mapping[str, str]) -> str:
    text = f"{error['column']}: {error['message']}"
    if error.get("normalised"):
        text += f" [{error.get('value', '')} → {error['normalised']}]"
    return text

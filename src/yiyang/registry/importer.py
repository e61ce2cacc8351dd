"""Reading and validating an elder roll (XLSX or CSV in UTF-8/GBK). Pure: bytes in, valid rows
and rejected rows (with every reason) out. Writing is ``registry.imports``'s job."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any

from yiyang.core.i18n import gettext as _
from yiyang.core.i18n import set_locale
from yiyang.registry.enums import CATEGORY_ALIASES, GENDER_ALIASES, HOUSEHOLD_ALIASES
from yiyang.registry.validation import (
    FieldError,
    check_birth_matches,
    check_gender_matches,
    check_id_number,
    check_phone,
)

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
    "联系电话": "mobile_phone",
    "mobile_phone": "mobile_phone",
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
REQUIRED = ("name", "id_number", "address", "region_code", "household")
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
    headers: list[str]
    columns: dict[str, int]  # field name → column index
    unknown_headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (spreadsheet row number, raw cells)


@dataclass
class RegionRef:
    id: int
    path: str


@dataclass
class ValidRow:
    row: int
    values: dict[str, Any]
    categories: list[str]
    contact: dict[str, Any] | None


@dataclass
class RejectedRow:
    row: int
    errors: list[dict[str, str]]
    values: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------- reading
def read_table(data: bytes, filename: str) -> ParsedTable:
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm", ".xls")) or data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise ImportFileError(_("Only .xlsx and .csv files can be imported."))
    try:
        header_row = next(rows)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    headers = [_text(h) for h in header_row[1]]
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for i, h in enumerate(headers):
        key = HEADERS.get(h) or HEADERS.get(h.lower())
        if key and key not in columns:
            columns[key] = i
        elif h:
            unknown.append(h)
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise ImportFileError(
            _(
                "Required columns are missing: %(cols)s.",
                cols=", ".join(_column_label(m) for m in missing),
            )
        )
    return ParsedTable(headers=headers, columns=columns, unknown_headers=unknown, rows=rows)


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
        if any(cell.strip() for cell in row):
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
    for number, row in enumerate(sheet.iter_rows(), start=start):
        if any(cell not in ("", None) for cell in row):
            yield number, row


# ---------------------------------------------------------------------------- validation
def _text(value: Any) -> str:
    if type(value) is str:  # the common case (every CSV cell): skip the other checks
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _error(errors: list[dict[str, str]], field_name: str, message: str) -> None:
    errors.append({"field": field_name, "column": _column_label(field_name), "message": message})


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
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
    return [p for p in _SPLIT.split(_text(value)) if p]


def validate_row(
    number: int,
    cells: list[Any],
    columns: Mapping[str, int],
    regions: Mapping[str, RegionRef],
    scope_prefix: str,
) -> ValidRow | RejectedRow:
    """Every problem in the row is reported, not just the first."""
    raw: dict[str, Any] = {
        key: (cells[idx] if idx < len(cells) else None) for key, idx in columns.items()
    }
    text = {key: _text(value) for key, value in raw.items()}
    errors: list[dict[str, str]] = []
    for required in REQUIRED:
        if text.get(required, "") == "":
            _error(errors, required, _("This required field is empty."))
    values: dict[str, Any] = {}

    name = text.get("name", "")
    if len(name) > 64:
        _error(errors, "name", _("The name is longer than 64 characters."))
    values["name"] = name

    id_raw = raw.get("id_number")
    resident = None
    if isinstance(id_raw, float) and not _text(id_raw).endswith("X"):
        _error(
            errors,
            "id_number",
            _(
                "The ID number was stored as a number and Excel has rounded it; "
                "format the column as text."
            ),
        )
    elif _text(id_raw):
        try:
            resident = check_id_number(_text(id_raw))
        except FieldError as exc:
            _error(errors, "id_number", exc.message)

    gender = None
    if text.get("gender", ""):
        gender = GENDER_ALIASES.get(text.get("gender", "").lower())
        if gender is None:
            _error(errors, "gender", _("Gender must be 男 or 女."))
    birth = None
    if text.get("birth_date", ""):
        try:
            birth = _parse_date(raw.get("birth_date"))
        except ValueError:
            _error(errors, "birth_date", _("The birth date is not a date (use YYYY-MM-DD)."))
    if resident is not None:
        try:
            check_birth_matches(resident, birth)
        except FieldError as exc:
            _error(errors, exc.field, exc.message)
        try:
            check_gender_matches(resident, gender)
        except FieldError as exc:
            _error(errors, exc.field, exc.message)
        values["id_number"] = resident.number
        values["id_tail"] = resident.number[-4:]
        values["birth_date"] = resident.birth_date
        values["gender"] = resident.gender.value

    for key in ("mobile_phone", "home_phone"):
        try:
            values[key] = check_phone(text.get(key) or None, key)
        except FieldError as exc:
            _error(errors, key, exc.message)

    address = text.get("address", "")
    if address and len(address) < 2:
        _error(errors, "address", _("The address is too short."))
    values["address"] = address[:255]

    code = text.get("region_code", "")
    if code:
        region = regions.get(code)
        if region is None:
            _error(errors, "region_code", _("Unknown region code %(code)s.", code=code))
        elif scope_prefix != "/" and not region.path.startswith(scope_prefix):
            _error(
                errors, "region_code", _("Region %(code)s is outside your jurisdiction.", code=code)
            )
        else:
            values["region_id"] = region.id
            values["region_path"] = region.path

    household_text = text.get("household", "")
    if household_text:
        household = HOUSEHOLD_ALIASES.get(household_text) or HOUSEHOLD_ALIASES.get(
            household_text.lower()
        )
        if household is None:
            _error(errors, "household", _("Household must be 独居, 空巢 or 与家人同住."))
        else:
            values["household"] = household.value

    categories: list[str] = []
    for part in _split(raw.get("categories")):
        category = CATEGORY_ALIASES.get(part)
        if category is None:
            _error(errors, "categories", _("Unknown category %(value)s.", value=part[:20]))
        elif category.value not in categories:
            categories.append(category.value)
    categories.sort()

    level_text = text.get("care_level", "")
    values["care_level"] = None
    if level_text:
        if level_text.isdigit() and 0 <= int(level_text) <= 6:
            values["care_level"] = int(level_text)
        else:
            _error(errors, "care_level", _("The care level must be a whole number from 0 to 6."))

    values["chronic_conditions"] = _split(raw.get("chronic_conditions"))
    values["allergies"] = _split(raw.get("allergies"))
    dementia = text.get("dementia", "").lower()
    if dementia in _YES:
        values["dementia"] = True
    elif dementia in _NO:
        values["dementia"] = False
    else:
        _error(errors, "dementia", _("Dementia must be 是 or 否."))

    for key, low, high in (("latitude", -90.0, 90.0), ("longitude", -180.0, 180.0)):
        coordinate = text.get(key, "")
        values[key] = None
        if coordinate:
            try:
                number_value = float(coordinate)
            except ValueError:
                number_value = float("nan")
            if not low <= number_value <= high:
                _error(
                    errors, key, _("%(value)s is not a valid coordinate.", value=coordinate[:20])
                )
            else:
                values[key] = number_value
    values["family_doctor_name"] = text.get("family_doctor_name", "")[:64] or None
    values["medications"] = [m for m in re.split(r"[、;；\n]+", text.get("medications", "")) if m]
    values["key_holder"] = text.get("key_holder", "")[:128] or None
    values["access_notes"] = text.get("access_notes", "")[:2000] or None

    contact = None
    contact_name = text.get("contact_name", "")
    contact_phone_text = text.get("contact_phone", "")
    if contact_name or contact_phone_text:
        try:
            contact_phone = check_phone(contact_phone_text or None, "contact_phone")
            if contact_phone is None:
                _error(errors, "contact_phone", _("The emergency contact needs a phone number."))
            else:
                contact = {
                    "name": contact_name[:64] or _("(no name)"),
                    "relation": text.get("contact_relation", "")[:32] or _("Other"),
                    "phone": contact_phone,
                }
        except FieldError as exc:
            _error(errors, "contact_phone", exc.message)

    if errors:
        return RejectedRow(number, errors, text)
    # Only what the file carries is written: a roll without an allergies column must not wipe
    # the allergies already on record.
    keep = _kept_keys(tuple(columns))
    kept = {k: v for k, v in values.items() if k in keep}
    return ValidRow(
        number,
        kept,
        categories if "categories" in columns else [],
        contact if "contact_name" in columns or "contact_phone" in columns else None,
    )


@lru_cache(maxsize=64)
def _kept_keys(columns: tuple[str, ...]) -> frozenset[str]:
    """Stored values whose source column the file has."""
    present = set(columns)
    every = {*HEADERS.values(), *_SOURCE}
    return frozenset(k for k in every if _SOURCE.get(k, k) in present)


# Which column a stored value comes from (derived values follow their source column).
_SOURCE = {
    "id_tail": "id_number",
    "birth_date": "id_number",
    "gender": "id_number",
    "region_id": "region_code",
    "region_path": "region_code",
}


def validate_rows(
    rows: list[tuple[int, list[Any]]],
    columns: Mapping[str, int],
    regions: Mapping[str, RegionRef],
    scope_prefix: str,
    locale: str | None = None,
) -> list[ValidRow | RejectedRow]:
    """Validate a chunk of rows. Picklable arguments, so it can run in a worker process;
    ``locale`` carries the caller's language there."""
    if locale is not None:
        set_locale(locale)
    return [validate_row(number, cells, columns, regions, scope_prefix) for number, cells in rows]


class DuplicateCheck:
    """An ID number that appears twice in one file rejects the later rows."""

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
            message = _("This ID number already appears in row %(row)d of the file.", row=first)
            bad.append(
                RejectedRow(
                    result.row,
                    [
                        {
                            "field": "id_number",
                            "column": _column_label("id_number"),
                            "message": message,
                        }
                    ],
                    {k: _text(v) for k, v in result.values.items() if k in columns},
                )
            )
        return good, bad


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
    table: ParsedTable, regions: Mapping[str, RegionRef], scope_prefix: str
) -> tuple[list[ValidRow], list[RejectedRow]]:
    """Validate a whole table in this process (tests, small files)."""
    dupes = DuplicateCheck()
    good: list[ValidRow] = []
    bad: list[RejectedRow] = []
    for chunk in chunked(table.rows, 5000):
        g, b = dupes.split(
            validate_rows(chunk, table.columns, regions, scope_prefix), table.columns
        )
        good += g
        bad += b
    return good, bad


def rejected_to_rows(rejected: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    """Rows for the rejected-rows download: the template columns, then row number and reasons."""
    fields = [HEADERS[h] for h in TEMPLATE]
    yield [*TEMPLATE, "原行号 row", "错误原因 errors"]
    for item in rejected:
        values = item.get("values", {})
        reasons = "；".join(f"{e['column']}: {e['message']}" for e in item["errors"])
        yield [*(values.get(f, "") for f in fields), str(item["row"]), reasons]

"""API schemas for elders: ElderCreate, ElderUpdate, ElderRead, ElderListItem, ElderFilters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from yiyang.core.types import Input
from yiyang.registry.consents import CURRENT_VERSION, Action, Method, Purpose
from yiyang.registry.enums import BloodType, Category, ElderStatus, Gender, Household, Mobility
from yiyang.registry.synonyms import VALUES as SYNONYM_VALUES
from yiyang.registry.synonyms import SynonymKind
from yiyang.registry.validation import (
    check_birth_matches,
    check_gender_matches,
    check_id_number,
    check_phone,
    normalize,
    normalize_name,
)

T = TypeVar("T")


def _nfkc(value: Any) -> Any:
    return normalize(value) if isinstance(value, str) else value


def _person_name(value: Any) -> Any:
    return normalize_name(value) if isinstance(value, str) else value


# Names and codes are NFKC-normalised before they are judged (registry.validation), like the
# importer's cells: a full-width space inside a Chinese name goes, full-width digits count.
Name = Annotated[str, BeforeValidator(_person_name), Field(min_length=1, max_length=64)]
RegionCode = Annotated[str, BeforeValidator(_nfkc), Field(pattern=r"^\d{12}$")]
ShortList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=120)]], Field(max_length=40)
]


class ContactCreate(Input):
    model_config = ConfigDict(extra="forbid")

    name: Name
    relation: Annotated[str, Field(min_length=1, max_length=32)]
    phone: str
    phone_alt: str | None = None
    receives_alerts: bool = True

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        checked = check_phone(v, "phone")
        if checked is None:
            raise ValueError("a contact needs a phone number")
        return checked

    @field_validator("phone_alt")
    @classmethod
    def _phone_alt(cls, v: str | None) -> str | None:
        return check_phone(v, "phone_alt")


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    priority: int
    name: str
    relation: str
    phone: str | None
    phone_alt: str | None
    receives_alerts: bool


class _ElderFields(Input):
    model_config = ConfigDict(extra="forbid")

    mobile_phone: str | None = None
    home_phone: str | None = None
    address: Annotated[str, Field(min_length=2, max_length=255)]
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    region_code: RegionCode
    household: Household
    categories: list[Category] = Field(default_factory=list)
    care_level: Annotated[int, Field(ge=0, le=6)] | None = None
    chronic_conditions: ShortList = Field(default_factory=list)
    allergies: ShortList = Field(default_factory=list)
    medications: ShortList = Field(default_factory=list)
    mobility: Mobility = Mobility.INDEPENDENT
    blood_type: BloodType | None = None
    dementia: bool = False
    medical_notes: Annotated[str, Field(max_length=2000)] | None = None
    key_holder: Annotated[str, Field(max_length=128)] | None = None
    access_notes: Annotated[str, Field(max_length=2000)] | None = None
    family_doctor_name: Annotated[str, Field(max_length=64)] | None = None
    family_doctor_phone: str | None = None
    family_doctor_org: Annotated[str, Field(max_length=128)] | None = None
    # Consents given at registration, recorded as "given" with the current text version
    # (registry.consents); later changes go through POST /api/elders/{id}/consents.
    consent_data_processing: bool = False
    consent_health_monitoring: bool = False
    consent_share_with_family: bool = False
    consent_date: dt.date | None = None  # the day they were signed (today when omitted)
    contacts: Annotated[list[ContactCreate], Field(max_length=10)] = Field(default_factory=list)

    @field_validator("mobile_phone", "home_phone", "family_doctor_phone")
    @classmethod
    def _phones(cls, v: str | None) -> str | None:
        return check_phone(v)


class ElderCreate(_ElderFields):
    name: Name
    id_number: str
    gender: Gender | None = None  # derived from the ID number when omitted
    birth_date: dt.date | None = None  # derived from the ID number when omitted
    _legacy_id_number: str | None = PrivateAttr(default=None)

    @property
    def legacy_id_number(self) -> str | None:
        """The 15-digit number given, when ``id_number`` was upgraded from it."""
        return self._legacy_id_number

    @model_validator(mode="after")
    def _identity(self) -> Self:
        resident = check_id_number(self.id_number)
        check_birth_matches(resident, self.birth_date)
        check_gender_matches(resident, self.gender)
        self._legacy_id_number = resident.legacy
        self.id_number = resident.number
        self.birth_date = resident.birth_date
        self.gender = resident.gender
        return self


class ElderUpdate(Input):
    """Partial update; ``version`` is the one the editor saw (optimistic locking → 409)."""

    model_config = ConfigDict(extra="forbid")

    version: int
    name: Name | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    address: Annotated[str, Field(min_length=2, max_length=255)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    region_code: RegionCode | None = None
    household: Household | None = None
    categories: list[Category] | None = None
    care_level: Annotated[int, Field(ge=0, le=6)] | None = None
    chronic_conditions: ShortList | None = None
    allergies: ShortList | None = None
    medications: ShortList | None = None
    mobility: Mobility | None = None
    blood_type: BloodType | None = None
    dementia: bool | None = None
    medical_notes: Annotated[str, Field(max_length=2000)] | None = None
    key_holder: Annotated[str, Field(max_length=128)] | None = None
    access_notes: Annotated[str, Field(max_length=2000)] | None = None
    family_doctor_name: Annotated[str, Field(max_length=64)] | None = None
    family_doctor_phone: str | None = None
    family_doctor_org: Annotated[str, Field(max_length=128)] | None = None
    # Consents are not edited here: each is recorded on its own (POST /api/elders/{id}/consents)
    contacts: Annotated[list[ContactCreate], Field(max_length=10)] | None = None

    @field_validator("mobile_phone", "home_phone", "family_doctor_phone")
    @classmethod
    def _phones(cls, v: str | None) -> str | None:
        return check_phone(v)


class StatusChange(Input):
    model_config = ConfigDict(extra="forbid")

    status: ElderStatus
    effective_date: dt.date
    reason: Annotated[str, Field(max_length=500)] | None = None


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    effective_date: dt.date
    reason: str | None
    at: dt.datetime


class MedicalProfile(BaseModel):
    chronic_conditions: list[str]
    allergies: list[str]
    medications: list[str]
    mobility: Mobility
    blood_type: str | None
    dementia: bool
    medical_notes: str | None


class ConsentCreate(Input):
    """A consent given or withdrawn (``POST /api/elders/{id}/consents``): the purpose, what the
    elder said, the text version they were shown, how and on which day."""

    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    action: Action
    text_version: Annotated[str, Field(min_length=1, max_length=32)] = CURRENT_VERSION
    signed_on: dt.date | None = None  # today when omitted
    method: Method = Method.PAPER
    note: Annotated[str, Field(max_length=500)] | None = None


class ConsentRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    purpose: Purpose
    action: Action
    text_version: str
    signed_on: dt.date
    method: str
    note: str | None
    recorded_by_name: str
    at: dt.datetime


class ConsentStateRead(BaseModel):
    purpose: Purpose
    in_force: bool
    latest: ConsentRecordRead | None  # None: never recorded


class ConsentsRead(BaseModel):
    """An elder's consents: the state of each purpose and every record, newest first."""

    elder_id: int
    current_text_version: str
    state: list[ConsentStateRead]
    history: list[ConsentRecordRead]


class ElderListItem(BaseModel):
    id: int
    name: str
    gender: Gender
    age: int
    birth_date: dt.date | None  # None for roles that see the ID number masked
    id_number: str
    mobile_phone: str | None
    region_code: str
    region_name: str
    address: str
    household: Household
    categories: list[str]
    care_level: int | None
    dementia: bool | None  # None when the medical profile is not shown to this reader
    status: ElderStatus
    # False: a family member without the elder's consent to share with family, who sees the
    # name, the community (as ``address``), today's state and services, nothing private.
    details_shared: bool = True


class ElderRead(ElderListItem):
    home_phone: str | None  # the landline
    phone_notes: str | None  # further numbers and notes beside them (roles seeing phones)
    id_number_legacy: str | None  # the 15-digit ID it was upgraded from (roles seeing IDs)
    latitude: float | None
    longitude: float | None
    region_path: str
    medical: MedicalProfile | None  # None when the role may not see it
    key_holder: str | None
    access_notes: str | None
    family_doctor_name: str | None
    family_doctor_phone: str | None
    family_doctor_org: str | None
    consent_data_processing: bool
    consent_health_monitoring: bool
    consent_share_with_family: bool
    consent_date: dt.date | None
    consents: list[ConsentStateRead]  # each purpose: in force or not, and its latest record
    contacts: list[ContactRead]
    status_history: list[StatusChangeRead]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


SortKey = Literal["name", "-name", "age", "-age", "created", "-created", "id", "-id"]


class ElderFilters(Input):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, Field(max_length=64)] | None = None
    name: Annotated[str, Field(max_length=64)] | None = None
    id_tail: Annotated[str, Field(pattern=r"^\d{3}[\dXx]$")] | None = None
    phone: Annotated[str, Field(max_length=20)] | None = None
    region_code: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    category: list[Category] = Field(default_factory=list)
    household: Household | None = None
    age_min: Annotated[int, Field(ge=0, le=130)] | None = None
    age_max: Annotated[int, Field(ge=0, le=130)] | None = None
    status: ElderStatus | Literal["all"] = ElderStatus.ACTIVE  # "all": any status
    dementia: bool | None = None
    sort: SortKey = "name"
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=200)] = 20

    @model_validator(mode="after")
    def _ages(self) -> Self:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError("age_min must not exceed age_max")
        return self


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    total_is_estimate: bool  # True when the count was capped (see COUNT_CAP)
    page: int
    page_size: int


class RejectedRowRead(BaseModel):
    row: int
    errors: list[dict[str, Any]]  # field, column, message; value (as written), normalised
    values: dict[str, Any]  # field → the cell as written
    cells: list[str] = Field(default_factory=list)  # every cell of the row, as written


class ColumnMapping(BaseModel):
    column: int  # 0-based index in the file
    header: str  # the file's header, as written
    field: str | None  # the registry field it fills; None: ignored


class ImportReport(BaseModel):
    """What an import (dry run, import now, or commit of a dry run) found and did."""

    batch_id: int
    filename: str
    committed: bool
    total_rows: int
    valid_rows: int
    created: int
    updated: int
    unchanged: int
    rejected_count: int
    rejected: list[RejectedRowRead]  # the first imports.REPORT_LIMIT
    unknown_headers: list[str]
    header_row: int | None = None  # the spreadsheet row the headers were read from
    mapping: list[ColumnMapping] = Field(default_factory=list)  # file column → field


class SynonymCreate(Input):
    """A district's own wording for a value: ``kind`` household, gender, category or relation;
    ``value`` a household/gender/category code (a relation's value is its spelling)."""

    model_config = ConfigDict(extra="forbid")

    kind: SynonymKind
    wording: Annotated[str, BeforeValidator(_nfkc), Field(min_length=1, max_length=64)]
    value: Annotated[str, BeforeValidator(_nfkc), Field(min_length=1, max_length=32)]

    @model_validator(mode="after")
    def _known_value(self) -> Self:
        allowed = SYNONYM_VALUES[self.kind]
        if allowed is not None and self.value not in allowed:
            raise ValueError(f"value must be one of {', '.join(sorted(allowed))}")
        return self


class SynonymRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    wording: str
    value: str
    region_path: str
    created_at: dt.datetime

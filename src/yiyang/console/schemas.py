"""Request and response shapes for the console API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yiyang.alarms.enums import Outcome
from yiyang.core.types import Id, Input


class Callee(enum.StrEnum):
    ELDER = "elder"
    CONTACT = "contact"
    DOCTOR = "doctor"
    RESPONDER = "responder"
    OTHER = "other"


class AlertClaim(Input):
    note: str | None = Field(default=None, max_length=500)


class AlertHandOver(Input):
    to_user_id: Id
    note: str = Field(min_length=1, max_length=500)


class CallCreate(Input):
    callee: Callee
    callee_name: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    answered: bool
    outcome: str | None = Field(default=None, max_length=2000)


class DispatchCreate(Input):
    responder_id: Id | None = None
    contact_id: Id | None = None
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def one_target(self) -> DispatchCreate:
        if (self.responder_id is None) == (self.contact_id is None):
            raise ValueError("give exactly one of responder_id or contact_id")
        return self


class ArrivalReport(Input):
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=500)


class EmergencyRequestCreate(Input):
    note: str | None = Field(default=None, max_length=500)


class AlertResolution(Input):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = None
    # Someone sent is still on the way: resolving without this is refused (409
    # responder_en_route) so the operator confirms; their arrival link then stops working.
    confirm_en_route: bool = False


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    callee: str
    callee_name: str
    phone: str | None
    answered: bool
    outcome: str | None
    at: dt.datetime
    by_name: str


class DispatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name: str
    channel: str
    note: str | None
    status: str
    sent_at: dt.datetime
    arrived_at: dt.datetime | None
    # what became of the message carrying their link (pending, sending, sent, failed, skipped —
    # skipped: no gateway configured); on the card only
    message_status: str | None = None


class EmergencyRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alert_id: int
    requested_at: dt.datetime
    requested_by_name: str
    note: str | None
    brief: dict[str, Any]


class ClaimRead(BaseModel):
    alert_id: int
    state: str
    claimed_by: int | None
    claimed_by_name: str | None
    claimed_at: dt.datetime | None
    version: int


class QueueListItem(BaseModel):
    """An open alert on the console queue."""

    id: int
    elder_id: int
    elder_name: str
    address: str | None
    type: str
    title: str
    severity: str
    state: str
    count: int
    created_at: dt.datetime
    next_escalation_at: dt.datetime | None
    claimed_by_name: str | None


# --- the 120 brief (JSON, webhook, HTML and PDF) and the emergency card built on it ---


class BriefAlert(BaseModel):
    id: int
    type: str
    title: str
    severity: str
    what: str
    first_at: str  # ISO 8601


class BriefElder(BaseModel):
    name: str
    gender: str
    age: int | None
    phone: str | None
    address: str | None
    street: str | None
    community: str | None
    latitude: float | None
    longitude: float | None
    key_holder: str | None
    access_notes: str | None


class VitalPoint(BaseModel):
    at: str  # ISO 8601
    value: float


class BriefMedical(BaseModel):
    conditions: list[str]
    medications: list[str]
    allergies: list[str]
    mobility: str | None
    blood_type: str | None
    dementia: bool | None
    notes: str | None
    recent_vitals: dict[str, list[VitalPoint]]  # by kind, newest first, at most three


class BriefContact(BaseModel):
    priority: int
    name: str
    relation: str | None
    phone: str | None  # masked unless the actor may see it


class FamilyDoctor(BaseModel):
    name: str | None
    organisation: str | None
    phone: str | None


class NearbyFacility(BaseModel):
    name: str
    address: str | None
    phone: str | None
    distance_m: int
    latitude: float
    longitude: float


class BriefRead(BaseModel):
    """The 120 brief: who, where, what happened, medical profile when shown, whom to call."""

    alert: BriefAlert
    elder: BriefElder
    medical: BriefMedical | None
    contacts: list[BriefContact]
    family_doctor: FamilyDoctor
    nearest_hospitals: list[NearbyFacility]
    nearest_health_centre: list[NearbyFacility]
    prepared_by: str


class CardDevice(BaseModel):
    id: int
    type: str
    serial: str
    room: str | None
    battery: int | None
    last_seen_at: dt.datetime | None


class TimelineEntry(BaseModel):
    at: dt.datetime
    event: str
    device_type: str | None
    fired: bool  # from the device that raised the alert


class TrackPoint(BaseModel):
    lat: float
    lon: float
    at: dt.datetime


class PastAlert(BaseModel):
    id: int
    type: str
    created_at: dt.datetime
    outcome: str | None


class ResponderRead(BaseModel):
    id: int
    kind: str
    name: str
    region_path: str


class CardRead(BriefRead):
    """The emergency card: the brief plus the ID number, claim, device, timeline, track, past
    alerts, calls, dispatches and the responders at hand (reading it is audited)."""

    id_number: str | None
    claim: ClaimRead
    next_escalation_at: dt.datetime | None
    device: CardDevice | None
    timeline: list[TimelineEntry]
    track: list[TrackPoint]
    past_alerts: list[PastAlert]
    calls: list[CallRead]
    dispatches: list[DispatchRead]
    responders: list[ResponderRead]


# --- the monthly service-level report ---


class SlaSummary(BaseModel):
    alarms: int
    answered: int
    share_within_60s: float | None
    share_within_180s: float | None
    meets_standard: bool | None
    ack_median_s: float | None
    ack_p90_s: float | None
    resolve_median_s: float | None
    resolve_p90_s: float | None
    waiting_over_180s: int
    false_alarm_rate: float | None


class FalseAlarms(BaseModel):
    false: int
    resolved: int


class SlaException(BaseModel):
    alert_id: int
    created_at: dt.datetime
    waited_s: float
    answered_by: str | None
    severity: str
    device_type: str | None


class SlaReport(BaseModel):
    month: str  # YYYY-MM
    overall: SlaSummary
    by_operator: dict[str, SlaSummary]
    by_shift: dict[str, SlaSummary]
    false_by_device: dict[str, FalseAlarms]
    exceptions: list[SlaException]

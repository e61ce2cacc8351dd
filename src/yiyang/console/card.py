"""The emergency card: everything an operator needs on one screen to act on an alert, and the
120 brief cut from it. Reading it reads the medical profile, so each read is audited."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms import describe
from yiyang.alarms.enums import AlertState, AlertType
from yiyang.alarms.models import Alert, AlertEvent
from yiyang.console import geo, repository
from yiyang.console.models import CallLog, Dispatch, EmergencyRequest, Facility, Responder
from yiyang.core import audit
from yiyang.core.clock import age_on, to_local
from yiyang.core.scoping import Actor
from yiyang.devices.enums import PASSIVE_EVENTS
from yiyang.devices.models import Device, DeviceMessage, GpsPoint, VitalReading
from yiyang.notifications import delivery
from yiyang.notifications.models import Notification
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder
from yiyang.registry.permissions import (
    can_view_medical,
    monitoring_allowed,
    shares_details,
    shown_id_number,
    shown_phone,
)

TIMELINE_BEFORE = dt.timedelta(hours=2)
VITALS_WINDOW = dt.timedelta(days=7)
TRACK_LIMIT = 500


@dataclass
class Card:
    alert: Alert
    elder: Elder
    age: int
    street: str
    community: str
    id_number: str
    phones: dict[str, str | None]
    medical: bool  # the medical profile is shown
    device: Device | None
    timeline: list[dict[str, Any]]
    vitals: dict[str, list[tuple[dt.datetime, float]]]
    past_alerts: list[Alert]
    hospitals: list[geo.Near[Facility]]
    health_centres: list[geo.Near[Facility]]
    track: list[tuple[float, float, dt.datetime]]
    trail: list[AlertEvent]
    calls: list[CallLog]
    dispatches: list[Dispatch]
    requests_120: list[EmergencyRequest]
    responders: list[Responder] = field(default_factory=list)
    colleagues: list[User] = field(default_factory=list)
    # the other messages the alert caused (family notices, 120), each with what became of it
    notices: list[Notification] = field(default_factory=list)
    delivery: dict[int, str | None] = field(default_factory=dict)  # dispatch id → status
    on_the_way: list[Dispatch] = field(default_factory=list)

    def call_instead(self, d: Dispatch) -> str | None:
        """The number to ring when a dispatch's message reached nobody."""
        return d.address if d.channel == "sms" else None


def _facilities(session: Session, elder: Elder) -> tuple[list[Any], list[Any]]:
    if elder.latitude is None or elder.longitude is None:
        return [], []
    rows = session.scalars(select(Facility)).all()
    hospitals = [(f, f.latitude, f.longitude) for f in rows if f.kind == "hospital" and f.emergency]
    centres = [(f, f.latitude, f.longitude) for f in rows if f.kind == "chc"]
    return (
        list(geo.nearest(elder.latitude, elder.longitude, hospitals, 2)),
        list(geo.nearest(elder.latitude, elder.longitude, centres, 1)),
    )


def load(session: Session, actor: Actor, alert: Alert, now: dt.datetime) -> Card:
    """The card for ``alert`` (already checked readable by ``actor``)."""
    elder = elders.get_readable(session, actor, alert.elder_id)
    assert elder is not None  # an alert is readable only where its elder is
    medical = can_view_medical(actor)
    if medical:
        audit.record(
            session,
            "read_medical",
            "elder",
            str(elder.id),
            elder_id=elder.id,
            region_path=elder.region_path,
            summary=f"emergency card, alert {alert.id}",
        )
    region_ids = {elder.region_id}
    names = elders.region_names(session, region_ids)
    community = names.get(elder.region_id, ("", ""))[1]
    from yiyang.regions.models import Region

    street_row = session.scalar(select(Region.name).where(Region.path == elder.region_path[:27]))
    start = min(alert.first_at, alert.created_at) - TIMELINE_BEFORE
    # The ``elder.monitored`` rule: without the health-monitoring consent the card shows no
    # reading of passive monitoring (vitals, activity, position), only alarms and device reports.
    monitored = monitoring_allowed(elder)
    recent = select(
        DeviceMessage.at, DeviceMessage.event, DeviceMessage.data, DeviceMessage.device_id
    ).where(DeviceMessage.elder_id == elder.id, DeviceMessage.at >= start)
    if not monitored:
        recent = recent.where(DeviceMessage.event.not_in(sorted(PASSIVE_EVENTS)))
    messages = session.execute(recent.order_by(DeviceMessage.at.desc()).limit(200)).all()
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.elder_id == elder.id))}
    timeline = [
        {
            "at": m.at,
            "event": m.event,
            "data": m.data,
            "device_type": devices[m.device_id].device_type if m.device_id in devices else None,
            "fired": m.device_id == alert.device_id,
        }
        for m in messages
    ]
    vitals: dict[str, list[tuple[dt.datetime, float]]] = defaultdict(list)
    if medical and monitored:
        for v in session.execute(
            select(VitalReading.metric, VitalReading.at, VitalReading.value)
            .where(VitalReading.elder_id == elder.id, VitalReading.at >= now - VITALS_WINDOW)
            .order_by(VitalReading.at.desc())
            .limit(300)
        ):
            if len(vitals[v.metric]) < 6:
                vitals[v.metric].append((v.at, v.value))
    track: list[tuple[float, float, dt.datetime]] = []
    if alert.alert_type == AlertType.WANDERING and monitored:
        since = alert.first_at - dt.timedelta(hours=1)
        track = [
            (p.lat, p.lon, p.at)
            for p in session.execute(
                select(GpsPoint.lat, GpsPoint.lon, GpsPoint.at)
                .where(GpsPoint.elder_id == elder.id, GpsPoint.at >= since)
                .order_by(GpsPoint.at)
                .limit(TRACK_LIMIT)
            )
        ]
    past = session.scalars(
        select(Alert)
        .where(Alert.elder_id == elder.id, Alert.id != alert.id)
        .order_by(Alert.created_at.desc())
        .limit(10)
    ).all()
    hospitals, centres = _facilities(session, elder)
    trail = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    calls = session.scalars(
        select(CallLog).where(CallLog.alert_id == alert.id).order_by(CallLog.at)
    ).all()
    dispatches = session.scalars(
        select(Dispatch).where(Dispatch.alert_id == alert.id).order_by(Dispatch.sent_at)
    ).all()
    requests = session.scalars(
        select(EmergencyRequest)
        .where(EmergencyRequest.alert_id == alert.id)
        .order_by(EmergencyRequest.requested_at)
    ).all()
    notices = list(delivery.for_alert(session, alert.id))
    statuses = {n.dedupe_key: n.status for n in notices}
    sent_to = {d.id: statuses.get(repository.dispatch_key(d.id)) for d in dispatches}
    dispatch_keys = {repository.dispatch_key(d.id) for d in dispatches}
    away = [d for d in dispatches if repository.may_be_on_the_way(d, sent_to[d.id])]
    return Card(
        alert=alert,
        elder=elder,
        age=age_on(elder.birth_date, (to_local(now) or now).date()),
        street=street_row or "",
        community=community,
        id_number=shown_id_number(actor, elder.id_number),
        phones={
            "mobile": shown_phone(actor, elder.mobile_phone),
            "home": shown_phone(actor, elder.home_phone),
            "doctor": shown_phone(actor, elder.family_doctor_phone),
        },
        medical=medical,
        device=devices.get(alert.device_id) if alert.device_id else None,
        timeline=timeline,
        vitals=dict(vitals),
        past_alerts=list(past),
        hospitals=hospitals,
        health_centres=centres,
        track=track,
        trail=list(trail),
        calls=list(calls),
        dispatches=list(dispatches),
        requests_120=list(requests),
        responders=repository.responders_for(session, alert)
        if alert.state != AlertState.RESOLVED
        else [],
        colleagues=repository.colleagues(session, alert)
        if alert.state != AlertState.RESOLVED
        else [],
        notices=[n for n in notices if n.dedupe_key not in dispatch_keys],  # "Sent" has those
        delivery=sent_to,
        on_the_way=away if alert.state != AlertState.RESOLVED else [],
    )


def brief(session: Session, actor: Actor, alert: Alert, now: dt.datetime) -> dict[str, Any]:
    """The 120 brief as data (JSON API, webhook, and the source of the HTML and PDF)."""
    c = load(session, actor, alert, now)
    return brief_from_card(c, actor)


def brief_from_card(c: Card, actor: Actor) -> dict[str, Any]:
    e = c.elder
    medical = c.medical

    def near(items: list[geo.Near[Facility]]) -> list[dict[str, Any]]:
        return [
            {
                "name": n.item.name,
                "address": n.item.address,
                "phone": n.item.phone,
                "distance_m": round(n.metres),
                "latitude": n.item.latitude,
                "longitude": n.item.longitude,
            }
            for n in items
        ]

    return {
        "alert": {
            "id": c.alert.id,
            "type": c.alert.alert_type,
            "title": describe.title(c.alert.alert_type),
            "severity": c.alert.severity,
            "what": describe.explain(
                c.alert.alert_type,
                describe.shown_detail(
                    c.alert.detail,
                    describe.figures_shown(shares_details(actor, e), monitoring_allowed(e)),
                ),
            ),
            "first_at": c.alert.first_at.isoformat(),
        },
        "elder": {
            "name": e.name,
            "gender": e.gender,
            "age": c.age,
            "phone": c.phones["mobile"] or c.phones["home"],
            "address": e.address,
            "street": c.street,
            "community": c.community,
            "latitude": e.latitude,
            "longitude": e.longitude,
            "key_holder": e.key_holder,
            "access_notes": e.access_notes,
        },
        "medical": (
            {
                "conditions": list(e.chronic_conditions),
                "medications": list(e.medications),
                "allergies": list(e.allergies),
                "mobility": e.mobility,
                "blood_type": e.blood_type,
                "dementia": e.dementia,
                "notes": e.medical_notes,
                "recent_vitals": {
                    k: [{"at": at.isoformat(), "value": v} for at, v in vs[:3]]
                    for k, vs in c.vitals.items()
                },
            }
            if medical
            else None
        ),
        "contacts": [
            {
                "priority": ct.priority,
                "name": ct.name,
                "relation": ct.relation,
                "phone": shown_phone(actor, ct.phone),
            }
            for ct in e.contacts
        ],
        "family_doctor": {
            "name": e.family_doctor_name,
            "organisation": e.family_doctor_org,
            "phone": c.phones["doctor"],
        },
        "nearest_hospitals": near(c.hospitals),
        "nearest_health_centre": near(c.health_centres),
        "prepared_by": actor.display_name,
    }


def for_responder(session: Session, sent: Dispatch) -> dict[str, Any]:
    """What the person sent needs on their phone, and no more (PIPL minimum necessary): who,
    where, how to get in, what happened. No medical profile, no ID number."""
    from yiyang.registry.repository import system_rows

    alert = session.get(Alert, sent.alert_id)
    assert alert is not None
    row = system_rows(
        session,
        [sent.elder_id],
        Elder.name,
        Elder.address,
        Elder.mobile_phone,
        Elder.key_holder,
        Elder.access_notes,
        Elder.latitude,
        Elder.longitude,
    )[0]
    return {
        "name": row.name,
        "address": row.address,
        "phone": row.mobile_phone,
        "key_holder": row.key_holder,
        "access_notes": row.access_notes,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "what": describe.title(alert.alert_type),
        "alert_state": alert.state,
    }

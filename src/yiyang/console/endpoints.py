"""Console JSON API: the queue, the emergency card, claiming, calls, dispatch, 120 requests
(brief as JSON and PDF), resolving, service levels. All scoped by role and region."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from yiyang.alarms import describe
from yiyang.alarms import service as alerts
from yiyang.console import card as cards
from yiyang.console import pdf, reports
from yiyang.console import service as response
from yiyang.console.pages import queue_filters
from yiyang.console.repository import queue
from yiyang.console.schemas import (
    AlertClaim,
    AlertHandOver,
    AlertResolution,
    ArrivalReport,
    BriefRead,
    CallCreate,
    CallRead,
    CardRead,
    ClaimRead,
    DispatchCreate,
    DispatchRead,
    EmergencyRequestCreate,
    EmergencyRequestRead,
    QueueListItem,
    SlaReport,
)
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Text

router = APIRouter(prefix="/api", tags=["console"])
Operator = Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))]


def _claim(alert: Any) -> ClaimRead:
    return ClaimRead(
        alert_id=alert.id,
        state=str(alert.state),
        claimed_by=alert.claimed_by,
        claimed_by_name=alert.claimed_by_name,
        claimed_at=alert.claimed_at,
        version=alert.version,
    )


@router.get("/console/queue", summary="Open alerts in your area, most urgent first")
def get_queue(
    actor: Operator, session: DB, region: Text = "", alert_type: Text = "", state: Text = ""
) -> list[QueueListItem]:
    rows = queue(session, actor, queue_filters(actor, region, alert_type, state))
    return [
        QueueListItem(
            id=r.id,
            elder_id=r.elder_id,
            elder_name=r.elder_name,
            address=r.address,
            type=r.alert_type,
            title=describe.title(r.alert_type),
            severity=r.severity,
            state=r.state,
            count=r.count,
            created_at=r.created_at,
            next_escalation_at=r.next_escalation_at,
            claimed_by_name=r.claimed_by_name,
        )
        for r in rows
    ]


@router.get("/alerts/{alert_id}/card", summary="The emergency card (reading it is audited)")
def get_card(actor: Operator, session: DB, alert_id: Id) -> CardRead:
    alert = alerts.get_alert(session, actor, alert_id)
    c = cards.load(session, actor, alert, now())
    card = {
        **cards.brief_from_card(c, actor),
        "id_number": c.id_number,
        "claim": _claim(alert),
        "next_escalation_at": alert.next_escalation_at,
        "device": (
            {
                "id": c.device.id,
                "type": c.device.device_type,
                "serial": c.device.serial,
                "room": c.device.room,
                "battery": c.device.battery,
                "last_seen_at": c.device.last_seen_at,
            }
            if c.device
            else None
        ),
        "timeline": [
            {
                "at": t["at"],
                "event": t["event"],
                "device_type": t["device_type"],
                "fired": t["fired"],
            }
            for t in c.timeline
        ],
        "track": [{"lat": la, "lon": lo, "at": at} for la, lo, at in c.track],
        "past_alerts": [
            {"id": p.id, "type": p.alert_type, "created_at": p.created_at, "outcome": p.outcome}
            for p in c.past_alerts
        ],
        "calls": [CallRead.model_validate(x) for x in c.calls],
        "dispatches": [
            DispatchRead.model_validate(x).model_copy(update={"message_status": c.delivery[x.id]})
            for x in c.dispatches
        ],
        "responders": [
            {"id": r.id, "kind": r.kind, "name": r.name, "region_path": r.region_path}
            for r in c.responders
        ],
    }
    return CardRead.model_validate(card)


@router.post("/alerts/{alert_id}/claim", response_model=ClaimRead, summary="Claim an alert")
def claim(actor: Operator, session: DB, alert_id: Id, body: AlertClaim | None = None) -> ClaimRead:
    return _claim(response.claim_by_id(session, actor, alert_id, body or AlertClaim(), now()))


@router.post("/alerts/{alert_id}/release", response_model=ClaimRead, summary="Release a claim")
def release(
    actor: Operator, session: DB, alert_id: Id, body: AlertClaim | None = None
) -> ClaimRead:
    alert = alerts.get_alert(session, actor, alert_id)
    return _claim(response.release(session, actor, alert, body or AlertClaim(), now()))


@router.post("/alerts/{alert_id}/handover", response_model=ClaimRead, summary="Hand over")
def handover(actor: Operator, session: DB, alert_id: Id, body: AlertHandOver) -> ClaimRead:
    alert = alerts.get_alert(session, actor, alert_id)
    return _claim(response.hand_over(session, actor, alert, body, now()))


@router.post("/alerts/{alert_id}/calls", response_model=CallRead, status_code=201)
def log_call(actor: Operator, session: DB, alert_id: Id, body: CallCreate) -> CallRead:
    alert = alerts.get_alert(session, actor, alert_id)
    return CallRead.model_validate(response.log_call(session, actor, alert, body, now()))


@router.post("/alerts/{alert_id}/dispatches", status_code=201, summary="Send a responder")
def dispatch(actor: Operator, session: DB, alert_id: Id, body: DispatchCreate) -> DispatchRead:
    alert = alerts.get_alert(session, actor, alert_id)
    sent, _link = response.dispatch(session, actor, alert, body, now())
    return DispatchRead.model_validate(sent)


@router.post("/dispatch-links/{token}/arrived", summary="A responder confirms arrival")
def arrived(session: DB, token: str, body: ArrivalReport) -> DispatchRead:
    """410 once the alert is resolved: the link ended with it (the attempt is audited, so that
    write is committed before the refusal is answered)."""
    try:
        sent = response.confirm_arrival(session, token, body, now())
    except response.LinkEnded:
        session.commit()
        raise
    return DispatchRead.model_validate(sent)


@router.post(
    "/alerts/{alert_id}/request-120",
    response_model=EmergencyRequestRead,
    status_code=201,
    summary="Request an ambulance: the brief goes to the 120 adapter (signed webhook)",
)
def request_120(
    actor: Operator, session: DB, alert_id: Id, body: EmergencyRequestCreate | None = None
) -> EmergencyRequestRead:
    alert = alerts.get_alert(session, actor, alert_id)
    req = response.request_120(session, actor, alert, body or EmergencyRequestCreate(), now())
    return EmergencyRequestRead.model_validate(req)


@router.get("/alerts/{alert_id}/brief", summary="The 120 brief as JSON")
def brief(actor: Operator, session: DB, alert_id: Id) -> BriefRead:
    alert = alerts.get_alert(session, actor, alert_id)
    return BriefRead.model_validate(cards.brief(session, actor, alert, now()))


@router.get("/alerts/{alert_id}/brief.pdf", summary="The 120 brief as PDF")
def brief_pdf(actor: Operator, session: DB, alert_id: Id) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    body = pdf.render(cards.brief(session, actor, alert, now()), pdf.stamp())
    return Response(body, media_type="application/pdf")


@router.post("/alerts/{alert_id}/resolve", response_model=ClaimRead, summary="Resolve")
def resolve(actor: Operator, session: DB, alert_id: Id, body: AlertResolution) -> ClaimRead:
    alert = alerts.get_alert(session, actor, alert_id)
    return _claim(response.resolve(session, actor, alert, body, now()))


@router.get("/console/sla", summary="Service levels for a month (YYYY-MM)")
def sla_report(actor: Operator, session: DB, month: Text = "") -> SlaReport:
    period = reports.monthly(session, actor, reports.parse_month(month))
    rep = period.report

    def s(x: Any) -> dict[str, Any]:
        return {
            "alarms": x.alarms,
            "answered": x.answered,
            "share_within_60s": x.share_within_target,
            "share_within_180s": x.share_within_slow,
            "meets_standard": x.meets_standard,
            "ack_median_s": x.ack_median_s,
            "ack_p90_s": x.ack_p90_s,
            "resolve_median_s": x.resolve_median_s,
            "resolve_p90_s": x.resolve_p90_s,
            "waiting_over_180s": x.unanswered_overdue,
            "false_alarm_rate": x.false_alarm_rate,
        }

    report = {
        "month": f"{period.first:%Y-%m}",
        "overall": s(rep.overall),
        "by_operator": {k: s(v) for k, v in rep.by_operator.items()},
        "by_shift": {k: s(v) for k, v in rep.by_shift.items()},
        "false_by_device": {
            k: {"false": f, "resolved": r} for k, (f, r) in rep.false_by_device.items()
        },
        "exceptions": [
            {
                "alert_id": e.alert_id,
                "created_at": e.created_at,
                "waited_s": round(e.waited_s, 1),
                "answered_by": e.answered_by,
                "severity": e.severity,
                "device_type": e.device_type,
            }
            for e in rep.exceptions
        ],
    }
    return SlaReport.model_validate(report)

"""What an operator does with an alert: claim it (one operator at a time), release or hand it
over, log calls, send a responder (who confirms arrival on a phone link), request 120, resolve.

Every action writes a line on the alert's trail, an audit row (the ``Audited`` hook or an
explicit ``audit.record``), and announces the change for the live consoles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms import describe
from yiyang.alarms import service as alerts
from yiyang.alarms.enums import TRANSITIONS, AlertState, Outcome
from yiyang.alarms.models import Alert
from yiyang.console import repository
from yiyang.console.models import CallLog, Dispatch, EmergencyRequest, Responder
from yiyang.console.schemas import (
    AlertClaim,
    AlertHandOver,
    AlertResolution,
    ArrivalReport,
    CallCreate,
    DispatchCreate,
    EmergencyRequestCreate,
)
from yiyang.core import audit
from yiyang.core.config import get_settings
from yiyang.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.notifications import outbox
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder, EmergencyContact

SUPERVISORS = frozenset({Role.PLATFORM_ADMIN, Role.DISTRICT_OFFICER})


class EnRoute(Conflict):
    """Resolving would leave someone who was sent on their way to a closed alert: the operator
    confirms first (``AlertResolution.confirm_en_route``)."""

    code = "responder_en_route"


class LinkEnded(DomainError):
    """An arrival link used after its alert was resolved. The visit is audited, so the refusal
    keeps its writes."""

    status_code = 410
    code = "dispatch_link_ended"
    keeps_writes = True


def _claim_snapshot(alert: Alert) -> dict[str, object]:
    return {
        "claimed_by": alert.claimed_by,
        "claimed_by_name": alert.claimed_by_name,
        "state": str(alert.state),
    }


def _record(session: Session, action: str, alert: Alert, before: dict, after: dict) -> None:
    audit.record(
        session,
        action,
        "alert",
        str(alert.id),
        elder_id=alert.elder_id,
        region_path=alert.region_path,
        before=before,
        after=after,
    )


def claim(
    session: Session, actor: Actor, alert: Alert, data: AlertClaim, now: dt.datetime
) -> Alert:
    """Take the alert. Exactly one of several operators racing wins (a conditional update);
    the others are told who has it. Claiming a new alert acknowledges it, which stops its
    escalation ladder and is the moment counted as "answered"."""
    if alert.state == AlertState.RESOLVED:
        raise Conflict(_("This alert is already resolved."))
    if alert.claimed_by == actor.user_id:
        return alert
    if not _take(session, actor, alert.id, now):
        _refuse(session, alert.id)
    session.refresh(alert)
    _after_claim(session, actor, alert, data, now)
    return alert


def claim_by_id(
    session: Session, actor: Actor, alert_id: int, data: AlertClaim, now: dt.datetime
) -> Alert:
    """``claim`` for a request that has read nothing yet: the conditional update comes first,
    so on SQLite the transaction starts as a writer (a reader that later writes can lose a race
    with "database is locked" instead of waiting its turn)."""
    if _take(session, actor, alert_id, now):
        alert = alerts.get_alert(session, actor, alert_id)
        _after_claim(session, actor, alert, data, now)
        return alert
    alert = alerts.get_alert(session, actor, alert_id)  # 404 outside the actor's area
    if alert.state == AlertState.RESOLVED:
        raise Conflict(_("This alert is already resolved."))
    if alert.claimed_by == actor.user_id:
        return alert
    _refuse(session, alert_id)
    raise AssertionError("unreachable")


def _take(session: Session, actor: Actor, alert_id: int, now: dt.datetime) -> bool:
    from yiyang.alarms.repository import alert_scope

    won = session.execute(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.claimed_by.is_(None),
            Alert.state != "resolved",
            alert_scope(actor),
        )
        .values(
            claimed_by=actor.user_id,
            claimed_by_name=actor.display_name,
            claimed_at=now,
            version=Alert.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(won.rowcount == 1)  # type: ignore[attr-defined]


def _refuse(session: Session, alert_id: int) -> None:
    holder = session.scalar(select(Alert.claimed_by_name).where(Alert.id == alert_id))
    raise Conflict(
        _("{name} is already handling this alert.").format(name=holder or "?"), holder=holder
    )


def _after_claim(
    session: Session, actor: Actor, alert: Alert, data: AlertClaim, now: dt.datetime
) -> None:
    before = {"claimed_by": None, "claimed_by_name": None, "state": str(alert.state)}
    alerts.add_trail(session, alert, "claimed", at=now, note=data.note)
    if alert.state == AlertState.NEW:
        alerts.transition(session, actor, alert, AlertState.ACKNOWLEDGED, now=now)
    _record(session, "claim", alert, before, _claim_snapshot(alert))


def _holding(session: Session, actor: Actor, alert: Alert, now: dt.datetime) -> None:
    """Acting on an alert needs its claim: an unclaimed alert is claimed on the way; one that
    another operator holds is refused with their name."""
    if alert.claimed_by is None:
        claim(session, actor, alert, AlertClaim(), now)
    elif alert.claimed_by != actor.user_id:
        raise Conflict(
            _("{name} is already handling this alert.").format(name=alert.claimed_by_name),
            holder=alert.claimed_by_name,
        )
    if alert.state == AlertState.RESOLVED:
        raise Conflict(_("This alert is already resolved."))


def _set_holder(
    session: Session,
    alert: Alert,
    user: User | None,
    action: str,
    note: str | None,
    now: dt.datetime,
) -> None:
    before = _claim_snapshot(alert)
    alert.claimed_by = user.id if user else None
    alert.claimed_by_name = user.display_name if user else None
    alert.claimed_at = now if user else None
    session.flush()
    data = {"to": user.display_name} if user else {}
    alerts.add_trail(session, alert, action, at=now, note=note, data=data)
    _record(session, action, alert, before, _claim_snapshot(alert))


def release(
    session: Session, actor: Actor, alert: Alert, data: AlertClaim, now: dt.datetime
) -> Alert:
    """Give the alert back to the queue. The holder may; so may a supervisor (an operator who
    went off shift leaving alerts claimed)."""
    if alert.claimed_by is None:
        raise Conflict(_("Nobody has claimed this alert."))
    if alert.claimed_by != actor.user_id and actor.role not in SUPERVISORS:
        raise Conflict(
            _("{name} is handling this alert; only they or a supervisor can release it.").format(
                name=alert.claimed_by_name
            )
        )
    _set_holder(session, alert, None, "released", data.note, now)
    return alert


def hand_over(
    session: Session, actor: Actor, alert: Alert, data: AlertHandOver, now: dt.datetime
) -> Alert:
    """Pass the alert to another operator with a note (shift change, a colleague who speaks
    the elder's dialect)."""
    _holding(session, actor, alert, now)
    target = session.get(User, data.to_user_id)
    if (
        target is None
        or not target.active
        or not repository.can_handle(target)
        or not alert.region_path.startswith(target.region_path)
    ):
        raise ValidationFailed(
            _("That colleague cannot handle alerts in this area."), field="to_user_id"
        )
    _set_holder(session, alert, target, "handed_over", data.note, now)
    return alert


def log_call(
    session: Session, actor: Actor, alert: Alert, data: CallCreate, now: dt.datetime
) -> CallLog:
    _holding(session, actor, alert, now)
    call = CallLog(
        alert_id=alert.id,
        elder_id=alert.elder_id,
        region_path=alert.region_path,
        callee=data.callee.value,
        callee_name=data.callee_name,
        phone=data.phone,
        answered=data.answered,
        outcome=data.outcome,
        at=now,
        by_id=actor.user_id,
        by_name=actor.display_name,
    )
    session.add(call)
    if alert.state == AlertState.ACKNOWLEDGED:
        alerts.transition(session, actor, alert, AlertState.HANDLING, now=now)
    session.flush()
    alerts.add_trail(
        session,
        alert,
        "call",
        at=now,
        note=data.outcome,
        data={"callee": data.callee_name, "answered": data.answered},
    )
    return call


# -- dispatch ------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def dispatch(
    session: Session, actor: Actor, alert: Alert, data: DispatchCreate, now: dt.datetime
) -> tuple[Dispatch, str]:
    """Send a responder (or a family member) to the elder. They get an SMS or e-mail with the
    address, access notes and a link to confirm arrival; returns the dispatch and the link."""
    _holding(session, actor, alert, now)
    elder = elders.get_readable(session, actor, alert.elder_id)
    if elder is None:
        raise NotFound(_("No such elder."))
    if data.responder_id is not None:
        r = session.get(Responder, data.responder_id)
        if r is None or not r.active or r not in repository.responders_for(session, alert):
            raise ValidationFailed(
                _("That responder does not cover this area."), field="responder_id"
            )
        kind, name, phone, email = r.kind, r.name, r.phone, r.email
    else:
        c = session.get(EmergencyContact, data.contact_id)
        if c is None or c.elder_id != alert.elder_id:
            raise ValidationFailed(_("That contact is not one of the elder's."), field="contact_id")
        kind, name, phone, email = "family", f"{c.relation} {c.name}", c.phone, None
    channel, address = ("sms", phone) if phone else ("email", email)
    if not address:
        raise ValidationFailed(_("We have no phone or e-mail for them."), field="responder_id")
    settings = get_settings()
    token = secrets.token_urlsafe(24)
    sent = Dispatch(
        alert_id=alert.id,
        elder_id=alert.elder_id,
        region_path=alert.region_path,
        responder_id=data.responder_id,
        contact_id=data.contact_id,
        kind=kind,
        name=name,
        channel=channel,
        address=address,
        token_hash=_token_hash(token),
        note=data.note,
        status="sent",
        sent_at=now,
        sent_by=actor.user_id,
        expires_at=now + dt.timedelta(hours=settings.dispatch_link_hours),
    )
    session.add(sent)
    session.flush()
    link = f"{settings.public_base_url.rstrip('/')}/r/{token}"
    body = _(
        "[Yiyang] Please go to {name} at {address} now ({what}). {access}"
        "When you arrive, open {link} and press 'I have arrived'."
    ).format(
        name=elder.name,
        address=elder.address,
        what=describe.title(alert.alert_type),
        access=(
            _("Access: {notes}. ").format(notes=elder.access_notes) if elder.access_notes else ""
        ),
        link=link,
    )
    outbox.enqueue_message(
        session,
        dedupe_key=repository.dispatch_key(sent.id),
        channel=channel,
        recipient=address,
        label=name,
        subject=_("[Yiyang] Please visit {name}").format(name=elder.name),
        body=body,
        payload={"event": "alert.dispatch", "alert_id": alert.id, "dispatch_id": sent.id},
        alert_id=alert.id,
        elder_id=alert.elder_id,
    )
    if AlertState.DISPATCHED in TRANSITIONS[AlertState(alert.state)]:
        alerts.transition(session, actor, alert, AlertState.DISPATCHED, now=now)
    alerts.add_trail(
        session, alert, "dispatch", at=now, note=data.note, data={"to": name, "kind": kind}
    )
    return sent, link


def dispatch_by_token(session: Session, token: str, now: dt.datetime) -> Dispatch:
    """The dispatch a phone link stands for; the link is the only credential, so an unknown,
    expired or finished one is simply not found."""
    sent = session.scalar(select(Dispatch).where(Dispatch.token_hash == _token_hash(token)))
    if sent is None or sent.status == "cancelled" or now > sent.expires_at:
        raise NotFound(_("This link is not valid any more."))
    return sent


def ended_with(session: Session, sent: Dispatch) -> Alert | None:
    """The alert when it is resolved: its arrival link has ended with it. The visit is audited
    (someone followed the link of a closed alert)."""
    alert = session.get(Alert, sent.alert_id)
    if alert is None or alert.state != AlertState.RESOLVED:
        return None
    actor = audit.AuditActor(user_id=None, username=f"dispatch:{sent.id} {sent.name}")
    with audit.acting_as(actor):
        audit.record(
            session,
            "dispatch_link_after_resolved",
            "dispatch",
            str(sent.id),
            elder_id=sent.elder_id,
            region_path=sent.region_path,
            summary=f"arrival link of alert {alert.id} used after it was resolved",
        )
    return alert


def confirm_arrival(
    session: Session, token: str, data: ArrivalReport, now: dt.datetime
) -> Dispatch:
    sent = dispatch_by_token(session, token, now)
    if sent.arrived_at is not None:
        return sent  # pressed twice: the first press counts
    if ended_with(session, sent) is not None:
        raise LinkEnded(_("This alert has been resolved; the visit is no longer needed."))
    alert = session.get(Alert, sent.alert_id)
    assert alert is not None
    actor = audit.AuditActor(user_id=None, username=f"dispatch:{sent.id} {sent.name}")
    with audit.acting_as(actor):
        sent.status, sent.arrived_at = "arrived", now
        sent.arrived_lat, sent.arrived_lon = data.latitude, data.longitude
        sent.arrival_note = data.note
        session.flush()
        alerts.add_trail(session, alert, "arrived", at=now, note=data.note, data={"who": sent.name})
    return sent


# -- 120 -----------------------------------------------------------------------------------


def request_120(
    session: Session, actor: Actor, alert: Alert, data: EmergencyRequestCreate, now: dt.datetime
) -> EmergencyRequest:
    """Ask 120 to send an ambulance: the brief goes out through the 120 adapter (a signed
    webhook in the outbox, so it survives a channel outage) and is kept as sent."""
    from yiyang.console import card

    _holding(session, actor, alert, now)
    brief = card.brief(session, actor, alert, now)
    req = EmergencyRequest(
        alert_id=alert.id,
        elder_id=alert.elder_id,
        region_path=alert.region_path,
        requested_at=now,
        requested_by=actor.user_id,
        requested_by_name=actor.display_name,
        note=data.note,
        brief=brief,
    )
    session.add(req)
    session.flush()
    url = get_settings().emergency_url
    outbox.enqueue_message(
        session,
        dedupe_key=f"e120:{req.id}",
        channel="webhook",
        recipient=url,
        label="120",
        subject=_("[Yiyang] Ambulance request for {name}").format(name=brief["elder"]["name"]),
        body=data.note or "",
        payload={"event": "emergency.request", "request_id": req.id, "brief": brief},
        alert_id=alert.id,
        elder_id=alert.elder_id,
    )
    if AlertState.DISPATCHED in TRANSITIONS[AlertState(alert.state)]:
        alerts.transition(session, actor, alert, AlertState.DISPATCHED, now=now)
    alerts.add_trail(session, alert, "request_120", at=now, note=data.note)
    return req


def resolve(
    session: Session, actor: Actor, alert: Alert, data: AlertResolution, now: dt.datetime
) -> Alert:
    _holding(session, actor, alert, now)
    away = [] if data.confirm_en_route else repository.on_the_way(session, alert)
    if away:
        names = "、".join(d.name for d in away)
        raise EnRoute(
            _(
                "{names} is on the way to the elder. Resolve anyway? Their arrival link will "
                "stop working."
            ).format(names=names),
            en_route=[d.name for d in away],
        )
    alerts.transition(
        session,
        actor,
        alert,
        AlertState.RESOLVED,
        outcome=Outcome(data.outcome),
        note=data.note,
        version=data.version,
        now=now,
    )
    for d in repository.on_the_way(session, alert):
        _stand_down(session, alert, d, now)
    return alert


def _stand_down(session: Session, alert: Alert, d: Dispatch, now: dt.datetime) -> None:
    """Tell someone still on the way that they are no longer needed (the operator resolved
    the alert and confirmed it): their link has ended, and they should not find out at the
    door. Sent on the channel that sent them, once per dispatch."""
    name = elders.system_rows(session, [alert.elder_id], Elder.name)
    elder_name = name[0].name if name else ""
    outbox.enqueue_message(
        session,
        dedupe_key=f"{repository.dispatch_key(d.id)}:stand-down",
        channel=d.channel,
        recipient=d.address,
        label=d.name,
        subject=_("[Yiyang] No need to visit {name}").format(name=elder_name),
        body=_(
            "[Yiyang] The alert for {name} has been dealt with: you no longer need to go. "
            "Thank you."
        ).format(name=elder_name),
        payload={"event": "alert.stand_down", "alert_id": alert.id, "dispatch_id": d.id},
        alert_id=alert.id,
        elder_id=alert.elder_id,
    )
    alerts.add_trail(session, alert, "stand_down", at=now, data={"to": d.name})

"""Linking another parent with an invitation code.

A community worker (any staff member who may edit the elder, within their area) or a family
member already linked to the elder issues a one-time eight-digit code; a family member who
enters it is linked to that elder (``UserElderLink``). The code is stored hashed, expires after
``VALID_FOR``, is used once; wrong codes count per user and per client address and lock after
five (``accounts.codes``), and at most ``DAY_LIMITS`` wrong codes a day per user. A new code
that happens to equal any stored one (the hash is unique) is drawn again. A link made with a
family member's code is audited against the elder (``family_linked_family``) and the elder's
community worker gets an SMS through the outbox. Every step is audited: issuing and using through
the audited rows, a wrong attempt and a lock as audit events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiyang.accounts import codes, throttle
from yiyang.accounts.models import LinkInvitation, User, UserElderLink
from yiyang.core import audit, scoping
from yiyang.core.clock import now
from yiyang.core.errors import Conflict, Forbidden
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.notifications.outbox import enqueue_message

VALID_FOR = dt.timedelta(hours=72)
DIGITS = 8
PURPOSE = "invite"
SCOPE = "invite"  # the throttle's scope: wrong codes per user
SCOPE_ADDRESS = "inv-ip"  # wrong codes per client address, all users
SCOPE_DAY = "inv-day"  # wrong codes per user in a day
DAY_LIMITS = throttle.Limits(10, dt.timedelta(days=1), dt.timedelta(days=1))
ADDRESS_LIMITS = throttle.Limits(20, dt.timedelta(hours=1), dt.timedelta(hours=1))
DRAWS = 5  # a new code equal to a stored one is drawn again, at most this often


@dataclass(frozen=True)
class Issued:
    code: str
    invitation: LinkInvitation


def is_linked(session: Session, user_id: int, elder_id: int) -> bool:
    return (
        session.scalar(
            select(UserElderLink.elder_id).where(
                UserElderLink.user_id == user_id, UserElderLink.elder_id == elder_id
            )
        )
        is not None
    )


def can_invite(session: Session, actor: Actor, elder_id: int) -> bool:
    """A family member linked to the elder, or a staff member who may edit elders and reads
    this one (the central ``ELDER_IDS`` rule)."""
    if actor.role == Role.FAMILY:
        return is_linked(session, actor.user_id, elder_id)
    if not actor.can(Perm.EDIT_ELDERS):
        return False
    rule = scoping.row_rule(scoping.ELDER_IDS)(actor, literal(elder_id))
    return session.scalar(select(literal(1)).where(rule)) is not None


def issue(session: Session, actor: Actor, elder_id: int, relation: str | None = None) -> Issued:
    if not can_invite(session, actor, elder_id):
        raise Forbidden(_("You may not invite family members for this elder."))
    at = now()
    for attempt in range(DRAWS):
        code = codes.new_code(DIGITS)
        invitation = LinkInvitation(
            elder_id=elder_id,
            code_hash=codes.digest(PURPOSE, code),
            relation=(relation or "").strip()[:32] or None,
            created_by=actor.user_id,
            created_at=at,
            expires_at=at + VALID_FOR,
        )
        try:
            with session.begin_nested():  # a collision undoes only this row
                session.add(invitation)
                session.flush()
        except IntegrityError:
            if attempt == DRAWS - 1:
                raise
            continue
        return Issued(code, invitation)
    raise AssertionError("unreachable")


def _counters(actor: Actor, ip: str | None) -> list[tuple[str, str, throttle.Limits]]:
    user = str(actor.user_id)
    return [
        (SCOPE, user, codes.LIMITS),
        (SCOPE_DAY, user, DAY_LIMITS),
        (SCOPE_ADDRESS, throttle.address_key(ip), ADDRESS_LIMITS),
    ]


def _wrong_code(
    session: Session,
    counters: list[tuple[str, str, throttle.Limits]],
    at: dt.datetime,
    invitation: LinkInvitation | None,
) -> Exception:
    values = [codes.count_failure(session, s, k, at, limits) for s, k, limits in counters]
    audit.record(
        session,
        "invitation_failed",
        "link_invitation",
        str(invitation.id) if invitation else None,
        summary=f"wrong, used or expired invitation code, attempt {values[0].failures}",
    )
    locked = [v for v in values if v.locked_until is not None]
    worst = max(locked, key=lambda v: v.locked_until or at) if locked else values[0]
    return codes.refusal(worst, at, _("This code is wrong, used or expired."))


def redeem(session: Session, actor: Actor, code: str, ip: str | None = None) -> LinkInvitation:
    """Link the family member to the invitation's elder, or refuse (a wrong, used or expired
    code counts as a wrong attempt)."""
    if actor.role != Role.FAMILY:
        raise Forbidden(_("Only a family member's account can be linked with a code."))
    at = now()
    counters = _counters(actor, ip)
    for scope, key, _limits in counters:
        refused = codes.locked(session, scope, key, at)
        if refused is not None:
            raise refused
    invitation = session.scalar(
        select(LinkInvitation)
        .where(LinkInvitation.code_hash == codes.digest(PURPOSE, "".join(code.split())))
        .with_for_update()
    )
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= at:
        raise _wrong_code(session, counters, at, invitation)
    if is_linked(session, actor.user_id, invitation.elder_id):
        raise Conflict(_("Your account is already linked to this elder."))
    codes.forget(session, SCOPE, str(actor.user_id))
    invitation.used_at = at
    invitation.used_by = actor.user_id
    session.add(
        UserElderLink(
            user_id=actor.user_id,
            elder_id=invitation.elder_id,
            relation=invitation.relation,
        )
    )
    session.flush()
    _tell_the_worker(session, actor, invitation)
    return invitation


def _tell_the_worker(session: Session, actor: Actor, invitation: LinkInvitation) -> None:
    """A family member linked another family account: an audit event on the elder (the audit
    list of officers and admins) and an SMS through the outbox to the elder's community worker
    (the nearest one whose area holds the elder, by the central ``ELDER_IDS`` rule)."""
    inviter = session.get(User, invitation.created_by) if invitation.created_by else None
    if inviter is None or inviter.role != Role.FAMILY:
        return
    audit.record(
        session,
        "family_linked_family",
        "link_invitation",
        str(invitation.id),
        elder_id=invitation.elder_id,
        summary=(
            f"family member {inviter.username} linked family account {actor.username} "
            f"to elder {invitation.elder_id} with an invitation code"
        ),
    )
    worker = _community_worker(session, invitation.elder_id)
    if worker is None or not worker.phone:
        return
    enqueue_message(
        session,
        dedupe_key=f"family-linked:{invitation.id}",
        channel="sms",
        recipient=worker.phone,
        label=worker.display_name,
        subject=_("Family account linked"),
        body=_(
            "%(inviter)s linked another family account (%(name)s) to elder no. %(elder)d "
            "with an invitation code.",
            inviter=inviter.display_name,
            name=actor.display_name,
            elder=invitation.elder_id,
        ),
        payload={"event": "family_linked_family", "invitation_id": invitation.id},
        elder_id=invitation.elder_id,
    )


def _community_worker(session: Session, elder_id: int) -> User | None:
    from yiyang.accounts.service import actor_for

    workers = session.scalars(
        select(User)
        .where(User.role == Role.COMMUNITY_WORKER, User.active, User.phone.is_not(None))
        .order_by(func.length(User.region_path).desc(), User.id)
        .limit(200)
    )
    rule = scoping.row_rule(scoping.ELDER_IDS)
    for worker in workers:
        found = session.scalar(select(literal(1)).where(rule(actor_for(worker), literal(elder_id))))
        if found is not None:
            return worker
    return None

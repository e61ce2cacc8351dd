"""Linking another parent with an invitation code.

A community worker (any staff member who may edit the elder, within their area) or a family
member already linked to the elder issues a one-time eight-digit code; a family member who
enters it is linked to that elder (``UserElderLink``). The code is stored hashed, expires after
``VALID_FOR``, is used once; wrong codes count per user and lock after five
(``accounts.codes``). Every step is audited: issuing and using through the audited rows, a
wrong attempt and a lock as audit events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from yiyang.accounts import codes
from yiyang.accounts.models import LinkInvitation, UserElderLink
from yiyang.core import audit, scoping
from yiyang.core.clock import now
from yiyang.core.errors import Conflict, Forbidden
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor

VALID_FOR = dt.timedelta(hours=72)
DIGITS = 8
PURPOSE = "invite"
SCOPE = "invite"  # the throttle's scope: wrong codes per user


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
    code = codes.new_code(DIGITS)
    invitation = LinkInvitation(
        elder_id=elder_id,
        code_hash=codes.digest(PURPOSE, code),
        relation=(relation or "").strip()[:32] or None,
        created_by=actor.user_id,
        created_at=at,
        expires_at=at + VALID_FOR,
    )
    session.add(invitation)
    session.flush()
    return Issued(code, invitation)


def redeem(session: Session, actor: Actor, code: str) -> LinkInvitation:
    """Link the family member to the invitation's elder, or refuse (a wrong, used or expired
    code counts as a wrong attempt)."""
    if actor.role != Role.FAMILY:
        raise Forbidden(_("Only a family member's account can be linked with a code."))
    at = now()
    key = str(actor.user_id)
    refused = codes.locked(session, SCOPE, key, at)
    if refused is not None:
        raise refused
    invitation = session.scalar(
        select(LinkInvitation)
        .where(LinkInvitation.code_hash == codes.digest(PURPOSE, "".join(code.split())))
        .with_for_update()
    )
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= at:
        value = codes.count_failure(session, SCOPE, key, at)
        audit.record(
            session,
            "invitation_failed",
            "link_invitation",
            str(invitation.id) if invitation else None,
            summary=f"wrong, used or expired invitation code, attempt {value.failures}",
        )
        raise codes.refusal(value, at, _("This code is wrong, used or expired."))
    if is_linked(session, actor.user_id, invitation.elder_id):
        raise Conflict(_("Your account is already linked to this elder."))
    codes.forget(session, SCOPE, key)
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
    return invitation

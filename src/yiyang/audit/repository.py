"""Audit queries, scoped: an officer sees the trail of their own region's elders and records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.audit.models import AuditEvent
from yiyang.audit.schemas import AuditFilters
from yiyang.audit.sentences import AuditLine, describe
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder


def readable(actor: Actor) -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    if not actor.can(Perm.VIEW_AUDIT):
        return stmt.where(false())
    if actor.role is Role.PLATFORM_ADMIN:
        return stmt
    prefix = region_scope_path(actor)
    if prefix is None:
        return stmt.where(false())
    own_elders = elders.readable(actor).with_only_columns(Elder.id)
    return stmt.where(
        or_(
            AuditEvent.region_path.startswith(prefix, autoescape=True),
            AuditEvent.elder_id.in_(own_elders),
        )
    )


def search(session: Session, actor: Actor, f: AuditFilters) -> Sequence[AuditEvent]:
    stmt = readable(actor)
    conds: list[Any] = []
    if f.elder_id is not None:
        conds.append(AuditEvent.elder_id == f.elder_id)
    if f.actor:
        conds.append(AuditEvent.actor_username == f.actor)
    if f.action:
        conds.append(AuditEvent.action == f.action)
    if f.entity_type:
        conds.append(AuditEvent.entity_type == f.entity_type)
    if f.since:
        conds.append(AuditEvent.at >= f.since)
    if f.until:
        conds.append(AuditEvent.at < f.until)
    return session.scalars(
        stmt.where(*conds)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(f.page_size)
        .offset((f.page - 1) * f.page_size)
    ).all()


def display_names(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """Usernames → display names, in one query (the audit rows keep the username they were
    written with; people read names)."""
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.username, User.display_name).where(User.username.in_(wanted))
    ).all()
    return {username: name for username, name in rows if name}


def lines(session: Session, events: Sequence[AuditEvent]) -> list[tuple[AuditEvent, AuditLine]]:
    """Each row with its sentence (``audit.sentences.describe``), the names in one query."""
    names = display_names(session, (e.actor_username for e in events))
    return [
        (
            e,
            describe(
                username=e.actor_username,
                action=e.action,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
                before=e.before,
                after=e.after,
                names=names,
            ),
        )
        for e in events
    ]

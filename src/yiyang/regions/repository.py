from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions.models import Region


def by_code(session: Session, code: str) -> Region | None:
    return session.scalar(select(Region).where(Region.code == code))


def all_by_code(session: Session) -> dict[str, Region]:
    return {r.code: r for r in session.scalars(select(Region))}


def visible(session: Session, actor: Actor) -> Sequence[Region]:
    """Regions an actor administers (their subtree), ordered as a tree."""
    prefix = region_scope_path(actor)
    stmt = select(Region).order_by(Region.path)
    if prefix is None:
        stmt = stmt.where(Region.id == actor.region_id)
    elif prefix != "/":
        stmt = stmt.where(Region.path.startswith(prefix, autoescape=True))
    return session.scalars(stmt).all()


def within(path: str, actor: Actor) -> bool:
    prefix = region_scope_path(actor)
    return prefix is not None and (prefix == "/" or path.startswith(prefix))

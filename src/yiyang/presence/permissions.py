"""Who may read and say where an elder is.

- Read (the ``presence.absences`` rule, registered in ``core.scoping``): whoever may read the
  elder (``elder_row_scope`` with ``can_view_elders``: region roles by the row's region path,
  person-scoped roles through the elders they may read). Away/back is not a medical detail, so
  a family member sees it whatever the elder's consent to share details.
- Write (``can_mark_away``): the elder themself and their linked family, and staff who may edit
  the elder in their region; everyone else who may read the elder is refused (403), and who may
  not read the elder never learns it exists (404, ``registry.service.access_elder``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from yiyang.core import scoping
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, elder_row_scope, region_scope_path
from yiyang.registry.permissions import can_edit_elder

ABSENCES = "presence.absences"


def readable_absences(actor: Actor, elder_id: Any, region_path: Any) -> ColumnElement[bool]:
    """The ``presence.absences`` rule: absences of the elders ``actor`` may read."""
    return elder_row_scope(actor, Perm.VIEW_ELDERS, region_path, elder_id)


def can_mark_away(actor: Actor, region_path: str) -> bool:
    """May say this elder (whom ``actor`` may read) is away or back: with ``can_mark_away``, the
    person-scoped roles (the elder, family: their own links) and region staff who may edit the
    elder there."""
    if not actor.can(Perm.MARK_AWAY):
        return False
    if region_scope_path(actor) is None:
        return True
    return can_edit_elder(actor, region_path)


def register() -> None:
    scoping.register_row_rule(ABSENCES, readable_absences)

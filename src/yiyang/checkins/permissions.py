"""Who sees and who acts on check-in tasks.

- ``TASKS`` (``"checkins.tasks"``, row, ``(actor, region_path, elder_id)``): the tasks an actor
  may read — region roles holding ``can_view_check_ins`` by the task's region path (officers,
  community workers, operators; the admin everywhere), nobody else (families, elders,
  caregivers, providers hold no such permission: 403 on the pages and routes).
- Recording a call's outcome needs ``can_handle_check_ins`` as well (community workers and the
  admin): officers and operators read the list, they do not record calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from yiyang.core import scoping
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, elder_row_scope, region_row_visible

TASKS = "checkins.tasks"


def readable_tasks(actor: Actor, region_path: Any, elder_id: Any) -> ColumnElement[bool]:
    """The ``checkins.tasks`` rule: tasks in the actor's region, for holders of
    ``can_view_check_ins``."""
    return elder_row_scope(actor, Perm.VIEW_CHECK_INS, region_path, elder_id)


def can_handle(actor: Actor, region_path: str) -> bool:
    """The actor may record a call for a task in ``region_path``."""
    return region_row_visible(actor, Perm.HANDLE_CHECK_INS, region_path)


def register() -> None:
    from yiyang.alarms.repository import register_life_signs
    from yiyang.checkins.repository import reached_well

    scoping.register_row_rule(TASKS, readable_tasks)
    register_life_signs(reached_well)  # a call that found the elder well ends their quiet

"""What the accounts domain installs into core at start-up (via ``yiyang.domains.install()``):
the session store that ``core.auth`` resolves bearer tokens and session cookies with, and the
``MANAGED_USERS`` row rule: the user accounts an actor may manage (``accounts.rules``)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false

from yiyang.accounts import rules, service
from yiyang.accounts.models import User
from yiyang.accounts.repository import MANAGED_USERS
from yiyang.core import auth, scoping
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor


def managed_users(actor: Actor) -> ColumnElement[bool]:
    """The ``MANAGED_USERS`` rule on ``app_user``: a user manager's accounts — platform admins
    every one, a district officer those in their district whose role does not rank above
    theirs."""
    if not actor.can(Perm.MANAGE_USERS):
        return false()
    grantable = [r.value for r in Role if rules.may_grant(actor, r)]
    condition = User.role.in_(grantable)
    if actor.role is Role.PLATFORM_ADMIN:
        return condition
    return and_(condition, scoping.within_path(User.region_path, actor.region_path))


def register() -> None:
    auth.set_session_store(service)
    scoping.register_row_rule(MANAGED_USERS, managed_users)

"""Who may manage which user, and what makes a password acceptable: pure decisions, no I/O.

User managers hold ``can_manage_users``: platform admins (everyone) and district officers (the
users in their own district). A manager never manages a user whose role ranks above their own,
nor grants such a role: the ranks run platform admin, district officer, street officer, and then
every other role; equal ranks are allowed (a district officer may add a colleague).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor

RANK: dict[Role, int] = {
    Role.PLATFORM_ADMIN: 0,
    Role.DISTRICT_OFFICER: 1,
    Role.STREET_OFFICER: 2,
}
OTHERS = 3

# Roles whose account belongs to a person linked to elders, not to a region's staff.
LINKED_ROLES = frozenset({Role.FAMILY, Role.ELDER})
# Roles whose account belongs to a provider organisation.
PROVIDER_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.CAREGIVER})

MIN_PASSWORD = 8
# Letters and digits without the look-alikes (0/O, 1/l/I), read out over the phone.
TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_LENGTH = 12


def rank(role: Role) -> int:
    return RANK.get(role, OTHERS)


def may_grant(actor: Actor, role: Role) -> bool:
    """The actor manages users and ``role`` does not rank above the actor's own."""
    return actor.can(Perm.MANAGE_USERS) and rank(role) >= rank(actor.role)


def within(actor: Actor, region_path: str) -> bool:
    """``region_path`` lies in the actor's area (everything for a platform admin)."""
    return actor.role is Role.PLATFORM_ADMIN or region_path.startswith(actor.region_path)


def may_manage(actor: Actor, role: Role, region_path: str) -> bool:
    """The actor may see and change a user of ``role`` in ``region_path``."""
    return may_grant(actor, role) and within(actor, region_path)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


def check_assignment(
    actor: Actor,
    role: Role,
    region_path: str,
    *,
    elders: int,
    provider_id: int | None,
) -> Problem | None:
    """Whether ``actor`` may give an account this role, region, links and provider."""
    if not may_grant(actor, role):
        return Problem("role", _("You may not grant a role above your own."))
    if not within(actor, region_path):
        return Problem("region_code", _("Choose a region within your own area."))
    if role in LINKED_ROLES and elders == 0:
        return Problem("elder_ids", _("Link at least one elder to a family or elder account."))
    if role is Role.ELDER and elders > 1:
        return Problem("elder_ids", _("An elder's own account is linked to that one elder."))
    if role in PROVIDER_ROLES and provider_id is None:
        return Problem("provider_id", _("Enter the provider's number for this role."))
    return None


def check_self_change(actor: Actor, user_id: int, role: Role, active: bool) -> Problem | None:
    """A manager does not change their own role nor deactivate themself (and so lock the
    district out of its user management)."""
    if user_id != actor.user_id:
        return None
    if role is not actor.role:
        return Problem("role", _("You may not change your own role."))
    if not active:
        return Problem("active", _("You may not deactivate your own account."))
    return None


def check_new_password(password: str, username: str) -> str | None:
    """Why a chosen password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return _("The password must have at least 8 characters.")
    if password.strip().lower() == username.strip().lower():
        return _("The password must not be your username.")
    if len(set(password)) < 4:
        return _("The password is too simple: use more different characters.")
    return None


def temporary_password() -> str:
    """A random password an admin reads to the user once (about 70 bits)."""
    return "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))

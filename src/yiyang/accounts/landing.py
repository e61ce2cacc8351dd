"""Where each user lands after signing in (and on ``/``): the page where they work.

A pure function of what the user may do, never of the role's name: the first rule whose
permission the user holds decides. Officers, community workers and platform admins (who hold
almost every permission) see their region's overview; operators the alarm console; a provider's
admin the orders board; a caregiver today's jobs; elders and families their own page; doctors and
volunteers the elder registry until their worklists exist.
"""

from __future__ import annotations

from collections.abc import Callable

from yiyang.core.roles import Perm

LANDINGS: tuple[tuple[Perm, str], ...] = (
    (Perm.VIEW_OVERVIEW, "/overview"),
    (Perm.HANDLE_ALERTS, "/console"),
    (Perm.MANAGE_ORDERS, "/orders"),
    (Perm.DELIVER_ORDERS, "/my-jobs"),
    (Perm.OWN_SERVICES, "/my-services"),
    (Perm.VIEW_ELDERS, "/elders"),
)
FALLBACK = "/account"  # a user who may do none of the above still has their account page


def landing(can: Callable[[Perm], bool]) -> str:
    """The path of the first page ``can`` allows, in the order of ``LANDINGS``."""
    return next((path for perm, path in LANDINGS if can(perm)), FALLBACK)


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a path on this site (``/x``, not ``//host`` or ``/\\host``), else
    None; a ``next=`` that passes wins over the landing page."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch in value for ch in "\r\n\t") or "\\" in value:
        return None
    return value

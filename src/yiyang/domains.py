"""The domains' start-up registrations, in one explicit list.

``core`` holds mechanisms (scoping rules, the session store) and imports no domain; each domain
puts its part in with ``<domain>.permissions.register()``. ``install()`` runs them all; the app
and the CLI (and so the device pipeline they start), the demo loader and the tests call it before
touching data. Registering is idempotent, so calling ``install()`` again is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

from yiyang.accounts import permissions as accounts
from yiyang.checkins import permissions as checkins
from yiyang.presence import permissions as presence
from yiyang.registry import permissions as registry
from yiyang.services import permissions as services

DOMAINS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("accounts", accounts.register),  # core.auth: the session store
    ("registry", registry.register),  # core.scoping: ELDERS, ELDER_IDS, elder masks
    ("services", services.register),  # core.scoping: CAREGIVER_JOBS
    ("presence", presence.register),  # core.scoping: presence.absences
    ("checkins", checkins.register),  # core.scoping: checkins.tasks
)


def install() -> None:
    """Register every domain's rules into core (idempotent)."""
    for _name, register in DOMAINS:
        register()

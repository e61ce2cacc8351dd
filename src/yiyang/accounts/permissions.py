"""What the accounts domain installs into core at start-up (via ``yiyang.domains.install()``):
the session store that ``core.auth`` resolves bearer tokens and session cookies with."""

from __future__ import annotations

from yiyang.accounts import service
from yiyang.core import auth


def register() -> None:
    auth.set_session_store(service)

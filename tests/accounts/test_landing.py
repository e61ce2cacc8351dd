"""Where each role lands (a pure function of its permissions) and which links it is shown."""

from __future__ import annotations

import pytest

from yiyang.accounts.landing import landing, safe_next
from yiyang.core.roles import ROLE_PERMS, Perm, Role, has_perm

pytestmark = pytest.mark.unit

EXPECTED = {
    Role.PLATFORM_ADMIN: "/overview",  # holds the caregiver permission too: not today's jobs
    Role.DISTRICT_OFFICER: "/overview",
    Role.STREET_OFFICER: "/overview",
    Role.COMMUNITY_WORKER: "/overview",
    Role.OPERATOR: "/console",
    Role.PROVIDER_ADMIN: "/orders",
    Role.CAREGIVER: "/my-jobs",
    Role.DOCTOR: "/elders",  # until the doctor's worklist exists
    Role.VOLUNTEER: "/elders",  # until the volunteer's worklist exists
    Role.FAMILY: "/my-services",
    Role.ELDER: "/my-services",
}


@pytest.mark.parametrize("role", list(Role))
def test_every_role_lands_where_it_works(role: Role) -> None:
    assert landing(lambda p: has_perm(role, p)) == EXPECTED[role]


def test_landing_reads_permissions_not_role_names() -> None:
    operator = ROLE_PERMS[Role.OPERATOR]
    assert landing(lambda p: p in operator | {Perm.VIEW_OVERVIEW}) == "/overview"
    assert landing(lambda p: p in {Perm.VIEW_ELDERS}) == "/elders"
    assert landing(lambda p: False) == "/account"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/alerts?state=open", True),
        ("/console/alerts/5", True),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("https://evil.example/", False),
        ("", False),
        (None, False),
        ("/x\r\nSet-Cookie: a=b", False),
    ],
)
def test_next_is_kept_only_when_a_local_path(value: str | None, kept: bool) -> None:
    assert safe_next(value) == (value if kept else None)

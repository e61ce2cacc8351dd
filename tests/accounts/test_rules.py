"""The pure decisions of user management (accounts.rules): who may manage whom, which roles a
manager may grant, what an account of each role needs, what a password must be."""

from __future__ import annotations

import pytest

from yiyang.accounts import rules
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor

pytestmark = pytest.mark.unit

DISTRICT = "/310104000000/"
STREET = DISTRICT + "310104003000/"
OTHER = "/310105000000/"


def actor(role: Role, path: str = DISTRICT, user_id: int = 1) -> Actor:
    return Actor(user_id, "x", "x", role, 1, path)


def test_only_user_managers_grant_and_never_above_their_rank() -> None:
    admin, officer = actor(Role.PLATFORM_ADMIN), actor(Role.DISTRICT_OFFICER)
    assert all(rules.may_grant(admin, r) for r in Role)
    assert not rules.may_grant(officer, Role.PLATFORM_ADMIN)
    assert all(rules.may_grant(officer, r) for r in Role if r is not Role.PLATFORM_ADMIN)
    for role in (Role.STREET_OFFICER, Role.COMMUNITY_WORKER, Role.OPERATOR, Role.FAMILY):
        assert not any(rules.may_grant(actor(role), r) for r in Role)


def test_a_district_officer_manages_their_district_only() -> None:
    officer = actor(Role.DISTRICT_OFFICER)
    assert rules.may_manage(officer, Role.COMMUNITY_WORKER, STREET)
    assert not rules.may_manage(officer, Role.COMMUNITY_WORKER, OTHER)
    assert not rules.may_manage(officer, Role.PLATFORM_ADMIN, DISTRICT)
    assert rules.may_manage(actor(Role.PLATFORM_ADMIN), Role.OPERATOR, OTHER)


@pytest.mark.parametrize(
    ("role", "path", "elders", "provider", "field"),
    [
        (Role.PLATFORM_ADMIN, DISTRICT, 0, None, "role"),
        (Role.COMMUNITY_WORKER, OTHER, 0, None, "region_code"),
        (Role.FAMILY, STREET, 0, None, "elder_ids"),
        (Role.ELDER, STREET, 2, None, "elder_ids"),
        (Role.CAREGIVER, STREET, 0, None, "provider_id"),
        (Role.FAMILY, STREET, 2, None, None),
        (Role.CAREGIVER, STREET, 0, 3, None),
        (Role.DISTRICT_OFFICER, DISTRICT, 0, None, None),
    ],
)
def test_what_each_role_needs(
    role: Role, path: str, elders: int, provider: int | None, field: str | None
) -> None:
    found = rules.check_assignment(
        actor(Role.DISTRICT_OFFICER), role, path, elders=elders, provider_id=provider
    )
    assert (found.field if found else None) == field


def test_a_manager_keeps_their_own_role_and_account() -> None:
    me = actor(Role.DISTRICT_OFFICER, user_id=7)
    assert rules.check_self_change(me, 7, Role.STREET_OFFICER, True).field == "role"
    assert rules.check_self_change(me, 7, Role.DISTRICT_OFFICER, False).field == "active"
    assert rules.check_self_change(me, 7, Role.DISTRICT_OFFICER, True) is None
    assert rules.check_self_change(me, 8, Role.VOLUNTEER, False) is None


def test_passwords() -> None:
    assert rules.check_new_password("short", "li") is not None
    assert rules.check_new_password("zhangsan01", "ZhangSan01") is not None
    assert rules.check_new_password("aaaaaaaaab", "li") is not None
    assert rules.check_new_password("Yiyang@2027", "li") is None
    drawn = {rules.temporary_password() for _ in range(50)}
    assert len(drawn) == 50
    for value in drawn:
        assert len(value) == rules.TEMPORARY_LENGTH
        assert set(value) <= set(rules.TEMPORARY_ALPHABET) and not set(value) & set("0O1lI")
        assert rules.check_new_password(value, "li") is None

"""The navigation registry: who sees which link (permissions, never role names), and for every
demo role every link it is shown answers 200 — nobody is offered a page that refuses them."""

from __future__ import annotations

import re

import pytest

from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.web.nav import NavClash, NavEntry, entries, nav_for, needs, register_nav

from ..conftest import PASSWORD, login_form_token

DEMO = {
    "admin": "/overview",
    "district": "/overview",
    "street": "/overview",
    "community": "/overview",
    "operator": "/console",
    "provider": "/orders",
    "caregiver": "/my-jobs",
    "doctor": "/elders",
    "volunteer": "/elders",
    "family": "/my-services",
    "elder": "/my-services",
}


def actor(role: Role) -> Actor:
    return Actor(1, "x", "x", role, 1, "/")


@pytest.mark.unit
def test_links_follow_permissions() -> None:
    import yiyang.app  # noqa: F401  (the domains register their links on import)

    keys = {r: [e.key for e, _current in nav_for(actor(r), "/")] for r in Role}
    assert "my-jobs" not in keys[Role.PLATFORM_ADMIN]  # holds the permission, manages orders
    assert keys[Role.CAREGIVER][:2] == ["elders", "my-jobs"]
    assert "orders" not in keys[Role.CAREGIVER]
    assert "my-services" in keys[Role.FAMILY] and "elders" not in keys[Role.FAMILY]
    assert "overview" in keys[Role.COMMUNITY_WORKER] and "overview" not in keys[Role.OPERATOR]
    assert nav_for(None, "/") == []
    current = [e.key for e, on in nav_for(actor(Role.PLATFORM_ADMIN), "/dead-letters") if on]
    assert current == ["devices"]
    assert [e.key for e, on in nav_for(actor(Role.PLATFORM_ADMIN), "/elders-import") if on] == [
        "import"
    ]


@pytest.mark.unit
def test_a_taken_key_is_refused() -> None:
    import yiyang.app  # noqa: F401

    known = next(e for e in entries() if e.key == "console")
    register_nav(known)  # the same entry again: no-op
    with pytest.raises(NavClash):
        register_nav(NavEntry("console", "/elsewhere", "x", needs(), 1))


@pytest.mark.pages
@pytest.mark.parametrize("username", sorted(DEMO))
def test_each_role_lands_and_every_link_answers(client, username: str) -> None:
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": login_form_token(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == DEMO[username]
    page = client.get(DEMO[username])
    assert page.status_code == 200, page.text[:500]
    links = re.findall(r'<a href="([^"]+)" id="nav-([\w-]+)"', page.text)
    assert links, "no navigation"
    for href, key in links:
        answer = client.get(href, follow_redirects=False)
        assert answer.status_code == 200, (username, key, href, answer.status_code)
    assert 'aria-current="page"' in page.text


@pytest.mark.pages
def test_a_safe_next_still_wins(client) -> None:
    r = client.post(
        "/login",
        data={
            "username": "community",
            "password": PASSWORD,
            "next": "/alerts?state=open",
            "csrf_token": login_form_token(client),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/alerts?state=open"


@pytest.mark.pages
def test_home_without_a_session_asks_to_sign_in(client) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"

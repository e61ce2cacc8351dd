"""The user management pages (/users) through the real app: the admin creates and edits a user,
a refused value is shown beside its field with the form kept, the temporary password is shown
once, deactivation and a reset take an inline confirmation step, the queue of reset requests is
handled; a role without the permission gets 403 and no link."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import login_form_token
from yiyang.accounts import recovery
from yiyang.accounts.models import PasswordResetRequest, User

pytestmark = pytest.mark.pages

COMMUNITY = "310104003001"


def _form(csrf: str, **over: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "username": "page.worker",
        "display_name": "页面社工",
        "role": "community_worker",
        "region_code": COMMUNITY,
        "phone": "13800006666",
        "provider_id": "",
        "elder_ids": "",
    }
    data.update(over)
    return data


def test_a_community_worker_is_refused(client, browser_login) -> None:
    browser_login("community")
    assert client.get("/users").status_code == 403
    assert client.get("/users/new").status_code == 403
    assert client.get("/users/reset-requests").status_code == 403
    assert 'id="nav-users"' not in client.get("/account").text


def test_create_with_a_refused_value_then_edit(client, browser_login, session) -> None:
    csrf = browser_login("admin")
    assert 'id="nav-users"' in client.get("/users").text
    assert client.get("/users/new").status_code == 200
    bad = client.post("/users/new", data=_form(csrf, phone="call me"))
    assert bad.status_code == 422
    assert 'id="err-phone"' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="页面社工"' in bad.text  # the form is kept
    bad = client.post("/users/new", data=_form(csrf, elder_ids="12 abc"))
    assert bad.status_code == 422 and 'id="err-elder_ids"' in bad.text
    bad = client.post("/users/new", data=_form(csrf, role="family"))
    assert bad.status_code == 422 and 'id="err-elder_ids"' in bad.text
    empty = client.post(
        "/users/new", data=_form(csrf, username="", display_name="", role="", region_code="")
    )
    assert empty.status_code == 422
    for field in ("role", "region_code"):
        assert f'id="err-{field}"' in empty.text
    assert "Input should be" not in empty.text and "String should" not in empty.text
    nameless = client.post("/users/new", data=_form(csrf, username="", display_name=""))
    assert 'id="err-username"' in nameless.text and 'id="err-display_name"' in nameless.text
    assert "String should" not in nameless.text
    made = client.post("/users/new", data=_form(csrf))
    assert made.status_code == 200 and 'id="temporary-password-value"' in made.text
    temporary = re.search(r'id="temporary-password-value">([^<]+)<', made.text).group(1)
    user = session.scalar(select(User).where(User.username == "page.worker"))
    detail = client.get(f"/users/{user.id}")
    assert detail.status_code == 200 and temporary not in detail.text  # shown once only
    edit = client.get(f"/users/{user.id}/edit")
    assert edit.status_code == 200 and 'value="页面社工"' in edit.text
    saved = client.post(
        f"/users/{user.id}/edit",
        data=_form(csrf, role="operator", display_name="改名坐席"),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    user = session.get(User, user.id)
    assert user.role == "operator" and user.display_name == "改名坐席"
    listed = client.get("/users?q=page.worker")
    assert "改名坐席" in listed.text and f'id="user-{user.id}"' in listed.text


def test_deactivate_and_reset_take_a_confirmation_step(client, browser_login, session) -> None:
    csrf = browser_login("admin")
    user_id = session.scalar(select(User.id).where(User.username == "volunteer"))
    step = client.post(f"/users/{user_id}/deactivate", data={"csrf_token": csrf})
    assert step.status_code == 200 and 'id="confirm-deactivate"' in step.text
    session.expire_all()
    assert session.get(User, user_id).active is True
    done = client.post(
        f"/users/{user_id}/deactivate",
        data={"csrf_token": csrf, "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(User, user_id).active is False
    client.post(f"/users/{user_id}/reactivate", data={"csrf_token": csrf})
    step = client.post(f"/users/{user_id}/password-reset", data={"csrf_token": csrf})
    assert 'id="confirm-password"' in step.text
    issued = client.post(
        f"/users/{user_id}/password-reset", data={"csrf_token": csrf, "confirmed": "yes"}
    )
    assert issued.status_code == 200 and 'id="temporary-password-value"' in issued.text
    own = session.scalar(select(User.id).where(User.username == "admin"))
    assert 'id="deactivate"' not in client.get(f"/users/{own}").text  # not one's own account


def test_the_queue_page(client, browser_login, session) -> None:
    recovery.start(session, "volunteer", "203.0.113.40")
    session.commit()
    csrf = browser_login("admin")
    queue = client.get("/users/reset-requests")
    request_id = session.scalar(
        select(PasswordResetRequest.id).order_by(PasswordResetRequest.id.desc())
    )
    assert queue.status_code == 200 and f'id="request-{request_id}"' in queue.text
    assert 'class="tag warn">1<' in client.get("/users").text
    user_id = session.scalar(select(User.id).where(User.username == "volunteer"))
    issued = client.post(
        f"/users/{user_id}/password-reset",
        data={"csrf_token": csrf, "confirmed": "yes", "request_id": str(request_id)},
    )
    assert 'id="temporary-password-value"' in issued.text
    session.expire_all()
    assert session.get(PasswordResetRequest, request_id).state == "reset"
    assert f'id="request-{request_id}"' not in client.get("/users/reset-requests").text


def test_a_temporary_password_leads_to_the_password_change(client, login, session) -> None:
    admin = login("admin").headers
    user_id = session.scalar(select(User.id).where(User.username == "doctor"))
    temporary = client.post(f"/api/users/{user_id}/password-reset", headers=admin).json()[
        "temporary_password"
    ]
    r = client.post(
        "/login",
        data={"username": "doctor", "password": temporary, "csrf_token": login_form_token(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    page = client.get("/account/password")
    assert page.status_code == 200 and 'id="must-change"' in page.text
    assert client.get("/elders").status_code == 403
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    differ = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": temporary,
            "new_password": "Doctor@2027",
            "new_password2": "Doctor@2028",
        },
    )
    assert differ.status_code == 422 and 'id="err-new_password2"' in differ.text
    done = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": temporary,
            "new_password": "Doctor@2027",
            "new_password2": "Doctor@2027",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/elders").status_code == 200


def test_the_list_pages_and_keeps_the_search(client, browser_login, monkeypatch) -> None:
    from yiyang.accounts import user_pages

    monkeypatch.setattr(user_pages, "PAGE_SIZE", 5)
    browser_login("admin")
    first = client.get("/users?state=active")
    assert len(re.findall(r'id="user-\d+"', first.text)) == 5 and 'id="page-next"' in first.text
    assert 'href="/users?q=&amp;role=&amp;state=active&amp;page=2"' in first.text
    second = client.get("/users?state=active&page=2")
    assert 'id="page-previous"' in second.text
    names = set(re.findall(r'id="user-(\d+)"', first.text))
    assert names.isdisjoint(re.findall(r'id="user-(\d+)"', second.text))

"""The buttons: on the elder's and family's page (/my-services: the state, one big button with
an inline confirmation step, no dialog) and the staff elder page's panel (away now or until a
time, back, plan and call off an absence). Plain form posts; the staff panel also by HTMX."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.core.clock import local_zone
from yiyang.presence.models import Absence

pytestmark = pytest.mark.api


def _linked(session, username: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(UserElderLink.elder_id)
        .join(User, User.id == UserElderLink.user_id)
        .where(User.username == username)
        .order_by(UserElderLink.elder_id)
        .limit(1)
    )


@pytest.mark.parametrize("username", ["elder", "family"])
def test_away_and_back_from_my_services(client, browser_login, session, username) -> None:  # type: ignore[no-untyped-def]
    elder = _linked(session, username)
    csrf = browser_login(username)
    page = client.get("/my-services")
    assert f'id="presence-state-{elder}"' in page.text and "At home" in page.text
    assert 'data-action="away-open"' in page.text and "<dialog" not in page.text
    sunday = dt.date.today() + dt.timedelta(days=3)
    r = client.post(
        f"/my-services/presence/{elder}/away",
        data={"csrf_token": csrf, "until_date": sunday.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"#presence-{elder}")
    absence = session.scalars(
        select(Absence).where(Absence.elder_id == elder).order_by(Absence.id.desc())
    ).first()
    assert absence.until.astimezone(local_zone()) == dt.datetime.combine(
        sunday, dt.time(20, 0), tzinfo=local_zone()
    )
    assert absence.recorded_as == username
    page = client.get("/my-services")
    assert "Away, expected back" in page.text and 'data-action="back-open"' in page.text
    r = client.post(
        f"/my-services/presence/{elder}/back", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "At home" in client.get("/my-services").text


def test_a_post_without_the_form_token_is_refused(client, browser_login, session) -> None:  # type: ignore[no-untyped-def]
    elder = _linked(session, "elder")
    browser_login("elder")
    r = client.post(f"/my-services/presence/{elder}/away", data={}, follow_redirects=False)
    assert r.status_code == 403


def test_staff_panel_away_until_back_plan_and_call_off(client, browser_login, session) -> None:  # type: ignore[no-untyped-def]
    elder = _linked(session, "elder")
    csrf = browser_login("community")
    page = client.get(f"/elders/{elder}")
    assert f'hx-get="/elders/{elder}/presence"' in page.text
    panel = client.get(f"/elders/{elder}/presence")
    assert 'data-action="away"' in panel.text and 'data-action="plan"' in panel.text
    hx = {"HX-Request": "true"}
    until = (dt.datetime.now(local_zone()) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(
        f"/elders/{elder}/presence/away",
        data={"csrf_token": csrf, "until": until, "note": "<b>hospital</b>"},
        headers=hx,
    )
    assert r.status_code == 200 and "Away, expected back" in r.text
    assert "&lt;b&gt;hospital&lt;/b&gt;" in r.text and "<b>hospital" not in r.text
    assert 'data-action="back"' in r.text
    r = client.post(f"/elders/{elder}/presence/away", data={"csrf_token": csrf}, headers=hx)
    assert 'id="presence-error"' in r.text  # already away: said in the panel
    r = client.post(f"/elders/{elder}/presence/back", data={"csrf_token": csrf}, headers=hx)
    assert "At home" in r.text
    start = (dt.datetime.now(local_zone()) + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(
        f"/elders/{elder}/presence/plan",
        data={"csrf_token": csrf, "starts_at": start, "note": "daughter"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/elders/{elder}#presence"
    panel = client.get(f"/elders/{elder}/presence").text
    planned = session.scalars(
        select(Absence).where(Absence.elder_id == elder, Absence.note == "daughter")
    ).one()
    assert f'id="absence-{planned.id}"' in panel and "going away" in panel
    r = client.post(
        f"/elders/{elder}/presence/cancel/{planned.id}", data={"csrf_token": csrf}, headers=hx
    )
    assert f'id="absence-{planned.id}"' not in r.text
    r = client.post(
        f"/elders/{elder}/presence/plan", data={"csrf_token": csrf, "starts_at": "x"}, headers=hx
    )
    assert 'id="presence-error"' in r.text


def test_an_operator_sees_the_state_without_buttons(client, browser_login, session) -> None:  # type: ignore[no-untyped-def]
    elder = _linked(session, "elder")
    browser_login("operator")
    panel = client.get(f"/elders/{elder}/presence")
    assert panel.status_code == 200 and 'id="presence-state"' in panel.text
    assert "data-action" not in panel.text

"""Check-in tasks through the API and the page, per role: community workers see their
community's open tasks and record calls; officers and operators read; families, elders,
caregivers, providers and volunteers get 403; another community's task is neither visible nor
actionable. Every call recorded is an attempt (append-only) and an audit row."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.checkins.helpers import REASON, audit_rows, elder_in, make_task
from yiyang.alarms.models import Alert
from yiyang.checkins.models import CheckInAttempt, CheckInTask

pytestmark = pytest.mark.api


def two_tasks(session) -> tuple[CheckInTask, CheckInTask]:  # type: ignore[no-untyped-def]
    """An open task in the demo community (due in the past: overdue) and one in another
    street."""
    now = dt.datetime.now(dt.UTC)
    inside = make_task(session, elder_in(session, "community"), now - dt.timedelta(hours=2))
    outside = make_task(session, elder_in(session, "street", outside=True), now)
    session.commit()
    return inside, outside


@pytest.mark.parametrize(
    ("username", "sees_outside", "records"),
    [
        ("community", False, True),
        ("street", False, False),
        ("district", True, False),
        ("operator", True, False),
        ("admin", True, True),
    ],
)
def test_lists_stay_in_the_region(client, login, session, username, sees_outside, records) -> None:  # type: ignore[no-untyped-def]
    inside, outside = two_tasks(session)
    who = login(username)
    r = client.get("/api/check-ins", headers=who.headers)
    assert r.status_code == 200
    listed = {t["id"]: t for t in r.json()}
    assert inside.id in listed
    assert (outside.id in listed) is sees_outside
    item = listed[inside.id]
    assert item["reason"] == REASON and item["overdue"] is True
    assert item["elder_name"] and item["can_record"] is records
    got = client.get(f"/api/check-ins/{outside.id}", headers=who.headers)
    assert got.status_code == (200 if sees_outside else 404)


def test_open_tasks_come_oldest_due_first(client, login, session) -> None:
    now = dt.datetime.now(dt.UTC)
    later = make_task(session, elder_in(session, "community", nth=1), now)
    sooner = make_task(session, elder_in(session, "community", nth=2), now - dt.timedelta(hours=1))
    session.commit()
    ids = [t["id"] for t in client.get("/api/check-ins", headers=login("community").headers).json()]
    assert ids.index(sooner.id) < ids.index(later.id)


@pytest.mark.parametrize("username", ["family", "elder", "caregiver", "provider", "volunteer"])
def test_other_roles_are_refused(client, login, session, username) -> None:  # type: ignore[no-untyped-def]
    inside, _ = two_tasks(session)
    who = login(username)
    assert client.get("/api/check-ins", headers=who.headers).status_code == 403
    assert client.get(f"/api/check-ins/{inside.id}", headers=who.headers).status_code == 403
    call = {"outcome": "reached_well"}
    url = f"/api/check-ins/{inside.id}/calls"
    assert client.post(url, json=call, headers=who.headers).status_code == 403
    assert client.get("/check-ins", headers=who.headers).status_code == 403


@pytest.mark.parametrize("username", ["street", "operator", "district"])
def test_readers_do_not_record_calls(client, login, session, username) -> None:  # type: ignore[no-untyped-def]
    inside, _ = two_tasks(session)
    url = f"/api/check-ins/{inside.id}/calls"
    r = client.post(url, json={"outcome": "reached_well"}, headers=login(username).headers)
    assert r.status_code == 403
    session.refresh(inside)
    assert inside.state == "open"


def test_another_communitys_task_cannot_be_answered(client, login, session) -> None:
    _, outside = two_tasks(session)
    url = f"/api/check-ins/{outside.id}/calls"
    r = client.post(url, json={"outcome": "reached_well"}, headers=login("community").headers)
    assert r.status_code == 404
    session.refresh(outside)
    assert outside.state == "open"
    assert (
        session.scalars(select(CheckInAttempt).where(CheckInAttempt.task_id == outside.id)).all()
        == []
    )


def test_calls_are_kept_and_audited_and_reached_well_closes(client, login, session) -> None:
    inside, _ = two_tasks(session)
    who = login("community")
    url = f"/api/check-ins/{inside.id}/calls"
    first = client.post(
        url, json={"outcome": "unreachable", "note": "no answer"}, headers=who.headers
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["state"] == "open" and body["outcome"] == "unreachable"
    second = client.post(
        url, json={"outcome": "reached_well", "note": "was in the garden"}, headers=who.headers
    )
    body = second.json()
    assert body["state"] == "done" and body["outcome_note"] == "was in the garden"
    assert [a["outcome"] for a in body["attempts"]] == ["unreachable", "reached_well"]
    assert body["attempts"][0]["by_name"]
    assert audit_rows(session, "check_in_attempt", 0) == 0  # (no such row)
    attempts = session.scalars(
        select(CheckInAttempt).where(CheckInAttempt.task_id == inside.id)
    ).all()
    assert all(audit_rows(session, "check_in_attempt", a.id, "create") == 1 for a in attempts)
    assert audit_rows(session, "check_in_task", inside.id, "update") == 2
    # closed: a further call is refused
    third = client.post(url, json={"outcome": "reached_well"}, headers=who.headers)
    assert third.status_code == 409
    bad = client.post(url, json={"outcome": "maybe"}, headers=who.headers)
    assert bad.status_code == 422


def test_needs_help_opens_an_operator_alarm_with_the_note(client, login, session) -> None:
    inside, _ = two_tasks(session)
    url = f"/api/check-ins/{inside.id}/calls"
    call = {"outcome": "reached_needs_help", "note": "fell yesterday, knee swollen"}
    r = client.post(url, json=call, headers=login("community").headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "escalated" and body["alert_id"]
    alarm = session.get(Alert, body["alert_id"])
    assert alarm.state == "new" and alarm.severity == "warning"
    assert "fell yesterday, knee swollen" in alarm.detail["reason"]
    assert alarm.detail["check_in_task"] == inside.id
    assert alarm.dedupe_key == "inactivity:2026-11-30T13:10:00+00:00"


def test_the_page_lists_calls_to_make_and_records_an_outcome(
    client, browser_login, session
) -> None:
    inside, outside = two_tasks(session)
    inside.reason = REASON + ' <script>alert("x")</script>'
    session.commit()
    csrf = browser_login("community")
    page = client.get("/check-ins")
    assert '<script>alert("x")' not in page.text and "&lt;script&gt;" in page.text
    assert page.status_code == 200
    assert f'id="task-{inside.id}"' in page.text and f'id="task-{outside.id}"' not in page.text
    assert f'id="overdue-{inside.id}"' in page.text
    assert REASON in page.text
    assert 'href="tel:' in page.text
    assert f'id="call-{inside.id}-reached_well"' in page.text
    assert "confirm(" not in page.text
    assert 'id="nav-check-ins"' in page.text
    r = client.post(
        f"/check-ins/{inside.id}/calls",
        data={"outcome": "reached_well", "note": "<b>fine</b>", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.refresh(inside)
    assert inside.state == "done" and inside.outcome_note == "<b>fine</b>"
    assert f'id="task-{inside.id}"' not in client.get("/check-ins").text
    # another community's task through the form: not found, nothing written
    r = client.post(
        f"/check-ins/{outside.id}/calls",
        data={"outcome": "reached_well", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 404
    session.refresh(outside)
    assert outside.state == "open"


def test_readers_see_the_page_without_outcome_buttons(client, browser_login, session) -> None:
    inside, _ = two_tasks(session)
    browser_login("street")
    page = client.get("/check-ins")
    assert page.status_code == 200 and f'id="task-{inside.id}"' in page.text
    assert f'id="call-{inside.id}-reached_well"' not in page.text


def test_the_region_overview_counts_open_and_overdue_check_ins(client, login, session) -> None:
    """Issue #18 item 1: the overview's figure, in the viewer's region only, linking to the
    list."""
    import re

    now = dt.datetime.now(dt.UTC)
    make_task(session, elder_in(session, "community", nth=1), now - dt.timedelta(hours=2))
    make_task(session, elder_in(session, "community", nth=2), now)
    make_task(session, elder_in(session, "street", outside=True), now - dt.timedelta(hours=2))
    session.commit()

    def figure(html: str, ident: str) -> int:
        m = re.search(rf'id="{ident}"[^>]*><strong>(\d+)</strong>', html)
        assert m, ident
        return int(m.group(1))

    community = client.get("/overview", headers=login("community").headers).text
    assert (figure(community, "fig-check-ins"), figure(community, "fig-check-ins-overdue")) == (
        2,
        1,
    )
    assert 'href="/check-ins" id="fig-check-ins"' in community
    district = client.get("/overview", headers=login("district").headers).text
    assert (figure(district, "fig-check-ins"), figure(district, "fig-check-ins-overdue")) == (3, 2)
    counts = client.get("/api/check-ins/counts", headers=login("community").headers).json()
    assert counts == {"open": 2, "overdue": 1}

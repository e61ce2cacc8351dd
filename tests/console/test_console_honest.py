"""An honest console: a message that was skipped (no SMS gateway) or failed shows as such on the
card with the number to call instead, never "on the way"; resolving while someone sent may be on
the way takes a second, inline step; an arrival link ends with its alert (a page saying so, the
visit audited, no arrival recorded)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from tests.alarms.test_alarms_api import make_alerts
from yiyang.alarms.models import Alert
from yiyang.audit.models import AuditEvent
from yiyang.console.models import Dispatch, Responder
from yiyang.notifications import dispatcher
from yiyang.notifications.models import Notification

pytestmark = pytest.mark.api


def send_someone(client, op, session) -> tuple[int, Dispatch, str]:  # type: ignore[no-untyped-def]
    aid = make_alerts(session)["inside"]
    card = client.get(f"/api/alerts/{aid}/card", headers=op.headers).json()
    responder = next(r for r in card["responders"] if session.get(Responder, r["id"]).phone)
    r = client.post(
        f"/api/alerts/{aid}/dispatches", json={"responder_id": responder["id"]}, headers=op.headers
    )
    assert r.status_code == 201, r.text
    sent = session.get(Dispatch, r.json()["id"])
    note = session.scalars(
        select(Notification).where(Notification.dedupe_key == f"dispatch:{sent.id}")
    ).one()
    token = re.search(r"/r/([\w-]+)", note.body).group(1)
    return aid, sent, token


def set_status(session, dispatch_id: int, status: str) -> None:  # type: ignore[no-untyped-def]
    session.execute(
        update(Notification)
        .where(Notification.dedupe_key == f"dispatch:{dispatch_id}")
        .values(status=status)
    )
    session.commit()


def test_a_skipped_sms_shows_as_not_sent_with_the_number_to_call(client, login, session) -> None:
    op = login("operator")
    aid, sent, _token = send_someone(client, op, session)
    counts = dispatcher.run_once()  # no SMS gateway configured here, as in `make run`
    assert counts["skipped"] >= 1
    session.expire_all()
    note = session.scalars(
        select(Notification).where(Notification.dedupe_key == f"dispatch:{sent.id}")
    ).one()
    assert note.status == "skipped"
    card = client.get(f"/api/alerts/{aid}/card", headers=op.headers).json()
    assert [d["message_status"] for d in card["dispatches"]] == ["skipped"]
    page = client.get(f"/console/alerts/{aid}", headers=op.headers).text
    item = re.search(rf'<li id="dispatch-{sent.id}".*?</li>', page, re.S).group(0)
    assert 'data-delivery="skipped"' in item
    assert "not sent: no gateway configured" in item
    assert f'href="tel:{sent.address}"' in item
    assert "on the way" not in item and "message sent" not in item
    # nobody is on the way, so resolving needs no second step
    r = client.post(
        f"/console/alerts/{aid}/resolve",
        data={"outcome": "false_alarm", "csrf_token": ""},
        headers=op.headers,
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Alert, aid).state == "resolved"
    # nobody was on the way (the SMS was skipped): nobody to stand down
    assert not session.scalars(
        select(Notification).where(Notification.dedupe_key.like("%:stand-down"))
    ).all()


def test_resolving_while_someone_is_on_the_way_asks_inline(client, login, session) -> None:
    op = login("operator")
    aid, sent, _token = send_someone(client, op, session)
    set_status(session, sent.id, "sent")
    card = client.get(f"/console/alerts/{aid}", headers=op.headers).text
    assert "message sent, not arrived yet" in card and 'id="en-route-note"' in card
    first = client.post(
        f"/console/alerts/{aid}/resolve",
        data={"outcome": "false_alarm", "note": "误按"},
        headers=op.headers,
        follow_redirects=False,
    )
    assert first.status_code == 409
    assert 'id="confirm-resolve"' in first.text and sent.name in first.text
    assert 'name="confirm_en_route" value="yes"' in first.text
    assert '<option value="false_alarm" selected>' in first.text and "误按" in first.text
    assert "confirm(" not in first.text  # an inline step, no pop-up
    session.expire_all()
    assert session.get(Alert, aid).state != "resolved"
    # the API refuses the same way, with who is on the way
    r = client.post(
        f"/api/alerts/{aid}/resolve", json={"outcome": "false_alarm"}, headers=op.headers
    )
    assert r.status_code == 409 and r.json()["detail"]["code"] == "responder_en_route"
    assert r.json()["detail"]["en_route"] == [sent.name]
    second = client.post(
        f"/console/alerts/{aid}/resolve",
        data={"outcome": "false_alarm", "note": "误按", "confirm_en_route": "yes"},
        headers=op.headers,
        follow_redirects=False,
    )
    assert second.status_code == 303
    session.expire_all()
    assert session.get(Alert, aid).state == "resolved"
    # the one on the way is told they are no longer needed, on the channel that sent them
    (told,) = session.scalars(
        select(Notification).where(Notification.dedupe_key == f"dispatch:{sent.id}:stand-down")
    ).all()
    assert (told.channel, told.recipient) == (sent.channel, sent.address)
    assert "no longer need to go" in told.body


def test_an_arrival_link_ends_with_its_alert(client, login, session) -> None:
    op = login("operator")
    aid, sent, token = send_someone(client, op, session)
    assert client.get(f"/r/{token}").status_code == 200
    r = client.post(
        f"/api/alerts/{aid}/resolve",
        json={"outcome": "false_alarm", "confirm_en_route": True},
        headers=op.headers,
    )
    assert r.status_code == 200, r.text
    page = client.get(f"/r/{token}")
    assert page.status_code == 410 and 'id="link-ended"' in page.text
    assert 'id="arrive"' not in page.text
    posted = client.post(f"/r/{token}", data={"note": "到了"})
    assert posted.status_code == 410
    api = client.post(f"/api/dispatch-links/{token}/arrived", json={})
    assert api.status_code == 410 and api.json()["detail"]["code"] == "dispatch_link_ended"
    session.expire_all()
    assert session.get(Dispatch, sent.id).arrived_at is None
    audited = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "dispatch_link_after_resolved",
            AuditEvent.entity_id == str(sent.id),
        )
    ).all()
    assert len(audited) == 3  # the page, the form, the API


def test_a_120_request_that_went_nowhere_says_call_120(client, login, session) -> None:
    op = login("operator")
    aid = make_alerts(session)["inside"]
    r = client.post(f"/api/alerts/{aid}/request-120", json={}, headers=op.headers)
    assert r.status_code == 201, r.text
    dispatcher.run_once()  # no 120 adapter configured here: skipped
    page = client.get(f"/console/alerts/{aid}", headers=op.headers).text
    messages = re.search(r'<ul class="notices">.*?</ul>', page, re.S).group(0)
    assert 'data-status="skipped"' in messages and 'href="tel:120"' in messages


def _queue_row(client, op, aid: int) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/console", headers=op.headers).text
    return re.search(rf'<tr id="alert-{aid}".*?</tr>', page, re.S).group(0)


def test_the_queue_says_a_dispatch_reached_nobody(client, login, session) -> None:
    """The live queue's row of a dispatched alert: while the message may arrive it reads as
    dispatched; skipped or failed, it says the message reached nobody, so call instead."""
    op = login("operator")
    aid, sent, _token = send_someone(client, op, session)
    assert "reached nobody" not in _queue_row(client, op, aid)  # still being sent
    set_status(session, sent.id, "skipped")
    assert "message reached nobody: call instead" in _queue_row(client, op, aid)
    set_status(session, sent.id, "sent")
    assert "reached nobody" not in _queue_row(client, op, aid)

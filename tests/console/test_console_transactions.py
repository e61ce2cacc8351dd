"""Console page actions write through the request's session and leave the commit to the edge
(the session dependency, ADR 0011): the handlers only flush. A refused action still renders the
card with its reason, and a done one redirects with its write stored."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.alarms.test_alarms_api import make_alerts
from yiyang.alarms.models import Alert
from yiyang.audit.models import AuditEvent
from yiyang.console.models import Dispatch
from yiyang.notifications.models import Notification

pytestmark = pytest.mark.pages


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of the function that called ``Session.commit``, for every commit."""
    callers: list[str] = []
    original = Session.commit

    def spy(self: Session) -> None:
        callers.append(sys._getframe(1).f_code.co_name)
        original(self)

    monkeypatch.setattr(Session, "commit", spy)
    yield callers


def test_card_actions_and_the_arrival_form_are_committed_by_the_edge(
    client: Any, login: Any, browser_login: Any, session: Session, commits: list[str]
) -> None:
    ids = make_alerts(session)
    aid = ids["inside"]
    csrf = browser_login("operator")
    commits.clear()
    claimed = client.post(
        f"/console/alerts/{aid}/claim", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/console/alerts/{aid}"
    assert commits and set(commits) == {"unit_of_work"}, commits  # the dependency, no handler
    session.expire_all()
    assert session.get(Alert, aid).claimed_by is not None  # type: ignore[union-attr]
    assert session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "claim", AuditEvent.entity_id == str(aid))
    )

    # refused (no outcome chosen): the card again with the reason, nothing of it stored
    commits.clear()
    refused = client.post(
        f"/console/alerts/{aid}/resolve", data={"csrf_token": csrf, "outcome": ""}
    )
    assert refused.status_code == 422 and "Choose an outcome" in refused.text
    assert set(commits) <= {"unit_of_work"}, commits

    # the responder's phone: the arrival form
    op = login("operator")
    card = client.get(f"/api/alerts/{aid}/card", headers=op.headers).json()
    r = client.post(
        f"/api/alerts/{aid}/dispatches",
        json={"responder_id": card["responders"][0]["id"]},
        headers=op.headers,
    )
    assert r.status_code == 201, r.text
    sent_id = r.json()["id"]
    note = session.scalars(
        select(Notification).where(Notification.dedupe_key == f"dispatch:{sent_id}")
    ).one()
    match = re.search(r"/r/([\w-]+)", note.body)
    assert match is not None
    token = match.group(1)
    commits.clear()
    arrived = client.post(
        f"/r/{token}", data={"latitude": "31.2", "longitude": "121.4"}, follow_redirects=False
    )
    assert arrived.status_code == 303 and arrived.headers["location"] == f"/r/{token}"
    assert commits and set(commits) == {"unit_of_work"}, commits
    session.expire_all()
    assert session.get(Dispatch, sent_id).status == "arrived"  # type: ignore[union-attr]

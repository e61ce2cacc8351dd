"""The elder's and family's home page (长辈版 / family portal), as HTML: its own large-print base
(no staff navigation bar), a read-aloud button served by a script file, the community worker's
real number to call, the family's view of today at home and of the alerts, and the family
member's own notification settings, changed by them and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.core.audit_models import AuditEvent
from yiyang.registry.models import EmergencyContact

pytestmark = pytest.mark.pages


def _family_elder(session) -> int:  # type: ignore[no-untyped-def]
    uid = session.scalar(select(User.id).where(User.username == "family"))
    return session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == uid))


def test_the_elder_page_is_large_print_with_read_aloud_and_a_call_button(
    client, browser_login
) -> None:
    browser_login("elder")
    page = client.get("/my-services")
    assert page.status_code == 200
    html = page.text
    assert "/static/elder.css" in html and "/static/app.css" not in html
    assert 'class="mainnav"' not in html  # no staff navigation bar
    assert 'src="/static/readaloud.js"' in html and "data-read=" in html
    assert 'href="tel:02164038812"' in html  # the community worker's number, digits only
    assert "<script>" not in html and "confirm(" not in html
    assert "Today at home" not in html and "今天在家" not in html  # that is the family's view
    script = client.get("/static/readaloud.js").text
    assert "speechSynthesis" in script and "SpeechSynthesisUtterance" in script


def test_the_family_sees_today_at_home_alerts_and_their_settings(
    client, browser_login, session
) -> None:
    browser_login("family")
    elder_id = _family_elder(session)
    html = client.get("/my-services").text
    assert f'id="today-{elder_id}"' in html and 'data-state="' in html and "data-devices=" in html
    assert f'id="alerts-{elder_id}"' in html
    assert f'id="notify-{elder_id}"' in html and 'name="sms"' in html
    assert 'href="tel:02164038812"' in html


def test_the_family_switches_their_own_sms_off_audited(client, browser_login, session) -> None:
    csrf = browser_login("family")
    elder_id = _family_elder(session)
    phone = session.scalar(select(User.phone).where(User.username == "family"))
    row = session.scalar(
        select(EmergencyContact).where(
            EmergencyContact.elder_id == elder_id, EmergencyContact.phone == phone
        )
    )
    assert row is not None and row.receives_alerts
    r = client.post(
        f"/my-services/notifications/{elder_id}",
        data={"csrf_token": csrf},  # the box unticked: no "sms" field
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    session.expire_all()
    assert session.get(EmergencyContact, row.id).receives_alerts is False
    audit = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "emergency_contact", AuditEvent.entity_id == str(row.id))
        .order_by(AuditEvent.id.desc())
    )
    assert audit is not None and audit.actor_username == "family"
    assert audit.after == {"receives_alerts": False}
    # and back on, with e-mail too; a malformed address is refused with a message
    client.post(
        f"/my-services/notifications/{elder_id}",
        data={"csrf_token": csrf, "sms": "1", "email": "li.ming@example.com"},
    )
    session.expire_all()
    again = session.get(EmergencyContact, row.id)
    assert again.receives_alerts is True and again.email == "li.ming@example.com"
    assert 'value="li.ming@example.com"' in client.get("/my-services").text
    r = client.post(
        f"/my-services/notifications/{elder_id}",
        data={"csrf_token": csrf, "sms": "1", "email": "not an address"},
        follow_redirects=False,
    )
    assert "error=" in r.headers["location"]
    session.expire_all()
    assert session.get(EmergencyContact, row.id).email == "li.ming@example.com"


def test_an_alert_reaches_the_family_by_sms_and_e_mail_as_they_set(session) -> None:
    from yiyang.alarms.models import Alert
    from yiyang.alarms.notices import recipients

    elder_id = _family_elder(session)
    phone = session.scalar(select(User.phone).where(User.username == "family"))
    row = session.scalar(
        select(EmergencyContact).where(
            EmergencyContact.elder_id == elder_id, EmergencyContact.phone == phone
        )
    )
    alert = Alert(elder_id=elder_id, region_path="/", alert_type="sos", severity="critical")
    row.receives_alerts, row.email = False, "li.ming@example.com"
    session.flush()
    mine = [(r.channel, r.address) for r in recipients(session, alert, "contacts")]
    assert ("email", "li.ming@example.com") in mine and ("sms", phone) not in mine
    row.receives_alerts, row.email = True, None
    session.flush()
    mine = [(r.channel, r.address) for r in recipients(session, alert, "contacts")]
    assert ("sms", phone) in mine and not any(
        c == "email" and a == "li.ming@example.com" for c, a in mine
    )


def test_nobody_changes_another_elders_contacts(client, browser_login, session) -> None:
    csrf = browser_login("family")
    other = session.scalar(
        select(EmergencyContact.elder_id).where(EmergencyContact.elder_id != _family_elder(session))
    )
    r = client.post(
        f"/my-services/notifications/{other}",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]
    csrf = browser_login("elder")  # an elder has no contact row of their own to switch
    r = client.post(
        f"/my-services/notifications/{_family_elder(session)}",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]

"""The elder's whole picture (/elders/{id}/picture): every tab renders from the demo data for a
street officer, the first page in at most 15 statements, scoped (another community's worker
gets 404, family and the elder themself 403), masked as the reader's role says, with the
readings drawn as SVG with their units and each medical read audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, func, select

from yiyang.accounts.models import User, UserElderLink
from yiyang.accounts.service import actor_for
from yiyang.alarms.models import Alert
from yiyang.audit.models import AuditEvent
from yiyang.core.clock import to_local
from yiyang.devices.models import Device, VitalReading
from yiyang.overview.picture import TAB_KEYS
from yiyang.registry import consents
from yiyang.registry.consents import Action, Change, Purpose
from yiyang.registry.models import Elder

pytestmark = pytest.mark.pages

MAX_QUERIES = 15
TAB_MARKERS = {
    "profile": 'id="id-number"',
    "devices": 'id="picture-devices"',
    "alerts": 'id="picture-alerts"',
    "orders": 'id="picture-ledger"',
    "readings": 'id="trend-bp"',
    "contacts": 'id="picture-consents"',
    "history": 'id="picture-bindings"',
}


def _community_elder(session) -> Elder:  # type: ignore[no-untyped-def]
    """An elder of the demo community with devices (the community worker's and the street
    officer's), with monitoring consent, an open alert and a fortnight of readings."""
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    elder = session.scalar(
        select(Elder)
        .where(Elder.region_path == path, Elder.id.in_(select(Device.elder_id)))
        .order_by(Elder.id)
        .limit(1)
    )
    assert elder is not None
    for purpose in (Purpose.DATA_PROCESSING, Purpose.HEALTH_MONITORING):
        if not consents.in_force(elder)[purpose]:
            _consent(session, elder, Change(purpose, Action.GIVEN))
    now = dt.datetime.now(dt.UTC)
    session.add(
        Alert(
            elder_id=elder.id,
            region_path=elder.region_path,
            alert_type="sos",
            severity="critical",
            dedupe_key="sos",
            detail={"device_type": "sos_button"},
            first_at=now,
            last_at=now,
            created_at=now - dt.timedelta(minutes=3),
        )
    )
    device_id = session.scalar(select(Device.id).where(Device.elder_id == elder.id).limit(1))
    for day in range(14):
        at = now - dt.timedelta(days=day, hours=2)
        for metric, value in (
            ("bp_systolic", 128 + day % 5),
            ("bp_diastolic", 82 - day % 3),
            ("heart_rate", 70 + day % 7),
            ("glucose", 6.1 + day / 10),
            ("temperature", 36.5),
        ):
            session.add(
                VitalReading(
                    elder_id=elder.id, device_id=device_id, at=at, metric=metric, value=value
                )
            )
    session.commit()
    return elder


def _consent(session, elder: Elder, change: Change) -> None:  # type: ignore[no-untyped-def]
    """Recorded as the street officer would, through the registry's consent service."""
    street = session.scalar(select(User).where(User.username == "street"))
    consents.record(session, actor_for(street), elder, change)


def _outsider(session) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    outsider = session.scalar(
        select(Elder).where(~Elder.region_path.startswith(path)).order_by(Elder.id).limit(1)
    )
    assert outsider is not None
    return outsider


class Statements:
    """Every statement sent to the database while the block runs (sign-in's included)."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.seen: list[str] = []

    def _count(self, *args: object) -> None:
        statement = str(args[2])
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.seen.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_every_tab_renders_for_a_street_officer(client, login, session, engine) -> None:
    elder = _community_elder(session)
    who = login("street")
    for tab in sorted(TAB_KEYS):
        url = f"/elders/{elder.id}/picture" + ("" if tab == "profile" else f"?tab={tab}")
        with Statements(engine) as statements:
            page = client.get(url, headers=who.headers)
        assert page.status_code == 200, (tab, page.text[:500])
        assert TAB_MARKERS[tab] in page.text, tab
        assert f'id="tab-{tab}" hx-get="{url}"' in page.text
        assert re.search(rf'id="tab-{tab}"[^>]*aria-current="page"', page.text), tab
        assert len(statements.seen) <= MAX_QUERIES, (tab, statements.seen)
        # the tab link fetches the tab strip and the panel alone
        fragment = client.get(url, headers={**who.headers, "HX-Request": "true"})
        assert fragment.status_code == 200
        assert "<html" not in fragment.text and 'id="picture"' in fragment.text
        assert TAB_MARKERS[tab] in fragment.text
        # htmx keeps no copy in localStorage; going back asks for the whole page again
        assert 'hx-history="false"' in fragment.text
        restore = {**who.headers, "HX-Request": "true", "HX-History-Restore-Request": "true"}
        assert "<html" in client.get(url, headers=restore).text


def test_the_page_takes_at_most_15_statements(client, login, session, engine) -> None:
    elder = _community_elder(session)
    who = login("street")
    with Statements(engine) as statements:
        page = client.get(f"/elders/{elder.id}/picture", headers=who.headers)
    assert page.status_code == 200
    print(f"\nelder picture, first page: {len(statements.seen)} statements")
    assert len(statements.seen) <= MAX_QUERIES, statements.seen
    # the tab strip carries the open alert
    assert re.search(r'id="tab-alerts"[^>]*>Alerts <span class="count"[^>]*>1</span>', page.text)


def test_alerts_devices_and_times_are_the_elders_own_in_local_time(client, login, session) -> None:
    elder = _community_elder(session)
    who = login("street")
    alerts = client.get(f"/elders/{elder.id}/picture?tab=alerts", headers=who.headers).text
    alert = session.scalar(select(Alert).where(Alert.elder_id == elder.id))
    assert f'href="/alerts/{alert.id}"' in alerts
    assert to_local(alert.created_at).strftime("%Y-%m-%d %H:%M") in alerts
    others = session.scalars(select(Alert.id).where(Alert.elder_id != elder.id)).all()
    assert not any(f'href="/alerts/{i}"' in alerts for i in others)
    devices = client.get(f"/elders/{elder.id}/picture?tab=devices", headers=who.headers).text
    serials = session.scalars(select(Device.serial).where(Device.elder_id == elder.id)).all()
    assert serials and all(s in devices for s in serials)
    assert devices.count('<a href="/devices/') == len(serials)


def test_readings_are_charts_with_units_and_each_read_is_audited(client, login, session) -> None:
    elder = _community_elder(session)
    who = login("street")
    before = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.elder_id == elder.id, AuditEvent.action == "read_medical")
    )
    page = client.get(f"/elders/{elder.id}/picture?tab=readings", headers=who.headers).text
    for key, unit in (("bp", "mmHg"), ("heart_rate", "bpm"), ("glucose", "mmol/L")):
        chart = page[page.index(f'id="trend-{key}"') :]
        chart = chart[: chart.index("</figure>")]
        assert "<svg" in chart and "<polyline" in chart and unit in chart, key
    assert "℃" in page
    assert page.count('class="line bp_') == 2  # systolic and diastolic on one chart
    assert "<script" not in page[page.index('id="picture"') :]
    session.expire_all()
    after = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.elder_id == elder.id, AuditEvent.action == "read_medical")
    )
    assert after == before + 1
    # the consent to monitoring withdrawn: no readings are shown, at once
    _consent(session, elder, Change(Purpose.HEALTH_MONITORING, Action.WITHDRAWN))
    session.commit()
    page = client.get(f"/elders/{elder.id}/picture?tab=readings", headers=who.headers).text
    assert 'id="no-monitoring-consent"' in page and "<svg" not in page


def test_the_profile_read_is_audited(client, login, session) -> None:
    elder = _community_elder(session)
    who = login("community")
    assert client.get(f"/elders/{elder.id}/picture", headers=who.headers).status_code == 200
    session.expire_all()
    assert session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.elder_id == elder.id,
            AuditEvent.action == "read_medical",
            AuditEvent.actor_username == "community",
        )
    )


def test_another_communitys_elder_is_not_found(client, login, session) -> None:
    outsider = _outsider(session)
    who = login("community")
    for suffix in ("", "?tab=devices", "?tab=readings", "?tab=history"):
        url = f"/elders/{outsider.id}/picture{suffix}"
        assert client.get(url, headers=who.headers).status_code == 404, url
    nonsense = client.get(f"/elders/{outsider.id}/picture?tab=nonsense", headers=who.headers)
    assert nonsense.status_code == 404


@pytest.mark.parametrize("username", ["family", "elder", "caregiver", "provider", "volunteer"])
def test_person_scoped_roles_do_not_get_the_staff_page(client, login, session, username) -> None:
    user_id = session.scalar(select(User.id).where(User.username == username))
    own = session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == user_id))
    elder_id = own or _outsider(session).id
    who = login(username)
    for suffix in ("", "?tab=alerts"):
        r = client.get(f"/elders/{elder_id}/picture{suffix}", headers=who.headers)
        assert r.status_code == 403, (username, suffix)
    # nor a link to it on the elder page they may open
    if own:
        record = client.get(f"/elders/{own}", headers=who.headers)
        assert record.status_code == 200 and 'id="elder-picture"' not in record.text


def test_the_id_number_is_masked_for_a_role_without_view_id_number(client, login, session) -> None:
    elder = _community_elder(session)
    shown = client.get(f"/elders/{elder.id}/picture", headers=login("operator").headers)
    assert shown.status_code == 200
    number = re.search(r'id="id-number">([^<]*)<', shown.text)
    assert number and "*" in number.group(1) and elder.id_number not in shown.text
    assert elder.birth_date.isoformat() not in shown.text
    full = client.get(f"/elders/{elder.id}/picture", headers=login("street").headers).text
    assert f'id="id-number">{elder.id_number}<' in full


def test_the_elder_page_links_to_the_picture(client, login, session) -> None:
    elder = _community_elder(session)
    page = client.get(f"/elders/{elder.id}", headers=login("street").headers)
    assert 'id="elder-picture"' in page.text
    assert f'href="/elders/{elder.id}/picture"' in page.text


def test_contacts_name_the_linked_accounts(client, login, session) -> None:
    family = session.scalar(select(User).where(User.username == "family"))
    elder_id = session.scalar(
        select(UserElderLink.elder_id).where(UserElderLink.user_id == family.id)
    )
    page = client.get(f"/elders/{elder_id}/picture?tab=contacts", headers=login("street").headers)
    assert page.status_code == 200
    accounts = page.text[page.text.index('id="picture-accounts"') :]
    assert family.display_name in accounts[: accounts.index("</ul>")]


def test_contacts_show_each_consent_with_its_record(client, login, session) -> None:
    elder = _community_elder(session)
    page = client.get(f"/elders/{elder.id}/picture?tab=contacts", headers=login("street").headers)
    monitoring = page.text[page.text.index('id="picture-consent-health_monitoring"') :]
    monitoring = monitoring[: monitoring.index("</li>")]
    record = consents.latest(consents.history(session, elder.id))[Purpose.HEALTH_MONITORING]
    assert "✔" in monitoring and f"text {record.text_version}" in monitoring
    assert record.recorded_by_name in monitoring

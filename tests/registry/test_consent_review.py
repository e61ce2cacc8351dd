"""Security review of the consent work (issue #18): the dementia filter and tag follow the
medical mask (role and sharing consent); fall radars and smart watches — the fall and SOS
alarms — are bound without the monitoring consent, purely passive devices are not; consent
records refuse DELETE as well as UPDATE (migration 0017)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from yiyang.accounts.models import User, UserElderLink
from yiyang.registry.models import ConsentRecord, Elder

pytestmark = pytest.mark.api


def linked(session, username: str) -> list[int]:  # type: ignore[no-untyped-def]
    user = session.scalar(select(User).where(User.username == username))
    return list(
        session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == user.id))
    )


def with_dementia(session, elder_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(Elder).where(Elder.id.in_(elder_ids)).values(dementia=True))
    session.commit()


def listed(client, headers, query: str) -> list[int]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/elders?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def set_sharing(client, login, elder_id: int, action: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        f"/api/elders/{elder_id}/consents",
        json={"purpose": "share_with_family", "action": action},
        headers=login("community").headers,
    )
    assert r.status_code == 201, r.text


def test_without_sharing_the_dementia_filter_tells_the_family_nothing(
    client, login, session
) -> None:  # type: ignore[no-untyped-def]
    (elder_id,) = linked(session, "family")
    with_dementia(session, [elder_id])
    family = login("family").headers
    # with the sharing consent the filter works as for staff
    assert listed(client, family, "dementia=true") == [elder_id]
    assert listed(client, family, "dementia=false") == []
    set_sharing(client, login, elder_id, "withdrawn")
    assert client.get(f"/api/elders/{elder_id}", headers=family).json()["dementia"] is None
    # the filter is kept to the elders whose details are shared (as a phone search): true and
    # false alike leave the elder out, so neither confirms what the detail hides
    assert listed(client, family, "dementia=true") == listed(client, family, "dementia=false")
    assert elder_id in listed(client, family, "")
    client.cookies.set("lang", "en")
    name = session.scalar(select(Elder.name).where(Elder.id == elder_id))
    pages = [client.get(f"/elders?dementia={v}", headers=family) for v in ("true", "false")]
    assert all(p.status_code == 200 for p in pages)
    assert (name in pages[0].text) == (name in pages[1].text)


def test_a_volunteer_sees_no_dementia_tag_and_cannot_filter_by_it(client, login, session) -> None:  # type: ignore[no-untyped-def]
    elder_ids = linked(session, "volunteer")
    with_dementia(session, elder_ids)
    volunteer = login("volunteer").headers
    items = client.get("/api/elders", headers=volunteer).json()["items"]
    assert {i["id"] for i in items} >= set(elder_ids)
    assert all(i["dementia"] is None for i in items)
    assert listed(client, volunteer, "dementia=true") == listed(client, volunteer, "dementia=false")
    client.cookies.set("lang", "en")
    page = client.get("/elders", headers=volunteer)
    assert page.status_code == 200 and 'title="Dementia"' not in page.text
    # a role with the medical profile still sees the tag
    staff = client.get("/elders?dementia=true", headers=login("community").headers)
    assert 'title="Dementia"' in staff.text


def none_given(session) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    elder = session.scalars(
        select(Elder).where(Elder.region_path == path).order_by(Elder.id).offset(3).limit(1)
    ).one()
    session.execute(
        update(Elder)
        .where(Elder.id == elder.id)
        .values(
            consent_data_processing=False,
            consent_health_monitoring=False,
            consent_share_with_family=False,
        )
    )
    session.commit()
    return elder


def test_fall_detectors_are_bound_without_the_monitoring_consent(client, login, session) -> None:
    elder = none_given(session)
    community = login("community").headers

    def bind(serial: str, kind: str):  # type: ignore[no-untyped-def]
        return client.post(
            "/api/devices",
            json={"serial": serial, "device_type": kind, "elder_id": elder.id},
            headers=community,
        )

    for serial, kind in (("REVIEW-RAD-1", "fall_radar"), ("REVIEW-WAT-1", "smart_watch")):
        r = bind(serial, kind)
        assert r.status_code == 201, r.text  # the fall and SOS alarms are never gated
    for serial, kind in (("REVIEW-PIR-1", "pir_motion"), ("REVIEW-BED-1", "bed_sensor")):
        r = bind(serial, kind)
        assert r.status_code == 422, r.text  # a purely passive device still needs it
        assert r.json()["detail"]["code"] == "monitoring_consent_required"


def test_consent_records_cannot_be_deleted(session) -> None:
    row = session.scalars(select(ConsentRecord).limit(1)).one()
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM consent_record WHERE id = :id"), {"id": row.id})
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM consent_record"))
    assert session.get(ConsentRecord, row.id) is not None


def test_deleting_an_elder_with_consent_records_is_refused(session) -> None:
    """Elders are never hard-deleted (a death or a move is a status); should one be deleted by
    hand, the cascade into consent_record is refused and the delete with it."""
    elder_id = session.scalar(select(ConsentRecord.elder_id).limit(1))
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM elder WHERE id = :id"), {"id": elder_id})
    assert session.get(Elder, elder_id) is not None

"""The region tree pages (#19) as the role that keeps the tree (the district officer,
``can_manage_regions``): the tree with elders per node, adding a street and a community (a code
not under its parent refused beside the field), renaming, retiring one with nothing below it
(one with elders refused), and the official list uploaded as a dry run that changes nothing,
then loaded; scoped (another district's nodes answer 404), refused to the street officer (403),
every write audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from yiyang.accounts.models import User
from yiyang.audit.models import AuditEvent
from yiyang.regions.models import Region, RegionLevel
from yiyang.regions.service import add_region
from yiyang.registry.models import Elder

pytestmark = pytest.mark.pages

FIXTURE = Path(__file__).parent / "fixtures" / "xuhui_divisions.csv"
DISTRICT = "310104000000"


def _region(session, code: str) -> Region | None:  # type: ignore[no-untyped-def]
    return session.scalar(select(Region).where(Region.code == code))


def _audits(session, action: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "region", AuditEvent.action == action)
    )


def test_tree_add_rename_and_retire_as_the_district_officer(client, browser_login, session) -> None:
    csrf = browser_login("district")
    district = _region(session, DISTRICT)
    assert district is not None
    tree = client.get("/regions")
    assert tree.status_code == 200 and 'id="nav-regions"' in tree.text
    street_path = session.scalar(select(User.region_path).where(User.username == "street"))
    street = session.scalar(select(Region).where(Region.path == street_path))
    elders = session.scalar(
        select(func.count()).select_from(Elder).where(Elder.region_id == street.id)
    )
    assert street.name in tree.text

    # a street code under another district is refused beside the code field
    bad = client.post(
        f"/regions/{district.id}/children",
        data={"csrf_token": csrf, "code": "310105099000", "name": "新街道"},
    )
    assert bad.status_code == 422
    assert 'id="err-code"' in bad.text and 'value="新街道"' in bad.text
    assert _region(session, "310105099000") is None
    empty = client.post(
        f"/regions/{district.id}/children",
        data={"csrf_token": csrf, "code": "310104099000", "name": "  "},
    )
    assert empty.status_code == 422 and 'id="err-child_name"' in empty.text

    creates = _audits(session, "create")
    added = client.post(
        f"/regions/{district.id}/children",
        data={"csrf_token": csrf, "code": "３１０１０４０９９０００", "name": "新建街道"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    new_street = _region(session, "310104099000")
    assert new_street is not None and new_street.level == RegionLevel.STREET
    assert new_street.path == f"/{DISTRICT}/310104099000/"
    client.post(
        f"/regions/{new_street.id}/children",
        data={"csrf_token": csrf, "code": "310104099001", "name": "新建居委会"},
    )
    community = _region(session, "310104099001")
    assert community is not None and community.parent_id == new_street.id
    assert _audits(session, "create") == creates + 2
    duplicate = client.post(
        f"/regions/{new_street.id}/children",
        data={"csrf_token": csrf, "code": "310104099001", "name": "又一个"},
    )
    assert duplicate.status_code == 422 and 'id="err-code"' in duplicate.text

    updates = _audits(session, "update")
    renamed = client.post(
        f"/regions/{community.id}/rename",
        data={"csrf_token": csrf, "name": "新建社区居委会"},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    session.refresh(community)
    assert community.name == "新建社区居委会" and _audits(session, "update") == updates + 1

    # a street with a community below it, or with elders, is not retired
    refused = client.post(f"/regions/{new_street.id}/retire", data={"csrf_token": csrf})
    assert refused.status_code == 409 and 'id="err-form"' in refused.text
    if elders:
        assert (
            client.post(f"/regions/{street.id}/retire", data={"csrf_token": csrf}).status_code
            == 409
        )
    assert "?step=retire" in client.get(f"/regions/{community.id}").text
    assert 'action="/regions/' in client.get(f"/regions/{community.id}?step=retire").text
    deletes = _audits(session, "delete")
    gone = client.post(
        f"/regions/{community.id}/retire", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303 and gone.headers["location"] == f"/regions/{new_street.id}"
    assert _region(session, "310104099001") is None
    assert _audits(session, "delete") == deletes + 1


def test_another_district_is_not_visible_and_the_street_officer_is_refused(
    client, browser_login, session
) -> None:
    other = add_region(session, "310105000000", "长宁区", RegionLevel.DISTRICT, None)
    session.flush()
    csrf = browser_login("district")
    assert "长宁区" not in client.get("/regions").text
    assert client.get(f"/regions/{other.id}").status_code == 404
    post = client.post(
        f"/regions/{other.id}/children",
        data={"csrf_token": csrf, "code": "310105001000", "name": "某街道"},
    )
    assert post.status_code == 404 and _region(session, "310105001000") is None
    client.cookies.clear()
    client.cookies.set("lang", "en")
    csrf = browser_login("street")
    assert client.get("/regions").status_code == 403
    assert 'id="nav-regions"' not in client.get("/elders").text
    district = _region(session, DISTRICT)
    refused = client.post(
        f"/regions/{district.id}/children",
        data={"csrf_token": csrf, "code": "310104098000", "name": "某街道"},
    )
    assert refused.status_code == 403 and _region(session, "310104098000") is None


def test_the_upload_dry_run_changes_nothing_then_the_list_is_loaded(
    client, browser_login, session
) -> None:
    csrf = browser_login("district")
    regions = session.scalar(select(func.count()).select_from(Region))
    audits = session.scalar(select(func.count()).select_from(AuditEvent))
    data = FIXTURE.read_text(encoding="utf-8").encode("gbk")
    checked = client.post(
        "/regions-upload",
        data={"csrf_token": csrf},
        files={"file": ("xuhui.csv", data, "text/csv")},
    )
    assert checked.status_code == 200, checked.text
    assert "19 rows: 3 new, 0 renamed, 16 unchanged." in checked.text
    assert "310104003041" in checked.text and "高安路第一居委会" in checked.text
    assert session.scalar(select(func.count()).select_from(Region)) == regions
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audits
    creates = _audits(session, "create")
    content = FIXTURE.read_text(encoding="utf-8")
    loaded = client.post("/regions-upload/commit", data={"csrf_token": csrf, "content": content})
    assert loaded.status_code == 200 and "3 new" in loaded.text
    assert session.scalar(select(func.count()).select_from(Region)) == regions + 3
    assert _audits(session, "create") == creates + 3

    outside = "code,name,parent_code\n310105000000,长宁区,\n"
    refused = client.post(
        "/regions-upload",
        data={"csrf_token": csrf},
        files={"file": ("x.csv", outside.encode(), "text/csv")},
    )
    assert refused.status_code == 422 and 'id="err-file"' in refused.text
    assert "310105000000" in refused.text
    bad = client.post(
        "/regions-upload",
        data={"csrf_token": csrf},
        files={"file": ("x.csv", b"code,name\n1,2\n", "text/csv")},
    )
    assert bad.status_code == 422 and 'id="err-file"' in bad.text

"""The roll-wordings page (#17), linked from the import page: the shipped wordings and the area's
additions per table; an officer adds a wording (refused beside the field for an unknown value or
a shipped wording) and removes one; another street's additions are not shown and cannot be
removed (404); a role that does not import is refused (403); every write audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from yiyang.audit.models import AuditEvent
from yiyang.registry.models import RegistrySynonym
from yiyang.registry.synonyms import SynonymKind, check_addition

pytestmark = pytest.mark.pages
PAGE = "/elders-import/synonyms"


def _audits(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "registry_synonym")
    )


def _add(client, csrf: str, kind: str, wording: str, value: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf, "kind": kind, "wording": wording, "value": value}
    return client.post(PAGE, data=data, follow_redirects=False)


def test_a_shipped_wording_is_not_redefined() -> None:
    assert check_addition(SynonymKind.HOUSEHOLD, "合租", "with_family") is None
    assert check_addition(SynonymKind.HOUSEHOLD, "子女 不在身边", "alone")
    assert check_addition(SynonymKind.HOUSEHOLD, "子女不在身边", "empty_nest")
    assert check_addition(SynonymKind.RELATION, "老伴", "配偶")


def test_the_street_officer_adds_and_removes_a_wording(client, browser_login, session) -> None:
    csrf = browser_login("street")
    assert f'href="{PAGE}"' in client.get("/elders-import").text
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "子女不在身边" in page.text  # a shipped wording is listed

    unknown = _add(client, csrf, "household", "合租", "commune")
    assert unknown.status_code == 422
    assert 'id="err-household-value"' in unknown.text and 'value="合租"' in unknown.text
    shipped = _add(client, csrf, "household", "独居老人", "with_family")
    assert shipped.status_code == 422 and 'id="err-household-wording"' in shipped.text
    assert "shipped wording" in shipped.text
    empty = _add(client, csrf, "relation", "", "表哥")
    assert empty.status_code == 422 and 'id="err-relation-wording"' in empty.text
    assert session.scalar(select(func.count()).select_from(RegistrySynonym)) == 0

    before = _audits(session)
    added = _add(client, csrf, "household", "合 租", "with_family")
    assert added.status_code == 303, added.text
    row = session.scalar(select(RegistrySynonym).where(RegistrySynonym.wording == "合租"))
    assert row is not None and row.value == "with_family" and row.kind == "household"
    assert row.region_path == "/310104000000/310104003000/"
    assert _add(client, csrf, "relation", "表兄", "表哥").status_code == 303
    listed = client.get(PAGE).text
    assert "合租" in listed and "表兄" in listed
    assert _audits(session) == before + 2

    removed = client.post(
        f"{PAGE}/{row.id}/remove", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert session.scalar(select(RegistrySynonym.id).where(RegistrySynonym.id == row.id)) is None
    assert _audits(session) == before + 3


def test_another_streets_wordings_are_hidden_and_other_roles_refused(
    client, browser_login, session
) -> None:
    other = RegistrySynonym(
        region_path="/310104000000/310104999000/",
        kind="household",
        wording="合住",
        value="with_family",
        created_by=None,
    )
    session.add(other)
    session.flush()
    csrf = browser_login("street")
    assert "合住" not in client.get(PAGE).text
    gone = client.post(f"{PAGE}/{other.id}/remove", data={"csrf_token": csrf})
    assert gone.status_code == 404
    assert session.scalar(select(RegistrySynonym.id).where(RegistrySynonym.id == other.id))

    client.cookies.clear()
    client.cookies.set("lang", "en")
    csrf = browser_login("operator")
    assert client.get(PAGE).status_code == 403
    refused = _add(client, csrf, "household", "合租", "with_family")
    assert refused.status_code == 403
    assert session.scalar(select(func.count()).select_from(RegistrySynonym)) == 1

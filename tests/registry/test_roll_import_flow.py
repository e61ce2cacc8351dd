"""The fixture roll of issue #17 (tests/registry/rolls.py) imported as the street officer, as
XLSX and as GBK CSV, through the API and through the import page; the district's synonyms
edited through the API."""

from __future__ import annotations

import io
import re

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.registry import rolls
from yiyang.audit.models import AuditEvent
from yiyang.core.config import get_settings
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api

ACCEPTED = [c for c in rolls.CASES if c.accepted]
REJECTED = [c for c in rolls.CASES if not c.accepted]
FORMS = [("roll.xlsx", rolls.roll_xlsx), ("roll.csv", rolls.roll_gbk_csv)]


@pytest.fixture(autouse=True)
def shanghai_area_code(monkeypatch):
    monkeypatch.setenv("YIYANG_DEFAULT_AREA_CODE", rolls.AREA_CODE)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def upload(client, headers, data: bytes, name: str, dry_run: bool = True):
    return client.post(
        "/api/elders/imports",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, data, "application/octet-stream")},
        headers=headers,
    )


@pytest.mark.parametrize(("name", "build"), FORMS)
def test_the_roll_imports_through_the_api(client, login, session, name, build) -> None:
    headers = login("street").headers
    r = upload(client, headers, build(), name, dry_run=False)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["header_row"] == rolls.HEADER_ROW
    assert [m["header"] for m in report["mapping"]] == rolls.HEADERS
    assert report["mapping"][rolls.HEADERS.index("所属社区")]["field"] == "community_name"
    assert (report["created"], report["rejected_count"]) == (len(ACCEPTED), len(REJECTED)), [
        (x["row"], x["errors"]) for x in report["rejected"]
    ]
    rejected = {x["row"]: x for x in report["rejected"]}
    for case in REJECTED:
        item = rejected[rolls.row_of(case.key)]
        assert any(case.reason in e["message"] for e in item["errors"]), (case.key, item)
        # reasons name the file's own columns
        assert {e["column"] for e in item["errors"]} <= set(rolls.HEADERS)
    for case in ACCEPTED:
        number = case.expect.get("id_number") or case.cells["身份证号"]
        elder = session.scalar(select(Elder).where(Elder.id_number == number))
        assert elder is not None, case.key
        for key, value in case.expect.items():
            assert getattr(elder, key) == value, (case.key, key)
    old = session.scalar(select(Elder).where(Elder.id_number == rolls.OLD_ID_18))
    assert old.id_number_legacy == rolls.OLD_ID
    read = client.get(f"/api/elders/{old.id}", headers=headers).json()
    assert read["id_number_legacy"] == rolls.OLD_ID
    found = client.get("/api/elders", params={"q": "任明"}, headers=headers).json()
    assert [e["name"] for e in found["items"]] == ["任明"]
    again = upload(client, headers, build(), name, dry_run=False).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(ACCEPTED))


def test_the_landline_is_exported_as_the_landline(client, login, session) -> None:
    headers = login("street").headers
    upload(client, headers, rolls.roll_gbk_csv(), "roll.csv", dry_run=False)
    export = client.get("/api/elders/export.xlsx", params={"q": "周秀兰"}, headers=headers)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(export.content)).get_sheet_by_index(0)
    header, row = rows.to_python()[:2]
    assert row[header.index("Mobile phone")] == ""
    assert row[header.index("Home phone")] == "02164381234"


def test_the_rejected_rows_download_keeps_the_files_columns(client, login) -> None:
    headers = login("street").headers
    batch = upload(client, headers, rolls.roll_xlsx(), "roll.xlsx").json()
    download = client.get(f"/api/elders/imports/{batch['batch_id']}/rejected.xlsx", headers=headers)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(download.content)).get_sheet_by_index(0)
    rows = rows.to_python()
    assert rows[0] == [*rolls.HEADERS, "原行号 row", "错误原因 errors"]
    assert len(rows) == 1 + len(REJECTED)
    lost = next(r for r in rows[1:] if r[-2] == str(rolls.row_of("ID Excel turned into a number")))
    shown = repr(rolls.excel_number(rolls.LOST_ID))
    assert lost[rolls.HEADERS.index("身份证号")] == shown  # as the cell was, no digits made up
    assert "format the column as text" in lost[-1]
    assert lost[rolls.HEADERS.index("联系电话")] == ""


def test_the_roll_imports_through_the_page(client, browser_login, session) -> None:
    csrf = browser_login("street")
    page = client.post(
        "/elders-import",
        data={"csrf_token": csrf},
        files={"file": ("roll.csv", rolls.roll_gbk_csv(), "text/csv")},
    )
    assert page.status_code == 200, page.text
    assert f'id="n-created">{len(ACCEPTED)}<' in page.text
    assert f'id="n-rejected">{len(REJECTED)}<' in page.text
    assert f"Headers read from row {rolls.HEADER_ROW}" in page.text
    assert 'id="column-mapping"' in page.text and "所属社区" in page.text
    assert "(in the file: 3.10104E+17)" in page.text
    batch_id = re.search(r'action="/elders-import/(\d+)/mapping"', page.text).group(1)
    # The clerk maps 居住情况 to nothing: the household is then missing on every row.
    fields = {f"field_{i}": f or "" for i, f in enumerate(_fields())}
    fields[f"field_{rolls.HEADERS.index('居住情况')}"] = ""
    remapped = client.post(
        f"/elders-import/{batch_id}/mapping",
        data={"csrf_token": csrf, **fields},
        headers={"HX-Request": "true", "HX-Target": "report"},
    )
    assert remapped.status_code == 422 and "Required columns are missing" in remapped.text
    # An HTMX fragment: the reason and the mapping form again, as the clerk set it
    assert remapped.text.lstrip().startswith("<section") and 'id="column-mapping"' in remapped.text
    # Back to the mapping read from the headers, as an HTMX fragment.
    restored = client.post(
        f"/elders-import/{batch_id}/mapping",
        data={"csrf_token": csrf, **{f"field_{i}": f or "" for i, f in enumerate(_fields())}},
        headers={"HX-Request": "true", "HX-Target": "report"},
    )
    assert restored.status_code == 200 and restored.text.lstrip().startswith("<section")
    assert f'id="n-created">{len(ACCEPTED)}<' in restored.text
    done = client.post(f"/elders-import/{batch_id}/commit", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Import committed" in done.text
    assert f'id="n-created">{len(ACCEPTED)}<' in done.text
    assert session.scalar(select(Elder.name).where(Elder.id_number == rolls.OLD_ID_18)) == "李德明"


def test_the_mapping_form_needs_the_csrf_token(client, browser_login) -> None:
    csrf = browser_login("street")
    page = client.post(
        "/elders-import",
        data={"csrf_token": csrf},
        files={"file": ("roll.csv", rolls.roll_gbk_csv(), "text/csv")},
    )
    batch_id = re.search(r'action="/elders-import/(\d+)/mapping"', page.text).group(1)
    assert client.post(f"/elders-import/{batch_id}/mapping", data={}).status_code == 403


def _fields() -> list[str | None]:
    from yiyang.registry.importer import map_headers

    columns, _unknown = map_headers(rolls.HEADERS)
    by_index = {i: f for f, i in columns.items()}
    return [by_index.get(i) for i in range(len(rolls.HEADERS))]


# ---------------------------------------------------------------------------- synonyms
def test_a_district_adds_a_wording_and_the_roll_maps_it(client, login, session) -> None:
    headers = login("street").headers
    before = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "registry_synonym")
    )
    r = client.post(
        "/api/elders/synonyms",
        json={"kind": "household", "wording": "合 租", "value": "with_family"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["wording"] == "合租"
    assert r.json()["region_path"] == "/310104000000/310104003000/"
    listed = client.get("/api/elders/synonyms", headers=headers).json()
    assert [(s["kind"], s["wording"]) for s in listed] == [("household", "合租")]
    report = upload(client, headers, rolls.roll_gbk_csv(), "roll.csv").json()
    assert report["created"] == len(ACCEPTED) + 1
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity_type == "registry_synonym")
        )
        == before + 1
    )
    gone = client.delete(f"/api/elders/synonyms/{r.json()['id']}", headers=headers)
    assert gone.status_code == 204
    assert upload(client, headers, rolls.roll_gbk_csv(), "roll.csv").json()["created"] == len(
        ACCEPTED
    )


def test_synonym_values_must_be_known_codes(client, login) -> None:
    r = client.post(
        "/api/elders/synonyms",
        json={"kind": "household", "wording": "合租", "value": "commune"},
        headers=login("street").headers,
    )
    assert r.status_code == 422


@pytest.mark.parametrize("role", ["operator", "caregiver", "family"])
def test_roles_that_do_not_import_may_not_edit_synonyms(client, login, role) -> None:
    headers = login(role).headers
    body = {"kind": "gender", "wording": "男的", "value": "male"}
    assert client.post("/api/elders/synonyms", json=body, headers=headers).status_code == 403
    assert client.get("/api/elders/synonyms", headers=headers).status_code == 403


def test_a_community_worker_cannot_remove_the_streets_wording(client, login) -> None:
    street = login("street").headers
    made = client.post(
        "/api/elders/synonyms",
        json={"kind": "relation", "wording": "大儿子", "value": "儿子"},
        headers=street,
    ).json()
    community = login("community").headers
    assert client.delete(f"/api/elders/synonyms/{made['id']}", headers=community).status_code == 404
    assert client.delete(f"/api/elders/synonyms/{made['id']}", headers=street).status_code == 204

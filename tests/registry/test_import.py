"""Import through the API: dry run report, commit in one transaction, idempotent re-import,
updates, rejected-row download, and the template."""

import csv
import io

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from stdnum.cn import ric

from yiyang.audit.models import AuditEvent
from yiyang.registry import imports
from yiyang.registry.importer import TEMPLATE
from yiyang.registry.models import Elder, EmergencyContact

pytestmark = pytest.mark.api


def rid(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


def roll(rows: list[dict[str, str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TEMPLATE, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def person(i: int, **over: str) -> dict[str, str]:
    row = {
        "姓名": f"导入测试{i}",
        "身份证号": rid(f"310104194001{i:02d}00{i % 10}"),
        "住址": f"测试路{i}号",
        "区划代码": "310104003001",
        "居住情况": "独居",
        "类别": "高龄",
        "手机": f"1380000{i:04d}",
        "紧急联系人": "子女",
        "联系人关系": "儿子",
        "联系人电话": f"1390000{i:04d}",
        "失智": "否",
    }
    row.update(over)
    return row


GOOD = [person(i) for i in range(1, 9)]
BAD = [
    person(20, 身份证号="310104194001200001"),  # checksum (fixed below if it happens to be right)
    person(21, 出生日期="1941-01-01"),
    person(22, 区划代码="310104004001"),
    person(23, 手机="110"),
    person(24, 姓名=""),
    person(1, 姓名="重复"),  # same ID as GOOD[0]
]
if ric.is_valid(BAD[0]["身份证号"]):
    BAD[0]["身份证号"] = BAD[0]["身份证号"][:-1] + ("1" if BAD[0]["身份证号"][-1] != "1" else "2")


def upload(client, headers, data: bytes, name="roll.csv", dry_run=True):
    return client.post(
        "/api/elders/imports",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, data, "text/csv")},
        headers=headers,
    )


def test_dry_run_reports_every_bad_row_and_writes_nothing(client, login, session) -> None:
    before = session.scalar(select(func.count()).select_from(Elder))
    r = upload(client, login("community").headers, roll(GOOD + BAD))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["committed"] is False
    assert (report["total_rows"], report["created"], report["rejected_count"]) == (14, 8, 6)
    reasons = {row["row"]: row["errors"][0]["message"] for row in report["rejected"]}
    assert "check digit" in reasons[10]
    assert "contradicts" in reasons[11]
    assert "outside your jurisdiction" in reasons[12]
    assert "not a valid phone" in reasons[13]
    assert "required" in reasons[14]
    assert "already appears in row 2" in reasons[15]
    assert session.scalar(select(func.count()).select_from(Elder)) == before


def test_commit_loads_the_good_rows_and_keeps_the_rejected(client, login, session) -> None:
    headers = login("community").headers
    batch = upload(client, headers, roll(GOOD + BAD), dry_run=True).json()
    r = client.post(f"/api/elders/imports/{batch['batch_id']}/commit", headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["rejected_count"]) == (8, 6)
    numbers = [g["身份证号"] for g in GOOD]
    stored = session.scalars(select(Elder).where(Elder.id_number.in_(numbers))).all()
    assert len(stored) == 8 and all(e.contacts[0].relation == "儿子" for e in stored)
    audits = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "create",
            AuditEvent.entity_type == "elder",
            AuditEvent.elder_id.in_([e.id for e in stored]),
        )
    )
    assert audits == 8
    again = client.post(f"/api/elders/imports/{batch['batch_id']}/commit", headers=headers)
    assert again.status_code == 422  # a batch commits once
    download = client.get(f"/api/elders/imports/{batch['batch_id']}/rejected.xlsx", headers=headers)
    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(download.content))
        .get_sheet_by_index(0)
        .to_python()
    )
    assert len(rows) == 7 and "check digit" in str(rows[1][-1])


def test_reimporting_the_same_file_changes_nothing(client, login, session) -> None:
    headers = login("community").headers
    data = roll(GOOD)
    first = upload(client, headers, data, dry_run=False).json()
    assert first["created"] == 8
    events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "elder")
    )
    versions = dict(
        session.execute(
            select(Elder.id_number, Elder.version).where(
                Elder.id_number.in_([g["身份证号"] for g in GOOD])
            )
        ).all()
    )
    second = upload(client, headers, data, dry_run=False).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 8)
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "elder")
        )
        == events
    )
    assert (
        dict(
            session.execute(
                select(Elder.id_number, Elder.version).where(Elder.id_number.in_(list(versions)))
            ).all()
        )
        == versions
    )


def test_a_changed_row_updates_only_what_changed(client, login, session) -> None:
    headers = login("community").headers
    upload(client, headers, roll(GOOD), dry_run=False)
    changed = [dict(g) for g in GOOD]
    changed[0]["住址"] = "新地址99号"
    changed[1]["类别"] = "高龄、低保"
    changed[2]["联系人电话"] = "13700000000"
    r = upload(client, headers, roll(changed), dry_run=False).json()
    assert (r["created"], r["updated"], r["unchanged"]) == (0, 3, 5)
    e0 = session.scalar(select(Elder).where(Elder.id_number == GOOD[0]["身份证号"]))
    assert e0.address == "新地址99号" and e0.version == 2
    e1 = session.scalar(select(Elder).where(Elder.id_number == GOOD[1]["身份证号"]))
    assert sorted(e1.category_codes) == ["advanced_age", "minimum_living"]
    e2 = session.scalar(select(Elder).where(Elder.id_number == GOOD[2]["身份证号"]))
    assert (
        session.scalar(select(EmergencyContact.phone).where(EmergencyContact.elder_id == e2.id))
        == "13700000000"
    )
    update = session.scalars(
        select(AuditEvent).where(AuditEvent.elder_id == e0.id, AuditEvent.action == "update")
    ).one()
    assert update.before == {"address": "测试路1号"} and update.after == {"address": "新地址99号"}


def test_gbk_and_xlsx_rolls_import_like_utf8(client, login) -> None:
    from openpyxl import Workbook

    headers = login("community").headers
    assert upload(client, headers, roll(GOOD[:3], "gbk")).json()["created"] == 3
    book = Workbook()
    sheet = book.active
    sheet.append(TEMPLATE)
    for g in GOOD[:3]:
        sheet.append([g.get(h, "") for h in TEMPLATE])
    buf = io.BytesIO()
    book.save(buf)
    r = upload(client, headers, buf.getvalue(), name="roll.xlsx")
    assert r.json()["created"] == 3 and r.json()["rejected_count"] == 0


def test_a_failure_midway_leaves_nothing_half_written(client, login, session, monkeypatch) -> None:
    calls = {"n": 0}
    real = imports._write

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "_write", failing)
    monkeypatch.setattr(imports, "CHUNK", 4)
    before = session.scalar(select(func.count()).select_from(Elder))
    with pytest.raises(RuntimeError):
        upload(client, login("community").headers, roll(GOOD), dry_run=False)
    assert session.scalar(select(func.count()).select_from(Elder)) == before


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (b"", "roll.csv", "empty"),
        (b"hello", "roll.pdf", ".xlsx and .csv"),
        ("姓名,住址\n张三,x\n".encode(), "roll.csv", "Required columns"),
        (b"PK\x03\x04broken", "roll.xlsx", "cannot be read"),
    ],
)
def test_unusable_files_get_a_clear_422(client, login, data, name, fragment) -> None:
    r = upload(client, login("community").headers, data, name=name)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]["message"]


def test_template_download_is_a_roll_that_imports(client, login) -> None:
    headers = login("community").headers
    template = client.get("/api/elders/import-template.xlsx", headers=headers)
    assert template.status_code == 200
    r = upload(client, headers, template.content, name="template.xlsx")
    assert r.json()["rejected"] == [] and r.json()["created"] == 1


def test_control_characters_and_huge_numbers_in_cells_reach_storage_or_a_reason(
    client, login, session
) -> None:
    """Cells a damaged export carries — a NUL byte inside text, a number far too large, a date
    that does not exist — refuse their row with a reason beside each cell, never a 500 from
    the database (PostgreSQL cannot store NUL in text: it was one, before)."""
    rows = [
        person(11, 住址="测试路\x0011号", 入户说明="门\x00铃坏了", 钥匙保管人="邻\x00居"),
        person(12, 照护等级="99999999999999999999"),
        person(13, 纬度="1e400", 经度="-1e400"),
        person(14, 出生日期="1940-02-30"),
        person(15, 姓名="王\x00五"),
    ]
    r = upload(client, login("community").headers, roll(rows), dry_run=False)
    assert r.status_code == 200, r.text
    body = r.json()
    fields = {row["row"]: {e["field"] for e in row["errors"]} for row in body["rejected"]}
    assert fields == {
        2: {"address", "access_notes", "key_holder"},
        3: {"care_level"},
        4: {"latitude", "longitude"},
        5: {"birth_date"},
        6: {"name"},
    }
    nul = next(row for row in body["rejected"] if row["row"] == 6)["errors"][0]
    assert "NUL" in nul["message"] and nul["value"] == "王\x00五"  # shown as it was written
    assert body["created"] == 0
    assert session.scalar(select(func.count()).select_from(Elder).where(Elder.name == "王五")) == 0

"""Loading a district's official division list (code, name, parent): `yiyang regions load`.
Missing regions are created, renamed ones renamed, a second run changes nothing; every write
is audited; the names then resolve in a roll imported by name."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from yiyang.audit.models import AuditEvent
from yiyang.core import audit, db
from yiyang.core.errors import ValidationFailed
from yiyang.regions.models import Region, RegionLevel
from yiyang.regions.service import level_of, load_divisions, read_division_csv

pytestmark = pytest.mark.api

FIXTURE = Path(__file__).parent / "fixtures" / "xuhui_divisions.csv"
NEW = {"310104003041", "310104003042", "310104003043"}  # not in the demo tree


def region_audits(session, action: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "region", AuditEvent.action == action)
    )


def test_the_list_is_read_parents_first() -> None:
    rows = read_division_csv(FIXTURE.read_bytes())
    assert rows[0].code == "310104000000" and len(rows) == 19
    levels = [level_of(r.code) for r in rows]
    assert levels == sorted(
        levels, key=[RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY].index
    )


def test_loading_creates_what_is_missing_and_is_idempotent(session) -> None:
    rows = read_division_csv(FIXTURE.read_bytes())
    creates = region_audits(session, "create")
    with audit.acting_as(audit.AuditActor(None, "regions-load")):
        first = load_divisions(session, rows)
        second = load_divisions(session, rows)
    assert (first.created, first.renamed, first.unchanged) == (3, 0, 16)
    assert (second.created, second.renamed, second.unchanged) == (0, 0, 19)
    assert region_audits(session, "create") == creates + 3
    gaoan = session.scalar(select(Region).where(Region.code == "310104003041"))
    assert gaoan.name == "高安路第一居委会" and gaoan.level == RegionLevel.COMMUNITY
    assert gaoan.path == "/310104000000/310104003000/310104003041/"


def test_a_renamed_region_is_renamed_and_audited(session) -> None:
    text = FIXTURE.read_text(encoding="utf-8").replace("东安居委会", "东安路居委会")
    updates = region_audits(session, "update")
    with audit.acting_as(audit.AuditActor(None, "regions-load")):
        result = load_divisions(session, read_division_csv(text.encode("gbk")))
    assert result.renamed == 1
    assert (
        session.scalar(select(Region.name).where(Region.code == "310104003002")) == "东安路居委会"
    )
    assert region_audits(session, "update") == updates + 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("code,name\n310104000000,徐汇区\n", "parent_code"),
        ("code,name,parent_code\n3101040,徐汇区,\n", "12 digits"),
        ("code,name,parent_code\n310100000000,市辖区,\n", "province or city"),
        ("code,name,parent_code\n310104003000,,310104000000\n", "name"),
    ],
)
def test_a_bad_list_is_refused_with_the_line(content: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed, match=fragment):
        read_division_csv(content.encode())


def test_a_region_whose_parent_is_nowhere_is_refused(session) -> None:
    rows = read_division_csv("code,name,parent_code\n999999001000,某街道,999999000000\n".encode())
    with pytest.raises(ValidationFailed, match="999999000000"):
        load_divisions(session, rows)


def test_the_cli_loads_a_list_into_a_fresh_database(tmp_path) -> None:
    from yiyang.cli import app

    url = f"sqlite:///{tmp_path / 'regions.db'}"
    runner = CliRunner()
    previous = (db._engine, db._factory)
    try:
        assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
        first = runner.invoke(app, ["regions", "load", str(FIXTURE), "--database-url", url])
        assert first.exit_code == 0, first.output
        assert "created=19 renamed=0 unchanged=0" in first.output
        again = runner.invoke(app, ["regions", "load", str(FIXTURE), "--database-url", url])
        assert "created=0 renamed=0 unchanged=19" in again.output
        bad = tmp_path / "bad.csv"
        bad.write_text("code,name\n1,x\n", encoding="utf-8")
        refused = runner.invoke(app, ["regions", "load", str(bad), "--database-url", url])
        assert refused.exit_code != 0 and "parent_code" in refused.output
        engine = db._engine
        assert engine is not None
        with engine.connect() as conn:
            audited = conn.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.entity_type == "region", AuditEvent.actor_username == "regions-load"
                )
            )
        assert audited == 19
        engine.dispose()
    finally:
        db._engine, db._factory = previous


def test_a_roll_names_regions_from_the_loaded_list(client, login, session) -> None:
    with audit.acting_as(audit.AuditActor(None, "regions-load")):
        load_divisions(session, read_division_csv(FIXTURE.read_bytes()))
    session.commit()  # a savepoint in the test's outer transaction: the request sees it
    from tests.registry.rolls import rid

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["姓名", "身份证号", "居住地址", "所属街道", "所属社区", "居住情况"])
    writer.writerow(
        ["名册甲", rid("31010419410101001"), "高安路1号", "天平路街道", "高安路第一", "独居"]
    )
    writer.writerow(
        ["名册乙", rid("31010419410101002"), "宛平南路2号", "天平路", "宛平南路居委会", "空巢"]
    )
    r = client.post(
        "/api/elders/imports",
        params={"dry_run": "true"},
        files={"file": ("roll.csv", buf.getvalue().encode("gbk"), "text/csv")},
        headers=login("street").headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["rejected_count"]) == (2, 0), r.json()["rejected"]

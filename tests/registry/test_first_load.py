"""A first load into an empty registry (PostgreSQL) builds the secondary indexes and foreign
keys after the rows (ADR 0004): the same rows, reasons and audit as an ordinary import, the same
schema afterwards, nothing dropped when it fails or when the registry is not empty."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.registry.test_import import GOOD, person, roll, upload
from yiyang.audit.models import AuditEvent
from yiyang.registry import importer, imports
from yiyang.registry.models import Elder, ElderCategory, ElderStatusChange, EmergencyContact

pytestmark = pytest.mark.api


def schema(session: Session) -> list[str]:
    """Every index and unique / foreign-key constraint of the registry's tables."""
    tables = list(imports.FIRST_LOAD_TABLES)
    indexes = session.execute(
        text("SELECT indexdef FROM pg_indexes WHERE tablename = ANY(:t) ORDER BY indexname"),
        {"t": tables},
    ).scalars()
    constraints = session.execute(
        text(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(:t) ORDER BY conname"
        ),
        {"t": tables},
    ).scalars()
    return [*indexes, *constraints]


@pytest.fixture
def empty_registry(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PostgreSQL only: no elder (inside the test's rolled-back transaction), and any file
    large enough to count as a first load. Returns the schema as migrated."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the first-load path is PostgreSQL's (SQLite imports row by row)")
    migrated = schema(session)
    session.execute(text("TRUNCATE elder CASCADE"))
    session.commit()  # to the test's savepoint: the requests see an empty registry
    monkeypatch.setattr(imports, "FIRST_LOAD_ROWS", 1)
    return migrated


def test_first_load_writes_what_an_ordinary_import_does_and_rebuilds_the_schema(
    client, login, session, empty_registry
) -> None:
    headers = login("community").headers
    rows = [*GOOD, person(1, 姓名="重复")]  # the last row repeats the first row's ID number
    r = upload(client, headers, roll(rows), dry_run=False)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["updated"], body["rejected_count"]) == (8, 0, 1)
    assert "already appears in row 2" in body["rejected"][0]["errors"][0]["message"]
    assert schema(session) == empty_registry

    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Elder) == 8
    assert count(ElderCategory) == 8  # 高龄 each
    assert count(EmergencyContact) == 8
    assert count(ElderStatusChange) == 8
    audited = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.entity_type == "elder",
            AuditEvent.action == "create",
            AuditEvent.elder_id.in_(select(Elder.id)),
        )
    )
    assert audited == 8

    again = upload(client, headers, roll(rows), dry_run=False).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 8)


def test_a_failed_first_load_leaves_the_schema_and_the_registry_as_they_were(
    client, login, session, empty_registry, monkeypatch
) -> None:
    calls = {"n": 0}
    real = imports._write

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "_write", failing)
    monkeypatch.setattr(imports, "CHUNK", 4)
    with pytest.raises(RuntimeError):
        upload(client, login("community").headers, roll(GOOD), dry_run=False)
    assert session.scalar(select(func.count()).select_from(Elder)) == 0
    assert schema(session) == empty_registry


def test_a_registry_with_elders_is_imported_into_as_usual(
    client, login, session, monkeypatch
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(imports, "FIRST_LOAD_ROWS", 1)
    migrated = schema(session)
    assert imports.defer_indexes(session) is None  # the seeded district has elders
    body = upload(client, login("community").headers, roll(GOOD), dry_run=False).json()
    assert body["created"] == 8
    assert schema(session) == migrated


def test_a_first_load_audits_every_created_elder_with_its_values_masked(
    client, login, session, empty_registry
) -> None:
    """Each created elder's audit row holds what validation made of its cells (with the new
    id), the ID numbers masked — the old 15-digit one too. (Building these rows in PostgreSQL
    from the written rows was tried for speed and measured slower: bench/README.md.)"""
    rows = [
        person(1, 纬度="31.185810", 经度="121.441658", 照护等级="3", 慢性病="高血压、糖尿病"),
        person(2, 住址='测试路"2"号\\后门 (东)', 用药="氨氯地平片 5mg；二甲双胍", 失智="是"),
        person(3, 固定电话="021-64381234", 钥匙保管人="邻居 王阿姨", 入户说明="门铃坏了\n请敲门"),
        person(4, 身份证号="310104400101041", 类别="高龄、独居", 过敏史="青霉素"),
        person(5, 紧急联系人="", 联系人关系="", 联系人电话="", 手机="13800000005（本人）"),
    ]
    data = roll(rows)
    r = upload(client, login("community").headers, data, dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["rejected_count"]) == (5, 0)

    table = importer.read_table(data, "roll.csv", None)
    good, bad = importer.validate(
        table, imports._region_index(session), "/", imports.import_context(session, "/")
    )
    assert not bad
    expected = {
        v.values["id_number"]: imports._snapshot(
            v.values, categories=v.categories, contact=v.contact
        )
        for v in good
    }
    recorded = {}
    for elder_id, number, after in session.execute(
        select(Elder.id, Elder.id_number, AuditEvent.after)
        .join(AuditEvent, AuditEvent.elder_id == Elder.id)
        .where(AuditEvent.entity_type == "elder", AuditEvent.action == "create")
    ):
        assert after.pop("id") == elder_id  # both paths record the new elder's id
        recorded[number] = after
    assert recorded == expected
    legacies = [a["id_number_legacy"] for a in recorded.values() if a["id_number_legacy"]]
    assert legacies == ["3*************1"]  # the old 15-digit number is masked too
    assert "310104194001" not in str(list(recorded.values()))  # no ID number in the clear


@pytest.mark.postgres
def test_a_first_load_whose_database_connection_dies_leaves_nothing_and_can_be_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database goes away mid-load (its backend terminated while the second chunk is
    written, as a crash or an administrator would): the import fails with the driver's
    connection error, and a fresh connection finds the registry empty with every index and
    constraint as migrated (the dropped indexes came back with the rollback). The same file
    then loads in full. A database of its own: the test kills its connection for real."""
    from sqlalchemy import exc as sa_exc

    from tests.conftest import temporary_pg_database
    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for
    from yiyang.core import audit, db
    from yiyang.core.migrate import upgrade
    from yiyang.core.transient import is_transient
    from yiyang.demo.load import load

    data = roll([person(i) for i in range(1, 13)])
    monkeypatch.setattr(imports, "FIRST_LOAD_ROWS", 1)
    monkeypatch.setattr(imports, "CHUNK", 4)
    with temporary_pg_database("yiyang_deadload") as url:
        engine = db.make_engine(url)
        previous = (db._engine, db._factory)
        try:
            upgrade(engine)
            db.set_engine(engine)
            with db.unit_of_work() as session:
                load(session, 0, seed=1)  # regions and users, no elder
            with db.unit_of_work() as session:
                migrated = schema(session)

            def import_as_community() -> tuple[int, int]:
                with db.unit_of_work() as session:
                    user = session.scalar(select(User).where(User.username == "community"))
                    assert user is not None
                    with audit.acting_as(audit.AuditActor(user.id, user.username, user.role)):
                        _batch, outcome = imports.import_now(
                            session, actor_for(user), "roll.csv", data
                        )
                    return outcome.created, len(outcome.rejected)

            real, calls = imports._write, {"n": 0}

            def dying(session: Session, *args, **kwargs):  # type: ignore[no-untyped-def]
                calls["n"] += 1
                if calls["n"] == 2:
                    pid = session.scalar(text("SELECT pg_backend_pid()"))
                    with engine.connect() as other:
                        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                return real(session, *args, **kwargs)

            monkeypatch.setattr(imports, "_write", dying)
            with pytest.raises(sa_exc.OperationalError) as failed:
                import_as_community()
            assert is_transient(failed.value)  # "try again", not "your file is wrong"
            with db.unit_of_work() as session:
                assert session.scalar(select(func.count()).select_from(Elder)) == 0
                assert session.scalar(select(func.count()).select_from(ElderCategory)) == 0
                assert schema(session) == migrated
                assert "WITH (fillfactor='70')" in " ".join(migrated)

            monkeypatch.setattr(imports, "_write", real)
            assert import_as_community() == (12, 0)
            with db.unit_of_work() as session:
                assert session.scalar(select(func.count()).select_from(Elder)) == 12
                assert schema(session) == migrated
        finally:
            db._engine, db._factory = previous
            engine.dispose()

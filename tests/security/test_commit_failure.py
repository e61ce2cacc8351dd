"""A write is answered only after it is stored (#14 item 4).

The database itself refuses the COMMIT: a test-only trigger adds, with every audit row, a row
that breaks a DEFERRABLE INITIALLY DEFERRED foreign key, which both PostgreSQL and SQLite check
at COMMIT and not before. Each test runs against a fresh database of its own with real commits
(the usual rolled-back outer transaction would turn the request's COMMIT into a RELEASE
SAVEPOINT, where deferred constraints are not checked).

Expected: a 5xx, the old value still stored, no audit row. Before the fix FastAPI ended the
session dependency after sending the response, so the client got 200 with the new value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import PASSWORD, temporary_pg_database
from yiyang.audit.models import AuditEvent
from yiyang.core import db
from yiyang.core.migrate import upgrade
from yiyang.devices.models import Device
from yiyang.registry.models import Elder

pytestmark = pytest.mark.security

TRAP_SQLITE = (
    "CREATE TABLE commit_trap (device_id INTEGER REFERENCES device (id) "
    "DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TRIGGER commit_trap_on_audit AFTER INSERT ON audit_event "
    "BEGIN INSERT INTO commit_trap VALUES (-1); END",
)
TRAP_PG = (
    "CREATE TABLE commit_trap (device_id INTEGER REFERENCES device (id) "
    "DEFERRABLE INITIALLY DEFERRED)",
    "CREATE FUNCTION commit_trap_fn() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO commit_trap VALUES (-1); RETURN NULL; END $$",
    "CREATE TRIGGER commit_trap_on_audit AFTER INSERT ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION commit_trap_fn()",
)
UNTRAP = (
    "DROP TRIGGER commit_trap_on_audit{on}",
    "DROP TABLE commit_trap",
)


def _seeded(url: str) -> Engine:
    from yiyang.demo.load import load

    engine = db.make_engine(url)
    upgrade(engine)
    previous = (db._engine, db._factory)
    db.set_engine(engine)
    try:
        with db.unit_of_work() as s:
            load(s, 40, seed=11)
    finally:
        db._engine, db._factory = previous
    return engine


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def committing_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A fresh, seeded database whose commits are real."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("commit") / "yiyang.db"
        engine = _seeded(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    with temporary_pg_database("yiyang_commit") as url:
        engine = _seeded(url)
        yield engine
        engine.dispose()


@pytest.fixture
def real_client(app, committing_engine: Engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    previous = (db._engine, db._factory)
    db.set_engine(committing_engine)
    try:
        # a server error is answered as the client sees it (500), not raised into the test
        with TestClient(app, raise_server_exceptions=False) as c:
            c.cookies.set("lang", "en")
            yield c
    finally:
        db._engine, db._factory = previous


class Trap:
    """Arms the commit-time failure; disarmed (dropped) at the end of the test."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Trap:
        pg = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            for statement in TRAP_PG if pg else TRAP_SQLITE:
                conn.exec_driver_sql(statement)
        return self

    def __exit__(self, *exc: object) -> None:
        pg = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            conn.exec_driver_sql(UNTRAP[0].format(on=" ON audit_event" if pg else ""))
            conn.exec_driver_sql(UNTRAP[1])
            if pg:
                conn.exec_driver_sql("DROP FUNCTION commit_trap_fn()")


def _audit_rows(conn: Connection) -> int:
    return conn.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_the_trap_fails_at_commit_and_not_before(committing_engine: Engine) -> None:
    """The injected failure is a real COMMIT-time failure: the audit insert itself succeeds."""
    with Trap(committing_engine), committing_engine.connect() as conn:
        conn.execute(
            AuditEvent.__table__.insert().values(actor_username="t", action="t", entity_type="t")
        )
        assert conn.scalar(text("SELECT count(*) FROM commit_trap")) == 1  # no error yet
        with pytest.raises(IntegrityError):
            conn.commit()


def test_an_api_write_whose_commit_fails_answers_5xx_and_stores_nothing(
    real_client: TestClient, committing_engine: Engine
) -> None:
    r = real_client.post("/api/auth/token", json={"username": "admin", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    with committing_engine.connect() as conn:
        device_id, room = conn.execute(
            select(Device.id, Device.room).order_by(Device.id).limit(1)
        ).one()
        audit_before = _audit_rows(conn)

    with Trap(committing_engine):
        r = real_client.patch(
            f"/api/devices/{device_id}", headers=headers, json={"room": "never stored"}
        )
        assert r.status_code >= 500, r.text

    with committing_engine.connect() as conn:
        assert conn.scalar(select(Device.room).where(Device.id == device_id)) == room
        assert _audit_rows(conn) == audit_before
    assert real_client.get(f"/api/devices/{device_id}", headers=headers).json()["room"] == room

    # the same request without the trap is stored and audited: the test can tell them apart
    r = real_client.patch(f"/api/devices/{device_id}", headers=headers, json={"room": "stored"})
    assert r.status_code == 200
    with committing_engine.connect() as conn:
        assert conn.scalar(select(Device.room).where(Device.id == device_id)) == "stored"
        assert _audit_rows(conn) > audit_before


def test_a_page_form_whose_commit_fails_answers_5xx_and_stores_nothing(
    real_client: TestClient, committing_engine: Engine
) -> None:
    form = {"username": "admin", "password": PASSWORD, "next": "/elders"}
    login_page = real_client.get("/login").text
    if 'name="csrf_token" value="' in login_page:  # the sign-in form's own CSRF token
        form["csrf_token"] = login_page.split('name="csrf_token" value="', 1)[1].split('"')[0]
    r = real_client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = real_client.get("/elders")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    csrf = page.text[start : page.text.index('"', start)]
    with committing_engine.connect() as conn:
        elder_id, version, key_holder = conn.execute(
            select(Elder.id, Elder.version, Elder.key_holder).order_by(Elder.id).limit(1)
        ).one()
        audit_before = _audit_rows(conn)
    form = {"csrf_token": csrf, "version": str(version), "key_holder": "钥匙在邻居家"}

    with Trap(committing_engine):
        r = real_client.post(f"/elders/{elder_id}/edit", data=form, follow_redirects=False)
        assert r.status_code >= 500, r.text

    with committing_engine.connect() as conn:
        assert conn.scalar(select(Elder.key_holder).where(Elder.id == elder_id)) == key_holder
        assert _audit_rows(conn) == audit_before

    r = real_client.post(f"/elders/{elder_id}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303
    with committing_engine.connect() as conn:
        assert conn.scalar(select(Elder.key_holder).where(Elder.id == elder_id)) == "钥匙在邻居家"


def test_every_route_commits_before_its_response(app) -> None:  # type: ignore[no-untyped-def]
    """A route that takes the request session with the default scope would again answer
    before its COMMIT: every use of ``get_session`` is declared ``scope="function"``."""

    def uses(dependant, path: str) -> Iterator[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
        for sub in dependant.dependencies:
            if sub.call is db.get_session:
                yield path, sub.scope
            yield from uses(sub, path)

    def api_routes(routes: list) -> Iterator[APIRoute]:  # type: ignore[type-arg]
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            included = getattr(route, "original_router", None)  # FastAPI ≥ 0.16x: lazy include
            if included is not None:
                yield from api_routes(included.routes)

    found = [use for route in api_routes(app.routes) for use in uses(route.dependant, route.path)]
    assert len(found) > 100
    assert [path for path, scope in found if scope != "function"] == []

"""Test fixtures: real SQLite and real PostgreSQL, migrated once with Alembic, a seeded district,
and a rolled-back transaction per test (every session the app opens joins it via savepoints).

PostgreSQL tests skip with one line when 127.0.0.1:5432 is unreachable; under CI=true they fail.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from yiyang import domains
from yiyang.core import db, security
from yiyang.core.migrate import upgrade

pytest_plugins = ["tests.support.browser"]  # the browser fixtures, for browser tests in any folder

domains.install()  # every test runs with the domains' scoping rules and session store, as the app

# Passwords in this test process: argon2id as in production, at its lowest cost, like Django's
# test settings. The demo users are hashed at seeding and every sign-in verifies a hash; at
# 64 MiB and 3 passes each costs ~70 ms (the suite: 682 s with them, 453 s without, on one
# machine). tests/core/test_security.py checks the production parameters in a process of their
# own; servers started for the browser tests keep them.
security.PARAMETERS = dataclasses.replace(
    security.PARAMETERS, time_cost=1, memory_cost=8, parallelism=1
)
security._hasher.cache_clear()

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "YIYANG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DEMO_ELDERS = 600
PASSWORD = "Yiyang@2026"


def pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver error means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def require_or_skip(reason: str, what: str) -> None:
    message = f"{what} not reachable ({reason}); these tests run when it is"
    if CI:
        pytest.fail(f"{message} — required under CI=true")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def english_messages() -> Iterator[None]:
    """Assertions read English messages; the zh_CN default is tested on its own."""
    from yiyang.core import i18n

    token = i18n.set_locale("en")
    yield
    i18n.reset_locale(token)


@contextmanager
def temporary_pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run (skips, or fails under CI, when unreachable)."""
    reason = pg_reachable()
    if reason:
        require_or_skip(reason, "PostgreSQL at 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with temporary_pg_database("yiyang_test") as url:
        yield url


def _seed(engine: Engine) -> None:
    from yiyang.demo.load import load

    upgrade(engine)
    db.set_engine(engine)
    with db.unit_of_work() as session:
        load(session, DEMO_ELDERS, seed=7)


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "yiyang.db"
    engine = db.make_engine(f"sqlite:///{path}")
    _seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_url)
    _seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(
        {"sqlite": "sqlite_engine", "postgres": "pg_engine"}[request.param]
    )  # type: ignore[no-any-return]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end; every session the app opens
    (request, auth lookup, login) joins it through savepoints."""
    conn = engine.connect()
    outer = conn.begin()
    previous = (db._engine, db._factory)
    db._engine = engine
    db._factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield conn
    finally:
        db._engine, db._factory = previous
        outer.rollback()
        conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with db.session_factory()() as s:
        yield s


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from yiyang.app import create_app

    return create_app()


@pytest.fixture
def client(app, connection: Connection) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as c:
        c.cookies.set("lang", "en")  # English messages in assertions; zh_CN is tested explicitly
        yield c


@dataclass
class Login:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def login(client: TestClient):  # type: ignore[no-untyped-def]
    """login("street") → bearer token for that demo user."""

    def _login(username: str) -> Login:
        r = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return Login(username, r.json()["access_token"])

    return _login


def login_form_token(client: TestClient) -> str:
    """Open the sign-in page as a browser would: its CSRF token (the cookie is kept by the
    client)."""
    page = client.get("/login")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


@pytest.fixture
def browser_login(client: TestClient):  # type: ignore[no-untyped-def]
    """Cookie login through the real login form; returns the CSRF token from the page."""

    def _login(username: str) -> str:
        r = client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "next": "/elders",
                "csrf_token": login_form_token(client),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        page = client.get("/elders")
        marker = 'name="csrf-token" content="'
        start = page.text.index(marker) + len(marker)
        return page.text[start : page.text.index('"', start)]

    return _login

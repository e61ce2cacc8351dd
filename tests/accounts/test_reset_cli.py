"""`yiyang reset-password`: the way back in for a platform admin who lost their password (nobody
above them can issue a temporary one): printed once, changed at the next sign-in, audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from yiyang.core import db
from yiyang.core.audit_models import AuditEvent

pytestmark = pytest.mark.unit


def test_the_cli_issues_a_temporary_password(tmp_path) -> None:
    from yiyang.accounts import service
    from yiyang.accounts.models import User
    from yiyang.cli import app
    from yiyang.regions.models import RegionLevel
    from yiyang.regions.service import add_region

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    previous = (db._engine, db._factory)
    try:
        assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
        with db.unit_of_work() as session:
            add_region(session, "310104000000", "徐汇区", RegionLevel.DISTRICT, None)
        made = runner.invoke(
            app,
            [
                "create-user",
                "root",
                "platform_admin",
                "--region",
                "310104000000",
                "--password",
                "Forgotten@2026",
                "--database-url",
                url,
            ],
        )
        assert made.exit_code == 0, made.output
        r = runner.invoke(app, ["reset-password", "root", "--database-url", url])
        assert r.exit_code == 0, r.output
        temporary = re.search(r"temporary password for root: (\S+)", r.output).group(1)
        with db.unit_of_work() as session:
            result = service.login(session, "root", temporary, kind="api", ip="127.0.0.1")
            assert result.user.must_change_password is True
            assert service.resolve_token(session, result.token, "api").extra
            rows = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "password_reset")
            ).all()
            assert [a.actor_username for a in rows] == ["cli"]
            assert temporary not in (rows[0].summary or "")
            assert session.scalar(select(User.username).where(User.username == "root"))
        unknown = runner.invoke(app, ["reset-password", "nobody", "--database-url", url])
        assert unknown.exit_code != 0
        assert db._engine is not None
        db._engine.dispose()
    finally:
        db._engine, db._factory = previous

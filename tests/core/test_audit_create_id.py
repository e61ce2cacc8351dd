"""An audited row's "create" event names the row it created (its id), not an empty id."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.audit.models import AuditEvent
from yiyang.console.models import Responder
from yiyang.regions.models import Region

pytestmark = pytest.mark.api


def test_a_create_event_carries_the_new_rows_id(session: Session) -> None:
    region = session.scalars(select(Region).order_by(Region.id).limit(1)).one()
    row = Responder(
        kind="volunteer",
        name="测试志愿者",
        phone="13900009999",
        region_id=region.id,
        region_path=region.path,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "responder", AuditEvent.action == "create")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.entity_id == str(row.id)
    assert event.after and event.after["id"] == row.id

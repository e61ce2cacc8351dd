"""Demo consents, as a district's records look after the sign-up drive: nearly every elder agreed
to personal information processing, most of them to health monitoring by devices, about half to
sharing with their family. The elder the demo family member and the demo elder are linked to
agreed to all three (their pages show what sharing allows). Signed on paper, on the consent texts
of the current version, recorded by the community's worker. Written in bulk before the device
kits (which follow the monitoring consent); one audit row says so."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.registry.consents import CURRENT_VERSION, FLAG, Action, Method, Purpose
from yiyang.registry.models import ConsentRecord, Elder

PROCESSING = 0.96  # of all elders
MONITORING = 0.88  # of those who agreed to processing
SHARING = 0.5  # likewise


def plan(elder_id: int, always: bool = False) -> list[Purpose]:
    """The consents one demo elder gave (deterministic per elder)."""
    if always:
        return list(Purpose)
    rnd = random.Random(elder_id * 7919 + 31)
    if rnd.random() >= PROCESSING:
        return []
    given = [Purpose.DATA_PROCESSING]
    if rnd.random() < MONITORING:
        given.append(Purpose.HEALTH_MONITORING)
    if rnd.random() < SHARING:
        given.append(Purpose.SHARE_WITH_FAMILY)
    return given


def install(session: Session) -> int:
    """Consents for every elder with none recorded yet; returns the records added."""
    with audit.acting_as(audit.AuditActor(None, "demo-data")):
        recorded = set(session.scalars(select(ConsentRecord.elder_id).distinct()))
        family_side = set(
            session.scalars(
                select(UserElderLink.elder_id)
                .join(User, User.id == UserElderLink.user_id)
                .where(User.username.in_(("family", "elder")))
            )
        )
        workers = {
            path: (uid, name)
            for path, uid, name in session.execute(
                select(User.region_path, User.id, User.display_name).where(
                    User.username == "community"
                )
            )
        }
        at = now()
        rows: list[dict[str, Any]] = []
        flags: dict[tuple[tuple[bool, ...], dt.date], list[int]] = {}
        for elder_id, region_path in session.execute(
            select(Elder.id, Elder.region_path).order_by(Elder.id)
        ):
            if elder_id in recorded:
                continue
            given = plan(elder_id, always=elder_id in family_side)
            signed = at.date() - dt.timedelta(days=elder_id % 90)
            by, by_name = workers.get(region_path, (None, "社区工作人员"))
            for purpose in given:
                rows.append(
                    {
                        "elder_id": elder_id,
                        "region_path": region_path,
                        "purpose": purpose.value,
                        "action": Action.GIVEN.value,
                        "text_version": CURRENT_VERSION,
                        "signed_on": signed,
                        "method": Method.PAPER.value,
                        "note": None,
                        "recorded_by": by,
                        "recorded_by_name": by_name,
                        "at": at,
                    }
                )
            key = tuple(p in given for p in Purpose)
            if any(key):
                flags.setdefault((key, signed), []).append(elder_id)
        for i in range(0, len(rows), 5000):
            session.execute(insert(ConsentRecord), rows[i : i + 5000])
        for (key, signed), ids in flags.items():
            values: dict[str, Any] = {FLAG[p]: on for p, on in zip(Purpose, key, strict=True)}
            for i in range(0, len(ids), 1000):
                session.execute(
                    update(Elder)
                    .where(Elder.id.in_(ids[i : i + 1000]))
                    .values(**values, consent_date=signed)
                    .execution_options(synchronize_session=False)
                )
        if rows:
            audit.record(
                session,
                "record_consents",
                "consent_record",
                None,
                summary=f"{len(rows)} demo consents recorded",
            )
        session.expire_all()
        return len(rows)

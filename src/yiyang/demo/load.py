"""Load the demo district into a database: regions, a user per role, elders (through the real
import path, so demo data is validated and audited like any roll)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang import domains
from yiyang.accounts.models import User, UserElderLink
from yiyang.accounts.service import actor_for, create_user
from yiyang.core import audit
from yiyang.core.clock import today_local
from yiyang.core.roles import Role
from yiyang.demo.generate import community_codes, elder_rows, regions
from yiyang.regions.models import Region, RegionLevel
from yiyang.regions.service import add_region
from yiyang.registry import imports
from yiyang.registry.importer import TEMPLATE
from yiyang.registry.models import Elder, EmergencyContact

DEMO_PASSWORD = "Yiyang@2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    region: str  # region code
    provider_id: int | None = None


def demo_users(street: str, community: str) -> list[DemoUser]:
    district = "310104000000"
    return [
        DemoUser("admin", "平台管理员", Role.PLATFORM_ADMIN, district),
        DemoUser("district", "区民政局 周科长", Role.DISTRICT_OFFICER, district),
        DemoUser("street", "街道 王主任", Role.STREET_OFFICER, street),
        DemoUser("community", "社区 李社工", Role.COMMUNITY_WORKER, community),
        DemoUser("operator", "呼叫中心 陈坐席", Role.OPERATOR, district),
        DemoUser("operator2", "呼叫中心 吴坐席", Role.OPERATOR, district),
        DemoUser("provider", "服务商 张经理", Role.PROVIDER_ADMIN, district, provider_id=1),
        DemoUser("caregiver", "护理员 刘阿姨", Role.CAREGIVER, street, provider_id=1),
        DemoUser("doctor", "家庭医生 徐医生", Role.DOCTOR, street),
        DemoUser("volunteer", "志愿者 小赵", Role.VOLUNTEER, community),
        DemoUser("family", "家属 李明", Role.FAMILY, community),
        DemoUser("elder", "老人本人", Role.ELDER, community),
    ]


def ensure_regions(session: Session) -> dict[str, Region]:
    existing = {r.code: r for r in session.scalars(select(Region))}
    for spec in regions():
        if spec.code not in existing:
            parent = existing.get(spec.parent) if spec.parent else None
            existing[spec.code] = add_region(
                session, spec.code, spec.name, RegionLevel(spec.level), parent
            )
    return existing


def roll_csv(n: int, seed: int) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TEMPLATE)
    writer.writeheader()
    writer.writerows(elder_rows(n, seed, community_codes(regions()), today_local()))
    return buf.getvalue().encode("utf-8")


def load(session: Session, elders: int, seed: int, history_days: int = 0) -> dict[str, int]:
    domains.install()  # demo data goes through the real, scoped service functions
    with audit.acting_as(audit.AuditActor(None, "demo-data")):
        by_code = ensure_regions(session)
        street = "310104003000"
        community = "310104003001"
        users: dict[str, User] = {}
        for spec in demo_users(street, community):
            user = session.scalar(select(User).where(User.username == spec.username))
            if user is None:
                user = create_user(
                    session,
                    username=spec.username,
                    password=DEMO_PASSWORD,
                    display_name=spec.display_name,
                    role=spec.role,
                    region_code=spec.region,
                    provider_id=spec.provider_id,
                )
            users[spec.username] = user
        admin = users["admin"]
        actor = actor_for(admin)
        _batch, outcome = imports.import_now(
            session, actor, f"demo-seed{seed}.csv", roll_csv(elders, seed)
        )
        _link_person_users(session, users, by_code[community].path, by_code[street].path)
        _person_phones(session, users)
        from yiyang.demo import consents

        consents.install(session)  # before the device kits, which follow the monitoring consent
        from yiyang.demo.devices import install

        devices = install(session)
        from yiyang.demo import console

        responders = console.install(session)
        from yiyang.demo import services

        caregivers = services.install(session)
        from yiyang.demo import history

        past = history.install(session, history_days, seed)
        return {
            **past,
            "caregivers": caregivers,
            "devices": devices,
            "responders": responders,
            "created": outcome.created,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected": len(outcome.rejected),
        }


# The community's service phone on the community worker's account: the number the elder's page
# calls ("call my community worker").
COMMUNITY_PHONE = "021-64038812"
FAMILY_PHONE = "13900001234"
STREET_MOBILE = "13900005678"


def _person_phones(session: Session, users: dict[str, User]) -> None:
    """The community worker's phone, and the family member's: the same number as their row
    among their elder's emergency contacts, so the family portal finds their notification
    settings (and the phone sign-in their account)."""
    worker, family = users["community"], users["family"]
    if not worker.phone:
        worker.phone = COMMUNITY_PHONE
    street = users["street"]
    if not street.phone:
        street.phone = STREET_MOBILE  # a staff mobile: password reset by SMS code works
    if family.phone:
        return
    elder_id = session.scalar(
        select(UserElderLink.elder_id).where(UserElderLink.user_id == family.id).limit(1)
    )
    elder = session.get(Elder, elder_id) if elder_id else None
    if elder is None:
        return
    family.phone = FAMILY_PHONE
    if not any(c.phone == FAMILY_PHONE for c in elder.contacts):
        elder.contacts.append(
            EmergencyContact(
                priority=len(elder.contacts) + 1,
                name=family.display_name.split()[-1],
                relation="子女",
                phone=FAMILY_PHONE,
                receives_alerts=True,
            )
        )
    session.flush()


def _link_person_users(
    session: Session, users: dict[str, User], community_path: str, street_path: str
) -> None:
    """Give the person-scoped demo users a few elders each (normally set by services/doctors)."""
    if session.scalar(select(func.count()).select_from(UserElderLink)):
        return
    in_community = list(
        session.scalars(
            select(Elder.id).where(Elder.region_path == community_path).order_by(Elder.id).limit(60)
        )
    )
    in_street = list(
        session.scalars(
            select(Elder.id)
            .where(Elder.region_path.startswith(street_path))
            .order_by(Elder.id)
            .limit(200)
        )
    )
    plan = {
        "family": (in_community[:1], "子女"),
        "elder": (in_community[:1], "本人"),
        "volunteer": (in_community[1:4], "结对"),
        "caregiver": (in_street[:8], "服务对象"),
        "doctor": (in_street[:50], "签约"),
    }
    for username, (ids, relation) in plan.items():
        for elder_id in ids:
            session.add(
                UserElderLink(user_id=users[username].id, elder_id=elder_id, relation=relation)
            )
    session.flush()

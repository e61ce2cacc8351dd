"""Demo home services: one provider (id 1, the demo provider admin's), its caregivers (one is
the demo caregiver user), a catalog, the district's subsidy policies, a canteen with a week of
menus, and a few of today's orders in different states so every page has something to show."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.core import clock
from yiyang.core.clock import local_zone, today_local
from yiyang.core.scoping import Actor
from yiyang.demo.generate import DISTRICT, STREETS
from yiyang.registry.models import Elder
from yiyang.services.models import (
    Canteen,
    Caregiver,
    Certificate,
    Menu,
    OrderEvent,
    Provider,
    ServiceItem,
    ServiceOrder,
)
from yiyang.subsidies.models import SubsidyPolicy

NAMES = [
    "王秀英",
    "李桂兰",
    "张玉梅",
    "刘淑珍",
    "陈凤英",
    "杨丽华",
    "赵建国",
    "黄志刚",
    "周美玲",
    "吴春燕",
    "徐海燕",
    "孙国强",
]
STREET_PATH = f"/{DISTRICT[0]}/310104003000/"
# code, name, category, unit, price (fen), minutes per unit, skill, policies that may pay
CATALOG = [
    ("CLEAN-2H", "居家保洁", "cleaning", "hour", 4000, 60, "cleaning", ["SN-HOURS", "TK-CREDIT",
                                                                      "DB-CREDIT"]),
    ("BATH", "上门助浴", "bathing", "visit", 12000, 90, "bathing", ["TK-CREDIT", "DB-CREDIT"]),
    ("HAIR", "上门理发", "haircut", "visit", 2500, 30, "haircut", ["TK-CREDIT"]),
    ("ESCORT", "陪同就医", "escort", "hour", 5000, 60, "escort", ["SN-HOURS", "TK-CREDIT"]),
    ("REHAB", "康复训练", "rehab", "visit", 15000, 60, "rehab", ["SN-HOURS"]),
    ("MEAL-DLV", "助餐送餐", "meal", "meal", 1500, 15, None, []),
]  # fmt: skip


def policies(today: dt.date) -> list[SubsidyPolicy]:
    start = today.replace(month=1, day=1)
    d = f"/{DISTRICT[0]}/"
    return [
        # 特困 / 低保 elders: a monthly service credit (the district pays the provider)
        SubsidyPolicy(
            code="TK-CREDIT",
            name="特困老人居家服务补贴",
            kind="credit",
            categories=["extreme_poverty"],
            monthly_amount=60000,
            carry_over="none",
            priority=10,
            region_path=d,
            starts_on=start,
        ),
        SubsidyPolicy(
            code="DB-CREDIT",
            name="低保老人居家服务补贴",
            kind="credit",
            categories=["minimum_living"],
            monthly_amount=30000,
            carry_over="cap",
            carry_cap=30000,
            priority=20,
            region_path=d,
            starts_on=start,
        ),
        # 长护险-like hours by care level for the disabled (失能)
        SubsidyPolicy(
            code="SN-HOURS",
            name="失能老人照护时长",
            kind="hours",
            min_care_level=2,
            amount_by_level={"2": 180, "3": 300, "4": 420, "5": 600, "6": 840},
            monthly_amount=180,
            carry_over="none",
            priority=5,
            region_path=d,
            starts_on=start,
        ),
        # 助餐 per-meal subsidies
        SubsidyPolicy(
            code="MEAL-TK",
            name="特困低保助餐补贴",
            kind="per_meal",
            categories=["extreme_poverty", "minimum_living"],
            per_meal_fen=1000,
            region_path=d,
            starts_on=start,
        ),
        SubsidyPolicy(
            code="MEAL-80",
            name="高龄老人助餐补贴",
            kind="per_meal",
            categories=["advanced_age"],
            per_meal_fen=300,
            region_path=d,
            starts_on=start,
        ),
    ]


def install(session: Session) -> int:
    if session.scalar(select(func.count()).select_from(Provider)):
        return 0
    rnd = random.Random(11)
    today = today_local()
    pols = policies(today)
    session.add_all(pols)
    session.flush()
    by_code = {p.code: p.id for p in pols}
    provider = Provider(
        name="徐汇颐家居家养老服务中心",
        licence_no="52310104MJ0000001X",
        licence_expires_on=today.replace(year=today.year + 2),
        contact_name="张经理",
        contact_phone="13900000001",
        contact_email="provider@example.org",
        region_path=f"/{DISTRICT[0]}/",
        areas=[f"/{DISTRICT[0]}/"],
    )
    session.add(provider)
    session.flush()
    items = [
        ServiceItem(
            provider_id=provider.id,
            code=code,
            name=name,
            category=category,
            unit=unit,
            price_fen=price,
            duration_min=minutes,
            required_skill=skill,
            policy_ids=[by_code[c] for c in pays],
        )
        for code, name, category, unit, price, minutes, skill, pays in CATALOG
    ]
    session.add_all(items)
    caregiver_user = session.scalar(select(User).where(User.username == "caregiver"))
    skills_pool = ["cleaning", "bathing", "haircut", "escort", "rehab"]
    staff = []
    for i, name in enumerate(NAMES):
        street_code = STREETS[i % len(STREETS)][0]
        skills = sorted(set(rnd.sample(skills_pool, 3)) | {"cleaning"})
        c = Caregiver(
            provider_id=provider.id,
            user_id=caregiver_user.id if (i == 0 and caregiver_user) else None,
            name=name if i else "刘阿姨",
            phone=f"1390000{1000 + i}",
            skills=skills if i else skills_pool,
            # every third one serves the whole district, the others one street
            areas=[f"/{DISTRICT[0]}/" if i % 3 == 1 else f"/{DISTRICT[0]}/{street_code}/"]
            if i
            else [STREET_PATH],
            work_days=[0, 1, 2, 3, 4, 5, 6] if i == 0 else [0, 1, 2, 3, 4, 5],
            work_start=dt.time(7, 0),
            work_end=dt.time(20, 0),
            home_lat=31.17 + rnd.uniform(-0.03, 0.03),
            home_lon=121.44 + rnd.uniform(-0.03, 0.03),
        )
        staff.append(c)
    session.add_all(staff)
    session.flush()
    for c in staff:
        session.add(
            Certificate(
                caregiver_id=c.id,
                skill="bathing",
                name="养老护理员证（四级）",
                number=f"YL{c.id:06d}",
                expires_on=today.replace(year=today.year + 1),
            )
        )
    canteen = Canteen(
        provider_id=provider.id,
        name="天平路街道长者食堂",
        region_path=STREET_PATH,
        address="徐汇区天平路100号",
        delivers=True,
    )
    session.add(canteen)
    session.flush()
    for offset in range(7):
        day = today + dt.timedelta(days=offset)
        session.add(
            Menu(
                canteen_id=canteen.id,
                day=day,
                meal="lunch",
                dishes=["红烧狮子头", "清炒菠菜", "番茄蛋汤", "米饭"],
                price_fen=1500,
                capacity=150,
            )
        )
        session.add(
            Menu(
                canteen_id=canteen.id,
                day=day,
                meal="dinner",
                dishes=["清蒸鲈鱼", "蒜蓉西兰花", "小米粥"],
                price_fen=1200,
                capacity=100,
            )
        )
    session.flush()
    _todays_orders(session, provider, items, staff[0], today)
    from yiyang.subsidies.service import open_month

    open_month(session, f"{today:%Y-%m}")  # this month's allocations, as on its first day
    _delivered_orders(session, items)
    return len(staff)


def _todays_orders(
    session: Session,
    provider: Provider,
    items: list[ServiceItem],
    caregiver: Caregiver,
    today: dt.date,
) -> None:
    """A few of today's jobs for the demo caregiver (their linked elders), one waiting to be
    assigned, so the phone page and the board are not empty."""
    user = session.get(User, caregiver.user_id) if caregiver.user_id else None
    if user is None:
        return
    from yiyang.registry.models import Elder
    from yiyang.registry.repository import system_rows

    linked = list(
        session.scalars(
            select(UserElderLink.elder_id)
            .where(UserElderLink.user_id == user.id)
            .order_by(UserElderLink.elder_id)
        )
    )
    rows = system_rows(
        session, linked[:4], Elder.region_path, Elder.address, Elder.latitude, Elder.longitude
    )
    plan = [
        (9, items[0], 2, "accepted"),
        (11, items[2], 1, "assigned"),
        (14, items[1], 1, "accepted"),
        (16, items[3], 2, "placed"),
    ]
    for (hour, item, qty, state), row in zip(plan, rows, strict=False):
        at = dt.datetime.combine(today, dt.time(hour, 0), tzinfo=local_zone())
        order = ServiceOrder(
            elder_id=row.id,
            region_path=row.region_path,
            provider_id=provider.id,
            item_id=item.id,
            caregiver_id=caregiver.id if state != "placed" else None,
            state=state,
            quantity=qty,
            scheduled_at=at,
            booked_minutes=item.duration_min * qty,
            unit_price_fen=item.price_fen,
            amount_fen=item.price_fen * qty,
            address=row.address,
            home_lat=row.latitude,
            home_lon=row.longitude,
            placed_by=None,
            placed_by_name="社区 李社工",
            idempotency_key=f"demo:{row.id}:{hour}",
            confirm_code=f"{100000 + row.id:06d}"[-6:],
            flags=[],
        )
        session.add(order)
        session.flush()
        session.add(
            OrderEvent(
                order_id=order.id, actor_name="社区 李社工", action="place", to_state="placed"
            )
        )
        if state != "placed":
            session.add(
                OrderEvent(
                    order_id=order.id,
                    actor_name="服务商 张经理",
                    action="assign",
                    from_state="placed",
                    to_state="assigned",
                )
            )
        if state == "accepted":
            session.add(
                OrderEvent(
                    order_id=order.id,
                    actor_name="刘阿姨",
                    action="accept",
                    from_state="assigned",
                    to_state="accepted",
                )
            )
    session.flush()


def _delivered_orders(session: Session, items: list[ServiceItem]) -> None:
    """Services delivered through the real service functions (placed by the community worker,
    assigned, accepted, checked in and out), so the ledger, the board and the month's
    settlement have something real to show: one confirmed with the elder's code, and one for
    the demo family's elder still waiting for the family to confirm it on their page."""
    from yiyang.accounts.service import actor_for
    from yiyang.registry.repository import readable
    from yiyang.services import dispatch, orders
    from yiyang.services.schemas import OrderCreate

    def actor(name: str) -> Actor:
        return actor_for(session.scalars(select(User).where(User.username == name)).one())

    community, provider, caregiver = actor("community"), actor("provider"), actor("caregiver")
    family = actor("family")
    aunt = session.scalar(select(Caregiver.id).where(Caregiver.user_id == caregiver.user_id))
    assert aunt is not None
    theirs = session.scalars(readable(family).order_by(Elder.id).limit(1)).all()
    other = session.scalars(readable(community).order_by(Elder.id.desc()).limit(1)).all()
    # yesterday's, recorded at the moments they happened (not tomorrow's, already done)
    day = today_local() - dt.timedelta(days=1)
    plan = [(e, items[2], True) for e in other] + [(e, items[0], False) for e in theirs]
    for n, (elder, item, with_code) in enumerate(plan):
        start = dt.datetime.combine(day, dt.time(8 + 3 * n), local_zone())
        data = OrderCreate(elder_id=elder.id, item_id=item.id, scheduled_at=start, quantity=1)
        with clock.at(start - dt.timedelta(hours=20)):
            order, _ = orders.place_order(session, community, data, f"demo-done-{n}")
            dispatch.assign(session, provider, order.id, aunt)
            orders.accept(session, caregiver, order.id)
        with clock.at(start + dt.timedelta(minutes=4)):
            orders.check_in(session, caregiver, order.id, elder.latitude, elder.longitude)
        code = order.confirm_code if with_code else None
        with clock.at(start + dt.timedelta(minutes=4 + order.booked_minutes)):
            orders.check_out(session, caregiver, order.id, elder.latitude, elder.longitude, code)

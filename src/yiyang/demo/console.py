"""Demo hospitals, community health centres and responders for the console.

Hospital names, addresses and switchboard numbers are those of real general hospitals with an
emergency department in Xuhui; positions are approximate. Health centres are one per street,
placed near the street's part of the district; responders are invented people.
"""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.console.models import Facility, Responder
from yiyang.demo.generate import STREETS, regions
from yiyang.regions.models import Region

HOSPITALS = [
    ("复旦大学附属中山医院", "徐汇区枫林路180号", "021-64041990", 31.1987, 121.4546),
    ("上海市第六人民医院", "徐汇区宜山路600号", "021-64369181", 31.1791, 121.4268),
    ("上海市第八人民医院", "徐汇区漕宝路8号", "021-34284588", 31.1673, 121.4301),
    ("上海中医药大学附属龙华医院", "徐汇区宛平南路725号", "021-64385700", 31.1869, 121.4437),
    ("上海市徐汇区中心医院", "徐汇区淮海中路966号", "021-31270810", 31.2131, 121.4528),
    ("上海市徐汇区大华医院", "徐汇区老沪闵路901号", "021-64536060", 31.1525, 121.4371),
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
_GIVEN = [
    "建华",
    "秀兰",
    "志强",
    "丽娟",
    "海燕",
    "国庆",
    "春梅",
    "小军",
    "玉珍",
    "晓东",
    "敏",
    "静",
]


def install(session: Session, seed: int = 11) -> int:
    """Facilities and responders, once (a second run adds nothing)."""
    if session.scalar(select(func.count()).select_from(Facility)):
        return 0
    rnd = random.Random(seed)
    for name, address, phone, lat, lon in HOSPITALS:
        session.add(
            Facility(
                kind="hospital",
                name=name,
                address=address,
                phone=phone,
                latitude=lat,
                longitude=lon,
                emergency=True,
            )
        )
    for i, (_code, street) in enumerate(STREETS):
        lat = 31.14 + (i % 4) * 0.02 + rnd.uniform(-0.004, 0.004)
        lon = 121.415 + (i // 4) * 0.015 + rnd.uniform(-0.004, 0.004)
        session.add(
            Facility(
                kind="chc",
                name=f"{street}社区卫生服务中心",
                address=f"徐汇区{street}",
                phone=f"021-6{rnd.randrange(4000000, 4999999)}",
                latitude=round(lat, 6),
                longitude=round(lon, 6),
            )
        )
    by_code = {r.code: r for r in session.scalars(select(Region))}
    worker_users = {
        u.region_path: u
        for u in session.scalars(select(User).where(User.role == "community_worker"))
    }
    count = 0

    def person() -> str:
        return rnd.choice(_SURNAMES) + rnd.choice(_GIVEN)

    for spec in regions():
        region = by_code.get(spec.code)
        if region is None:
            continue
        if spec.level == "community":
            user = worker_users.get(region.path)
            people = [
                ("community_worker", user.display_name if user else f"社工 {person()}", user),
                ("volunteer", f"志愿者 {person()}", None),
                ("volunteer", f"志愿者 {person()}", None),
            ]
        elif spec.level == "street":
            people = [("caregiver", f"护理员 {person()}", None) for _ in range(2)]
        else:
            continue
        for kind, name, user in people:
            session.add(
                Responder(
                    kind=kind,
                    name=name,
                    phone=(
                        user.phone if user and user.phone else f"139{rnd.randrange(10**7, 10**8)}"
                    ),
                    email=user.email if user else None,
                    region_id=region.id,
                    region_path=region.path,
                    user_id=user.id if user else None,
                )
            )
            count += 1
    return count

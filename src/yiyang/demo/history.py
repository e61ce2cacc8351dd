"""The demo district's recent past, recorded by the real service code at the moments it happened
(``core.clock.at``): weeks of home services placed, assigned, delivered with on-site check-in
and out, confirmed (by the elder's code, the family or staff), a few disputed or cancelled; the
coming week booked for the caregivers; and the alarm centre's alerts with how each was answered
— claimed, called, someone sent, resolved with an outcome — so the service-level card, the
orders board, the settlement and an elder's history read like a district that has been running.
Deterministic for a seed (times are relative to today). Loaded once: a second run adds nothing.

What happened is chosen here (how often an elder books, how fast operators answer, which alarms
were false); how it is recorded is the product's own code, through the same functions the pages
call, so every row has its audit trail and the ledger its entries.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.accounts.service import actor_for, create_user
from yiyang.alarms import rules
from yiyang.alarms import service as alerts
from yiyang.alarms.enums import AlertType, Outcome, Severity
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import ParamsCache
from yiyang.checkins import service as checkins
from yiyang.checkins.enums import CallOutcome
from yiyang.console import repository as console_repo
from yiyang.console import service as console
from yiyang.console.schemas import (
    AlertClaim,
    AlertResolution,
    ArrivalReport,
    CallCreate,
    Callee,
    DispatchCreate,
)
from yiyang.core import clock
from yiyang.core.clock import local_zone, today_local
from yiyang.core.errors import DomainError
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.devices.enums import DeviceType
from yiyang.devices.models import Device, VitalReading
from yiyang.presence import service as presence
from yiyang.presence.schemas import AwayCreate
from yiyang.registry.models import Elder
from yiyang.services import dispatch as assigning
from yiyang.services import orders
from yiyang.services.models import Caregiver, ServiceItem, ServiceOrder
from yiyang.services.schemas import OrderCreate
from yiyang.services.settlement import settle
from yiyang.subsidies.service import open_month

MARK = "hist:"  # idempotency keys of the history's orders: their presence means "loaded"
CLIENTS = 140  # elders with a weekly home service
PASSWORD = "Yiyang@2026"
OPERATORS = [("operator2", "夜班 周敏"), ("operator3", "中班 陈立")]


@dataclass(frozen=True, slots=True)
class _Client:
    elder_id: int
    lat: float | None
    lon: float | None
    item: ServiceItem
    weekday: int
    hour: int
    placer: Actor


def install(session: Session, days: int, seed: int) -> dict[str, int]:
    """``days`` of history up to now, and the week ahead; returns what was added."""
    if days <= 0 or session.scalar(
        select(func.count())
        .select_from(ServiceOrder)
        .where(ServiceOrder.idempotency_key.like(MARK + "%"))
    ):
        return {}
    rnd = random.Random(seed)
    now = clock.now()
    start = dt.datetime.combine(today_local() - dt.timedelta(days=days), dt.time(0), local_zone())
    people = _people(session)
    months = sorted({f"{start.date() + dt.timedelta(days=d):%Y-%m}" for d in range(days + 1)})
    for period in months:
        first = dt.datetime.strptime(period + "-01", "%Y-%m-%d").replace(tzinfo=local_zone())
        with clock.at(max(first, start) + dt.timedelta(minutes=5)):
            open_month(session, period)
    done = _services(session, rnd, people, start, now)
    ahead = _week_ahead(session, rnd, people, now)
    raised = _alarms(session, rnd, people, start, now)
    readings = _readings(session, rnd, now, days)
    tasks = _check_ins(session, rnd, people, now)
    _away(session, people, now)
    for period in months[:-1]:  # the month's statements, as the district settles them
        first = dt.datetime.strptime(period + "-01", "%Y-%m-%d").replace(tzinfo=local_zone())
        with clock.at((first + dt.timedelta(days=32)).replace(day=1, hour=2)):
            settle(session, period)
    session.flush()
    return {
        "orders": done,
        "booked_ahead": ahead,
        "alerts": raised,
        "readings": readings,
        "check_ins": tasks,
    }


# -- who acts --------------------------------------------------------------------------------


@dataclass(slots=True)
class _People:
    staff: dict[str, Actor]  # demo username → actor
    caregivers: dict[int, Actor]  # caregiver id → their account's actor
    operators: list[Actor]


def _people(session: Session) -> _People:
    users = {u.username: u for u in session.scalars(select(User))}
    for username, name in OPERATORS:  # three shifts need three operators
        if username not in users:
            users[username] = create_user(
                session,
                username=username,
                password=PASSWORD,
                display_name=name,
                role=Role.OPERATOR,
                region_code=users["operator"].region_path.strip("/").split("/")[0],
            )
    caregivers: dict[int, Actor] = {}
    for c in session.scalars(select(Caregiver).order_by(Caregiver.id)):
        if c.user_id is None:  # every caregiver has the app on their phone
            user = create_user(
                session,
                username=f"caregiver{c.id:02d}",
                password=PASSWORD,
                display_name=c.name,
                role=Role.CAREGIVER,
                region_code=c.areas[0].strip("/").split("/")[-1],
                provider_id=c.provider_id,
            )
            c.user_id = user.id
            users[user.username] = user
        account = session.get(User, c.user_id)
        assert account is not None
        caregivers[c.id] = actor_for(account)
    session.flush()
    staff = {
        name: actor_for(users[name])
        for name in ("community", "street", "district", "provider", "family", "operator")
    }
    ops = [staff["operator"]] + [actor_for(users[u]) for u, _ in OPERATORS]
    return _People(staff, caregivers, ops)


# -- home services ---------------------------------------------------------------------------


def _clients(session: Session, rnd: random.Random, people: _People) -> list[_Client]:
    """Elders with a weekly service: the subsidised and the frail first, as in a real district;
    the demo family's elder among them."""
    items = {i.code: i for i in session.scalars(select(ServiceItem).where(ServiceItem.active))}
    family_elders = set(
        session.scalars(
            select(UserElderLink.elder_id).where(
                UserElderLink.user_id == people.staff["family"].user_id
            )
        )
    )
    rows = session.execute(
        select(Elder.id, Elder.region_path, Elder.latitude, Elder.longitude, Elder.care_level)
        .where(Elder.status == "active")
        .order_by(Elder.id)
    ).all()
    community = people.staff["community"].region_path or ""
    street = people.staff["street"].region_path or ""
    chosen = [r for r in rows if r.id in family_elders]
    pool = [r for r in rows if r.id not in family_elders]
    pool.sort(key=lambda r: (-(r.care_level or 0), rnd.random()))
    chosen += pool[: CLIENTS * 2]
    codes = ["CLEAN-2H", "CLEAN-2H", "CLEAN-2H", "HAIR", "ESCORT", "BATH", "REHAB"]
    staff = [(c.areas, set(c.skills)) for c in session.scalars(select(Caregiver))]
    out = []
    for r in chosen:
        # what the provider's caregivers covering this elder's street can do
        skills = set().union(
            *(sk for areas, sk in staff if any(r.region_path.startswith(a) for a in areas))
        )
        wanted = ["REHAB"] if (r.care_level or 0) >= 3 and rnd.random() < 0.5 else []
        doable = [
            c
            for c in wanted + rnd.sample(codes, len(codes))
            if c in items and (items[c].required_skill or "cleaning") in skills
        ]
        if not doable:
            continue  # no caregiver of the provider works there
        code = doable[0]
        placer = (
            people.staff["community"]
            if r.region_path.startswith(community)
            else people.staff["street"]
            if r.region_path.startswith(street)
            else people.staff["district"]
        )
        out.append(
            _Client(
                r.id,
                r.latitude,
                r.longitude,
                items[code],
                weekday=rnd.randrange(7),
                hour=rnd.choice([8, 9, 10, 13, 14, 15]),
                placer=placer,
            )
        )
    return out[:CLIENTS]


def _key(client: _Client, when: dt.datetime) -> str:
    """One order's idempotency key: elder, item and hour. The past and the week ahead draw their
    clients apart, so one elder may have a finished visit this morning and another item this
    afternoon: a key of elder and day alone made the second a "different order" (409) whenever
    the demo was loaded between the two."""
    return f"{MARK}{client.elder_id}:{client.item.id}:{when:%Y-%m-%dT%H}"


def _book(
    session: Session, people: _People, client: _Client, when: dt.datetime, key: str
) -> tuple[ServiceOrder, Actor] | None:
    """Place the order two days before and have the provider assign it: the order and the
    caregiver who took it, or None when nobody could (the board keeps it waiting)."""
    placed_at = when - dt.timedelta(days=2, hours=when.hour - 10)
    with clock.at(placed_at):
        data = OrderCreate(
            elder_id=client.elder_id, item_id=client.item.id, scheduled_at=when, quantity=1
        )
        order, _ = orders.place_order(session, client.placer, data, key)
    with clock.at(placed_at + dt.timedelta(minutes=40)):
        ranked = assigning.suggest(session, people.staff["provider"], order.id, limit=20)
        eligible = [s for s in ranked if s.excluded is None and s.caregiver_id in people.caregivers]
        if not eligible:
            return order, people.staff["provider"]
        caregiver = eligible[0].caregiver_id
        assigning.assign(session, people.staff["provider"], order.id, caregiver)
    worker = people.caregivers[caregiver]
    with clock.at(placed_at + dt.timedelta(hours=2)):
        orders.accept(session, worker, order.id)
    return order, worker


def _services(
    session: Session, rnd: random.Random, people: _People, start: dt.datetime, now: dt.datetime
) -> int:
    count = 0
    clients = _clients(session, rnd, people)
    day = start.date()
    while day <= now.date():
        for client in clients:
            if day.weekday() != client.weekday:
                continue
            when = dt.datetime.combine(day, dt.time(client.hour), local_zone())
            if when + dt.timedelta(minutes=client.item.duration_min + 30) > now:
                continue  # still to come: the week ahead books it
            booked = _book(session, people, client, when, _key(client, when))
            if booked is None:
                continue
            count += 1
            order, worker = booked
            if worker.role is not Role.CAREGIVER:
                with clock.at(when - dt.timedelta(hours=20)):
                    orders.cancel(session, client.placer, order.id, "无可派护理员，改期")
                continue
            try:
                _deliver(session, rnd, people, client, order, worker, when)
            except DomainError:
                continue  # a refusal is a history too (a late change, a code mistyped)
        day += dt.timedelta(days=1)
    return count


def _deliver(
    session: Session,
    rnd: random.Random,
    people: _People,
    client: _Client,
    order: ServiceOrder,
    worker: Actor,
    when: dt.datetime,
) -> None:
    roll = rnd.random()
    if roll < 0.04:  # the elder was in hospital
        with clock.at(when - dt.timedelta(hours=rnd.randint(3, 30))):
            orders.cancel(session, client.placer, order.id, "老人住院，本次取消")
        return
    arrive = when + dt.timedelta(minutes=rnd.randint(-8, 18))
    lat = (client.lat or 31.18) + rnd.uniform(-0.0003, 0.0003)
    lon = (client.lon or 121.44) + rnd.uniform(-0.0003, 0.0003)
    with clock.at(arrive - dt.timedelta(minutes=25)):
        orders.depart(session, worker, order.id)
    with clock.at(arrive):
        orders.check_in(session, worker, order.id, lat, lon)
    minutes = order.booked_minutes + rnd.randint(-6, 12)
    by_code = roll < 0.75
    with clock.at(arrive + dt.timedelta(minutes=minutes)):
        orders.check_out(
            session, worker, order.id, lat, lon, order.confirm_code if by_code else None
        )
    if by_code:
        return
    later = arrive + dt.timedelta(minutes=minutes, hours=rnd.randint(1, 5))
    confirmer = (
        people.staff["family"]
        if client.elder_id in _family_elders(session, people)
        else client.placer
    )
    with clock.at(later):
        if roll > 0.97:
            orders.dispute(session, confirmer, order.id, "服务时长不足，与约定不符")
        else:
            orders.confirm(session, confirmer, order.id)


_FAMILY: dict[int, set[int]] = {}


def _family_elders(session: Session, people: _People) -> set[int]:
    uid = people.staff["family"].user_id
    if uid not in _FAMILY:
        _FAMILY[uid] = set(
            session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == uid))
        )
    return _FAMILY[uid]


def _week_ahead(session: Session, rnd: random.Random, people: _People, now: dt.datetime) -> int:
    """The coming week booked and accepted: what each caregiver's week looks like."""
    count = 0
    clients = _clients(session, random.Random(rnd.random()), people)
    for offset in range(8):
        day = now.date() + dt.timedelta(days=offset)
        for client in clients:
            when = dt.datetime.combine(day, dt.time(client.hour), local_zone())
            if (
                day.weekday() != client.weekday
                or when + dt.timedelta(minutes=client.item.duration_min + 30) <= now
            ):
                continue
            with clock.at(min(now, when - dt.timedelta(hours=1))):
                order, _ = orders.place_order(
                    session,
                    client.placer,
                    OrderCreate(
                        elder_id=client.elder_id, item_id=client.item.id, scheduled_at=when
                    ),
                    _key(client, when),
                )
                ranked = assigning.suggest(session, people.staff["provider"], order.id, limit=20)
                ok = [
                    s for s in ranked if s.excluded is None and s.caregiver_id in people.caregivers
                ]
                if ok:
                    assigning.assign(
                        session, people.staff["provider"], order.id, ok[0].caregiver_id
                    )
                    if rnd.random() < 0.8:
                        orders.accept(session, people.caregivers[ok[0].caregiver_id], order.id)
            count += 1
    return count


# -- the alarm centre ------------------------------------------------------------------------

# (alert type, device type, severity, weight, outcomes with weights, what the elder said)
_Spec = tuple[AlertType, DeviceType | None, Severity, float, list[tuple[Outcome, float]], str]
_ALARMS: list[_Spec] = [
    (AlertType.SOS, DeviceType.SOS_BUTTON, Severity.CRITICAL, 0.42,
     [(Outcome.FALSE_ALARM, 0.62), (Outcome.REAL_EMERGENCY, 0.16), (Outcome.TEST, 0.08),
      (Outcome.UNREACHABLE_VISITED, 0.14)], "老人说不小心按到了"),
    (AlertType.FALL, DeviceType.FALL_RADAR, Severity.CRITICAL, 0.08,
     [(Outcome.REAL_EMERGENCY, 0.45), (Outcome.FALSE_ALARM, 0.4),
      (Outcome.UNREACHABLE_VISITED, 0.15)], "老人说在卫生间滑了一下"),
    (AlertType.SMOKE, DeviceType.SMOKE_ALARM, Severity.CRITICAL, 0.05,
     [(Outcome.FALSE_ALARM, 0.85), (Outcome.REAL_EMERGENCY, 0.15)], "烧菜油烟，已开窗"),
    (AlertType.INACTIVITY, DeviceType.PIR_MOTION, Severity.WARNING, 0.12,
     [(Outcome.FALSE_ALARM, 0.7), (Outcome.UNREACHABLE_VISITED, 0.25),
      (Outcome.REAL_EMERGENCY, 0.05)], "老人在女儿家，忘了告诉社区"),
    (AlertType.DEVICE_OFFLINE, DeviceType.PIR_MOTION, Severity.WARNING, 0.2,
     [(Outcome.DEVICE_FAULT, 0.6), (Outcome.RECOVERED, 0.4)], "老人把插头拔了"),
    (AlertType.LOW_BATTERY, DeviceType.SOS_BUTTON, Severity.INFO, 0.13,
     [(Outcome.DEVICE_FAULT, 1.0)], "已约社区上门换电池"),
]  # fmt: skip


def _pick(rnd: random.Random, weighted: list[tuple[Outcome, float]]) -> Outcome:
    return rnd.choices([o for o, _ in weighted], weights=[w for _, w in weighted])[0]


def _alarms(
    session: Session, rnd: random.Random, people: _People, start: dt.datetime, now: dt.datetime
) -> int:
    """About six alerts a day in the district, answered by the operator on shift."""
    devices: dict[DeviceType, list[tuple[int, int, str]]] = {}
    for d_id, d_type, elder_id, path in session.execute(
        select(Device.id, Device.device_type, Device.elder_id, Device.region_path).where(
            Device.elder_id.is_not(None)
        )
    ):
        devices.setdefault(DeviceType(d_type), []).append((d_id, int(elder_id or 0), path))
    family = _family_elders(session, people)
    showcase = [(d_id, e, p) for kind in devices.values() for d_id, e, p in kind if e in family]
    params = ParamsCache()
    count, t = 0, start + dt.timedelta(hours=rnd.uniform(0, 4))
    while t < now - dt.timedelta(hours=1):
        spec = rnd.choices(_ALARMS, weights=[s[3] for s in _ALARMS])[0]
        device_type = spec[1]
        pool = devices.get(device_type) if device_type else None
        if pool:
            # the demo family's elder has the first of their kind and the odd one after it
            mine = [d for d in showcase if d[0] in {x[0] for x in pool}]
            device_id, elder_id, path = (
                rnd.choice(mine)
                if mine and (not count or rnd.random() < 0.04)
                else rnd.choice(pool)
            )
            if _answer(session, rnd, people, params, spec, device_id, elder_id, path, t):
                count += 1
        t += dt.timedelta(hours=rnd.expovariate(1 / 4))  # ~6 a day, at any hour
    return count


def _operator(people: _People, at: dt.datetime) -> Actor:
    hour = at.astimezone(local_zone()).hour
    return people.operators[0 if 8 <= hour < 16 else 2 if 16 <= hour < 24 else 1]


def _answer(
    session: Session,
    rnd: random.Random,
    people: _People,
    params: ParamsCache,
    spec: _Spec,
    device_id: int,
    elder_id: int,
    path: str,
    t: dt.datetime,
) -> bool:
    kind, _device_type, severity, _w, outcomes, said = spec
    finding = rules.Finding(
        alert_type=kind,
        severity=severity,
        key=f"{kind.value}:{device_id}:{t.isoformat()}",
        at=t,
        device_id=device_id,
        detail={"demo_history": True},
        episodic=True,
    )
    with clock.at(t):
        created = alerts.apply_findings(session, {elder_id: [finding]}, {elder_id: path}, params, t)
    if not created:
        return False
    alert: Alert = created[0]
    outcome = _pick(rnd, outcomes)
    if outcome is Outcome.RECOVERED:
        with clock.at(t + dt.timedelta(minutes=rnd.randint(5, 50))):
            alerts.resolve_recovered(session, [device_id], clock.now())
        return True
    op = _operator(people, t)
    # answered: most within half a minute, about one in a hundred past the minute
    answer = t + dt.timedelta(seconds=min(600, rnd.lognormvariate(2.9, 0.5)))
    with clock.at(answer):
        console.claim(session, op, alert, AlertClaim(), answer)
    step = answer + dt.timedelta(seconds=rnd.randint(30, 120))
    reached = outcome is not Outcome.UNREACHABLE_VISITED
    with clock.at(step):
        console.log_call(
            session,
            op,
            alert,
            CallCreate(
                callee=Callee.ELDER,
                callee_name="老人本人",
                answered=reached,
                outcome=said if reached else "无人接听",
            ),
            step,
        )
    end = step + dt.timedelta(minutes=rnd.randint(2, 8))
    if outcome in (Outcome.REAL_EMERGENCY, Outcome.UNREACHABLE_VISITED):
        responders = console_repo.responders_for(session, alert)
        if responders:
            with clock.at(step + dt.timedelta(minutes=1)):
                _sent, link = console.dispatch(
                    session,
                    op,
                    alert,
                    DispatchCreate(responder_id=responders[0].id),
                    step + dt.timedelta(minutes=1),
                )
            arrived = step + dt.timedelta(minutes=rnd.randint(9, 25))
            with clock.at(arrived):
                console.confirm_arrival(session, link.rsplit("/", 1)[-1], ArrivalReport(), arrived)
            end = arrived + dt.timedelta(minutes=rnd.randint(10, 40))
    note = {
        Outcome.FALSE_ALARM: "误报：" + said,
        Outcome.REAL_EMERGENCY: "已上门处置：" + said,
        Outcome.UNREACHABLE_VISITED: "电话未接通，社区上门确认",
        Outcome.TEST: "设备测试",
        Outcome.DEVICE_FAULT: said,
    }.get(outcome, said)
    with clock.at(end):
        console.resolve(
            session,
            op,
            alert,
            AlertResolution(outcome=outcome, note=note, confirm_en_route=True),
            end,
        )
    return True


# -- readings for the family's elder ---------------------------------------------------------


def _readings(session: Session, rnd: random.Random, now: dt.datetime, days: int) -> int:
    """A month of blood pressure, heart rate and glucose for the demo family's elder (their
    trend charts), written as the telemetry path stores them."""
    family = session.scalar(select(User.id).where(User.username == "family"))
    elder_ids = list(
        session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == family))
    )
    rows = []
    for elder_id in elder_ids:
        bp = session.scalar(
            select(Device.id).where(
                Device.elder_id == elder_id, Device.device_type == DeviceType.BP_MONITOR.value
            )
        )
        if bp is None:
            continue
        base_sys, base_dia, base_hr = 138.0, 84.0, 74.0
        for d in range(min(days, 30), 0, -1):
            for hour in (7, 19):
                at = (
                    (now - dt.timedelta(days=d))
                    .astimezone(local_zone())
                    .replace(hour=hour, minute=rnd.randint(0, 40))
                )
                sys_ = base_sys + rnd.gauss(0, 7) + (6 if hour == 7 else 0)
                rows += [
                    VitalReading(
                        elder_id=elder_id,
                        device_id=bp,
                        at=at,
                        metric="bp_systolic",
                        value=round(sys_),
                    ),
                    VitalReading(
                        elder_id=elder_id,
                        device_id=bp,
                        at=at,
                        metric="bp_diastolic",
                        value=round(base_dia + rnd.gauss(0, 5)),
                    ),
                    VitalReading(
                        elder_id=elder_id,
                        device_id=bp,
                        at=at,
                        metric="heart_rate",
                        value=round(base_hr + rnd.gauss(0, 6)),
                    ),
                ]
    session.add_all(rows)
    return len(rows)


# -- today's check-ins and an absence ----------------------------------------------------------

_QUIET = [  # (hours quiet, minutes since the task was opened, the call already made)
    (9.5, 20, None),
    (11.0, 75, None),  # overdue: nobody has called yet
    (8.0, 10, CallOutcome.UNREACHABLE),  # called a few minutes ago, no answer
    (10.0, 150, CallOutcome.REACHED_WELL),  # done earlier today
]


def _check_ins(session: Session, rnd: random.Random, people: _People, now: dt.datetime) -> int:
    """The community worker's list this morning: quiet homes to call, one overdue, one called
    without an answer, one done — opened and called through the check-in service."""
    worker = people.staff["community"]
    rows = session.execute(
        select(Elder.id, Elder.region_path)
        .where(Elder.region_path.startswith(worker.region_path or "/-/"))
        .order_by(Elder.household != "alone", Elder.id.desc())  # those living alone first
        .limit(len(_QUIET))
    ).all()
    params = ParamsCache()
    for (elder_id, path), (hours, age, call) in zip(rows, _QUIET, strict=False):
        opened = now - dt.timedelta(minutes=age)
        last = opened - dt.timedelta(hours=hours)
        text = f"夜间起无活动（{hours:g} 小时），比近 28 天同一时段都安静"
        finding = rules.Finding(
            AlertType.INACTIVITY,
            Severity.INFO,
            f"check_in:{last.isoformat()}",
            opened,
            {"reason": text, "hours": hours, "last_activity": last.isoformat()},
            repeat_counts=False,
            episodic=True,
            response=rules.Response.CHECK_IN,
            reason=text,
        )
        with clock.at(opened):
            tasks = checkins.open_tasks(
                session, {elder_id: [finding]}, {elder_id: path}, params, opened
            )
        if call is not None and tasks:
            at = opened + dt.timedelta(minutes=rnd.randint(3, 5))
            with clock.at(at):
                checkins.record_call(
                    session,
                    worker,
                    tasks[0].id,
                    call,
                    "电话无人接听" if call is CallOutcome.UNREACHABLE else "老人在家，刚睡醒",
                    at,
                )
    return len(rows)


def _away(session: Session, people: _People, now: dt.datetime) -> None:
    """The family's elder away at their daughter's until Sunday evening, said by the family."""
    family = people.staff["family"]
    elder_id = next(iter(sorted(_family_elders(session, people))), None)
    if elder_id is None:
        return
    local = now.astimezone(local_zone())
    sunday = local.date() + dt.timedelta(days=(6 - local.weekday()) or 7)
    back = dt.datetime.combine(sunday, dt.time(18), local_zone())
    with clock.at(now - dt.timedelta(hours=3)):
        presence.mark_away(session, family, elder_id, AwayCreate(until=back, note="去女儿家住几天"))

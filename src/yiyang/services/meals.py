"""Meal assistance (助餐): canteens, daily menus, meal orders (pick-up or delivery), and the
per-meal subsidy by category posted to the ledger when the meal is served."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.core.clock import now, today_local
from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.regions.repository import by_code
from yiyang.registry.models import Elder
from yiyang.registry.service import access_elder
from yiyang.services.models import Canteen, MealOrder, Menu
from yiyang.services.permissions import meal_scope
from yiyang.services.providers import access_provider, managed_providers
from yiyang.services.schemas import CanteenCreate, MealOrderCreate, MenuCreate
from yiyang.subsidies import ledger
from yiyang.subsidies.eligibility import period_of
from yiyang.subsidies.enums import EntryKind, PolicyKind
from yiyang.subsidies.models import SubsidyPolicy
from yiyang.subsidies.service import post


def create_canteen(session: Session, actor: Actor, data: CanteenCreate) -> Canteen:
    provider = access_provider(session, actor, data.provider_id)
    region = by_code(session, data.region_code)
    if region is None:
        raise ValidationFailed(
            _("Unknown region code %(code)s.", code=data.region_code), field="region_code"
        )
    canteen = Canteen(
        provider_id=provider.id,
        name=data.name,
        region_path=region.path,
        address=data.address,
        delivers=data.delivers,
    )
    session.add(canteen)
    session.flush()
    return canteen


def list_canteens(session: Session, actor: Actor) -> Sequence[Canteen]:
    """The canteens of the providers the actor manages (a provider admin: its own)."""
    ids = [p.id for p in managed_providers(session, actor)]
    if not ids:
        return []
    return session.scalars(
        select(Canteen)
        .where(Canteen.provider_id.in_(ids))
        .order_by(Canteen.active.desc(), Canteen.name, Canteen.id)
    ).all()


def access_canteen(session: Session, actor: Actor, canteen_id: int) -> Canteen:
    canteen = session.get(Canteen, canteen_id)
    if canteen is None:
        raise NotFound(_("No such canteen."))
    access_provider(session, actor, canteen.provider_id)
    return canteen


def update_canteen(session: Session, actor: Actor, canteen_id: int, data: CanteenCreate) -> Canteen:
    """Rename a canteen, move its address or area, say whether it delivers (its provider stays)."""
    canteen = access_canteen(session, actor, canteen_id)
    region = by_code(session, data.region_code)
    if region is None:
        raise ValidationFailed(
            _("Unknown region code %(code)s.", code=data.region_code), field="region_code"
        )
    canteen.name, canteen.address, canteen.delivers = data.name, data.address, data.delivers
    canteen.region_path = region.path
    session.flush()
    return canteen


MEAL_ORDER = ("breakfast", "lunch", "dinner")


def week_menus(
    session: Session, canteen_id: int, monday: dt.date
) -> dict[tuple[dt.date, str], Menu]:
    """The week's menus of a canteen from ``monday``, by (day, meal)."""
    rows = session.scalars(
        select(Menu).where(
            Menu.canteen_id == canteen_id,
            Menu.day >= monday,
            Menu.day < monday + dt.timedelta(days=7),
        )
    )
    return {(m.day, m.meal): m for m in rows}


def booked(session: Session, menu_ids: Sequence[int]) -> dict[int, int]:
    """Meals ordered (not cancelled) per menu."""
    if not menu_ids:
        return {}
    rows = session.execute(
        select(MealOrder.menu_id, func.count())
        .where(MealOrder.menu_id.in_(list(menu_ids)), MealOrder.state != "cancelled")
        .group_by(MealOrder.menu_id)
    )
    return {menu_id: int(n) for menu_id, n in rows}


def set_day_menu(
    session: Session,
    actor: Actor,
    canteen_id: int,
    day: dt.date,
    meals: Mapping[str, MenuCreate | None],
) -> list[Menu]:
    """Set a day's menu, meal by meal: a meal given is added or changed, a meal left out is
    taken off — refused while meals of it are ordered, as is a capacity below what is ordered
    (the refusal names the meal's field, ``<meal>_dishes`` or ``<meal>_capacity``)."""
    canteen = access_canteen(session, actor, canteen_id)
    if day < today_local():
        raise ValidationFailed(_("The menus of past days cannot be changed."), field="form")
    existing = {
        m.meal: m
        for m in session.scalars(select(Menu).where(Menu.canteen_id == canteen.id, Menu.day == day))
    }
    taken = booked(session, [m.id for m in existing.values()])
    kept: list[Menu] = []
    for meal in MEAL_ORDER:
        data, menu = meals.get(meal), existing.get(meal)
        ordered = taken.get(menu.id, 0) if menu is not None else 0
        if data is None:
            if menu is not None and ordered:
                raise Conflict(
                    _("%(n)s meals are ordered: this meal cannot be taken off.", n=ordered),
                    field=f"{meal}_dishes",
                )
            if menu is not None:
                session.delete(menu)
            continue
        if data.day != day or data.meal != meal:
            raise ValidationFailed(_("This meal belongs to another day."), field=f"{meal}_dishes")
        if data.capacity < ordered:
            raise ValidationFailed(
                _("%(n)s meals are ordered already: the capacity cannot be lower.", n=ordered),
                field=f"{meal}_capacity",
            )
        if menu is None:
            menu = Menu(canteen_id=canteen.id, **data.model_dump())
            session.add(menu)
        else:
            menu.dishes, menu.price_fen, menu.capacity = data.dishes, data.price_fen, data.capacity
        kept.append(menu)
    session.flush()
    return kept


def add_menu(session: Session, actor: Actor, canteen_id: int, data: MenuCreate) -> Menu:
    canteen = session.get(Canteen, canteen_id)
    if canteen is None:
        raise NotFound(_("No such canteen."))
    access_provider(session, actor, canteen.provider_id)
    if session.scalar(
        select(Menu.id).where(
            Menu.canteen_id == canteen_id, Menu.day == data.day, Menu.meal == data.meal
        )
    ):
        raise Conflict(_("This canteen already has that meal on that day."))
    menu = Menu(canteen_id=canteen_id, **data.model_dump())
    session.add(menu)
    session.flush()
    return menu


def menus(session: Session, region_path: str, day: dt.date) -> list[tuple[Menu, Canteen]]:
    rows = session.execute(
        select(Menu, Canteen)
        .join(Canteen, Canteen.id == Menu.canteen_id)
        .where(Menu.day == day, Canteen.active)
        .order_by(Canteen.name, Menu.meal)
    ).all()
    order = {"breakfast": 0, "lunch": 1, "dinner": 2}
    rows = sorted(rows, key=lambda r: (r[1].name, order.get(r[0].meal, 9)))
    return [
        (m, c)
        for m, c in rows
        if region_path.startswith(c.region_path) or c.region_path.startswith(region_path)
    ]


def meal_subsidy(session: Session, elder: Elder, day: dt.date) -> tuple[int | None, int]:
    """The most generous per-meal policy the elder qualifies for that day: (policy id, fen)."""
    best: tuple[int | None, int] = (None, 0)
    for p in session.scalars(
        select(SubsidyPolicy)
        .where(SubsidyPolicy.active, SubsidyPolicy.kind == PolicyKind.PER_MEAL.value)
        .order_by(SubsidyPolicy.id)
    ):
        running = p.starts_on <= day and (p.ends_on is None or day <= p.ends_on)
        if running and _eligible(p, elder) and p.per_meal_fen > best[1]:
            best = (p.id, p.per_meal_fen)
    return best


def _eligible(p: SubsidyPolicy, elder: Elder) -> bool:
    if p.categories and not set(p.categories) & set(elder.category_codes):
        return False
    return p.min_care_level is None or (elder.care_level or 0) >= p.min_care_level


def order_meal(session: Session, actor: Actor, data: MealOrderCreate) -> MealOrder:
    if not actor.can(Perm.PLACE_ORDERS):
        raise Forbidden(_("Your role may not do this."))
    elder = access_elder(session, actor, data.elder_id)
    menu = session.get(Menu, data.menu_id)
    if menu is None:
        raise NotFound(_("No such menu."))
    canteen = session.get(Canteen, menu.canteen_id)
    assert canteen is not None
    if data.mode == "delivery" and not canteen.delivers:
        raise ValidationFailed(_("This canteen does not deliver."), field="mode")
    if session.scalar(
        select(MealOrder.id).where(
            MealOrder.elder_id == elder.id,
            MealOrder.menu_id == menu.id,
            MealOrder.state != "cancelled",
        )
    ):
        raise Conflict(_("This elder already has this meal ordered."), code="duplicate")
    taken = (
        session.scalar(
            select(func.count()).where(MealOrder.menu_id == menu.id, MealOrder.state != "cancelled")
        )
        or 0
    )
    if taken >= menu.capacity:
        raise Conflict(_("This meal is fully booked."), code="full")
    policy_id, subsidy = meal_subsidy(session, elder, menu.day)
    subsidy = min(subsidy, menu.price_fen)
    cancelled = session.scalar(
        select(MealOrder).where(MealOrder.elder_id == elder.id, MealOrder.menu_id == menu.id)
    )
    if cancelled is not None:  # ordering again after a cancellation revives the same row
        meal = cancelled
        meal.state, meal.mode = "ordered", data.mode
    else:
        meal = MealOrder(
            elder_id=elder.id,
            region_path=elder.region_path,
            menu_id=menu.id,
            provider_id=canteen.provider_id,
            mode=data.mode,
            state="ordered",
            price_fen=menu.price_fen,
            placed_by=actor.user_id,
        )
        session.add(meal)
    meal.policy_id, meal.subsidy_fen, meal.self_pay_fen = (
        policy_id,
        subsidy,
        menu.price_fen - subsidy,
    )
    session.flush()
    return meal


def _access_meal(session: Session, actor: Actor, meal_id: int) -> MealOrder:
    meal = session.scalar(select(MealOrder).where(MealOrder.id == meal_id, meal_scope(actor)))
    if meal is None:
        raise NotFound(_("No such meal order."))
    return meal


def serve(session: Session, actor: Actor, meal_id: int) -> MealOrder:
    """The canteen hands over (or delivers) the meal: the subsidy and the self-paid part are
    posted once (the ledger key is the meal order)."""
    if not actor.can(Perm.MANAGE_ORDERS):
        raise Forbidden(_("Your role may not do this."))
    meal = _access_meal(session, actor, meal_id)
    if meal.state != "ordered":
        raise Conflict(_("This meal is %(state)s.", state=meal.state), code="wrong_state")
    meal.state = "served"
    meal.served_at = now()
    menu = session.get(Menu, meal.menu_id)
    assert menu is not None
    payment = ledger.meal_payment(
        elder_id=meal.elder_id,
        provider_id=meal.provider_id,
        price_fen=meal.price_fen,
        policy_id=meal.policy_id,
        subsidy_fen=meal.subsidy_fen,
    )
    post(
        session,
        key=f"meal:{meal.id}",
        kind=EntryKind.MEAL,
        period=period_of(menu.day),
        postings=payment.postings,
        region_paths={meal.elder_id: meal.region_path},
        meal_order_id=meal.id,
        provider_id=meal.provider_id,
        elder_id=meal.elder_id,
    )
    session.flush()
    return meal


def cancel(session: Session, actor: Actor, meal_id: int) -> MealOrder:
    if not (actor.can(Perm.PLACE_ORDERS) or actor.can(Perm.MANAGE_ORDERS)):
        raise Forbidden(_("Your role may not do this."))
    meal = _access_meal(session, actor, meal_id)
    if meal.state != "ordered":
        raise Conflict(_("This meal is %(state)s.", state=meal.state), code="wrong_state")
    meal.state = "cancelled"
    session.flush()
    return meal

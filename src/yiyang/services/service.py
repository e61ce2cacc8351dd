"""Home services: registering providers and caregivers, the catalog, and an order's life from
placing to payment — every change checked here, trailed (``service_order_event``) and audited.

Services flush, never commit; the request (or job) commits once at the edge."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiyang.core import audit, i18n
from yiyang.core.clock import local_zone, now, to_local
from yiyang.core.config import get_settings
from yiyang.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.regions.repository import by_code, within
from yiyang.registry.models import Elder
from yiyang.registry.service import access_elder
from yiyang.services import matching, proof, scoring
from yiyang.services import repository as repo
from yiyang.services.enums import LABELS, Flag, OrderState, next_state
from yiyang.services.models import (
    Caregiver,
    Certificate,
    OrderEvent,
    OrderSeries,
    Provider,
    ServiceItem,
    ServiceOrder,
)
from yiyang.services.permissions import manages_provider
from yiyang.services.schemas import (
    CaregiverCreate,
    CertificateCreate,
    ItemCreate,
    OrderCreate,
    ProviderCreate,
    SeriesCreate,
)
from yiyang.subsidies import service as subsidies

ACCEPT_WINDOW = dt.timedelta(minutes=30)  # a caregiver answers an assignment within this
BOOK_AHEAD = dt.timedelta(days=90)
SERIES_HORIZON_DAYS = 14
PROOF = proof.ProofRules()
# states in which the elder's code can still be used, so reissued
CODE_STATES = frozenset(
    {
        OrderState.PLACED,
        OrderState.ASSIGNED,
        OrderState.ACCEPTED,
        OrderState.ON_THE_WAY,
        OrderState.IN_SERVICE,
        OrderState.COMPLETED,
    }
)


# --- providers, caregivers, catalog ---------------------------------------------------------


def _area_paths(session: Session, codes: Sequence[str], field: str) -> list[str]:
    paths = []
    for code in codes:
        region = by_code(session, code)
        if region is None:
            raise ValidationFailed(_("Unknown region code %(code)s.", code=code), field=field)
        paths.append(region.path)
    return paths


def create_provider(session: Session, actor: Actor, data: ProviderCreate) -> Provider:
    if session.scalar(select(Provider.id).where(Provider.licence_no == data.licence_no)):
        raise Conflict(_("A provider with this licence number is already registered."))
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not within(path, actor):
            raise ValidationFailed(_("A service area is outside your jurisdiction."), field="areas")
    provider = Provider(
        **data.model_dump(exclude={"areas"}),
        areas=areas,
        region_path=actor.region_path,
    )
    session.add(provider)
    session.flush()
    return provider


def access_provider(session: Session, actor: Actor, provider_id: int | None) -> Provider:
    """The provider ``actor`` manages (a provider admin's own when ``provider_id`` is None)."""
    pid = provider_id if provider_id is not None else actor.provider_id
    provider = session.get(Provider, pid) if pid is not None else None
    if provider is None or not manages_provider(actor, provider):
        raise NotFound(_("No such provider."))
    return provider


def set_provider_status(session: Session, actor: Actor, provider_id: int, status: str) -> Provider:
    provider = access_provider(session, actor, provider_id)
    if actor.role is Role.PROVIDER_ADMIN:
        raise Forbidden(_("Your role may not do this."))
    if status not in ("active", "suspended"):
        raise ValidationFailed(_("Unknown status."), field="status")
    provider.status = status
    session.flush()
    return provider


def create_caregiver(session: Session, actor: Actor, data: CaregiverCreate) -> Caregiver:
    provider = access_provider(session, actor, data.provider_id)
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not any(path.startswith(a) for a in provider.areas):
            raise ValidationFailed(
                _("A caregiver's area must lie within the provider's service areas."),
                field="areas",
            )
    if data.work_end <= data.work_start:
        raise ValidationFailed(_("Working hours end before they start."), field="work_end")
    caregiver = Caregiver(
        **data.model_dump(exclude={"provider_id", "areas"}), provider_id=provider.id, areas=areas
    )
    session.add(caregiver)
    session.flush()
    return caregiver


def access_caregiver(session: Session, actor: Actor, caregiver_id: int) -> Caregiver:
    caregiver = session.get(Caregiver, caregiver_id)
    if caregiver is None:
        raise NotFound(_("No such caregiver."))
    access_provider(session, actor, caregiver.provider_id)
    return caregiver


def add_certificate(
    session: Session, actor: Actor, caregiver_id: int, data: CertificateCreate
) -> Certificate:
    caregiver = access_caregiver(session, actor, caregiver_id)
    cert = Certificate(caregiver_id=caregiver.id, **data.model_dump())
    session.add(cert)
    session.flush()
    return cert


def create_item(session: Session, actor: Actor, data: ItemCreate) -> ServiceItem:
    provider = access_provider(session, actor, data.provider_id)
    if session.scalar(
        select(ServiceItem.id).where(
            ServiceItem.provider_id == provider.id, ServiceItem.code == data.code
        )
    ):
        raise Conflict(_("This provider already has an item with code %(code)s.", code=data.code))
    known = subsidies.policies_by_id(session, data.policy_ids)
    unknown = sorted(set(data.policy_ids) - set(known))
    if unknown:
        raise ValidationFailed(
            _("Unknown subsidy policy %(id)s.", id=unknown[0]), field="policy_ids"
        )
    item = ServiceItem(**data.model_dump(exclude={"provider_id"}), provider_id=provider.id)
    session.add(item)
    session.flush()
    return item


# --- orders ---------------------------------------------------------------------------------


def _trail(
    session: Session,
    actor: Actor | None,
    order: ServiceOrder,
    action: str,
    from_state: str | None,
    note: str | None = None,
    **data: Any,
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            at=now(),
            actor_id=actor.user_id if actor else None,
            actor_name=actor.display_name if actor else "system",
            action=action,
            from_state=from_state,
            to_state=order.state,
            note=note,
            data=data,
        )
    )


def _wrong_state(order: ServiceOrder) -> Conflict:
    return Conflict(
        _("This order is %(state)s; that cannot be done now.", state=_(LABELS[order.state])),
        code="wrong_state",
        state=order.state,
    )


def _move(
    session: Session,
    actor: Actor | None,
    order: ServiceOrder,
    action: str,
    note: str | None = None,
    **data: Any,
) -> str:
    """Apply ``action`` through the state machine; a clear 409 when the order is not in a
    state that allows it (confirming a cancelled order, checking in twice…)."""
    target = next_state(order.state, action)
    if target is None:
        raise _wrong_state(order)
    before = order.state
    order.state = target.value
    session.flush()
    _trail(session, actor, order, action, before, note, **data)
    return before


def get_order(session: Session, actor: Actor, order_id: int, *, lock: bool = False) -> ServiceOrder:
    order = repo.get_order(session, actor, order_id, lock=lock)
    if order is None:
        raise NotFound(_("No such order."))
    return order


def local(value: dt.datetime) -> dt.datetime:
    """An aware time in the deployment's zone."""
    return value.astimezone(local_zone())


def _local(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=local_zone()) if value.tzinfo is None else value


def _orderable_item(session: Session, item_id: int, elder: Elder) -> tuple[ServiceItem, Provider]:
    item = session.get(ServiceItem, item_id)
    if item is None or not item.active:
        raise ValidationFailed(_("No such service in the catalog."), field="item_id")
    provider = session.get(Provider, item.provider_id)
    assert provider is not None
    if provider.status != "active":
        raise ValidationFailed(_("This provider is suspended."), field="item_id")
    if not any(elder.region_path.startswith(a) for a in provider.areas):
        raise ValidationFailed(
            _("%(provider)s does not serve the elder's community.", provider=provider.name),
            field="item_id",
        )
    return item, provider


def place_order(
    session: Session,
    actor: Actor,
    data: OrderCreate,
    idempotency_key: str | None = None,
    *,
    series: OrderSeries | None = None,
) -> tuple[ServiceOrder, bool]:
    """Place an order for an elder the actor may read. The same idempotency key from the same
    person returns the first order (a double-submitted form) — or 409 when the key was used for
    a different order. Returns (order, created)."""
    elder = access_elder(session, actor, data.elder_id)
    key = idempotency_key or data.idempotency_key
    if key:
        existing = session.scalar(
            select(ServiceOrder).where(
                ServiceOrder.placed_by == actor.user_id, ServiceOrder.idempotency_key == key
            )
        )
        if existing is not None:
            same = (
                existing.elder_id == data.elder_id
                and existing.item_id == data.item_id
                and existing.quantity == data.quantity
                and existing.scheduled_at == _local(data.scheduled_at)
            )
            if not same:
                raise Conflict(
                    _("This idempotency key was already used for a different order."),
                    code="idempotency_mismatch",
                )
            return existing, False
    item, provider = _orderable_item(session, data.item_id, elder)
    at = _local(data.scheduled_at)
    if series is None and not (now() - dt.timedelta(minutes=5) <= at <= now() + BOOK_AHEAD):
        raise ValidationFailed(_("Book a time from now to 90 days ahead."), field="scheduled_at")
    amount = item.price_fen * data.quantity
    minutes = item.duration_min * data.quantity
    if data.pay_with == "subsidy_only":
        day = local(at).date()
        rights = subsidies.entitlements(session, elder.id, item.policy_ids, day)
        plan = subsidies.ledger.plan_payment(
            elder_id=elder.id,
            provider_id=provider.id,
            amount_fen=amount,
            minutes=minutes,
            entitlements=rights,
        )
        if plan.self_pay_fen:
            raise Conflict(
                _(
                    "The subsidy balance covers %(covered)s yuan of %(amount)s yuan.",
                    covered=subsidies.yuan(plan.subsidy_fen),
                    amount=subsidies.yuan(amount),
                ),
                code="insufficient_balance",
            )
    order = ServiceOrder(
        elder_id=elder.id,
        region_path=elder.region_path,
        provider_id=provider.id,
        item_id=item.id,
        series_id=series.id if series else None,
        state=OrderState.PLACED.value,
        quantity=data.quantity,
        scheduled_at=at,
        booked_minutes=minutes,
        unit_price_fen=item.price_fen,
        amount_fen=amount,
        address=elder.address,
        home_lat=elder.latitude,
        home_lon=elder.longitude,
        note=data.note,
        placed_by=actor.user_id,
        placed_by_name=actor.display_name,
        idempotency_key=key or uuid.uuid4().hex,
        confirm_code=f"{secrets.randbelow(1_000_000):06d}",
        pay_with=data.pay_with,
        flags=[],
    )
    try:
        with session.begin_nested():  # a concurrent twin with the same key loses here
            session.add(order)
            session.flush()
    except IntegrityError:
        twin = session.scalar(
            select(ServiceOrder).where(
                ServiceOrder.placed_by == actor.user_id,
                ServiceOrder.idempotency_key == order.idempotency_key,
            )
        )
        if twin is None:
            raise
        return twin, False
    _trail(session, actor, order, "place", None)
    return order, True


def _job(order: ServiceOrder, item: ServiceItem) -> matching.Job:
    return matching.Job(
        start=local(order.scheduled_at),
        minutes=order.booked_minutes,
        skill=item.required_skill,
        region_path=order.region_path,
        lat=order.home_lat,
        lon=order.home_lon,
    )


def candidates_for(
    session: Session,
    order: ServiceOrder,
    item: ServiceItem,
    *,
    prefilter: bool = True,
    bookings: bool = True,
) -> list[matching.Candidate]:
    """The provider's caregivers as the matcher sees them, with that day's bookings. With
    ``prefilter`` the database first drops those without the skill or the area (the hard
    rules the matcher would apply anyway)."""
    day = local(order.scheduled_at).date()
    if prefilter:
        staff = repo.candidates(
            session, order.provider_id, skill=item.required_skill, region_path=order.region_path
        )
    else:
        staff = repo.candidates(session, order.provider_id)
    ids = [c.id for c in staff]
    certs = repo.certificates(session, ids)
    busy: dict[int, list[Any]] = {}
    load: dict[int, int] = {}
    if bookings:
        end = order.scheduled_at + dt.timedelta(minutes=order.booked_minutes)
        busy, load = repo.bookings(
            session,
            order.provider_id,
            day,
            exclude_order=order.id,
            caregiver_ids=ids,
            before=end + matching.TRAVEL_BUFFER,
        )
    out = []
    for c in staff:
        out.append(
            matching.Candidate(
                id=c.id,
                name=c.name,
                skills=matching.valid_skills(c.skills, certs.get(c.id, {}), day),
                region_paths=tuple(c.areas),
                work_days=frozenset(c.work_days),
                work_start=c.work_start,
                work_end=c.work_end,
                home_lat=c.home_lat,
                home_lon=c.home_lon,
                max_jobs=c.max_jobs_per_day,
                load=load.get(c.id, 0),
                # aware UTC times compare correctly with the local job start
                bookings=tuple(
                    matching.Booking(s, s + dt.timedelta(minutes=m), la, lo)
                    for s, m, la, lo in busy.get(c.id, [])
                ),
            )
        )
    return out


def suggest(
    session: Session, actor: Actor, order_id: int, limit: int = 10
) -> list[matching.Suggestion]:
    order = get_order(session, actor, order_id)
    item = session.get(ServiceItem, order.item_id)
    assert item is not None
    job = _job(order, item)
    ranked = matching.rank(job, candidates_for(session, order, item), limit=limit)
    if not ranked:
        # nobody has the skill and the area: say so over all the provider's staff (their
        # bookings cannot change that reason, so they are not read)
        everyone = candidates_for(session, order, item, prefilter=False, bookings=False)
        ranked = matching.rank(job, everyone, limit=limit)
    return ranked


EXCLUSIONS = {
    "skill": N_("lacks the skill or a valid certificate"),
    "area": N_("does not serve this area"),
    "day_off": N_("is off that day"),
    "hours": N_("is outside working hours"),
    "full": N_("has a full day"),
    "clash": N_("has another job at that time"),
}
HARD = {"skill", "area"}  # an assignment the rules exclude for these reasons is refused


def assign(
    session: Session, actor: Actor, order_id: int, caregiver_id: int, note: str | None = None
) -> ServiceOrder:
    order = get_order(session, actor, order_id, lock=True)
    caregiver = session.get(Caregiver, caregiver_id)
    if caregiver is None or caregiver.provider_id != order.provider_id or not caregiver.active:
        raise ValidationFailed(
            _("This caregiver does not work for the order's provider."), field="caregiver_id"
        )
    item = session.get(ServiceItem, order.item_id)
    assert item is not None
    ranked = matching.rank(
        _job(order, item),
        [c for c in candidates_for(session, order, item, prefilter=False) if c.id == caregiver_id],
        limit=1,
    )
    why = ranked[0].excluded if ranked else "skill"
    if why in HARD:
        raise ValidationFailed(
            _("This caregiver cannot take the job: %(why)s.", why=_(EXCLUSIONS[why])),
            field="caregiver_id",
        )
    if why and not note:
        raise ValidationFailed(
            _("%(why)s — give a note to assign anyway.", why=_(EXCLUSIONS[why])), field="note"
        )
    before_caregiver = order.caregiver_id
    order.caregiver_id = caregiver.id
    at = now()
    order.assigned_at = at
    order.accept_due_at = min(
        at + ACCEPT_WINDOW, max(at + dt.timedelta(minutes=5), order.scheduled_at)
    )
    order.escalated_at = None
    order.accepted_at = None
    _move(
        session,
        actor,
        order,
        "assign",
        note,
        caregiver_id=caregiver.id,
        previous=before_caregiver,
        override=why,
    )
    return order


def _own_job(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    order = get_order(session, actor, order_id, lock=True)
    me = repo.caregiver_for_user(session, actor.user_id)
    if me is None or order.caregiver_id != me.id:
        raise Forbidden(_("This job is not assigned to you."))
    return order


def accept(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    order = _own_job(session, actor, order_id)
    _move(session, actor, order, "accept")
    order.accepted_at = now()
    return order


def decline(session: Session, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    order = _own_job(session, actor, order_id)
    caregiver = order.caregiver_id
    _move(session, actor, order, "decline", reason, caregiver_id=caregiver)
    order.caregiver_id = None
    order.accept_due_at = None
    _notify_provider(session, order, "declined", reason)
    return order


def depart(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    order = _own_job(session, actor, order_id)
    _move(session, actor, order, "depart")
    return order


def check_in(
    session: Session, actor: Actor, order_id: int, lat: float | None, lon: float | None
) -> ServiceOrder:
    order = _own_job(session, actor, order_id)
    if order.checkin_at is not None:
        local = to_local(order.checkin_at)
        raise Conflict(
            _("Already checked in at %(time)s.", time=f"{local:%H:%M}"), code="already_checked_in"
        )
    at = now()
    metres = proof.distance_from_home(order.home_lat, order.home_lon, lat, lon)
    flags = proof.check_in_flags(order.scheduled_at, at, metres, PROOF)
    order.checkin_at, order.checkin_lat, order.checkin_lon = at, lat, lon
    order.checkin_distance_m = metres
    order.flags = sorted(set(order.flags) | {f.value for f in flags})
    _move(session, actor, order, "check_in", None, metres=metres, flags=[f.value for f in flags])
    return order


class AttemptRefused(DomainError):
    """A refused attempt at the elder's code, answered like ``refusal``. What the attempt wrote
    (its audit row, the failure count, the lock and the provider's notice) must stand although
    the request fails: the edge commits it (``services.endpoints.keeping_attempts``, the
    pages' ``_act``) — a rollback would give a guesser unlimited, unrecorded tries."""

    def __init__(self, refusal: DomainError) -> None:
        super().__init__(refusal.message, field=refusal.field, **refusal.extra)
        self.status_code = refusal.status_code
        self.code = refusal.code


def _code_locked() -> Conflict:
    return Conflict(
        _(
            "The elder's code is locked after %(n)d wrong tries. Check out without it (the elder "
            "or family then confirms on their page), or ask your provider admin or the elder "
            "for a new code.",
            n=proof.CODE_MAX_FAILURES,
        ),
        code="code_locked",
    )


def _try_code(
    session: Session,
    actor: Actor,
    order: ServiceOrder,
    code: str,
    step: str,
    not_now: DomainError | None,
) -> None:
    """One attempt at the elder's code on a locked order row, for ``step`` (check_out or
    confirm). Returns when the code is right; otherwise raises ``AttemptRefused``. Every
    attempt is audited; before the step is possible (``not_now``) the code is not compared
    and the answer is the one a request without a code gets."""
    outcome = proof.judge_code(
        code,
        order.confirm_code,
        usable=not_now is None,
        locked=order.code_locked_at is not None,
        failures=order.code_failures,
    )
    if outcome in (proof.CodeOutcome.WRONG, proof.CodeOutcome.LOCKING):
        order.code_failures += 1
        if outcome is proof.CodeOutcome.LOCKING:
            order.code_locked_at = now()
        session.flush()
    audit.record(
        session,
        "confirm_code_attempt",
        "service_order",
        str(order.id),
        elder_id=order.elder_id,
        region_path=order.region_path,
        summary=f"{step}: {outcome.value}",
        after={
            "step": step,
            "outcome": outcome.value,
            "state": order.state,
            "failures": order.code_failures,
        },
    )
    if outcome is proof.CodeOutcome.RIGHT:
        return
    if outcome is proof.CodeOutcome.LOCKING:
        _trail(session, actor, order, "code_locked", order.state, failures=order.code_failures)
        audit.record(
            session,
            "confirm_code_locked",
            "service_order",
            str(order.id),
            elder_id=order.elder_id,
            region_path=order.region_path,
            summary=f"{order.code_failures} wrong codes",
        )
        _notify_provider(session, order, "code_locked")
    session.flush()
    if outcome is proof.CodeOutcome.NOT_NOW:
        assert not_now is not None
        raise AttemptRefused(not_now)
    if outcome in (proof.CodeOutcome.LOCKED, proof.CodeOutcome.LOCKING):
        raise AttemptRefused(_code_locked())
    left = proof.CODE_MAX_FAILURES - order.code_failures
    raise AttemptRefused(
        ValidationFailed(
            _("The elder's code does not match (%(left)d tries left).", left=left),
            field="code",
            tries_left=left,
        )
    )


def reissue_code(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    """A new code for the order, unlocked: the provider admin (for their own orders) or the
    elder's side. Nobody but the elder's side sees the new code; audited and trailed."""
    if not (actor.can(Perm.MANAGE_ORDERS) or _elder_side(actor)):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    if order.state not in CODE_STATES:
        raise _wrong_state(order)
    was_locked = order.code_locked_at is not None
    fresh = order.confirm_code
    while fresh == order.confirm_code:
        fresh = f"{secrets.randbelow(1_000_000):06d}"
    order.confirm_code, order.code_failures, order.code_locked_at = fresh, 0, None
    session.flush()
    _trail(session, actor, order, "reissue_code", order.state, was_locked=was_locked)
    audit.record(
        session,
        "confirm_code_reissued",
        "service_order",
        str(order.id),
        elder_id=order.elder_id,
        region_path=order.region_path,
        summary="unlocked" if was_locked else "reissued",
    )
    return order


def check_out(
    session: Session,
    actor: Actor,
    order_id: int,
    lat: float | None,
    lon: float | None,
    code: str | None = None,
    signature: str | None = None,
) -> ServiceOrder:
    """Check out; with the elder's code (or signature) the order is confirmed and paid at once.
    A wrong code refuses the check-out (the caregiver may try again, up to the lock); without
    a code the order waits for the elder's side to confirm."""
    order = _own_job(session, actor, order_id)
    refusal: DomainError | None = None
    if order.checkout_at is not None:
        refusal = Conflict(_("Already checked out."), code="already_checked_out")
    elif next_state(order.state, "check_out") is None:
        refusal = _wrong_state(order)
    if code is not None:
        _try_code(session, actor, order, code, "check_out", refusal)
    elif refusal is not None:
        raise refusal
    at = now()
    metres = proof.distance_from_home(order.home_lat, order.home_lon, lat, lon)
    assert order.checkin_at is not None or order.state != OrderState.IN_SERVICE
    flags = proof.check_out_flags(order.checkin_at or at, at, order.booked_minutes, metres, PROOF)
    order.checkout_at, order.checkout_lat, order.checkout_lon = at, lat, lon
    order.checkout_distance_m = metres
    order.flags = sorted(
        (set(order.flags) - {Flag.MISSING_CHECKOUT.value}) | {f.value for f in flags}
    )
    _move(session, actor, order, "check_out", None, metres=metres, flags=[f.value for f in flags])
    if code is not None or signature:
        order.signature = signature
        _confirm(session, actor, order, "code" if code is not None else "signature")
    return order


def _elder_side(actor: Actor) -> bool:
    return actor.can(Perm.PLACE_ORDERS)


def confirm(session: Session, actor: Actor, order_id: int, code: str | None = None) -> ServiceOrder:
    """The elder's side confirms the service: the elder or family (signed in), staff on their
    behalf, or the caregiver with the elder's code."""
    if actor.role is Role.CAREGIVER:
        order = _own_job(session, actor, order_id)
        usable = next_state(order.state, "confirm") is not None
        if code is None:
            if not usable:
                raise _wrong_state(order)
            raise ValidationFailed(_("Enter the elder's code."), field="code")
        _try_code(session, actor, order, code, "confirm", None if usable else _wrong_state(order))
        via = "code"
    elif _elder_side(actor):
        order = get_order(session, actor, order_id, lock=True)
        via = "elder" if actor.role in (Role.ELDER, Role.FAMILY) else "staff"
    else:
        raise Forbidden(_("Your role may not do this."))
    _confirm(session, actor, order, via)
    return order


def _confirm(session: Session, actor: Actor, order: ServiceOrder, via: str) -> None:
    _move(session, actor, order, "confirm", None, via=via)
    order.confirmed_at = now()
    order.confirmed_via = via
    _pay(session, order)


def _pay(session: Session, order: ServiceOrder) -> None:
    item = session.get(ServiceItem, order.item_id)
    assert item is not None
    order.pay_round += 1
    _posted, plan = subsidies.pay_order(
        session,
        order_id=order.id,
        elder_id=order.elder_id,
        region_path=order.region_path,
        provider_id=order.provider_id,
        amount_fen=order.amount_fen,
        minutes=order.booked_minutes if item.unit == "hour" else 0,
        policy_ids=item.policy_ids,
        subsidy_only=order.pay_with == "subsidy_only",
        at=order.confirmed_at or now(),
        round_=order.pay_round,
    )
    order.subsidy_fen, order.self_pay_fen = plan.subsidy_fen, plan.self_pay_fen
    session.flush()


def dispute(session: Session, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    """The elder's side disputes a completed or confirmed service; a payment already made is
    reversed by a counter-entry."""
    if not _elder_side(actor):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    was = _move(session, actor, order, "dispute", reason)
    order.dispute_reason = reason
    if was == OrderState.CONFIRMED and order.pay_round:
        subsidies.reverse_order(session, order.id, order.pay_round, now())
        order.subsidy_fen = order.self_pay_fen = 0
    _notify_provider(session, order, "disputed", reason)
    return order


def resolve_dispute(
    session: Session, actor: Actor, order_id: int, upheld: bool, note: str
) -> ServiceOrder:
    if not actor.can(Perm.HANDLE_COMPLAINTS):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    if upheld:
        _move(session, actor, order, "uphold_dispute", note)
        order.cancel_reason = note
    else:
        _move(session, actor, order, "reject_dispute", note)
        order.confirmed_at = now()
        _pay(session, order)
    return order


def cancel(session: Session, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    if not (actor.can(Perm.PLACE_ORDERS) or actor.can(Perm.MANAGE_ORDERS)):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    _move(session, actor, order, "cancel", reason)
    order.cancel_reason = reason
    if order.caregiver_id is not None:
        order.accept_due_at = None
    return order


# --- timers (run by the leader's loop and ``yiyang services tick``) --------------------------


def _notify_provider(session: Session, order: ServiceOrder, what: str, detail: str = "") -> None:
    from yiyang.notifications.service import enqueue_message

    provider = session.get(Provider, order.provider_id)
    if provider is None:
        return
    local = to_local(order.scheduled_at)
    when = f"{local:%m-%d %H:%M}"
    token = i18n.set_locale(get_settings().default_locale)
    try:  # Chinese message templates: the deployment's default locale
        subject = _("[Yiyang] Order %(id)s needs you", id=order.id)
        body = {
            "unaccepted": _(
                "Order %(id)s (%(when)s) was not accepted within 30 minutes of assignment. "
                "Please reassign it.",
                id=order.id,
                when=when,
            ),
            "declined": _(
                "The caregiver declined order %(id)s (%(when)s): %(detail)s. Please reassign it.",
                id=order.id,
                when=when,
                detail=detail,
            ),
            "disputed": _(
                "The elder's side disputes order %(id)s: %(detail)s.", id=order.id, detail=detail
            ),
            "code_locked": _(
                "The elder's code for order %(id)s (%(when)s) was entered wrongly %(n)d times "
                "and is locked. Check with the caregiver and the elder; issue a new code on the "
                "order's page if the service was done.",
                id=order.id,
                when=when,
                n=proof.CODE_MAX_FAILURES,
            ),
        }[what]
    finally:
        i18n.reset_locale(token)
    channels = [("sms", provider.contact_phone)]
    if provider.contact_email:
        channels.append(("email", provider.contact_email))
    for channel, address in channels:
        enqueue_message(
            session,
            dedupe_key=f"order:{order.id}:{what}:{order.version}:{channel}",
            channel=channel,
            recipient=address,
            label=provider.contact_name,
            subject=subject,
            body=body,
            payload={"order_id": order.id, "event": what},
            elder_id=order.elder_id,
        )


def escalate_unaccepted(session: Session, at: dt.datetime) -> int:
    """Assignments nobody accepted in time go to the provider admin (SMS/e-mail through the
    outbox, and the board's red column)."""
    due = session.scalars(
        select(ServiceOrder)
        .where(
            ServiceOrder.state == OrderState.ASSIGNED.value,
            ServiceOrder.escalated_at.is_(None),
            ServiceOrder.accept_due_at <= at,
        )
        .order_by(ServiceOrder.accept_due_at)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for order in due:
        order.escalated_at = at
        session.flush()
        _trail(session, None, order, "escalate", order.state, "unaccepted")
        _notify_provider(session, order, "unaccepted")
    return len(due)


def flag_missing_checkouts(session: Session, at: dt.datetime) -> int:
    rows = session.scalars(
        select(ServiceOrder)
        .where(
            ServiceOrder.state == OrderState.IN_SERVICE.value,
            ServiceOrder.checkin_at <= at - PROOF.missing_checkout_after,
        )
        .limit(1000)
    ).all()
    n = 0
    for order in rows:
        if Flag.MISSING_CHECKOUT.value in order.flags or order.checkin_at is None:
            continue
        if proof.checkout_overdue(order.checkin_at, order.booked_minutes, at, PROOF):
            order.flags = sorted({*order.flags, Flag.MISSING_CHECKOUT.value})
            n += 1
    session.flush()
    return n


# --- recurring orders -----------------------------------------------------------------------


def create_series(session: Session, actor: Actor, data: SeriesCreate) -> tuple[OrderSeries, int]:
    elder = access_elder(session, actor, data.elder_id)
    _orderable_item(session, data.item_id, elder)
    if data.ends_on and data.ends_on < data.starts_on:
        raise ValidationFailed(_("The series ends before it starts."), field="ends_on")
    series = OrderSeries(
        **data.model_dump(), region_path=elder.region_path, placed_by=actor.user_id
    )
    session.add(series)
    session.flush()
    return series, materialize(session, actor, series, now())


def materialize(session: Session, actor: Actor, series: OrderSeries, at: dt.datetime) -> int:
    """Create the series' orders for the next fortnight; each day's order once (its
    idempotency key is the series and the date), so a re-run adds only what is missing."""
    today = local(at).date()
    made = 0
    for offset in range(SERIES_HORIZON_DAYS):
        day = today + dt.timedelta(days=offset)
        if day < series.starts_on or (series.ends_on and day > series.ends_on):
            continue
        if day.weekday() not in series.weekdays:
            continue
        start = dt.datetime.combine(day, series.time_of_day, tzinfo=local_zone())
        if start < at:
            continue
        data = OrderCreate(
            elder_id=series.elder_id,
            item_id=series.item_id,
            scheduled_at=start,
            quantity=series.quantity,
        )
        _order, created = place_order(
            session, actor, data, f"series:{series.id}:{day.isoformat()}", series=series
        )
        made += created
    return made


# --- ratings --------------------------------------------------------------------------------


def rate(session: Session, actor: Actor, order_id: int, stars: int, comment: str | None) -> Any:
    from yiyang.services.models import Rating

    if not _elder_side(actor):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id)
    if order.state != OrderState.CONFIRMED:
        raise Conflict(_("Only a confirmed service can be rated."), code="wrong_state")
    if session.scalar(select(Rating.id).where(Rating.order_id == order.id)):
        raise Conflict(_("This order has already been rated."), code="already_rated")
    rating = Rating(
        order_id=order.id,
        elder_id=order.elder_id,
        region_path=order.region_path,
        provider_id=order.provider_id,
        caregiver_id=order.caregiver_id,
        stars=stars,
        comment=comment,
        by_user=actor.user_id,
        by_name=actor.display_name,
    )
    session.add(rating)
    session.flush()
    return rating


def scores(session: Session, kind: str, subject_ids: Sequence[int]) -> dict[int, scoring.Score]:
    """Bayesian scores of providers or caregivers (two queries however many there are)."""
    from yiyang.services.models import Rating

    column = Rating.provider_id if kind == "provider" else Rating.caregiver_id
    totals = repo.rating_totals(session, column, subject_ids)
    prior = repo.platform_mean(session)
    return {i: scoring.bayesian(*totals.get(i, (0, 0)), prior) for i in subject_ids}


def score(session: Session, kind: str, subject_id: int) -> scoring.Score:
    return scores(session, kind, [subject_id])[subject_id]


def tick(session: Session, at: dt.datetime, *, series: bool = False) -> dict[str, int]:
    """The services' timers: escalate unaccepted assignments, flag missing check-outs and (when
    ``series``, hourly) keep recurring orders a fortnight ahead, each as the person who set
    the series up (their scope still applies; a deactivated user's series pauses)."""
    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for

    out = {
        "escalated": escalate_unaccepted(session, at),
        "missing_checkouts": flag_missing_checkouts(session, at),
        "series_orders": 0,
    }
    if series:
        for s in session.scalars(select(OrderSeries).where(OrderSeries.active)).all():
            user = session.get(User, s.placed_by) if s.placed_by else None
            if user is None or not user.active:
                continue
            try:
                with session.begin_nested():
                    out["series_orders"] += materialize(session, actor_for(user), s, at)
            except (ValidationFailed, NotFound, Conflict):  # the elder moved, the item retired…
                continue
    return out

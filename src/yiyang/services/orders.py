"""An order's life from placing to payment: placing (idempotent), the caregiver's steps
(accept, decline, on the way, check in and out), the elder's code (judged, audited, locked
after five wrong tries), confirmation and payment, disputes and cancelling — every change
checked against the state machine (``services/enums.py``), trailed (``service_order_event``)
and audited. Dispatch is in ``services/dispatch.py``.

Services flush, never commit; the request (or job) commits once at the edge."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.clock import local_zone, now, to_local
from yiyang.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.registry.models import Elder
from yiyang.registry.service import access_elder
from yiyang.services import proof
from yiyang.services import repository as repo
from yiyang.services.enums import LABELS, Flag, OrderState, next_state
from yiyang.services.models import OrderEvent, OrderSeries, Provider, ServiceItem, ServiceOrder
from yiyang.services.notices import notify_provider
from yiyang.services.schemas import OrderCreate
from yiyang.subsidies import service as subsidies

BOOK_AHEAD = dt.timedelta(days=90)
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


def trail(
    session: Session,
    actor: Actor | None,
    order: ServiceOrder,
    action: str,
    from_state: str | None,
    note: str | None = None,
    **data: Any,
) -> None:
    """Append a line to the order's own trail (``service_order_event``), after its state
    changed (``to_state`` is the state now)."""
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


def wrong_state(order: ServiceOrder) -> Conflict:
    """The 409 for an action the order's state does not allow."""
    return Conflict(
        _("This order is %(state)s; that cannot be done now.", state=_(LABELS[order.state])),
        code="wrong_state",
        state=order.state,
    )


def move(
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
        raise wrong_state(order)
    before = order.state
    order.state = target.value
    session.flush()
    trail(session, actor, order, action, before, note, **data)
    return before


def get_order(session: Session, actor: Actor, order_id: int, *, lock: bool = False) -> ServiceOrder:
    order = repo.get_order(session, actor, order_id, lock=lock)
    if order is None:
        raise NotFound(_("No such order."))
    return order


def _local(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=local_zone()) if value.tzinfo is None else value


def orderable_item(session: Session, item_id: int, elder: Elder) -> tuple[ServiceItem, Provider]:
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


@dataclass(frozen=True)
class Quote:
    """What an order would cost and who pays what, as the ledger pays it (``plan_order``) on
    the elder's balances now; ``balances`` are those balances (policy name, unit, amount)."""

    amount_fen: int
    subsidy_fen: int
    self_pay_fen: int
    minutes_used: int
    balances: list[tuple[str, str, int]]


def payment_minutes(item: ServiceItem, quantity: int) -> int:
    """The service time an hours policy may pay for: hourly items only (as ``_pay``)."""
    return item.duration_min * quantity if item.unit == "hour" else 0


def _quote(
    session: Session,
    elder: Elder,
    item: ServiceItem,
    provider: Provider,
    quantity: int,
    at: dt.datetime,
) -> Quote:
    day = to_local(_local(at)).date()
    plan = subsidies.plan_order(
        session,
        elder_id=elder.id,
        provider_id=provider.id,
        amount_fen=item.price_fen * quantity,
        minutes=payment_minutes(item, quantity),
        policy_ids=item.policy_ids,
        on=day,
    )
    names = subsidies.policies_by_id(session, item.policy_ids)
    rights = subsidies.entitlements(session, elder.id, item.policy_ids, day)
    return Quote(
        amount_fen=item.price_fen * quantity,
        subsidy_fen=plan.subsidy_fen,
        self_pay_fen=plan.self_pay_fen,
        minutes_used=plan.minutes_used,
        balances=[
            (names[e.policy_id].name, subsidies.ledger.unit_of(e.kind), e.balance)
            for e in sorted(rights, key=lambda e: (e.priority, e.policy_id))
        ],
    )


def check_booking_time(at: dt.datetime) -> None:
    if not (now() - dt.timedelta(minutes=5) <= _local(at) <= now() + BOOK_AHEAD):
        raise ValidationFailed(_("Book a time from now to 90 days ahead."), field="scheduled_at")


def quote(session: Session, actor: Actor, data: OrderCreate) -> Quote:
    """The price, the subsidy's share and the elder's own share of an order before it is
    placed, for an elder the actor may read (the confirmation step of the forms)."""
    elder = access_elder(session, actor, data.elder_id)
    item, provider = orderable_item(session, data.item_id, elder)
    check_booking_time(data.scheduled_at)
    return _quote(session, elder, item, provider, data.quantity, data.scheduled_at)


def price_changed(fresh: Quote) -> Conflict:
    return Conflict(
        _(
            "The price or the subsidy changed: the service now costs %(amount)s yuan, the "
            "subsidy pays %(subsidy)s yuan and the elder pays %(self_pay)s yuan. Please confirm "
            "again.",
            amount=subsidies.yuan(fresh.amount_fen),
            subsidy=subsidies.yuan(fresh.subsidy_fen),
            self_pay=subsidies.yuan(fresh.self_pay_fen),
        ),
        code="price_changed",
        amount_fen=fresh.amount_fen,
        subsidy_fen=fresh.subsidy_fen,
        self_pay_fen=fresh.self_pay_fen,
    )


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
    item, provider = orderable_item(session, data.item_id, elder)
    at = _local(data.scheduled_at)
    if series is None:
        check_booking_time(at)
    amount = item.price_fen * data.quantity
    minutes = item.duration_min * data.quantity
    expected = (data.expected_self_pay_fen, data.expected_amount_fen)
    if data.pay_with == "subsidy_only" or expected != (None, None):
        plan = _quote(session, elder, item, provider, data.quantity, at)
        if data.expected_self_pay_fen not in (None, plan.self_pay_fen) or (
            data.expected_amount_fen not in (None, plan.amount_fen)
        ):
            raise price_changed(plan)
        if data.pay_with == "subsidy_only" and plan.self_pay_fen:
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
    trail(session, actor, order, "place", None)
    return order, True


def own_job(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    """The order, locked, when it is assigned to the caregiver ``actor``; 403 otherwise."""
    order = get_order(session, actor, order_id, lock=True)
    me = repo.caregiver_for_user(session, actor.user_id)
    if me is None or order.caregiver_id != me.id:
        raise Forbidden(_("This job is not assigned to you."))
    return order


def accept(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    order = own_job(session, actor, order_id)
    move(session, actor, order, "accept")
    order.accepted_at = now()
    return order


def decline(session: Session, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    order = own_job(session, actor, order_id)
    caregiver = order.caregiver_id
    move(session, actor, order, "decline", reason, caregiver_id=caregiver)
    order.caregiver_id = None
    order.accept_due_at = None
    notify_provider(session, order, "declined", reason)
    return order


def depart(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    order = own_job(session, actor, order_id)
    move(session, actor, order, "depart")
    return order


def check_in(
    session: Session, actor: Actor, order_id: int, lat: float | None, lon: float | None
) -> ServiceOrder:
    order = own_job(session, actor, order_id)
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
    move(session, actor, order, "check_in", None, metres=metres, flags=[f.value for f in flags])
    return order


class AttemptRefused(DomainError):
    """A refused attempt at the elder's code, answered like ``refusal``. What the attempt wrote
    (its audit row, the failure count, the lock and the provider's notice) must stand although
    the request fails: the edge commits it (``keeps_writes``, honoured by
    ``services.endpoints.keeping_attempts`` and the pages' ``web.actions.run_action``) — a
    rollback would give a guesser unlimited, unrecorded tries."""

    keeps_writes = True

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
        trail(session, actor, order, "code_locked", order.state, failures=order.code_failures)
        audit.record(
            session,
            "confirm_code_locked",
            "service_order",
            str(order.id),
            elder_id=order.elder_id,
            region_path=order.region_path,
            summary=f"{order.code_failures} wrong codes",
        )
        notify_provider(session, order, "code_locked")
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
    if not (actor.can(Perm.MANAGE_ORDERS) or elder_side(actor)):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    if order.state not in CODE_STATES:
        raise wrong_state(order)
    was_locked = order.code_locked_at is not None
    fresh = order.confirm_code
    while fresh == order.confirm_code:
        fresh = f"{secrets.randbelow(1_000_000):06d}"
    order.confirm_code, order.code_failures, order.code_locked_at = fresh, 0, None
    session.flush()
    trail(session, actor, order, "reissue_code", order.state, was_locked=was_locked)
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
    order = own_job(session, actor, order_id)
    refusal: DomainError | None = None
    if order.checkout_at is not None:
        refusal = Conflict(_("Already checked out."), code="already_checked_out")
    elif next_state(order.state, "check_out") is None:
        refusal = wrong_state(order)
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
    move(session, actor, order, "check_out", None, metres=metres, flags=[f.value for f in flags])
    if code is not None or signature:
        order.signature = signature
        _confirm(session, actor, order, "code" if code is not None else "signature")
    return order


def elder_side(actor: Actor) -> bool:
    """The elder, their family or staff acting for them (who may confirm, dispute, rate)."""
    return actor.can(Perm.PLACE_ORDERS)


def confirm(session: Session, actor: Actor, order_id: int, code: str | None = None) -> ServiceOrder:
    """The elder's side confirms the service: the elder or family (signed in), staff on their
    behalf, or the caregiver with the elder's code."""
    if actor.role is Role.CAREGIVER:
        order = own_job(session, actor, order_id)
        usable = next_state(order.state, "confirm") is not None
        if code is None:
            if not usable:
                raise wrong_state(order)
            raise ValidationFailed(_("Enter the elder's code."), field="code")
        _try_code(session, actor, order, code, "confirm", None if usable else wrong_state(order))
        via = "code"
    elif elder_side(actor):
        order = get_order(session, actor, order_id, lock=True)
        via = "elder" if actor.role in (Role.ELDER, Role.FAMILY) else "staff"
    else:
        raise Forbidden(_("Your role may not do this."))
    _confirm(session, actor, order, via)
    return order


def _confirm(session: Session, actor: Actor, order: ServiceOrder, via: str) -> None:
    move(session, actor, order, "confirm", None, via=via)
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
    if not elder_side(actor):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    was = move(session, actor, order, "dispute", reason)
    order.dispute_reason = reason
    if was == OrderState.CONFIRMED and order.pay_round:
        subsidies.reverse_order(session, order.id, order.pay_round, now())
        order.subsidy_fen = order.self_pay_fen = 0
    notify_provider(session, order, "disputed", reason)
    return order


def resolve_dispute(
    session: Session, actor: Actor, order_id: int, upheld: bool, note: str
) -> ServiceOrder:
    if not actor.can(Perm.HANDLE_COMPLAINTS):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    if upheld:
        move(session, actor, order, "uphold_dispute", note)
        order.cancel_reason = note
    else:
        move(session, actor, order, "reject_dispute", note)
        order.confirmed_at = now()
        _pay(session, order)
    return order


def cancel(session: Session, actor: Actor, order_id: int, reason: str) -> ServiceOrder:
    if not (actor.can(Perm.PLACE_ORDERS) or actor.can(Perm.MANAGE_ORDERS)):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, order_id, lock=True)
    move(session, actor, order, "cancel", reason)
    order.cancel_reason = reason
    if order.caregiver_id is not None:
        order.accept_due_at = None
    return order

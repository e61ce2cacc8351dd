"""Home-service JSON API: providers, caregivers, catalog, orders (place, dispatch, deliver,
confirm, dispute, cancel), ratings, complaints, meals, and the month's settlement with the
providers (statements, XLSX). Thin: the rules live in the services."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.auth import current_actor, require
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, NotFound
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Text
from yiyang.registry.repository import shared_ids
from yiyang.services import (
    complaints,
    dispatch,
    meals,
    orders,
    providers,
    ratings,
    series,
    settlement,
)
from yiyang.services import repository as repo
from yiyang.services.models import Caregiver, Provider, ServiceItem
from yiyang.services.permissions import caregiver_scope, provider_scope
from yiyang.services.schemas import (
    CanteenCreate,
    CanteenRead,
    CaregiverCreate,
    CaregiverListItem,
    CaregiverRead,
    CertificateCreate,
    CertificateRead,
    ComplaintCreate,
    ComplaintListItem,
    ComplaintRead,
    InvestigationNote,
    ItemCreate,
    ItemRead,
    MealOrderCreate,
    MealOrderRead,
    MenuCreate,
    MenuRead,
    OrderAssignment,
    OrderCheckIn,
    OrderCheckOut,
    OrderConfirmation,
    OrderCreate,
    OrderDetail,
    OrderListItem,
    OrderQuote,
    OrderRead,
    OrderTrailEntry,
    PolicyBalance,
    ProviderCreate,
    ProviderListItem,
    ProviderRead,
    RatingCreate,
    RatingRead,
    ScoreRead,
    SeriesCreate,
    SeriesCreated,
    StepReason,
    SuggestionRead,
)
from yiyang.subsidies.schemas import MONTH_PATTERN, SettlementRun, StatementRead
from yiyang.web.security import content_disposition

router = APIRouter(prefix="/api", tags=["services"])
Anyone = Annotated[Actor, Depends(current_actor)]
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ORDERS))]
Placer = Annotated[Actor, Depends(require(Perm.PLACE_ORDERS))]
ProviderStaff = Annotated[Actor, Depends(require(Perm.MANAGE_ORDERS))]
Deliverer = Annotated[Actor, Depends(require(Perm.DELIVER_ORDERS))]
StaffManager = Annotated[Actor, Depends(require(Perm.MANAGE_CAREGIVERS))]
Registrar = Annotated[Actor, Depends(require(Perm.MANAGE_PROVIDERS))]
Handler = Annotated[Actor, Depends(require(Perm.HANDLE_COMPLAINTS))]


def _read(order: Any) -> OrderRead:
    return OrderRead.model_validate(order)


# --- providers, caregivers, catalog ---


@router.get("/providers", summary="Service providers")
def list_providers(actor: Viewer, session: DB) -> list[ProviderListItem]:
    rows = session.scalars(
        select(Provider).where(provider_scope(actor)).order_by(Provider.id)
    ).all()
    scored = ratings.scores(session, "provider", [p.id for p in rows])
    out = []
    for p in rows:
        s = scored[p.id]
        out.append(
            ProviderListItem(
                **ProviderRead.model_validate(p).model_dump(),
                score=s.score,
                reviews=s.count,
                mean=s.mean,
            )
        )
    return out


@router.post("/providers", status_code=201, summary="Register a provider")
def create_provider(actor: Registrar, session: DB, body: ProviderCreate) -> ProviderRead:
    return ProviderRead.model_validate(providers.create_provider(session, actor, body))


@router.post("/providers/{provider_id}/status", summary="Suspend or reinstate a provider")
def set_provider_status(
    actor: Registrar, session: DB, provider_id: Id, status: str
) -> ProviderRead:
    return ProviderRead.model_validate(
        providers.set_provider_status(session, actor, provider_id, status)
    )


@router.get("/caregivers", summary="Caregivers you manage")
def list_caregivers(actor: Anyone, session: DB) -> list[CaregiverListItem]:
    rows = session.scalars(
        select(Caregiver).where(caregiver_scope(actor)).order_by(Caregiver.id).limit(5000)
    ).all()
    scored = ratings.scores(session, "caregiver", [c.id for c in rows])
    out = []
    for c in rows:
        s = scored[c.id]
        out.append(
            CaregiverListItem(
                **CaregiverRead.model_validate(c).model_dump(), score=s.score, reviews=s.count
            )
        )
    return out


@router.post("/caregivers", status_code=201, summary="Add a caregiver")
def create_caregiver(actor: StaffManager, session: DB, body: CaregiverCreate) -> CaregiverRead:
    return CaregiverRead.model_validate(providers.create_caregiver(session, actor, body))


@router.post(
    "/caregivers/{caregiver_id}/certificates", status_code=201, summary="Add a certificate"
)
def add_certificate(
    actor: StaffManager, session: DB, caregiver_id: Id, body: CertificateCreate
) -> CertificateRead:
    cert = providers.add_certificate(session, actor, caregiver_id, body)
    return CertificateRead(id=cert.id, skill=cert.skill, expires_on=cert.expires_on)


@router.get("/catalog", summary="Services on offer (for an elder: those serving their area)")
def catalog(actor: Viewer, session: DB, provider_id: Id | None = None) -> list[ItemRead]:
    stmt = (
        select(ServiceItem)
        .join(Provider, Provider.id == ServiceItem.provider_id)
        .where(ServiceItem.active, Provider.status == "active", provider_scope(actor))
    )
    if provider_id is not None:
        stmt = stmt.where(ServiceItem.provider_id == provider_id)
    return [ItemRead.model_validate(i) for i in session.scalars(stmt.order_by(ServiceItem.id))]


@router.post("/catalog", status_code=201, summary="Add a service to a provider's catalog")
def create_item(actor: StaffManager, session: DB, body: ItemCreate) -> ItemRead:
    return ItemRead.model_validate(providers.create_item(session, actor, body))


# --- orders ---


@router.post(
    "/orders/quote",
    summary="What an order would cost: the price, the subsidy's share and the elder's own",
)
def quote_order(actor: Placer, session: DB, body: OrderCreate) -> OrderQuote:
    q = orders.quote(session, actor, body)
    return OrderQuote(
        amount_fen=q.amount_fen,
        subsidy_fen=q.subsidy_fen,
        self_pay_fen=q.self_pay_fen,
        minutes_used=q.minutes_used,
        balances=[PolicyBalance(policy=n, unit=u, balance=b) for n, u, b in q.balances],
    )


@router.post(
    "/orders",
    response_model=OrderRead,
    status_code=201,
    summary="Place an order (idempotent by key)",
)
def place_order(
    actor: Placer,
    session: DB,
    body: OrderCreate,
    idempotency_key: Annotated[str | None, Header(max_length=80)] = None,
) -> JSONResponse:
    order, created = orders.place_order(session, actor, body, idempotency_key)
    session.flush()
    return JSONResponse(_read(order).model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/order-series", status_code=201, summary="A recurring order")
def create_series(actor: Placer, session: DB, body: SeriesCreate) -> SeriesCreated:
    created, made = series.create_series(session, actor, body)
    return SeriesCreated(id=created.id, orders_created=made)


@router.get("/orders", summary="Orders in your scope")
def list_orders(
    actor: Viewer,
    session: DB,
    state: Text = "",
    day: Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31))] = None,
    caregiver_id: Id | None = None,
    elder_id: Id | None = None,
    flagged: bool = False,
) -> list[OrderListItem]:
    f = repo.OrderFilters(
        state=state,
        day=day,
        caregiver_id=caregiver_id,
        elder_id=elder_id,
        flagged=flagged,
    )
    return [
        OrderListItem(
            **_read(r.ServiceOrder).model_dump(),
            elder_name=r.elder_name,
            item_name=r.item_name,
            caregiver_name=r.caregiver_name,
        )
        for r in repo.board(session, actor, f)
    ]


@router.get(
    "/orders/{order_id}", response_model_exclude_unset=True, summary="One order with its trail"
)
def get_order(actor: Viewer, session: DB, order_id: Id) -> OrderDetail:
    order = orders.get_order(session, actor, order_id)
    out = _read(order).model_dump()
    # the ``elder.details_shared`` rule: a family member without the elder's consent to share
    # sees the service, not the street address
    shared = order.elder_id in shared_ids(session, actor, {order.elder_id})
    out["address"] = order.address if shared else None
    if actor.can(Perm.PLACE_ORDERS):  # the elder's side holds the code to read to the caregiver
        out["confirm_code"] = order.confirm_code
    out["trail"] = [
        OrderTrailEntry.model_validate(
            {
                "at": e.at.isoformat(),
                "actor": e.actor_name,
                "action": e.action,
                "from": e.from_state,
                "to": e.to_state,
                "note": e.note,
            }
        )
        for e in repo.trail(session, order.id)
    ]
    return OrderDetail(**out)


@router.get("/orders/{order_id}/suggestions", summary="Caregivers ranked for this order")
def suggestions(actor: ProviderStaff, session: DB, order_id: Id) -> list[SuggestionRead]:
    return [
        SuggestionRead(**dataclasses.asdict(s)) for s in dispatch.suggest(session, actor, order_id)
    ]


@router.post("/orders/{order_id}/assign")
def assign(actor: ProviderStaff, session: DB, order_id: Id, body: OrderAssignment) -> OrderRead:
    return _read(dispatch.assign(session, actor, order_id, body.caregiver_id, body.note))


@router.post("/orders/{order_id}/accept")
def accept(actor: Deliverer, session: DB, order_id: Id) -> OrderRead:
    return _read(orders.accept(session, actor, order_id))


@router.post("/orders/{order_id}/decline")
def decline(actor: Deliverer, session: DB, order_id: Id, body: StepReason) -> OrderRead:
    return _read(orders.decline(session, actor, order_id, body.reason))


@router.post("/orders/{order_id}/depart")
def depart(actor: Deliverer, session: DB, order_id: Id) -> OrderRead:
    return _read(orders.depart(session, actor, order_id))


@router.post("/orders/{order_id}/check-in")
def check_in(actor: Deliverer, session: DB, order_id: Id, body: OrderCheckIn) -> OrderRead:
    return _read(orders.check_in(session, actor, order_id, body.lat, body.lon))


T = TypeVar("T")


def keeping_attempts(session: Session, op: Callable[[], T]) -> T:
    """Run ``op``; when it refuses an attempt at the elder's code, commit what the attempt
    recorded (audit row, failure count, lock, the provider's notice) before the refusal is
    answered — the one write a failed request keeps.

    The commit stays here: the refusal must reach the app's error handler as an exception, and
    the session dependency rolls back a request that raises, so flushing alone would lose the
    attempt (the pages instead catch the refusal in ``_act`` and the dependency commits)."""
    try:
        return op()
    except DomainError as exc:
        if exc.keeps_writes:
            session.commit()
        raise


@router.post("/orders/{order_id}/check-out")
def check_out(actor: Deliverer, session: DB, order_id: Id, body: OrderCheckOut) -> OrderRead:
    return _read(
        keeping_attempts(
            session,
            lambda: orders.check_out(
                session, actor, order_id, body.lat, body.lon, body.code, body.signature
            ),
        )
    )


@router.post("/orders/{order_id}/confirm", summary="Confirm the service (pays it)")
def confirm(actor: Viewer, session: DB, order_id: Id, body: OrderConfirmation) -> OrderRead:
    return _read(
        keeping_attempts(session, lambda: orders.confirm(session, actor, order_id, body.code))
    )


@router.post(
    "/orders/{order_id}/confirm-code",
    summary="Issue a new elder's code (unlocks it after five wrong tries)",
)
def reissue_code(actor: Viewer, session: DB, order_id: Id) -> OrderRead:
    return _read(orders.reissue_code(session, actor, order_id))


@router.post("/orders/{order_id}/dispute", summary="Dispute (reverses a payment)")
def dispute(actor: Placer, session: DB, order_id: Id, body: StepReason) -> OrderRead:
    return _read(orders.dispute(session, actor, order_id, body.reason))


@router.post("/orders/{order_id}/dispute/resolve")
def resolve_dispute(
    actor: Handler, session: DB, order_id: Id, upheld: bool, body: StepReason
) -> OrderRead:
    return _read(orders.resolve_dispute(session, actor, order_id, upheld, body.reason))


@router.post("/orders/{order_id}/cancel")
def cancel(actor: Viewer, session: DB, order_id: Id, body: StepReason) -> OrderRead:
    return _read(orders.cancel(session, actor, order_id, body.reason))


@router.post("/orders/{order_id}/rating", status_code=201)
def rate(actor: Placer, session: DB, order_id: Id, body: RatingCreate) -> RatingRead:
    r = ratings.rate(session, actor, order_id, body.stars, body.comment)
    return RatingRead(id=r.id, stars=r.stars)


@router.get("/scores/{kind}/{subject_id}", summary="Bayesian score of a provider or caregiver")
def get_score(actor: Viewer, session: DB, kind: str, subject_id: Id) -> ScoreRead:
    if kind not in ("provider", "caregiver"):
        raise NotFound(_("Not found."))
    return ScoreRead(**dataclasses.asdict(ratings.score(session, kind, subject_id)))


# --- complaints ---


@router.post("/complaints", status_code=201)
def open_complaint(actor: Placer, session: DB, body: ComplaintCreate) -> ComplaintRead:
    return ComplaintRead.model_validate(complaints.open_complaint(session, actor, body))


@router.get("/complaints")
def list_complaints(actor: Viewer, session: DB, state: Text = "") -> list[ComplaintListItem]:
    return [
        ComplaintListItem(**ComplaintRead.model_validate(c).model_dump(), overdue=late)
        for c, late in complaints.listing(session, actor, state)
    ]


@router.post("/complaints/{complaint_id}/investigate")
def investigate(
    actor: Handler, session: DB, complaint_id: Id, body: InvestigationNote
) -> ComplaintRead:
    return ComplaintRead.model_validate(
        complaints.advance(session, actor, complaint_id, "investigate", body.note or "")
    )


@router.post("/complaints/{complaint_id}/resolve")
def resolve(actor: Handler, session: DB, complaint_id: Id, body: StepReason) -> ComplaintRead:
    return ComplaintRead.model_validate(
        complaints.advance(session, actor, complaint_id, "resolve", body.reason)
    )


# --- meals ---


@router.post("/canteens", status_code=201)
def create_canteen(actor: StaffManager, session: DB, body: CanteenCreate) -> CanteenRead:
    c = meals.create_canteen(session, actor, body)
    return CanteenRead(id=c.id, name=c.name)


@router.post("/canteens/{canteen_id}/menus", status_code=201)
def add_menu(actor: StaffManager, session: DB, canteen_id: Id, body: MenuCreate) -> MenuRead:
    m = meals.add_menu(session, actor, canteen_id, body)
    return MenuRead(id=m.id, day=m.day, meal=m.meal, price_fen=m.price_fen)


@router.post("/meals", status_code=201)
def order_meal(actor: Placer, session: DB, body: MealOrderCreate) -> MealOrderRead:
    return MealOrderRead.model_validate(meals.order_meal(session, actor, body))


@router.post("/meals/{meal_id}/serve")
def serve_meal(actor: ProviderStaff, session: DB, meal_id: Id) -> MealOrderRead:
    return MealOrderRead.model_validate(meals.serve(session, actor, meal_id))


@router.post("/meals/{meal_id}/cancel")
def cancel_meal(actor: Viewer, session: DB, meal_id: Id) -> MealOrderRead:
    return MealOrderRead.model_validate(meals.cancel(session, actor, meal_id))


# --- settlement: the district pays providers (paths under /api/subsidies, as always) ---

settlement_router = APIRouter(prefix="/api/subsidies", tags=["subsidies"])
SubsidyManager = Annotated[Actor, Depends(require(Perm.MANAGE_SUBSIDIES))]
SettlementViewer = Annotated[Actor, Depends(require(Perm.VIEW_SETTLEMENT))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@settlement_router.post("/months/settle", summary="Build every provider's statement for the month")
def settle(actor: SubsidyManager, session: DB, body: SettlementRun) -> list[StatementRead]:
    return [StatementRead.model_validate(s) for s in settlement.settle(session, body.period)]


def _provider_filter(actor: Actor, provider_id: Id | None) -> int | None:
    if actor.role is Role.PROVIDER_ADMIN:
        if provider_id not in (None, actor.provider_id):
            raise NotFound(_("No such provider."))
        return actor.provider_id
    return provider_id


@settlement_router.get("/statements", summary="Settled statements of a month")
def list_statements(
    actor: SettlementViewer,
    session: DB,
    period: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
    provider_id: Id | None = None,
) -> list[StatementRead]:
    pid = _provider_filter(actor, provider_id)
    return [StatementRead.model_validate(s) for s in settlement.statements(session, period, pid)]


@settlement_router.get(
    "/statements/{provider_id}/{period}.xlsx", summary="A provider's statement (XLSX)"
)
def statement_xlsx(
    actor: SettlementViewer,
    session: DB,
    provider_id: Id,
    period: Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> Response:
    pid = _provider_filter(actor, provider_id)
    provider = session.get(Provider, pid)
    if provider is None:
        raise NotFound(_("No such provider."))
    data = settlement.statement_xlsx(session, provider.name, provider.id, period)
    audit.record(
        session, "export", "settlement", f"{provider.id}/{period}", summary="statement XLSX"
    )
    return Response(
        data,
        media_type=XLSX,
        headers={
            "Content-Disposition": content_disposition(f"statement-{provider.id}-{period}.xlsx")
        },
    )

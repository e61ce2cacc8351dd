"""Management pages of home services (#19): providers and their status (district officers and
admins of the district), caregivers with their skills and certificates, the service catalogue,
canteens and the week's menus (the provider admin for their own provider; officers read).

Thin handlers over ``services.providers`` and ``services.meals``; the bodies are the API's
schemas (``ProviderCreate``, ``CaregiverCreate``, ``CertificateCreate``, ``ItemCreate``,
``CanteenCreate``, ``MenuCreate``), so a value is refused by the same rule on the page and in the
API. Writes run as page actions (``web.actions.run_action``); a refusal is shown beside its
field. Every write is an audit row (the ``Audited`` models)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core.auth import current_actor, require
from yiyang.core.clock import today_local
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, Forbidden, field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.services import meals, providers
from yiyang.services.enums import LABELS, ServiceCategory, Unit
from yiyang.services.models import Canteen, Caregiver, Provider, ServiceItem
from yiyang.services.schemas import (
    CanteenCreate,
    CaregiverCreate,
    CertificateCreate,
    ItemCreate,
    MenuCreate,
    ProviderCreate,
)
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
SETUP_PAGES = ("/manage/caregivers", "/manage/catalog", "/manage/canteens")
register_nav(
    # district officers and admins: the providers, and from each its staff, catalogue, canteens
    NavEntry(
        "manage-providers",
        "/manage/providers",
        N_("Providers"),
        needs(Perm.MANAGE_PROVIDERS),
        90,
        SETUP_PAGES,
    ),
    # a provider admin: their own staff, catalogue and canteens
    NavEntry(
        "manage-provider",
        "/manage/caregivers",
        N_("Staff and catalogue"),
        needs(Perm.MANAGE_CAREGIVERS, unless=(Perm.MANAGE_PROVIDERS,)),
        62,
        SETUP_PAGES[1:],
    ),
)


async def _reader(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """Who may read a provider's staff, catalogue and canteens: its admin and the officers who
    register providers."""
    if not (actor.can(Perm.MANAGE_CAREGIVERS) or actor.can(Perm.MANAGE_PROVIDERS)):
        raise Forbidden(_("Your role may not do this."))
    return actor


Officer = Annotated[Actor, Depends(require(Perm.MANAGE_PROVIDERS))]
Reader = Annotated[Actor, Depends(_reader)]
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_CAREGIVERS))]

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
UNITS = {"visit": N_("per visit"), "hour": N_("per hour"), "meal": N_("per meal")}
MEALS = {"breakfast": N_("Breakfast"), "lunch": N_("Lunch"), "dinner": N_("Dinner")}
# a form's field for a schema's (the price is typed in yuan, stored in fen)
FORM_FIELD = {"price_fen": "price", "region": "region_code", None: "form"}
_SPLIT = re.compile(r"[\n\r,，、;；]+")
_YUAN = re.compile(r"^\d{1,7}(\.\d{1,2})?$")


def yuan_to_fen(text: str) -> int | None:
    """ "12.5" (元) → 1250 (fen); None for what is not an amount of yuan with at most two
    decimals (a pure rule: the form's price field)."""
    text = text.strip().removesuffix("元").strip()
    if not _YUAN.match(text):
        return None
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None


def fen_to_yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f}"


def split_list(text: str) -> list[str]:
    """Dishes as typed: one a line, or separated by commas or 、."""
    return [part.strip() for part in _SPLIT.split(text) if part.strip()]


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _texts(form: Any, key: str) -> list[str]:
    return [v.strip() for v in form.getlist(key) if isinstance(v, str) and v.strip()]


def _field(name: str | None, prefix: str = "") -> str:
    key = FORM_FIELD.get(name, name or "form")
    return key if key == "form" else prefix + key


def _errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for e in field_errors(exc.errors()):
        out.setdefault(_field(e["field"].split(".")[0] or None, prefix), e["message"])
    return out


def _refused(exc: DomainError) -> dict[str, str]:
    if exc.status_code in (403, 404):
        raise exc
    return {_field(exc.field): exc.message}


def _code(path: str) -> str:
    return path.strip("/").split("/")[-1]


M = TypeVar("M", bound=BaseModel)


def _validate(
    model: type[M], body: dict[str, Any], errors: dict[str, str], prefix: str = ""
) -> M | None:
    try:
        data = model(**body)
    except ValidationError as exc:
        for key, message in _errors(exc, prefix).items():
            errors.setdefault(key, message)
        return None
    return data if not errors else None


async def _run(session: Session, op: Callable[[], Any]) -> tuple[Any, dict[str, str]]:
    """Run a write as a page action: (its result, {}) or (None, the refusal by field)."""
    done: list[Any] = []
    refused = await run_in_threadpool(run_action, session, lambda: done.append(op()))
    if refused is not None:
        return None, _refused(refused)
    return done[0], {}


def _common(actor: Actor, provider_id: int | None = None) -> dict[str, Any]:
    return {
        "SVC": LABELS,
        "UNITS": UNITS,
        "MEALS": MEALS,
        "WEEKDAYS": WEEKDAYS,
        "yuan": fen_to_yuan,
        "today": today_local(),
        "can_write": actor.can(Perm.MANAGE_CAREGIVERS),
        "is_officer": actor.can(Perm.MANAGE_PROVIDERS),
        "provider_id": provider_id,
        "region_code": _code,
    }


def _need_provider(actor: Actor, body: dict[str, Any], errors: dict[str, str]) -> None:
    """An admin of no provider (a platform admin) says whose record it is."""
    if actor.provider_id is None and not body.get("provider_id"):
        errors["provider_id"] = _("Choose the provider.")


def _form_provider(
    session: Session, actor: Actor, provider_id: int | None, values: Mapping[str, Any]
) -> Provider | None:
    """The provider a form is for: the record's, the provider admin's own, or the one chosen in
    the form (an admin of no provider), if the actor manages it."""
    chosen = values.get("provider_id")
    if provider_id is None and actor.provider_id is None and isinstance(chosen, str):
        provider_id = int(chosen) if chosen.isdigit() else None
    pid = provider_id or actor.provider_id
    found = [p for p in providers.managed_providers(session, actor) if p.id == pid]
    return found[0] if found else None


def _pick_provider(actor: Actor, provider_id: int | None) -> int | None:
    """The provider a list is narrowed to: a provider admin's own, or the one asked for."""
    if actor.provider_id is not None:
        return actor.provider_id
    return provider_id


# --- providers (district officers) ---

PROVIDER_FIELDS = (
    "name",
    "licence_no",
    "licence_expires_on",
    "contact_name",
    "contact_phone",
    "contact_email",
)


@router.get("/manage/providers")
def provider_list(request: Request, actor: Officer, session: DB) -> Response:
    rows = providers.managed_providers(session, actor)
    today = today_local()
    return render(
        request,
        "services/manage/providers.html",
        providers=rows,
        expired={p.id for p in rows if providers.licence_expired(p, today)},
        regions={r.path: r.name for r in providers.area_choices(session, actor, None)},
        **_common(actor),
    )


def _provider_values(provider: Provider) -> dict[str, Any]:
    values: dict[str, Any] = {k: getattr(provider, k) or "" for k in PROVIDER_FIELDS}
    values["licence_expires_on"] = str(provider.licence_expires_on or "")
    values["areas"] = [_code(p) for p in provider.areas]
    return values


def _provider_form(
    request: Request,
    session: Session,
    actor: Actor,
    provider: Provider | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        "services/manage/provider_form.html",
        status_code=status_code,
        provider=provider,
        values=values,
        errors=errors,
        choices=providers.area_choices(session, actor, None),
        expired=provider is not None and providers.licence_expired(provider, today_local()),
        **context,
        **_common(actor),
    )


def _provider_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {k: _text(form, k) for k in PROVIDER_FIELDS}
    values["areas"] = _texts(form, "areas")
    body = {k: v for k, v in values.items() if v not in ("", [])}
    body.setdefault("areas", [])
    return values, body


@router.get("/manage/providers/new")
def provider_new(request: Request, actor: Officer, session: DB) -> Response:
    return _provider_form(request, session, actor, None, {"areas": []}, {})


@router.post("/manage/providers/new")
async def provider_create(request: Request, actor: Officer, session: DB) -> Response:
    values, body = _provider_body(await request.form())
    errors: dict[str, str] = {}
    data = _validate(ProviderCreate, body, errors)
    if data is not None:
        created, errors = await _run(
            session, lambda: providers.create_provider(session, actor, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/providers/{created.id}", status_code=303)
    return _provider_form(request, session, actor, None, values, errors, 422)


@router.get("/manage/providers/{provider_id}")
def provider_page(
    request: Request, actor: Officer, session: DB, provider_id: Id, step: str = ""
) -> Response:
    provider = providers.access_provider(session, actor, provider_id)
    return _provider_form(
        request,
        session,
        actor,
        provider,
        _provider_values(provider),
        {},
        step="suspend" if step == "suspend" else "",
    )


@router.post("/manage/providers/{provider_id}")
async def provider_update(
    request: Request, actor: Officer, session: DB, provider_id: Id
) -> Response:
    provider = providers.access_provider(session, actor, provider_id)
    values, body = _provider_body(await request.form())
    errors: dict[str, str] = {}
    data = _validate(ProviderCreate, body, errors)
    if data is not None:
        _done, errors = await _run(
            session, lambda: providers.update_provider(session, actor, provider_id, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/providers/{provider_id}", status_code=303)
    return _provider_form(request, session, actor, provider, values, errors, 422)


@router.post("/manage/providers/{provider_id}/status")
async def provider_status(
    request: Request, actor: Officer, session: DB, provider_id: Id
) -> Response:
    form = await request.form()
    status, reason = _text(form, "status"), _text(form, "reason")
    _done, errors = await _run(
        session,
        lambda: providers.set_provider_status(session, actor, provider_id, status, reason),
    )
    if not errors:
        return RedirectResponse(f"/manage/providers/{provider_id}", status_code=303)
    provider = providers.access_provider(session, actor, provider_id)
    return _provider_form(
        request,
        session,
        actor,
        provider,
        _provider_values(provider),
        errors,
        422,
        step="suspend",
        reason=reason,
    )


# --- caregivers (the provider admin; officers read) ---

CAREGIVER_FIELDS = ("name", "phone", "work_start", "work_end", "max_jobs_per_day", "provider_id")


@router.get("/manage/caregivers")
def caregiver_list(
    request: Request, actor: Reader, session: DB, provider_id: Id | None = None
) -> Response:
    pid = _pick_provider(actor, provider_id)
    staff = providers.list_caregivers(session, actor, pid)
    return render(
        request,
        "services/manage/caregivers.html",
        staff=staff,
        certs=providers.certificates_of(session, [c.id for c in staff]),
        names=_provider_names(session, actor),
        **_common(actor, pid),
    )


def _provider_names(session: Session, actor: Actor) -> dict[int, str]:
    return {p.id: p.name for p in providers.managed_providers(session, actor)}


def _caregiver_values(c: Caregiver) -> dict[str, Any]:
    return {
        "name": c.name,
        "phone": c.phone,
        "skills": list(c.skills),
        "areas": [_code(p) for p in c.areas],
        "work_days": [str(d) for d in c.work_days],
        "work_start": c.work_start.strftime("%H:%M"),
        "work_end": c.work_end.strftime("%H:%M"),
        "max_jobs_per_day": str(c.max_jobs_per_day),
        "provider_id": str(c.provider_id),
    }


def _caregiver_page(
    request: Request,
    session: Session,
    actor: Actor,
    caregiver: Caregiver | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    **context: Any,
) -> Response:
    provider = _form_provider(session, actor, caregiver.provider_id if caregiver else None, values)
    pid = provider.id if provider else None
    return render(
        request,
        "services/manage/caregiver.html",
        status_code=status_code,
        caregiver=caregiver,
        provider=provider,
        values=values,
        errors=errors,
        certs=providers.certificates_of(session, [caregiver.id])[caregiver.id] if caregiver else [],
        choices=providers.area_choices(session, actor, provider) if provider else [],
        provider_choices=[]
        if caregiver or actor.provider_id
        else providers.managed_providers(session, actor),
        skills=list(ServiceCategory),
        cert=context.pop("cert", {}),
        step=context.pop("step", ""),
        **context,
        **_common(actor, pid),
    )


def _caregiver_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {k: _text(form, k) for k in CAREGIVER_FIELDS}
    for key in ("skills", "areas", "work_days"):
        values[key] = _texts(form, key)
    body = {k: v for k, v in values.items() if v != "" and k not in ("work_days", "skills")}
    body["skills"], body["work_days"] = values["skills"], values["work_days"]
    body.setdefault("areas", [])
    return values, body


@router.get("/manage/caregivers/new")
def caregiver_new(request: Request, actor: Manager, session: DB) -> Response:
    values: dict[str, Any] = {"skills": [], "areas": [], "work_days": ["0", "1", "2", "3", "4"]}
    values |= {"work_start": "08:00", "work_end": "18:00", "max_jobs_per_day": "8"}
    return _caregiver_page(request, session, actor, None, values, {})


@router.post("/manage/caregivers/new")
async def caregiver_create(request: Request, actor: Manager, session: DB) -> Response:
    values, body = _caregiver_body(await request.form())
    errors: dict[str, str] = {}
    _need_provider(actor, body, errors)
    data = _validate(CaregiverCreate, body, errors)
    if data is not None:
        created, errors = await _run(
            session, lambda: providers.create_caregiver(session, actor, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/caregivers/{created.id}", status_code=303)
    return _caregiver_page(request, session, actor, None, values, errors, 422)


@router.get("/manage/caregivers/{caregiver_id}")
def caregiver_page(
    request: Request, actor: Reader, session: DB, caregiver_id: Id, step: str = ""
) -> Response:
    caregiver = providers.read_caregiver(session, actor, caregiver_id)
    return _caregiver_page(
        request,
        session,
        actor,
        caregiver,
        _caregiver_values(caregiver),
        {},
        step="deactivate" if step == "deactivate" else "",
    )


@router.post("/manage/caregivers/{caregiver_id}")
async def caregiver_update(
    request: Request, actor: Manager, session: DB, caregiver_id: Id
) -> Response:
    caregiver = providers.read_caregiver(session, actor, caregiver_id)
    values, body = _caregiver_body(await request.form())
    body.pop("provider_id", None)
    errors: dict[str, str] = {}
    data = _validate(CaregiverCreate, body, errors)
    if data is not None:
        _done, errors = await _run(
            session, lambda: providers.update_caregiver(session, actor, caregiver_id, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/caregivers/{caregiver_id}", status_code=303)
    return _caregiver_page(request, session, actor, caregiver, values, errors, 422)


@router.post("/manage/caregivers/{caregiver_id}/active")
async def caregiver_active(
    request: Request, actor: Manager, session: DB, caregiver_id: Id
) -> Response:
    form = await request.form()
    active = _text(form, "active") == "1"
    if not active and _text(form, "confirmed") != "yes":  # the inline confirmation step first
        return RedirectResponse(f"/manage/caregivers/{caregiver_id}?step=deactivate", 303)
    caregiver = providers.read_caregiver(session, actor, caregiver_id)
    _done, errors = await _run(
        session, lambda: providers.set_caregiver_active(session, actor, caregiver_id, active)
    )
    if errors:
        return _caregiver_page(
            request, session, actor, caregiver, _caregiver_values(caregiver), errors, 409
        )
    return RedirectResponse(f"/manage/caregivers/{caregiver_id}", status_code=303)


@router.post("/manage/caregivers/{caregiver_id}/certificates")
async def certificate_add(
    request: Request, actor: Manager, session: DB, caregiver_id: Id
) -> Response:
    caregiver = providers.read_caregiver(session, actor, caregiver_id)
    form = await request.form()
    cert = {k: _text(form, k) for k in ("skill", "name", "number", "expires_on")}
    errors: dict[str, str] = {}
    data = _validate(CertificateCreate, {k: v for k, v in cert.items() if v}, errors, "cert_")
    if data is not None:
        _done, refused = await _run(
            session, lambda: providers.add_certificate(session, actor, caregiver_id, data)
        )
        errors = {f"cert_{k}" if k != "form" else k: v for k, v in refused.items()}
        if not errors:
            return RedirectResponse(f"/manage/caregivers/{caregiver_id}#certificates", 303)
    return _caregiver_page(
        request, session, actor, caregiver, _caregiver_values(caregiver), errors, 422, cert=cert
    )


@router.post("/manage/caregivers/{caregiver_id}/certificates/{certificate_id}/remove")
async def certificate_remove(
    request: Request, actor: Manager, session: DB, caregiver_id: Id, certificate_id: Id
) -> Response:
    await _run(
        session,
        lambda: providers.remove_certificate(session, actor, caregiver_id, certificate_id),
    )
    return RedirectResponse(f"/manage/caregivers/{caregiver_id}#certificates", status_code=303)


# --- the service catalogue (the provider admin; officers read) ---

ITEM_FIELDS = (
    "code",
    "name",
    "category",
    "unit",
    "price",
    "duration_min",
    "required_skill",
    "provider_id",
)


@router.get("/manage/catalog")
def item_list(
    request: Request, actor: Reader, session: DB, provider_id: Id | None = None
) -> Response:
    pid = _pick_provider(actor, provider_id)
    items = providers.list_items(session, actor, pid)
    return render(
        request,
        "services/manage/catalog.html",
        items=items,
        policies={p.id: p.name for p in providers.policy_choices(session)},
        names=_provider_names(session, actor),
        **_common(actor, pid),
    )


def _item_values(item: ServiceItem) -> dict[str, Any]:
    values: dict[str, Any] = {k: getattr(item, k, "") for k in ITEM_FIELDS if k != "price"}
    values |= {"price": fen_to_yuan(item.price_fen), "required_skill": item.required_skill or ""}
    values |= {
        "policy_ids": [str(p) for p in item.policy_ids],
        "duration_min": str(item.duration_min),
    }
    return values


def _item_page(
    request: Request,
    session: Session,
    actor: Actor,
    item: ServiceItem | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    **context: Any,
) -> Response:
    pid = item.provider_id if item else actor.provider_id
    return render(
        request,
        "services/manage/item.html",
        status_code=status_code,
        item=item,
        values=values,
        errors=errors,
        categories=list(ServiceCategory),
        units=list(Unit),
        policies=providers.policy_choices(session),
        provider_choices=[] if pid else providers.managed_providers(session, actor),
        step=context.pop("step", ""),
        **context,
        **_common(actor, pid),
    )


def _item_body(form: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {k: _text(form, k) for k in ITEM_FIELDS}
    values["policy_ids"] = _texts(form, "policy_ids")
    body = {k: v for k, v in values.items() if v not in ("", []) and k != "price"}
    body["policy_ids"] = values["policy_ids"]
    errors: dict[str, str] = {}
    fen = yuan_to_fen(values["price"])
    if fen is None:
        errors["price"] = _("Enter the price in yuan, e.g. 45 or 12.50.")
    else:
        body["price_fen"] = fen
    return values, body, errors


@router.get("/manage/catalog/new")
def item_new(request: Request, actor: Manager, session: DB) -> Response:
    return _item_page(request, session, actor, None, {"policy_ids": []}, {})


@router.post("/manage/catalog/new")
async def item_create(request: Request, actor: Manager, session: DB) -> Response:
    values, body, errors = _item_body(await request.form())
    _need_provider(actor, body, errors)
    data = _validate(ItemCreate, body, errors)
    if data is not None:
        created, errors = await _run(session, lambda: providers.create_item(session, actor, data))
        if not errors:
            return RedirectResponse(f"/manage/catalog/{created.id}", status_code=303)
    return _item_page(request, session, actor, None, values, errors, 422)


@router.get("/manage/catalog/{item_id}")
def item_page(
    request: Request, actor: Reader, session: DB, item_id: Id, step: str = ""
) -> Response:
    item = providers.access_item(session, actor, item_id)
    return _item_page(
        request,
        session,
        actor,
        item,
        _item_values(item),
        {},
        step="withdraw" if step == "withdraw" else "",
    )


@router.post("/manage/catalog/{item_id}")
async def item_update(request: Request, actor: Manager, session: DB, item_id: Id) -> Response:
    item = providers.access_item(session, actor, item_id)
    values, body, errors = _item_body(await request.form())
    body.pop("provider_id", None)
    data = _validate(ItemCreate, body, errors)
    if data is not None:
        _done, errors = await _run(
            session, lambda: providers.update_item(session, actor, item_id, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/catalog/{item_id}", status_code=303)
    return _item_page(request, session, actor, item, values, errors, 422)


@router.post("/manage/catalog/{item_id}/active")
async def item_active(request: Request, actor: Manager, session: DB, item_id: Id) -> Response:
    form = await request.form()
    active = _text(form, "active") == "1"
    if not active and _text(form, "confirmed") != "yes":
        return RedirectResponse(f"/manage/catalog/{item_id}?step=withdraw", status_code=303)
    await _run(session, lambda: providers.set_item_active(session, actor, item_id, active))
    return RedirectResponse(f"/manage/catalog/{item_id}", status_code=303)


# --- canteens and their menus (the provider admin; officers read) ---


@router.get("/manage/canteens")
def canteen_list(request: Request, actor: Reader, session: DB) -> Response:
    return render(
        request,
        "services/manage/canteens.html",
        canteens=meals.list_canteens(session, actor),
        names=_provider_names(session, actor),
        **_common(actor, actor.provider_id),
    )


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _canteen_page(
    request: Request,
    session: Session,
    actor: Actor,
    canteen: Canteen | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    week: dt.date | None = None,
) -> Response:
    provider = _form_provider(session, actor, canteen.provider_id if canteen else None, values)
    pid = provider.id if provider else None
    monday = _monday(week or today_local())
    menus = meals.week_menus(session, canteen.id, monday) if canteen else {}
    return render(
        request,
        "services/manage/canteen.html",
        status_code=status_code,
        canteen=canteen,
        values=values,
        errors=errors,
        choices=providers.area_choices(session, actor, provider) if provider else [],
        provider_choices=[]
        if canteen or actor.provider_id
        else providers.managed_providers(session, actor),
        days=[monday + dt.timedelta(days=i) for i in range(7)],
        menus=menus,
        booked=meals.booked(session, [m.id for m in menus.values()]),
        monday=monday,
        prev_week=monday - dt.timedelta(days=7),
        next_week=monday + dt.timedelta(days=7),
        **_common(actor, pid),
    )


CANTEEN_FIELDS = ("name", "region_code", "address", "provider_id")


def _canteen_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {k: _text(form, k) for k in CANTEEN_FIELDS}
    values["delivers"] = _text(form, "delivers") == "1"
    return values, {k: v for k, v in values.items() if v != ""}


@router.get("/manage/canteens/new")
def canteen_new(request: Request, actor: Manager, session: DB) -> Response:
    return _canteen_page(request, session, actor, None, {"delivers": True}, {})


@router.post("/manage/canteens/new")
async def canteen_create(request: Request, actor: Manager, session: DB) -> Response:
    values, body = _canteen_body(await request.form())
    body.setdefault("provider_id", actor.provider_id)
    errors: dict[str, str] = {}
    _need_provider(actor, body, errors)
    data = _validate(CanteenCreate, body, errors)
    if data is not None:
        created, errors = await _run(session, lambda: meals.create_canteen(session, actor, data))
        if not errors:
            return RedirectResponse(f"/manage/canteens/{created.id}", status_code=303)
    return _canteen_page(request, session, actor, None, values, errors, 422)


def _canteen_values(c: Canteen) -> dict[str, Any]:
    return {
        "name": c.name,
        "region_code": _code(c.region_path),
        "address": c.address,
        "delivers": c.delivers,
    }


@router.get("/manage/canteens/{canteen_id}")
def canteen_page(
    request: Request, actor: Reader, session: DB, canteen_id: Id, week: dt.date | None = None
) -> Response:
    canteen = meals.access_canteen(session, actor, canteen_id)
    return _canteen_page(request, session, actor, canteen, _canteen_values(canteen), {}, week=week)


@router.post("/manage/canteens/{canteen_id}")
async def canteen_update(request: Request, actor: Manager, session: DB, canteen_id: Id) -> Response:
    canteen = meals.access_canteen(session, actor, canteen_id)
    values, body = _canteen_body(await request.form())
    body["provider_id"] = canteen.provider_id
    errors: dict[str, str] = {}
    data = _validate(CanteenCreate, body, errors)
    if data is not None:
        _done, errors = await _run(
            session, lambda: meals.update_canteen(session, actor, canteen_id, data)
        )
        if not errors:
            return RedirectResponse(f"/manage/canteens/{canteen_id}", status_code=303)
    return _canteen_page(request, session, actor, canteen, values, errors, 422)


def _day_values(menus: Mapping[tuple[dt.date, str], Any], day: dt.date) -> dict[str, str]:
    values: dict[str, str] = {}
    for meal in MEALS:
        menu = menus.get((day, meal))
        values[f"{meal}_dishes"] = "\n".join(menu.dishes) if menu else ""
        values[f"{meal}_price"] = fen_to_yuan(menu.price_fen) if menu else ""
        values[f"{meal}_capacity"] = str(menu.capacity) if menu else ""
    return values


def _day_page(
    request: Request,
    session: Session,
    actor: Actor,
    canteen: Canteen,
    day: dt.date,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    menus = meals.week_menus(session, canteen.id, _monday(day))
    return render(
        request,
        "services/manage/menu_day.html",
        status_code=status_code,
        canteen=canteen,
        day=day,
        values=values,
        errors=errors,
        booked=meals.booked(session, [m.id for (d, _meal), m in menus.items() if d == day]),
        menus={meal: m for (d, meal), m in menus.items() if d == day},
        **_common(actor, canteen.provider_id),
    )


@router.get("/manage/canteens/{canteen_id}/menus/{day}")
def menu_day(
    request: Request, actor: Reader, session: DB, canteen_id: Id, day: dt.date
) -> Response:
    canteen = meals.access_canteen(session, actor, canteen_id)
    values = _day_values(meals.week_menus(session, canteen.id, _monday(day)), day)
    return _day_page(request, session, actor, canteen, day, values, {})


def _day_menus(
    form: Any, day: dt.date
) -> tuple[dict[str, str], dict[str, MenuCreate | None], dict[str, str]]:
    """The day form's three meals: a meal without dishes is none that day."""
    values = {
        f"{meal}_{k}": _text(form, f"{meal}_{k}")
        for meal in MEALS
        for k in ("dishes", "price", "capacity")
    }
    chosen: dict[str, MenuCreate | None] = {}
    errors: dict[str, str] = {}
    for meal in MEALS:
        dishes = split_list(values[f"{meal}_dishes"])
        if not dishes:
            chosen[meal] = None
            continue
        body: dict[str, Any] = {"day": day, "meal": meal, "dishes": dishes}
        fen = yuan_to_fen(values[f"{meal}_price"])
        if fen is None:
            errors[f"{meal}_price"] = _("Enter the price in yuan, e.g. 45 or 12.50.")
        else:
            body["price_fen"] = fen
        if values[f"{meal}_capacity"]:
            body["capacity"] = values[f"{meal}_capacity"]
        chosen[meal] = _validate(MenuCreate, body, errors, f"{meal}_")
    return values, chosen, errors


@router.post("/manage/canteens/{canteen_id}/menus/{day}")
async def menu_day_save(
    request: Request, actor: Manager, session: DB, canteen_id: Id, day: dt.date
) -> Response:
    canteen = meals.access_canteen(session, actor, canteen_id)
    values, chosen, errors = _day_menus(await request.form(), day)
    if not errors:
        _done, errors = await _run(
            session, lambda: meals.set_day_menu(session, actor, canteen_id, day, chosen)
        )
        if not errors:
            return RedirectResponse(
                f"/manage/canteens/{canteen_id}?week={_monday(day)}", status_code=303
            )
    return _day_page(request, session, actor, canteen, day, values, errors, 422)

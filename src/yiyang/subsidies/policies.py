"""Managing subsidy policies (the pages of ``subsidies/pages.py``): who reads and who changes a
policy, the form's values in people's units (yuan, hours) turned into the ledger's (fen,
minutes) and back, the checks across fields (pure), and the writes — each audited by the
``Audited`` model, flushed, committed by the request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from yiyang.core.clock import today_local
from yiyang.core.errors import Forbidden, NotFound, ValidationFailed, field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path, within_path
from yiyang.subsidies.enums import CarryOver, PolicyKind
from yiyang.subsidies.models import SubsidyPolicy
from yiyang.subsidies.schemas import PolicyCreate

LEVELS = range(1, 7)  # care levels 1–6 may have their own monthly amount (0: none)

# What a field must hold, beside it (never pydantic's English).
HINTS = {
    "code": N_("2–32 letters, digits, - or _."),
    "name": N_("2–128 characters."),
    "kind": N_("Choose the kind of subsidy."),
    "categories": N_("Choose among the listed categories."),
    "min_care_level": N_("A care level from 0 to 6."),
    "monthly_amount": N_("Enter an amount of 0 or more, e.g. 600 or 12.5."),
    "amount_by_level": N_("Enter an amount of 0 or more, e.g. 600 or 12.5."),
    "per_meal_fen": N_("Enter an amount from 0 to 100 yuan, e.g. 10 or 2.5."),
    "carry_over": N_("Choose what happens to what is left at month end."),
    "carry_cap": N_("Enter an amount of 0 or more, e.g. 600 or 12.5."),
    "priority": N_("A number from 0 to 1000 (lower pays first)."),
    "starts_on": N_("Choose the first day of the policy."),
    "ends_on": N_("Choose a day on or after the first day."),
}


# --- who may read and change -------------------------------------------------------------


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def readable(actor: Actor) -> ColumnElement[bool]:
    """The policies that apply in the actor's area: issued for it or above it, or for a part
    of it. Person-scoped roles read none here (their balances are on their own page)."""
    scope = region_scope_path(actor)
    if scope is None or not actor.can(Perm.VIEW_SUBSIDIES):
        return false()
    if scope == "/":
        return true()
    return or_(
        SubsidyPolicy.region_path.in_(_ancestors(scope)),
        within_path(SubsidyPolicy.region_path, scope),
    )


def can_manage(actor: Actor, policy: SubsidyPolicy | None = None) -> bool:
    """District officers (and the platform admin) change the policies of their own district."""
    scope = region_scope_path(actor)
    if scope is None or not actor.can(Perm.MANAGE_SUBSIDIES):
        return False
    return policy is None or policy.region_path.startswith(scope)


def list_policies(session: Session, actor: Actor) -> Sequence[SubsidyPolicy]:
    return session.scalars(
        select(SubsidyPolicy)
        .where(readable(actor))
        .order_by(SubsidyPolicy.ends_on.is_not(None), SubsidyPolicy.priority, SubsidyPolicy.id)
    ).all()


def get_policy(session: Session, actor: Actor, policy_id: int) -> SubsidyPolicy:
    policy = session.scalar(
        select(SubsidyPolicy).where(SubsidyPolicy.id == policy_id, readable(actor))
    )
    if policy is None:
        raise NotFound(_("No such subsidy policy."))
    return policy


def _managed(session: Session, actor: Actor, policy_id: int) -> SubsidyPolicy:
    policy = get_policy(session, actor, policy_id)
    if not can_manage(actor, policy):
        raise Forbidden(_("Only the district that issued this policy may change it."))
    return policy


# --- the form, in people's units (pure) ---------------------------------------------------


def scale(kind: str) -> int:
    """Ledger units per unit typed: fen per yuan, minutes per hour."""
    return 60 if kind == PolicyKind.HOURS else 100


def _amount(text: str, per: int) -> int | None:
    """'12.5' yuan → 1250 fen (per=100); '' → None; anything else raises ValueError."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite() or value < 0 or value > 10_000_000:
        raise ValueError(text)
    return int((value * per).to_integral_value())


def from_form(
    form: Mapping[str, Any], categories: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body of a policy from the form's strings (``categories``: the boxes ticked), and
    the fields that are not numbers."""
    text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    kind = text.get("kind", "")
    per = scale(kind)
    body: dict[str, Any] = {
        "code": text.get("code", ""),
        "name": text.get("name", ""),
        "kind": kind,
        "categories": list(categories),
        "min_care_level": text.get("min_care_level") or None,
        "carry_over": text.get("carry_over") or CarryOver.NONE.value,
        "priority": text.get("priority") or 100,
        "starts_on": text.get("starts_on") or None,
        "ends_on": text.get("ends_on") or None,
    }
    errors: dict[str, str] = {}
    amounts = {
        "monthly_amount": ("monthly_amount", per),
        "per_meal_fen": ("per_meal", 100),
        "carry_cap": ("carry_cap", per),
    }
    for key, (name, factor) in amounts.items():
        try:
            body[key] = _amount(text.get(name, ""), factor)
        except ValueError:
            errors[key] = _(HINTS[key])
    levels: dict[str, int] = {}
    for level in LEVELS:
        try:
            value = _amount(text.get(f"level_{level}", ""), per)
        except ValueError:
            errors["amount_by_level"] = _(HINTS["amount_by_level"])
            continue
        if value is not None:
            levels[str(level)] = value
    body["amount_by_level"] = levels
    body["monthly_amount"] = body.get("monthly_amount") or 0
    body["per_meal_fen"] = body.get("per_meal_fen") or 0
    return body, errors


def to_form(policy: SubsidyPolicy) -> dict[str, Any]:
    """A policy as the form shows it (yuan, hours)."""
    per = scale(policy.kind)

    def shown(value: int | None, factor: int) -> str:
        if value is None:
            return ""
        return f"{Decimal(value) / factor:f}".rstrip("0").rstrip(".") if value else "0"

    return {
        "code": policy.code,
        "name": policy.name,
        "kind": policy.kind,
        "categories": list(policy.categories or []),
        "min_care_level": "" if policy.min_care_level is None else str(policy.min_care_level),
        "monthly_amount": shown(policy.monthly_amount, per),
        "per_meal": shown(policy.per_meal_fen, 100),
        "carry_over": policy.carry_over,
        "carry_cap": shown(policy.carry_cap, per),
        "priority": str(policy.priority),
        "starts_on": policy.starts_on.isoformat(),
        "ends_on": policy.ends_on.isoformat() if policy.ends_on else "",
        **{f"level_{lv}": shown((policy.amount_by_level or {}).get(str(lv)), per) for lv in LEVELS},
    }


def check_terms(data: PolicyCreate) -> dict[str, str]:
    """What the fields say together (pure): an amount for the kind, a cap when capped, an end
    not before the start."""
    errors: dict[str, str] = {}
    if data.kind == PolicyKind.PER_MEAL:
        if data.per_meal_fen <= 0:
            errors["per_meal_fen"] = _("A per-meal subsidy needs an amount per meal.")
    elif data.monthly_amount <= 0 and not any(data.amount_by_level.values()):
        errors["monthly_amount"] = _("Give the monthly amount, or an amount per care level.")
    if data.carry_over == CarryOver.CAP and data.carry_cap is None:
        errors["carry_cap"] = _("Give the most that may be carried over.")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        errors["ends_on"] = _(HINTS["ends_on"])
    return errors


def validate(body: Mapping[str, Any], errors: Mapping[str, str]) -> PolicyCreate:
    """The policy the form makes, or ValidationFailed with every field's error (``fields``)."""
    out = dict(errors)
    data: PolicyCreate | None = None
    try:
        data = PolicyCreate(**{k: v for k, v in body.items() if k not in out})
    except ValidationError as exc:
        for e in field_errors(exc.errors()):
            key = e["field"].split(".")[0] or "form"
            out.setdefault(key, _(HINTS[key]) if key in HINTS else e["message"])
    if data is not None and not out:
        out.update(check_terms(data))
    if out or data is None:
        first = next(iter(out), "form")
        raise ValidationFailed(out.get(first, ""), field=first, fields=out)
    return data


# --- writes (audited by the model; flushed, never committed) --------------------------------


def create_policy(session: Session, actor: Actor, data: PolicyCreate) -> SubsidyPolicy:
    if not can_manage(actor):
        raise Forbidden(_("Your role may not do this."))
    if session.scalar(select(SubsidyPolicy.id).where(SubsidyPolicy.code == data.code)):
        raise ValidationFailed(_("A policy with this code already exists."), field="code")
    policy = SubsidyPolicy(**data.model_dump(), region_path=actor.region_path, active=True)
    session.add(policy)
    session.flush()
    return policy


def update_policy(
    session: Session, actor: Actor, policy_id: int, data: PolicyCreate
) -> SubsidyPolicy:
    """Change a policy's terms (its code stays: ledger accounts and reports name it)."""
    policy = _managed(session, actor, policy_id)
    for key, value in data.model_dump(exclude={"code"}).items():
        if getattr(policy, key) != value:
            setattr(policy, key, value)
    session.flush()
    return policy


def end_policy(session: Session, actor: Actor, policy_id: int, ends_on: dt.date) -> SubsidyPolicy:
    """End a policy on a day (today or later, not before it started): no allocation after its
    month, no payment after that day; what was paid stays in the ledger."""
    policy = _managed(session, actor, policy_id)
    if ends_on < max(policy.starts_on, today_local()):
        raise ValidationFailed(
            _("Choose a day from today on, not before the policy starts."), field="ends_on"
        )
    policy.ends_on = ends_on
    session.flush()
    return policy

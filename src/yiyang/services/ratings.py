"""Ratings: the elder's side rates a confirmed order once, 1–5 stars; provider and caregiver
scores are Bayesian averages (``services/scoring.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.errors import Conflict, Forbidden
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.services import repository as repo
from yiyang.services import scoring
from yiyang.services.enums import OrderState
from yiyang.services.models import Rating
from yiyang.services.orders import elder_side, get_order


def rate(session: Session, actor: Actor, order_id: int, stars: int, comment: str | None) -> Rating:
    if not elder_side(actor):
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
    column = Rating.provider_id if kind == "provider" else Rating.caregiver_id
    totals = repo.rating_totals(session, column, subject_ids)
    prior = repo.platform_mean(session)
    return {i: scoring.bayesian(*totals.get(i, (0, 0)), prior) for i in subject_ids}


def score(session: Session, kind: str, subject_id: int) -> scoring.Score:
    return scores(session, kind, [subject_id])[subject_id]

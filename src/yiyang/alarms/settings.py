"""Rule settings: who may tune an elder's alarms and where, and the check that every stored
override is safe where it applies.

The one model is ``rules.Params`` (with its safe ranges, ``alarms/limits.py``): a region's row
and an elder's row are layers of it. A write is checked on top of the layers that apply below it
(an elder's row over its district → street → community rows), so what the engine will run is
safe at the moment of the write; ``ParamsCache`` checks again when it reads, because a later
change of a region's row can make an elder's older row unsafe there. Writes are audited with
before and after by the ``Audited`` model hook. Services flush, never commit.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from yiyang.alarms import repository, rules
from yiyang.alarms.limits import ParamError
from yiyang.alarms.models import RuleSettings
from yiyang.core.errors import Forbidden, NotFound, ValidationFailed, field_errors
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder


def param_errors(exc: ValidationError, prefix: str = "params.") -> list[dict[str, str]]:
    """Field-level errors, one per problem (a safe-range check reports them all at once)."""
    out: list[dict[str, str]] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ParamError):
            out += [
                {"field": prefix + p.field, "message": p.message, "type": "safe_range"}
                for p in cause.problems
            ]
        else:
            out += [{**e, "field": prefix + e["field"]} for e in field_errors([error])]
    return out


def check_override(below: list[Any], params: dict[str, Any]) -> rules.Params:
    """What an override makes of the layers under it; 422 with every problem when unsafe."""
    base = rules.Params.layered_safely(*below).model_dump()
    try:
        return rules.Params.layered(base, params)
    except ValidationError as exc:
        raise ValidationFailed(
            _("Some rule parameters are not valid."), errors=param_errors(exc)
        ) from None


def access_elder(session: Session, actor: Actor, elder_id: int) -> Elder:
    """An elder the actor may read, or 404 (another street's elder is not there for them)."""
    elder = elders.get_readable(session, actor, elder_id)
    if elder is None:
        raise NotFound(_("No such elder in your area."))
    return elder


def effective(session: Session, elder: Elder) -> tuple[rules.Params, list[str]]:
    """The parameters the engine runs for this elder, and the stored keys it leaves out."""
    sources = repository.region_layers(session, elder.region_path)
    row = repository.settings_row(session, elder_id=elder.id)
    layers = [params for _path, params in sources] + [row.params if row else None]
    names = [path for path, _params in sources] + ["elder"]
    rejected: list[tuple[int, str, Any]] = []
    params = rules.Params.layered_safely(*layers, rejected=rejected)
    return params, [f"{names[i]}: {key}" for i, key, _value in rejected]


def set_elder_settings(
    session: Session, actor: Actor, elder_id: int, params: dict[str, Any], note: str | None
) -> RuleSettings:
    elder = access_elder(session, actor, elder_id)
    below = [p for _path, p in repository.region_layers(session, elder.region_path)]
    check_override(below, params)
    row = repository.settings_row(session, elder_id=elder_id, lock=True)
    if row is None:
        row = RuleSettings(elder_id=elder_id, params={})
        session.add(row)
    return _write(session, row, params, note)


def set_region_settings(
    session: Session, actor: Actor, region_path: str, params: dict[str, Any], note: str | None
) -> RuleSettings:
    scope = region_scope_path(actor)
    if scope is None or not region_path.startswith(scope):
        raise Forbidden(_("That region is outside your area."))
    if not repository.region_exists(session, region_path):
        raise ValidationFailed(_("No such region."), field="region_path")
    below = [p for path, p in repository.region_layers(session, region_path) if path != region_path]
    check_override(below, params)
    row = repository.settings_row(session, region_path=region_path, lock=True)
    if row is None:
        row = RuleSettings(region_path=region_path, params={})
        session.add(row)
    return _write(session, row, params, note)


def _write(
    session: Session, row: RuleSettings, params: dict[str, Any], note: str | None
) -> RuleSettings:
    # Stored as JSON (tuples become lists), exactly the keys given: the rest stay inherited.
    row.params, row.note = dict(params), note
    session.flush()
    return row

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

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import UnionType
from typing import Any, Union, get_origin

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from yiyang.alarms import limits, repository, rules
from yiyang.alarms.limits import ParamError
from yiyang.alarms.models import RuleSettings
from yiyang.alarms.rules import feedback
from yiyang.core import clock
from yiyang.core.errors import Forbidden, NotFound, ValidationFailed, field_errors
from yiyang.core.i18n import N_
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


# -- the settings pages (issue #19): one row per parameter, the form's values ------------------


# What each parameter is, for the settings pages (the code name is shown beside it; a parameter
# without a label here shows its code name only).
PARAM_LABELS: dict[str, str] = {
    "heart_rate_warn": N_("Heart rate, warning range"),
    "heart_rate_crit": N_("Heart rate, critical range"),
    "spo2_warn_below": N_("SpO2, warning below"),
    "spo2_crit_below": N_("SpO2, critical below"),
    "breathing_rate_warn": N_("Breathing rate, warning range"),
    "breathing_rate_crit": N_("Breathing rate, critical range"),
    "bp_warn": N_("Blood pressure, warning at (systolic, diastolic)"),
    "bp_crit": N_("Blood pressure, critical at (systolic, diastolic)"),
    "glucose_warn": N_("Blood glucose, warning range"),
    "glucose_crit": N_("Blood glucose, critical range"),
    "sustain": N_("Readings in a row before a vital-signs alarm"),
    "geofence_radius_m": N_("Safe zone radius around the home"),
    "geofence_polygon": N_("Safe zone as a polygon"),
    "geofence_confirm_points": N_("Fixes outside before a wandering alarm"),
    "inactivity_hours": N_("No activity for (until the home is learned)"),
    "waking_start": N_("Waking hours start"),
    "waking_end": N_("Waking hours end"),
    "morning_start": N_("Morning window start"),
    "morning_end": N_("Morning window end"),
    "morning_quiet_minutes": N_("Quiet into the morning before an alarm"),
    "prewarn_minutes": N_("Ask the elder first, this long before the alert"),
    "water_no_use_hours": N_("No water used for"),
    "water_running_hours": N_("Water running for"),
    "water_flow_min_lph": N_("Flow that counts as water running"),
    "night_start": N_("Night starts"),
    "night_end": N_("Night ends"),
    "bed_by": N_("In bed by"),
    "bed_grace_minutes": N_("Grace after bedtime"),
    "routine_min_expected": N_("Routine: least usual activity to compare"),
    "routine_ratio": N_("Routine: share of the usual below which to check in"),
    "routine_min_days": N_("Routine: days learned before comparing"),
    "silence_learn_days": N_("Days learned before the home's own silences decide"),
    "silence_check_factor": N_("Check-in at this multiple of the home's longest silence"),
    "silence_spare_days": N_("Odd longest days left out"),
    "silence_check_margin_minutes": N_("Margin added before a check-in"),
    "silence_alarm_after_minutes": N_("Alarm this long after an unanswered check-in"),
    "silence_max_hours": N_("Alarm after this long in any case"),
    "out_max_hours": N_("Out through the door this long: check in"),
    "silence_sensitivity": N_("Silence sensitivity"),
    "silence_hours_around": N_("Hours either side compared"),
    "silence_feedback_step": N_("Widening per false alarm"),
    "silence_feedback_max": N_("Widest after false alarms"),
    "check_in_answer_minutes": N_("Check-in unanswered: alarm after"),
    "check_in_unreachable_minutes": N_("Elder unreachable: alarm after"),
    "battery_low": N_("Battery low at"),
    "offline_factor": N_("Device offline after this many reporting intervals"),
    "line_grace_s": N_("Alarm panel line lost: grace"),
    "not_worn_hours": N_("Watch not worn for"),
    "storm_max_new": N_("At most this many new alerts per elder in the window"),
    "storm_window_minutes": N_("Alert storm window"),
    "escalation": N_("Escalation ladder while nobody acknowledges"),
}


@dataclass(frozen=True, slots=True)
class ParamRow:
    """One parameter on a settings page: what applies, where it comes from, this layer's own."""

    name: str
    value: str  # in effect, as typed in the form
    source: str  # the layer it comes from: "" (code default), a region path, or "elder"
    own: str  # this layer's stored value as typed in the form ("" = inherited)
    safe: str  # the safe range
    unit: str
    note: str
    choices: tuple[str, ...]
    json: bool  # typed as JSON (mappings and lists)
    label: str = ""  # what it is (a msgid, ``PARAM_LABELS``)


def _json_typed(name: str) -> bool:
    """Mappings and lists (``sustain``, ``escalation``, ``geofence_polygon``) are typed as JSON."""
    origin = get_origin(rules.Params.model_fields[name].annotation)
    return origin in (dict, list, Union, UnionType)


def shown(value: Any, as_json: bool = False) -> str:
    """A parameter value as typed in the form: "40, 130" for a pair, JSON for a mapping."""
    if value is None:
        return ""
    if as_json:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def safe_text(name: str, safe: limits.Safe) -> str:
    bound = safe.bound
    if safe.choices:
        return " / ".join(safe.choices)
    if isinstance(bound, limits.Bound):
        return bound.text()
    if isinstance(bound, tuple):
        return " / ".join(b.text() for b in bound)
    if isinstance(bound, Mapping):
        return "; ".join(f"{k} {b.text()}" for k, b in bound.items())
    return "HH:MM" if isinstance(getattr(rules.DEFAULTS, name), str) else ""


def param_rows(layers: list[tuple[str, Any]], own: int) -> list[ParamRow]:
    """The page's rows for ``layers`` (region rows from the district down, then maybe the
    elder's; ``own`` the index of the layer the page edits). A stored key the engine leaves out
    as unsafe there is shown as not applying (its source is the layer below)."""
    rejected: list[tuple[int, str, Any]] = []
    params = rules.Params.layered_safely(*(layer for _name, layer in layers), rejected=rejected)
    left_out = {(index, key.split(".")[0]) for index, key, _value in rejected}
    mine = layers[own][1] or {}
    out = []
    for name, info in rules.Params.model_fields.items():
        source = ""
        for index, (label, layer) in enumerate(layers):
            if isinstance(layer, dict) and name in layer and (index, name) not in left_out:
                source = label
        safe = limits.safe_of(info)
        as_json = _json_typed(name)
        value = params.model_dump(mode="json", include={name})[name]
        out.append(
            ParamRow(
                name,
                shown(value, as_json),
                source,
                shown(mine[name], as_json) if name in mine else "",
                safe_text(name, safe),
                safe.unit,
                safe.note,
                safe.choices,
                as_json,
                PARAM_LABELS.get(name, ""),
            )
        )
    return out


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    annotation: Any = rules.Params.model_fields[name].annotation
    return TypeAdapter(annotation)


_PAIR_SPLIT = re.compile(r"[\s,，/、]+")


def form_params(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A settings form → (the overrides, errors by parameter). An empty field inherits; a pair
    is typed "40, 130", a mapping or list as JSON. Each value is read as its parameter's type
    here (stored typed, never as the text typed); the safe ranges are checked by the write."""
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in rules.Params.model_fields:
        raw = str(form.get(name) or "").strip()
        if not raw:
            continue
        value: Any = raw
        try:
            if _json_typed(name):
                value = json.loads(raw)
            elif get_origin(rules.Params.model_fields[name].annotation) is tuple:
                value = [v for v in _PAIR_SPLIT.split(raw) if v]
            adapter = _adapter(name)
            params[name] = adapter.dump_python(adapter.validate_python(value), mode="json")
        except json.JSONDecodeError:
            errors[name] = _("Enter it as JSON, as shown.")
        except ValidationError as exc:
            errors[name] = " ".join(e["message"] for e in field_errors(exc.errors()))
    return params, errors


def errors_by_param(exc: ValidationFailed) -> dict[str, str]:
    """A refused write's field errors ("params.sustain.bp") by the form's field ("sustain")."""
    out: dict[str, str] = {}
    for e in exc.extra.get("errors", []):
        name = str(e.get("field", "")).removeprefix("params.").split(".")[0] or "form"
        out[name] = " ".join(filter(None, [out.get(name), e.get("message", "")]))
    if not out:
        out[exc.field or "form"] = exc.message
    return out


def region_layers_for_page(session: Session, path: str) -> tuple[list[tuple[str, Any]], int]:
    """The region rows that apply at ``path``, its own (maybe empty) last."""
    layers = [(p, params) for p, params in repository.region_layers(session, path) if p != path]
    row = repository.settings_row(session, region_path=path)
    layers.append((path, row.params if row else {}))
    return layers, len(layers) - 1


def elder_layers_for_page(session: Session, elder: Elder) -> tuple[list[tuple[str, Any]], int]:
    """The region rows over the elder, then the elder's own (maybe empty)."""
    layers = list(repository.region_layers(session, elder.region_path))
    row = repository.settings_row(session, elder_id=elder.id)
    layers.append(("elder", row.params if row else {}))
    return layers, len(layers) - 1


def check_region(session: Session, actor: Actor, path: str) -> str:
    """A region the actor may set the rules of: 403 outside their area, 404 when none."""
    scope = region_scope_path(actor)
    if scope is None or not path.startswith(scope):
        raise Forbidden(_("That region is outside your area."))
    if not repository.region_exists(session, path):
        raise NotFound(_("No such region."))
    return path


def current_feedback(session: Session, elder: Elder) -> feedback.Feedback:
    """What the operators' verdicts widen this elder's silence thresholds by now (as the worker
    will read them, ``repository.silence_verdicts``)."""
    params, _rejected = effective(session, elder)
    at = clock.now()
    verdicts = repository.silence_verdicts(session, [elder.id], at).get(elder.id, ())
    return feedback.feedback(verdicts, at, params)

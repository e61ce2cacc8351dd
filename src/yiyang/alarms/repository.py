"""Reading and writing rule state, elder facts and rule parameters for the rule worker, and the
scoped alert queries for everyone else."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import Session

from yiyang.alarms import rules
from yiyang.alarms.enums import Outcome
from yiyang.alarms.models import Alert, ElderState, RuleSettings
from yiyang.alarms.rules import feedback
from yiyang.core import clock
from yiyang.core.bulk import copy_upsert
from yiyang.core.db import among, upsert
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, elder_row_scope
from yiyang.regions.models import Region
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder

log = logging.getLogger(__name__)

STATE_FIELDS = [f.name for f in fields(rules.State)]


def load_states(
    session: Session, elder_ids: list[int]
) -> dict[int, tuple[rules.State, dt.datetime]]:
    """Stored states with the time each was written."""
    out: dict[int, tuple[rules.State, dt.datetime]] = {}
    if not elder_ids:
        return out
    table: Table = ElderState.__table__  # type: ignore[assignment]
    if session.get_bind().dialect.name == "postgresql":
        # the worker's hottest read: plain rows (the connection speaks UTC, JSON is decoded by
        # the driver), no per-value type processing
        raw = session.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute(_LOAD_STATES, (elder_ids,))
            rows = cur.fetchall()
        for elder_id, updated_at, *values in rows:
            state = rules.State(*values)
            state.recent = state.recent or {}
            out[elder_id] = (state, updated_at)
        return out
    query = select(table.c.elder_id, table.c.updated_at, *(table.c[k] for k in STATE_FIELDS))
    for row in session.execute(query.where(among(table.c.elder_id, elder_ids))):
        values = row._asdict()
        elder_id, updated_at = values.pop("elder_id"), values.pop("updated_at")
        values["recent"] = values["recent"] or {}
        out[elder_id] = (rules.State(**values), updated_at)
    return out


_LOAD_STATES = (
    f"SELECT elder_id, updated_at, {', '.join(STATE_FIELDS)} FROM elder_state"
    " WHERE elder_id = ANY(%s::int[])"
)


class StateCache:
    """Rule states this worker read or wrote lately, so that a batch reads only each state's
    ``updated_at`` (a narrow index-only look) and decodes a full row only when another writer
    has changed it since — a worker that took the partition over meanwhile, say. Entries are
    immutable snapshots; a batch works on fresh ``State`` objects made from them, and the cache
    learns what a batch wrote only after its commit."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._entries: dict[int, tuple[dt.datetime, tuple[Any, ...]]] = {}

    def load(
        self, session: Session, elder_ids: list[int]
    ) -> tuple[dict[int, rules.State], dict[int, tuple[Any, ...]]]:
        """The elders' states (new ones for elders without a row) and, for those with a row,
        snapshots of what is stored."""
        states: dict[int, rules.State] = {}
        before: dict[int, tuple[Any, ...]] = {}
        if not elder_ids:
            return states, before
        table: Table = ElderState.__table__  # type: ignore[assignment]
        versions = dict(
            session.execute(
                select(table.c.elder_id, table.c.updated_at).where(
                    among(table.c.elder_id, elder_ids)
                )
            ).all()
        )
        stale = []
        for elder_id, version in versions.items():
            hit = self._entries.get(elder_id)
            if hit is not None and hit[0] == version:
                states[elder_id] = from_snapshot(hit[1])
                before[elder_id] = hit[1]
            else:
                stale.append(elder_id)
        for elder_id, (state, version) in load_states(session, stale).items():
            snap = snapshot(state)
            states[elder_id], before[elder_id] = state, snap
            self._remember(elder_id, version, snap)
        return states, before

    def saved(self, written: dict[int, tuple[Any, ...]], version: dt.datetime) -> None:
        """After the commit: these snapshots are now stored with ``updated_at = version``."""
        for elder_id, snap in written.items():
            self._remember(elder_id, version, snap)

    def _remember(self, elder_id: int, version: dt.datetime, snap: tuple[Any, ...]) -> None:
        self._entries.pop(elder_id, None)
        self._entries[elder_id] = (version, snap)
        if len(self._entries) > self.size:  # forget the least recently stored tenth
            for key in list(self._entries)[: self.size // 10]:
                del self._entries[key]


def snapshot(state: rules.State) -> tuple[Any, ...]:
    """A comparable copy of a state (the rules replace ``recent``'s lists, never edit them)."""
    values = [getattr(state, k) for k in STATE_FIELDS]
    values[_RECENT] = dict(state.recent)
    return tuple(values)


_RECENT = STATE_FIELDS.index("recent")


def from_snapshot(snap: tuple[Any, ...]) -> rules.State:
    state = rules.State(*snap)
    state.recent = dict(snap[_RECENT])
    return state


def save_states(session: Session, states: dict[int, rules.State], now: dt.datetime) -> None:
    if not states:
        return
    rows = [
        {"elder_id": e, **{k: getattr(s, k) for k in STATE_FIELDS}, "updated_at": now}
        for e, s in states.items()
    ]
    columns = [*STATE_FIELDS, "updated_at"]
    if session.get_bind().dialect.name == "postgresql":
        table: Table = ElderState.__table__  # type: ignore[assignment]
        copy_upsert(session.connection(), table, rows, ("elder_id",), update=columns, binary=True)
        return
    stmt = upsert(session, ElderState)
    stmt = stmt.on_conflict_do_update(
        index_elements=["elder_id"], set_={k: getattr(stmt.excluded, k) for k in columns}
    )
    session.execute(stmt, rows)


# Other domains' signs that a person reached the elder and found them well (the check-in
# calls of ``checkins``, which depends on alarms, not the reverse): (session, elder ids, now) →
# elder id → the latest such moment. Registered at start-up (``domains.install``).
LifeSigns = Callable[[Session, list[int], dt.datetime], dict[int, dt.datetime]]
_LIFE_SIGNS: list[LifeSigns] = []


def register_life_signs(source: LifeSigns) -> None:
    if source not in _LIFE_SIGNS:
        _LIFE_SIGNS.append(source)


def life_signs(session: Session, elder_ids: list[int], now: dt.datetime) -> dict[int, dt.datetime]:
    """The latest moment a person found each elder well, from every registered source."""
    out: dict[int, dt.datetime] = {}
    for source in _LIFE_SIGNS:
        for elder_id, at in source(session, elder_ids, now).items():
            at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            if elder_id not in out or at > out[elder_id]:
                out[elder_id] = at
    return out


class ElderFacts:
    """Facts the rules need about elders (dementia, home, the operators' recent verdicts on
    their silence alerts), cached for ``ttl`` seconds: a verdict reaches the rules within
    ``ttl``, read from the alerts, so no web request writes the worker's rule state."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._cache: dict[int, tuple[float, rules.Facts, str]] = {}

    def get(self, session: Session, elder_ids: set[int]) -> dict[int, tuple[rules.Facts, str]]:
        stamp = time.monotonic()
        missing = [
            e for e in elder_ids if (h := self._cache.get(e)) is None or stamp - h[0] > self.ttl
        ]
        for chunk in range(0, len(missing), 1000):
            ids = missing[chunk : chunk + 1000]
            rows = elders.system_rows(
                session,
                ids,
                Elder.dementia,
                Elder.latitude,
                Elder.longitude,
                Elder.region_path,
            )
            verdicts = silence_verdicts(session, ids, clock.now())
            well = life_signs(session, ids, clock.now())
            for r in rows:
                home = (r.latitude, r.longitude) if r.latitude is not None else None
                facts = rules.Facts(
                    r.id,
                    bool(r.dementia),
                    home,
                    outcomes=verdicts.get(r.id, ()),
                    well_at=well.get(r.id),
                )
                self._cache[r.id] = (stamp, facts, r.region_path)
        return {e: (h[1], h[2]) for e in elder_ids if (h := self._cache.get(e))}


def silence_verdicts(
    session: Session, elder_ids: list[int], now: dt.datetime
) -> dict[int, tuple[tuple[dt.datetime, str, str], ...]]:
    """The operators' verdicts that ``rules.feedback`` reads, per elder: (when the alert
    happened, its type, its outcome) of the resolved silence alerts judged a false alarm or a
    real emergency in the last 28 days (and a day more: the facts are cached)."""
    since = now - feedback.WINDOW - dt.timedelta(days=1)
    rows = session.execute(
        select(Alert.elder_id, Alert.first_at, Alert.alert_type, Alert.outcome)
        .where(
            among(Alert.elder_id, elder_ids),
            Alert.alert_type.in_([t.value for t in feedback.SILENCE_TYPES]),
            Alert.outcome.in_([Outcome.FALSE_ALARM.value, Outcome.REAL_EMERGENCY.value]),
            Alert.first_at >= since,
        )
        .order_by(Alert.elder_id, Alert.first_at)
    ).all()
    out: dict[int, list[tuple[dt.datetime, str, str]]] = {}
    for elder_id, first_at, alert_type, outcome in rows:
        at = first_at if first_at.tzinfo else first_at.replace(tzinfo=dt.UTC)
        out.setdefault(elder_id, []).append((at, alert_type, str(outcome)))
    return {e: tuple(v) for e, v in out.items()}


class ParamsCache:
    """Rule parameters per elder: code defaults ← region rows (district → street → community)
    ← the elder's row. The settings table is small; it is re-read every ``ttl`` seconds.

    Every row is checked again when read: a stored key that is not safe on top of the layers
    below it (a row written before the safe ranges, edited by hand, or made unsafe by a change
    of its region's row) is left out, and that parameter keeps the value of the layer below;
    each such key is logged once per reload and listed in ``rejected``. The engine never runs
    with unsafe parameters and never fails on a stored row."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._loaded = -1e9
        self._regions: dict[str, Any] = {}
        self._elders: dict[int, Any] = {}
        self._memo: dict[tuple[str, int], rules.Params] = {}
        self.rejected: dict[tuple[str, str], Any] = {}  # (row, key) → the stored value

    def refresh(self, session: Session, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded < self.ttl:
            return
        regions, elders = {}, {}
        for row in session.scalars(select(RuleSettings)):
            if row.elder_id is not None:
                elders[row.elder_id] = row.params
            elif row.region_path:
                regions[row.region_path] = row.params
        self._regions, self._elders, self._memo = regions, elders, {}
        self.rejected = {}
        self._loaded = time.monotonic()

    def for_elder(self, elder_id: int, region_path: str) -> rules.Params:
        key = (region_path, elder_id if elder_id in self._elders else 0)
        hit = self._memo.get(key)
        if hit is None:
            sources = [p for p in sorted(self._regions) if region_path.startswith(p)]
            layers = [self._regions[p] for p in sources]
            if elder_id in self._elders:
                sources.append(f"elder {elder_id}")
                layers.append(self._elders[elder_id])
            rejected: list[tuple[int, str, Any]] = []
            hit = rules.Params.layered_safely(*layers, rejected=rejected)
            for index, name, value in rejected:
                where = (sources[index], name)
                if where not in self.rejected:
                    self.rejected[where] = value
                    log.warning(
                        "rule settings of %s: %s=%r is outside the safe ranges here; "
                        "the value below it applies",
                        *where,
                        value,
                    )
            self._memo[key] = hit
        return hit


def settings_row(
    session: Session,
    *,
    elder_id: int | None = None,
    region_path: str | None = None,
    lock: bool = False,
) -> RuleSettings | None:
    """The stored settings row of one elder or one region (``lock``: for a write)."""
    where = (
        RuleSettings.elder_id == elder_id
        if elder_id is not None
        else RuleSettings.region_path == region_path
    )
    query = select(RuleSettings).where(where)
    return session.scalar(query.with_for_update() if lock else query)


def region_layers(session: Session, region_path: str) -> list[tuple[str, Any]]:
    """The region rows that apply at ``region_path`` (its own and its ancestors'), from the
    district down — the layers ``ParamsCache`` puts under an elder's row."""
    rows = session.execute(
        select(RuleSettings.region_path, RuleSettings.params).where(
            RuleSettings.region_path.is_not(None)
        )
    ).all()
    found = [(p, params) for p, params in rows if p and region_path.startswith(p)]
    return sorted(found, key=lambda row: row[0])


def region_names(session: Session, paths: list[str]) -> dict[str, str]:
    """Region names by path (for the sources shown on the rule settings pages)."""
    if not paths:
        return {}
    return dict(
        session.execute(select(Region.path, Region.name).where(Region.path.in_(paths))).all()
    )


def region_exists(session: Session, path: str) -> bool:
    return session.scalar(select(Region.id).where(Region.path == path).limit(1)) is not None


def alert_scope(actor: Actor) -> ColumnElement[bool]:
    return elder_row_scope(actor, Perm.VIEW_ALERTS, Alert.region_path, Alert.elder_id)


def readable_alerts(actor: Actor) -> Select[Alert]:
    return select(Alert).where(alert_scope(actor))


def filtered(
    actor: Actor,
    *,
    states: Sequence[str] | None = None,
    open_only: bool = False,
    severity: str | None = None,
    alert_type: str | None = None,
    elder_id: int | None = None,
) -> Select[Alert]:
    """The actor's alerts with the list filters, newest first."""
    from yiyang.alarms.enums import AlertState

    query = readable_alerts(actor)
    if states:
        query = query.where(Alert.state.in_(states))
    if open_only:
        query = query.where(Alert.state != AlertState.RESOLVED)
    if severity:
        query = query.where(Alert.severity == severity)
    if alert_type:
        query = query.where(Alert.alert_type == alert_type)
    if elder_id is not None:
        query = query.where(Alert.elder_id == elder_id)
    return query.order_by(Alert.created_at.desc(), Alert.id.desc())

"""分权分域 in one place: which rows an actor may read, and how a value is shown to them.

Core holds the mechanism: the ``Actor``, region paths (``within_path``, ``region_scope_path``,
``region_row_visible``) and a registry of named row-scope and masking rules (``ScopeRules``).
A rule that needs a domain's tables is written in that domain's ``permissions.py`` and
registered by its ``register()`` at start-up (``yiyang.domains.install()``, called by the app,
the CLI, the demo loader and the tests), so core imports no domain and a new domain adds its rules
without editing this file (docs/architecture.md, "Scoping rules").

The registry domain registers ``ELDERS`` and ``ELDER_IDS``, the services domain
``CAREGIVER_JOBS``. Every query that lists, shows or exports elders (or rows that hang off an
elder) starts from ``elder_scope(actor)``; ``test_no_module_selects_elders_without_the_scope``
in ``tests/security/test_scoping.py`` fails when a module selects elders without going through the
registry repository.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, func, true

from yiyang.core.roles import REGION_SCOPED, Perm, Role, has_perm


@dataclass(frozen=True)
class Actor:
    """The authenticated user as the rest of the code sees it."""

    user_id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_path: str
    provider_id: int | None = None
    csrf_token: str | None = None
    ip: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, perm: Perm) -> bool:
        return has_perm(self.role, perm)


RowRule = Callable[..., ColumnElement[bool]]
"""A row-scope rule: ``(actor, *columns)`` → the SQL condition that keeps the rows ``actor``
may read. The columns are the caller's (e.g. the ``elder_id`` of the table it queries)."""

MaskRule = Callable[[Actor, Any], Any]
"""A masking rule: ``(actor, value)`` → the value as ``actor`` may see it."""

# The rules core's own functions ask for (each registered by the domain that owns the table).
ELDERS = "elders"
"""``(actor)``: condition on the elder table, the elders ``actor`` may read (registry)."""
ELDER_IDS = "elder_ids"
"""``(actor, elder_id)``: ``elder_id`` is the id of an elder ``actor`` may read (registry)."""
CAREGIVER_JOBS = "caregiver_jobs"
"""``(actor, caregiver_id)``: ``caregiver_id`` is one of ``actor``'s own caregiver records
(services)."""


R = TypeVar("R")


class ScopeRuleMissing(LookupError):
    """A rule was asked for that no domain has registered."""


class ScopeRules:
    """Named row-scope and masking rules. Registering the same function twice under a name is a
    no-op (start-up may run more than once); a different function under a taken name is an
    error, so two domains cannot silently replace each other's rule."""

    def __init__(self) -> None:
        self._rows: dict[str, RowRule] = {}
        self._masks: dict[str, MaskRule] = {}

    def register_row_rule(self, name: str, rule: RowRule) -> None:
        _add(self._rows, "row-scope", name, rule)

    def register_mask_rule(self, name: str, rule: MaskRule) -> None:
        _add(self._masks, "masking", name, rule)

    def row_rule(self, name: str) -> RowRule:
        return _get(self._rows, "row-scope", name)

    def mask_rule(self, name: str) -> MaskRule:
        return _get(self._masks, "masking", name)

    def names(self) -> dict[str, list[str]]:
        return {"row": sorted(self._rows), "mask": sorted(self._masks)}


def _add(rules: dict[str, R], kind: str, name: str, rule: R) -> None:
    known = rules.get(name)
    if known is not None and known is not rule:
        raise ValueError(f"a {kind} rule {name!r} is registered already ({_describe(known)})")
    rules[name] = rule


def _get(rules: dict[str, R], kind: str, name: str) -> R:
    try:
        return rules[name]
    except KeyError:
        known = ", ".join(sorted(rules)) or "none"
        raise ScopeRuleMissing(
            f"no {kind} rule {name!r} is registered (registered: {known}). Domains register "
            f"their rules at start-up: call yiyang.domains.install() before querying (the app, "
            f"the CLI, the demo loader and the tests do), and make sure the domain that owns "
            f"{name!r} registers it in its permissions.register() and is listed in "
            f"yiyang.domains.DOMAINS."
        ) from None


def _describe(rule: object) -> str:
    module = getattr(rule, "__module__", "?")
    return f"{module}.{getattr(rule, '__qualname__', repr(rule))}"


RULES = ScopeRules()
"""The process's rules, filled by ``yiyang.domains.install()``."""

register_row_rule = RULES.register_row_rule
register_mask_rule = RULES.register_mask_rule
row_rule = RULES.row_rule
mask_rule = RULES.mask_rule


CODE = 12  # administrative division codes are 12 digits
STREET_PATH_LEN = 2 * (CODE + 1) + 1  # "/district/street/" = 27 characters
COMMUNITY_PATH_LEN = 3 * (CODE + 1) + 1  # "/district/street/community/" = 40 characters


def within_path(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` lies in the subtree at ``path``, written so that an index can serve it and
    keep the rows in name order: equality for a community (a leaf), the fixed-length street
    prefix for a street, a LIKE prefix above that (see the elder indexes)."""
    if len(path) == COMMUNITY_PATH_LEN:
        return column == path
    if len(path) == STREET_PATH_LEN:
        return func.substr(column, 1, STREET_PATH_LEN) == path
    return column.startswith(path, autoescape=True)


def elder_scope(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on the elder table limiting rows to what ``actor`` may see (the
    ``ELDERS`` rule)."""
    return row_rule(ELDERS)(actor)


def region_scope_path(actor: Actor) -> str | None:
    """The region prefix an actor administers, or None for person-scoped roles."""
    if actor.role is Role.PLATFORM_ADMIN:
        return "/"
    if actor.role in REGION_SCOPED:
        return actor.region_path
    return None


def elder_row_scope(
    actor: Actor, perm: Perm, region_path: Any, elder_id: Any
) -> ColumnElement[bool]:
    """Scope for rows that hang off an elder and carry a copy of its region path (alerts,
    devices): region roles by the row's path (indexed, no join), person-scoped roles through
    the elders they may read (the ``ELDER_IDS`` rule), nobody without ``perm``."""
    if not actor.can(perm):
        return false()
    if actor.role is Role.PLATFORM_ADMIN:
        return true()
    if actor.role in REGION_SCOPED:
        return within_path(region_path, actor.region_path)
    return row_rule(ELDER_IDS)(actor, elder_id)


def region_row_visible(actor: Actor, perm: Perm, region_path: str) -> bool:
    """``elder_row_scope`` for one row already in memory (the live console filters pushed
    alerts with it). Person-scoped roles never see pushed rows: their views query instead."""
    if not actor.can(perm):
        return False
    if actor.role is Role.PLATFORM_ADMIN:
        return True
    return actor.role in REGION_SCOPED and region_path.startswith(actor.region_path)


def service_row_scope(
    actor: Actor,
    perm: Perm,
    region_path: Any,
    elder_id: Any,
    provider_id: Any,
    caregiver_id: Any = None,
) -> ColumnElement[bool]:
    """Scope for service rows (orders, ratings, complaints, meals): region roles by the row's
    region, a provider admin by its own provider, a caregiver by the jobs assigned to them (the
    ``CAREGIVER_JOBS`` rule), families and elders through the elders they may read."""
    if not actor.can(perm):
        return false()
    if actor.role is Role.PROVIDER_ADMIN:
        return provider_id == actor.provider_id if actor.provider_id is not None else false()
    if actor.role is Role.CAREGIVER:
        if caregiver_id is None:
            return false()
        return row_rule(CAREGIVER_JOBS)(actor, caregiver_id)
    return elder_row_scope(actor, perm, region_path, elder_id)

"""The main navigation as a registry: each domain registers the links to its pages (from its
``pages.py``, like its template globals), each with the test that decides who sees it — the
actor's permissions, never a role's name — so nobody is shown a link to a page that would refuse
them. ``base.html`` renders ``nav_for(actor, path)``. A mechanism only: it knows no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.web.templating import register_globals

Visible = Callable[[Actor], bool]


@dataclass(frozen=True)
class NavEntry:
    key: str  # unique, also the link's id in the page ("nav-<key>")
    path: str
    label: str  # a message id (``N_``), translated when the page is rendered
    visible: Visible
    order: int  # position in the bar, lowest first
    matches: tuple[str, ...] = ()  # more path prefixes under which the entry is the current one

    def current(self, path: str) -> bool:
        prefixes = (self.path, *self.matches)
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class NavClash(RuntimeError):
    """Two different entries registered under one key."""


_ENTRIES: dict[str, NavEntry] = {}


def register_nav(*entries: NavEntry) -> None:
    """Add entries; registering the same entry again is a no-op (start-up may run twice), a
    different one under a taken key is refused."""
    for entry in entries:
        known = _ENTRIES.get(entry.key)
        if known is not None and known != entry:
            raise NavClash(f"navigation entry {entry.key!r} is registered already: {known}")
        _ENTRIES[entry.key] = entry


def entries() -> list[NavEntry]:
    return sorted(_ENTRIES.values(), key=lambda e: (e.order, e.key))


def nav_for(actor: Actor | None, path: str = "") -> list[tuple[NavEntry, bool]]:
    """The entries ``actor`` may follow, in order, each with whether ``path`` is under it."""
    if actor is None:
        return []
    return [(e, e.current(path)) for e in entries() if e.visible(actor)]


@dataclass(frozen=True)
class Needs:
    """Visible to an actor holding every one of ``perms`` and none of ``unless`` (a value, so
    the same entry registered twice compares equal)."""

    perms: tuple[Perm, ...]
    unless: tuple[Perm, ...] = ()

    def __call__(self, actor: Actor) -> bool:
        return all(actor.can(p) for p in self.perms) and not any(actor.can(p) for p in self.unless)


def needs(*perms: Perm, unless: tuple[Perm, ...] = ()) -> Needs:
    return Needs(perms, unless)


register_globals(nav_for=nav_for)

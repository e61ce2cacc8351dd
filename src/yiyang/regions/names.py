"""Regions by name, as rolls give them (所属街道 / 所属社区). Pure: an index over the region tree
(code, path, name), resolving a street and a community name within a jurisdiction: exact name
first, then one unambiguous match on the normalised name (NFKC, no spaces, without the
街道/镇/社区/居委会… suffix). Ambiguous and unknown names come back with the candidates."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from yiyang.core.i18n import gettext as _

# Longest first: "社区居委会" must go before "居委会" and "社区".
SUFFIXES = (
    "社区居民委员会",
    "街道办事处",
    "村民委员会",
    "居民委员会",
    "社区居委会",
    "社区居委",
    "村委会",
    "居委会",
    "街道办",
    "街道",
    "社区",
    "居委",
    "镇",
    "乡",
    "村",
)
CANDIDATES_SHOWN = 8


def name_key(name: str) -> str:
    """The normalised name: NFKC, no spaces, without one administrative suffix."""
    text = "".join(unicodedata.normalize("NFKC", name).split())
    for suffix in SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


@dataclass
class RegionRef:
    id: int
    path: str
    name: str = ""

    @property
    def depth(self) -> int:
        """1 district, 2 street, 3 community (from the materialised path)."""
        return self.path.strip("/").count("/") + 1

    @property
    def code(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent_code(self) -> str:
        parts = self.path.strip("/").split("/")
        return parts[-2] if len(parts) > 1 else ""


@dataclass
class Resolved:
    region: RegionRef | None = None
    field: str = ""
    message: str = ""


@dataclass
class RegionIndex:
    """Every region by code, and streets and communities by exact and by normalised name."""

    by_code: dict[str, RegionRef]
    streets: dict[str, list[str]] = field(default_factory=dict)  # name or key → codes
    communities: dict[str, list[str]] = field(default_factory=dict)
    _cache: dict[tuple[str, str, str], Resolved] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, regions: Mapping[str, RegionRef] | RegionIndex) -> RegionIndex:
        if isinstance(regions, RegionIndex):
            return regions
        index = cls(dict(regions))
        for code, ref in index.by_code.items():
            if not ref.name:
                continue
            table = {2: index.streets, 3: index.communities}.get(ref.depth)
            if table is None:
                continue
            exact = "=" + "".join(unicodedata.normalize("NFKC", ref.name).split())
            table.setdefault(exact, []).append(code)
            table.setdefault(name_key(ref.name), []).append(code)
        return index

    def get(self, code: str) -> RegionRef | None:
        return self.by_code.get(code)

    def _label(self, code: str) -> str:
        ref = self.by_code[code]
        parent = self.by_code.get(ref.parent_code)
        return f"{parent.name}/{ref.name}" if parent and ref.depth == 3 else ref.name

    def _match(self, table: dict[str, list[str]], name: str, scope: str) -> tuple[list[str], bool]:
        """Codes in scope named ``name`` (exact, else by normalised name), and whether some
        match outside the scope."""
        exact = "=" + "".join(unicodedata.normalize("NFKC", name).split())
        outside = False
        for lookup in (exact, name_key(name)):
            codes = table.get(lookup, [])
            inside = [c for c in codes if _within(self.by_code[c].path, scope)]
            outside = outside or len(inside) < len(codes)
            if inside:
                return inside, outside
        return [], outside

    def _listed(self, codes: list[str]) -> str:
        shown = [f"{self._label(c)}（{c}）" for c in sorted(codes)[:CANDIDATES_SHOWN]]
        more = len(codes) - len(shown)
        return "、".join(shown) + (f" …(+{more})" if more > 0 else "")

    def _in_scope(self, depth: int, scope: str, parent: str | None = None) -> list[str]:
        return [
            code
            for code, ref in self.by_code.items()
            if ref.depth == depth
            and ref.name
            and _within(ref.path, scope)
            and (parent is None or ref.parent_code == parent)
        ]

    def resolve(self, street: str, community: str, scope: str) -> Resolved:
        """The community named ``community`` (in the street named ``street``, when given)
        within ``scope``; or the field and the reason it cannot be."""
        cache_key = (street, community, scope)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._cache[cache_key] = self._resolve(street, community, scope)
        return found

    def _resolve(self, street: str, community: str, scope: str) -> Resolved:
        street_codes: list[str] | None = None
        if street:
            street_codes, outside = self._match(self.streets, street, scope)
            if not street_codes:
                if outside:
                    return Resolved(
                        None,
                        "street_name",
                        _("The street %(name)s is outside your jurisdiction.", name=street),
                    )
                return Resolved(
                    None,
                    "street_name",
                    _(
                        "Unknown street %(name)s. Streets in your area: %(candidates)s",
                        name=street,
                        candidates=self._listed(self._in_scope(2, scope)) or "-",
                    ),
                )
        codes, outside = self._match(self.communities, community, scope)
        if street_codes is not None:
            in_street = [c for c in codes if self.by_code[c].parent_code in street_codes]
            outside = outside or (bool(codes) and not in_street)
            codes = in_street
        if len(codes) == 1:
            return Resolved(self.by_code[codes[0]])
        if len(codes) > 1:
            return Resolved(
                None,
                "community_name",
                _(
                    "The community name %(name)s fits several communities: %(candidates)s. "
                    "Give the street or the 12-digit region code.",
                    name=community,
                    candidates=self._listed(codes),
                ),
            )
        if outside and street_codes is None:
            return Resolved(
                None,
                "community_name",
                _("The community %(name)s is outside your jurisdiction.", name=community),
            )
        parent = street_codes[0] if street_codes and len(street_codes) == 1 else None
        return Resolved(
            None,
            "community_name",
            _(
                "Unknown community %(name)s. Communities there: %(candidates)s",
                name=community,
                candidates=self._listed(self._in_scope(3, scope, parent)) or "-",
            ),
        )


def _within(path: str, scope: str) -> bool:
    return scope == "/" or path.startswith(scope)

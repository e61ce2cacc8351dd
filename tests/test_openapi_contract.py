"""The JSON API's contract: every route under /api declares a response model, and no response in
the OpenAPI document is a bare ``object`` (what a route returning ``dict`` shows). File downloads,
HTML and routes without a body are the only exceptions, each listed with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

pytestmark = pytest.mark.api

# (method, path) → why the route has no JSON response model.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/docs"): "HTML: the Swagger UI page, not part of the API",
    ("GET", "/api/elders/export.xlsx"): "file download (XLSX)",
    ("GET", "/api/elders/import-template.xlsx"): "file download (XLSX)",
    ("GET", "/api/elders/imports/{batch_id}/rejected.xlsx"): "file download (XLSX)",
    ("GET", "/api/alerts/{alert_id}/brief.pdf"): "file download (PDF)",
    ("GET", "/api/subsidies/statements/{provider_id}/{period}.xlsx"): "file download (XLSX)",
}


def api_routes(routes: Any) -> Iterator[APIRoute]:
    """Every APIRoute, descending into included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def json_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for route in api_routes(app.routes):
        if not route.path.startswith("/api") or route.status_code == 204:
            continue  # pages, or no body at all
        for method in sorted(route.methods):
            yield method, route.path, route


def test_the_walk_finds_the_api() -> None:
    from yiyang.app import create_app

    found = {(m, p) for m, p, _ in json_routes(create_app())}
    assert ("GET", "/api/elders") in found and ("POST", "/api/orders") in found
    assert len(found) > 60
    assert set(EXCEPTIONS) <= found, "an exception names a route that no longer exists"


def test_every_json_route_declares_a_response_model() -> None:
    from yiyang.app import create_app

    missing = [
        f"{method} {path} ({route.endpoint.__module__}.{route.endpoint.__name__})"
        for method, path, route in json_routes(create_app())
        if (method, path) not in EXCEPTIONS
        and (route.response_model is None or _is_bare_mapping(route.response_model))
    ]
    assert not missing, "JSON routes without a response model:\n" + "\n".join(missing)


def _is_bare_mapping(model: Any) -> bool:
    """dict, dict[str, Any], object, list[dict…]: shapes that say nothing about the keys."""
    origin = getattr(model, "__origin__", None)
    if model in (dict, object) or origin is dict:
        return True
    if origin is list:
        return any(_is_bare_mapping(arg) for arg in model.__args__)
    return False


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return _resolve(components[ref.rsplit("/", 1)[-1]], components)
    return schema


def _bare_objects(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """True when the top of the response (or the items of a list) is an object without
    properties; a union (``X | None``) is checked branch by branch."""
    s = _resolve(schema, components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in s:
            return any(_bare_objects(branch, components) for branch in s[key])
    if s.get("type") == "array":
        return _bare_objects(s.get("items", {}), components)
    if s.get("type") == "object" or not s:
        return not s.get("properties")
    return False


def test_no_json_response_is_a_bare_object() -> None:
    from yiyang.app import create_app

    app = create_app()
    doc = app.openapi()
    components = doc.get("components", {}).get("schemas", {})
    bare = []
    for method, path, route in json_routes(app):
        if (method, path) in EXCEPTIONS or not route.include_in_schema:
            continue
        responses = doc["paths"][path][method.lower()]["responses"]
        ok = next(v for k, v in responses.items() if k.startswith("2"))
        schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
        if _bare_objects(schema, components):
            bare.append(f"{method} {path}")
    assert not bare, "responses documented as a bare object:\n" + "\n".join(bare)

"""The FastAPI application: routers, locale selection, and errors rendered once (JSON or HTML)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

import yiyang.models  # noqa: F401  (complete metadata, session audit hook)
from yiyang import __version__, domains
from yiyang.accounts import endpoints as accounts_api
from yiyang.accounts import pages as accounts_pages
from yiyang.alarms import endpoints as alarms_api
from yiyang.alarms import pages as alarms_pages
from yiyang.audit import endpoints as audit_api
from yiyang.audit import pages as audit_pages
from yiyang.checkins import endpoints as checkins_api
from yiyang.checkins import pages as checkins_pages
from yiyang.console import endpoints as console_api
from yiyang.console import pages as console_pages
from yiyang.core import i18n
from yiyang.core.config import get_settings
from yiyang.devices import endpoints as devices_api
from yiyang.devices import pages as devices_pages
from yiyang.notifications import pages as notifications_pages
from yiyang.overview import pages as overview_pages
from yiyang.pipeline.transports import http as ingest_api
from yiyang.presence import endpoints as presence_api
from yiyang.presence import pages as presence_pages
from yiyang.regions import endpoints as regions_api
from yiyang.regions import pages as regions_pages
from yiyang.registry import endpoints as registry_api
from yiyang.registry import pages as registry_pages
from yiyang.registry import synonym_pages
from yiyang.services import endpoints as services_api
from yiyang.services import manage_pages as services_manage_pages
from yiyang.services import pages as services_pages
from yiyang.subsidies import endpoints as subsidies_api
from yiyang.subsidies import pages as subsidies_pages
from yiyang.web import errors
from yiyang.web.security import SecurityHeadersMiddleware
from yiyang.web.templating import render

STATIC = Path(__file__).parent / "web" / "static"


def _lifespan(pipeline: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the device pipeline with the app (when asked) and stop it and the console's live
    hub with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pipeline = None
        if pipeline:
            from yiyang.pipeline.runtime import Pipeline

            if get_settings().bus_url:  # scaled out: gateways and workers run elsewhere
                app.state.pipeline = Pipeline(consume=False, listen=False, loops=False)
            else:
                app.state.pipeline = Pipeline()
            await app.state.pipeline.start()
        try:
            yield
        finally:
            hub = getattr(app.state, "console_hub", None)
            if hub is not None:
                await hub.stop()
                app.state.console_hub = None
            if app.state.pipeline is not None:
                await app.state.pipeline.stop()

    return lifespan


async def _locale_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    chosen = request.query_params.get("lang")
    locale = i18n.pick_locale(chosen, request.cookies.get("lang"), get_settings().default_locale)
    token = i18n.set_locale(locale)
    try:
        response = await call_next(request)
    finally:
        i18n.reset_locale(token)
    if chosen in i18n.SUPPORTED:
        response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="lax")
    response.headers.setdefault("Content-Language", locale.replace("_", "-"))
    return response


def healthz(request: Request) -> JSONResponse:
    """Liveness for a load balancer; with the pipeline here, how that is doing: 503 when a
    received device message has waited too long to be stored (the web part still works
    while a listener reconnects; ``pipeline.mqtt_connected`` says so)."""
    p = getattr(request.app.state, "pipeline", None)
    ok = p is None or not p.health()["stalled"]
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "pipeline": p.health() if p is not None else None,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page links: the same SVG as the pages'."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def api_docs(request: Request) -> Response:
    """Swagger UI from the swagger-ui-bundle-v2 package; no CDN, no inline script."""
    return render(request, "api_docs.html", openapi_url=request.app.openapi_url)


ROUTERS = (
    accounts_api.router,
    registry_api.router,
    devices_api.router,
    ingest_api.router,
    alarms_api.router,
    console_api.router,
    services_api.router,
    subsidies_api.router,
    services_api.settlement_router,
    audit_api.router,
    regions_api.router,
    presence_api.router,
    presence_pages.router,
    checkins_api.router,
    accounts_pages.router,
    registry_pages.router,
    synonym_pages.router,
    audit_pages.router,
    devices_pages.router,
    regions_pages.router,
    alarms_pages.router,
    console_pages.router,
    services_pages.router,
    services_manage_pages.router,
    subsidies_pages.router,
    overview_pages.router,
    notifications_pages.router,
    checkins_pages.router,
)


def create_app(*, pipeline: bool = False) -> FastAPI:
    """The web app; with ``pipeline`` it also runs the device pipeline in the background."""
    domains.install()  # the domains' scoping rules and session store, before any request
    app = FastAPI(
        lifespan=_lifespan(pipeline),
        title="Yiyang 颐养 API",
        version=__version__,
        description="Smart home- and community-based elderly care platform.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below from packaged assets, under the same CSP as every page
        redoc_url=None,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.middleware("http")(_locale_middleware)
    errors.install(app)  # JSON for /api/, an HTML page (or HTMX fragment) for pages
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route("/api/docs", api_docs, methods=["GET"], include_in_schema=False)
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


def serve_app() -> FastAPI:
    """``yiyang serve``: the app with the device pipeline unless YIYANG_PIPELINE=false."""
    return create_app(pipeline=get_settings().pipeline)

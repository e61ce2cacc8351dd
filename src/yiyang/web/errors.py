"""Errors rendered once: JSON for ``/api/`` routes, an HTML page in the product's style for page
routes (a fragment for an HTMX request), a redirect to the sign-in for a page that needs one.

Four sources reach here: our ``DomainError``s (their own message), the request's validation
(``RequestValidationError``: the fields, each message through ``core.errors.field_errors``),
Starlette's HTTP errors (an unknown path, a wrong method) and anything unhandled (500: a
generic message, never the exception's text). :func:`install` registers them on an app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from yiyang.core import i18n
from yiyang.core.auth import optional_actor
from yiyang.core.config import get_settings
from yiyang.core.errors import DomainError, NotAuthenticated, field_errors
from yiyang.core.i18n import N_
from yiyang.web.security import security_headers
from yiyang.web.templating import render

log = logging.getLogger(__name__)

# Each status a page can answer with: a heading and the message shown when the error brings
# none of its own (an unknown path, a crash).
HEADINGS: dict[int, tuple[str, str]] = {
    400: (N_("The request could not be handled"), N_("Please check what you entered.")),
    403: (N_("Not allowed"), N_("Your role may not open this page.")),
    404: (N_("Page not found"), N_("This page does not exist, or it is not within your area.")),
    405: (N_("The request could not be handled"), N_("This page cannot be used that way.")),
    409: (N_("Changed meanwhile"), N_("Someone else changed this meanwhile. Please reload.")),
    410: (N_("No longer available"), N_("This link is no longer valid.")),
    422: (N_("Some entries are not valid"), N_("Some fields are not valid.")),
    429: (N_("Too many attempts"), N_("Too many attempts. Please wait and try again.")),
    500: (
        N_("Something went wrong"),
        N_("The error has been recorded. Please try again, or start again from the home page."),
    ),
}


@dataclass(frozen=True)
class PageError:
    """What an error page shows: the status, a heading, a message and, for invalid input,
    the fields with their messages. Strings are message ids or already translated text."""

    status_code: int
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return heading_for(self.status_code)


def heading_for(status: int) -> str:
    """The page's heading for ``status`` (a message id): the status's own, else that of its
    class (4xx: could not be handled, 5xx: went wrong)."""
    if status in HEADINGS:
        return HEADINGS[status][0]
    return HEADINGS[500 if status >= 500 else 400][0]


def default_message(status: int) -> str:
    if status in HEADINGS:
        return HEADINGS[status][1]
    return HEADINGS[500 if status >= 500 else 400][1]


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def back_link(referer: str | None, host: str | None) -> str | None:
    """The page the user came from, when it was one of ours (Referrer-Policy: same-origin
    sends it only then): its path and query, for a "back" link. Never another site's address,
    never a protocol-relative one."""
    if not referer or not host:
        return None
    parts = urlsplit(referer)
    if parts.netloc != host or parts.scheme not in ("http", "https"):
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def _page(request: Request, error: PageError, headers: dict[str, str] | None = None) -> Response:
    template = "_error_fragment.html" if _is_htmx(request) else "error.html"
    back = back_link(request.headers.get("referer"), request.headers.get("host"))
    if back == request.url.path + (f"?{request.url.query}" if request.url.query else ""):
        back = None  # the page that failed: going back is going nowhere
    response = render(request, template, status_code=error.status_code, error=error, back=back)
    response.headers.update(headers or {})
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = {}
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if wants_json(request):
        return JSONResponse({"detail": exc.to_dict()}, status_code=exc.status_code, headers=headers)
    if isinstance(exc, NotAuthenticated):
        target = "/login?next=" + quote(request.url.path)
        if _is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return _page(request, PageError(exc.status_code, exc.message), headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    if wants_json(request):
        detail = {
            "code": "validation_failed",
            "message": i18n.gettext("Some fields are not valid."),
            "errors": errors,
        }
        return JSONResponse({"detail": detail}, status_code=422)
    message = i18n.gettext(default_message(422))
    return _page(request, PageError(422, message, errors))


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors: an unknown path (404), a wrong method (405)."""
    assert isinstance(exc, StarletteHTTPException)
    if wants_json(request) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    if not hasattr(request.state, "actor"):  # no route ran: who is asking, for the page's frame
        try:
            await optional_actor(request)
        except DomainError:  # a stale session or a missing CSRF token: the frame without them
            request.state.actor = None
    message = i18n.gettext(default_message(exc.status_code))
    return _page(request, PageError(exc.status_code, message), dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    """Anything unhandled. This runs outside the other middleware (Starlette's outermost
    error handler), so the language and the security headers are set here; the exception is
    still raised on to the server's log."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    locale = i18n.pick_locale(
        request.query_params.get("lang"), request.cookies.get("lang"), get_settings().default_locale
    )
    token = i18n.set_locale(locale)
    try:
        message = i18n.gettext(default_message(500))
        if wants_json(request):
            body = {"detail": {"code": "internal_error", "message": message}}
            response: Response = JSONResponse(body, status_code=500)
        else:
            try:
                response = _page(request, PageError(500, message))
            except Exception:  # the page itself cannot be drawn: plain text, still ours
                log.exception("the error page failed on %s", request.url.path)
                response = PlainTextResponse(message, status_code=500)
    finally:
        i18n.reset_locale(token)
    for name, value in security_headers(request.url.path):
        response.headers[name.decode("latin-1")] = value.decode("latin-1")
    response.headers.setdefault("Content-Language", locale.replace("_", "-"))
    return response


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)

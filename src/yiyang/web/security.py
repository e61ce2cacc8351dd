"""Browser-facing HTTP headers, set once for every response (ADR 0012).

- **Content-Security-Policy** on every response: scripts, styles, fonts and connections from our
  own origin only, no inline script or style (the templates carry none, htmx's indicator style is
  switched off by the ``htmx-config`` meta tag), images also from ``data:`` and the configured map
  tile host, no plugins, no framing, forms post only to us.
- **Referrer-Policy: same-origin**: a responder's arrival link (``/r/<token>``) and an alert's
  address never leave in a Referer header when someone follows an outside link (the map app).
- **Strict-Transport-Security** when cookies are marked Secure, i.e. the site is served over HTTPS.
- **Cache-Control: no-store** on everything except ``/static``: pages, JSON, exports and PDFs
  carry ID numbers, addresses and health data, and a shared or back-button cache must not keep
  them. Static assets are public and keep their validators.

Downloads name their file through :func:`content_disposition`, never by formatting a header.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yiyang.core.config import get_settings

log = logging.getLogger(__name__)
STATIC_PREFIX = "/static/"
HSTS_SECONDS = 365 * 86400


def tile_source(tile_url: str) -> str | None:
    """The CSP source that admits a Leaflet tile URL template's host, or None when the tiles
    come from our own origin (or there are none).

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` → ``https://*.tile.example.org``: a
    placeholder in the host becomes a wildcard for the labels up to and including it."""
    if not tile_url or "://" not in tile_url:
        return None  # empty or relative: served by us, 'self' covers it
    parts = urlsplit(tile_url.replace("{", "%7B").replace("}", "%7D"))
    scheme = parts.scheme.lower()
    netloc = parts.netloc.rsplit("@", 1)[-1].replace("%7B", "{").replace("%7D", "}")
    if scheme not in ("http", "https") or not netloc:
        return None
    host, _, port = netloc.partition(":")
    labels = host.lower().split(".")
    templated = [i for i, label in enumerate(labels) if "{" in label]
    if templated:
        labels = ["*", *labels[templated[-1] + 1 :]]
    if not re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*", ".".join(labels)) or labels == ["*"]:
        log.warning("YIYANG_MAP_TILE_URL: a browser policy cannot name the host %r", host)
        return None
    port = port if port.isdigit() else ""
    return f"{scheme}://{'.'.join(labels)}{':' + port if port else ''}"


@lru_cache(maxsize=4)
def content_security_policy(tile_url: str = "") -> str:
    images = ["'self'", "data:"]
    source = tile_source(tile_url)
    if source:
        images.append(source)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(images),
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers for a response to ``path``, as ASGI header pairs."""
    settings = get_settings()
    pairs = [
        ("content-security-policy", content_security_policy(settings.map_tile_url)),
        ("referrer-policy", "same-origin"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ]
    if settings.cookie_secure:
        pairs.append(("strict-transport-security", f"max-age={HSTS_SECONDS}"))
    if not path.startswith(STATIC_PREFIX):
        pairs.append(("cache-control", "no-store"))
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


class SecurityHeadersMiddleware:
    """ASGI middleware: :func:`security_headers` on every HTTP response; ours replace any a
    route set (only /static may be cached, and no page names another policy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])
        names = {k for k, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NOT_IN_A_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")  # controls and path separators
_UNSAFE_IN_QUOTED = re.compile(r"[^A-Za-z0-9!#$&+.^_`|~ ()\[\]{}=,@-]")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """A Content-Disposition value naming ``filename`` safely (RFC 6266 with RFC 5987's
    ``filename*``): the plain ``filename`` is an ASCII stand-in with every quote, backslash,
    semicolon or non-ASCII character replaced; ``filename*`` carries the name percent-encoded.
    Control characters and path separators become ``_`` in both. Nothing the name contains can
    end the header or add a parameter."""
    name = _NOT_IN_A_NAME.sub("_", filename).strip() or "download"
    fallback = _UNSAFE_IN_QUOTED.sub("_", name)
    value = f'{"inline" if inline else "attachment"}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe="")
    return value

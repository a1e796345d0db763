"""The ASGI app: pages rendered by Jinja (autoescaped), a small JSON API for the page's
script, and one guard in front of everything (token, same origin, no path outside)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from synthgen.errors import SynthgenError
from synthgen.webui.state import TEMPLATES, Review

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

SAFE_METHODS = ("GET", "HEAD")
# Defence in depth behind the escaping: no inline script, nothing fetched from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from this app's own page (Origin, else Referer)."""
    from urllib.parse import urlsplit

    host = request.headers.get("host", "")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host


def _allowed(review: Review, request: Request) -> bool:
    """A GET needs the token (query, header or the cookie the first visit set); anything
    else needs it in the header the page's script sends, and the same origin."""
    header = request.headers.get("x-synthgen-token", "")
    if request.method not in SAFE_METHODS:
        return secrets.compare_digest(header, review.token) and _same_origin(request)
    given = request.query_params.get("token") or header or request.cookies.get(review.cookie, "")
    return secrets.compare_digest(given, review.token)


Handler = Callable[["Request"], Awaitable["Response"]]


def build_app(review: Review) -> Starlette:
    """The Starlette app of one review."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    from synthgen.webui import routes

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a name a template expects but is not given fails loudly
    )

    async def guard(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not _allowed(review, request):
            return PlainTextResponse(
                "403: this review needs its token (open the URL `synthgen review` printed)",
                status_code=403,
            )
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.query_params.get("token") and request.method in SAFE_METHODS:
            response.set_cookie(
                review.cookie, review.token, httponly=True, samesite="strict", path="/"
            )
        return response

    def page(name: str, **context: Any) -> HTMLResponse:
        template = env.get_template(f"{name}.html")
        return HTMLResponse(template.render(page=name, token=review.token, **context))

    return Starlette(
        routes=[Route(p, h, methods=m) for p, h, m in routes.table(review, page)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)],
        exception_handlers={SynthgenError: routes.on_error},
    )

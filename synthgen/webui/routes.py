"""The review's pages and JSON endpoints, each a few lines over labels/seedsbook/runview."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from synthgen.errors import SynthgenError, UsageError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response

    from synthgen.webui.state import Review

Page = Callable[..., "HTMLResponse"]
Endpoint = Callable[["Request"], Awaitable["Response"]]
MAX_BODY = 4 * 1024 * 1024  # a seed file's edits fit; anything larger is not this page's


def error(e: SynthgenError) -> Response:
    """A user error as JSON the page shows: what, and how to fix it."""
    from starlette.responses import JSONResponse

    status = 400 if isinstance(e, UsageError) else 500
    return JSONResponse({"error": e.message, "hint": e.hint}, status_code=status)


async def on_error(_request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for SynthgenError."""
    assert isinstance(exc, SynthgenError)
    return error(exc)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise UsageError("request too large")
    try:
        data = json.loads(raw or b"{}")
    except ValueError as e:
        raise UsageError("request body is not JSON") from e
    if not isinstance(data, dict):
        raise UsageError("request body is not a JSON object")
    return data


def _text(data: dict[str, Any], key: str, limit: int = 2000) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise UsageError(f"{key!r} must be text (at most {limit} characters)")
    return value


def display(agreement: dict[str, Any]) -> dict[str, Any]:
    """The numbers as `synthgen audit` prints them (Python's rounding, not the browser's)."""

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x * 100:.1f}%"

    low, high = agreement["reject_rate_ci95"]
    kappa = agreement["kappa"]
    return {
        **agreement,
        "kappa_text": "undefined" if kappa is None else f"{kappa:.2f}",
        "reject_rate_text": pct(agreement["reject_rate"]),
        "ci_text": f"{pct(low)}–{pct(high)}",
        "between": {
            **agreement["between"],
            "pairs": [
                {
                    **p,
                    "agreement_text": pct(p["agreement"]),
                    "kappa_text": "undefined" if p["kappa"] is None else f"{p['kappa']:.2f}",
                }
                for p in agreement["between"]["pairs"]
            ],
        },
    }


def _which(review: Review, request: Request) -> int:
    raw = request.query_params.get("run", "0")
    if not raw.isdigit() or int(raw) >= len(review.paths):
        raise UsageError(f"no run {raw!r} in this review")
    return int(raw)


def table(review: Review, page: Page) -> list[tuple[str, Endpoint, list[str]]]:
    """Every route: (path, handler, methods)."""
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

    from synthgen.webui import runview
    from synthgen.webui.state import STATIC

    names = runview.names(review.paths)
    shipped = {p.name for p in STATIC.iterdir() if p.is_file()}

    async def audit_page(request: Request) -> Response:
        book = review.audit
        return page(
            "audit", names=names, data=str(book.data), total=len(book.items), blind=book.blind
        )

    async def seeds_page(request: Request) -> Response:
        seeds = review.seeds
        return page("seeds", names=names, seeds=str(seeds.path) if seeds else None)

    async def drift_page(request: Request) -> Response:
        return page(
            "drift",
            names=names,
            runs=[runview.drift(p, n) for p, n in zip(review.paths, names, strict=True)],
        )

    async def ledger_page(request: Request) -> Response:
        q = request.query_params
        k = _which(review, request)
        raw_page = q.get("page", "1")
        view = runview.ledger(
            review.paths[k],
            names[k],
            q.get("stage", ""),
            q.get("reason", ""),
            q.get("q", "")[:200],
            int(raw_page) if raw_page.isdigit() else 1,
        )
        return page(
            "ledger",
            names=names,
            view=view,
            run=k,
            stage=q.get("stage", ""),
            reason=q.get("reason", ""),
            query=q.get("q", "")[:200],
        )

    async def audit_state(request: Request) -> Response:
        book = review.audit
        reviewer = request.query_params.get("reviewer", "")
        return JSONResponse(
            {
                "items": book.items_view(),
                "labels": book.labels_of(reviewer) if reviewer else {},
                "reasons": book.reasons(),
                "agreement": display(book.agreement()),
            }
        )

    async def label(request: Request) -> Response:
        data = await _body(request)
        label = review.audit.decide(
            _text(data, "reviewer", 100),
            _text(data, "id", 200),
            _text(data, "verdict", 10),
            _text(data, "note"),
        )
        return JSONResponse({"label": label, "agreement": display(review.audit.agreement())})

    async def agreement(request: Request) -> Response:
        return JSONResponse(display(review.audit.agreement()))

    async def export(request: Request) -> Response:
        name = review.audit.store.path.name.replace(".verdicts.", ".labels.")
        return Response(
            review.audit.export(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def seeds_book() -> Any:
        if review.seeds is None:
            raise UsageError("this review has no seed file", hint="start it with --seeds FILE")
        return review.seeds

    async def seeds_state(request: Request) -> Response:
        book = seeds_book()
        return JSONResponse(
            {"file": book.path.name, "rows": book.rows(), "warnings": book.report.warnings}
        )

    async def seeds_diff(request: Request) -> Response:
        data = await _body(request)
        edits = data.get("edits") or {}
        name = _text(data, "name", 200)
        book = seeds_book()
        book.target(name)
        return JSONResponse({"diff": book.diff(name, edits if isinstance(edits, dict) else {})})

    async def seeds_save(request: Request) -> Response:
        data = await _body(request)
        edits = data.get("edits") or {}
        path = seeds_book().save(_text(data, "name", 200), edits if isinstance(edits, dict) else {})
        return JSONResponse({"saved": path.name})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in shipped:  # only the files shipped in the package, by exact name
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name)

    return [
        ("/", audit_page, ["GET"]),
        ("/audit", audit_page, ["GET"]),
        ("/seeds", seeds_page, ["GET"]),
        ("/drift", drift_page, ["GET"]),
        ("/ledger", ledger_page, ["GET"]),
        ("/api/audit", audit_state, ["GET"]),
        ("/api/label", label, ["POST"]),
        ("/api/agreement", agreement, ["GET"]),
        ("/api/labels.jsonl", export, ["GET"]),
        ("/api/seeds", seeds_state, ["GET"]),
        ("/api/seeds/diff", seeds_diff, ["POST"]),
        ("/api/seeds/save", seeds_save, ["POST"]),
        ("/static/{name}", static, ["GET"]),
    ]

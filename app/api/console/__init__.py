"""The web console: static files served at /console, talking to /v1 like any other client.

It carries no API data itself (every call it makes goes through `/v1` with the key the operator
typed, sent as `X-API-Key`), so these routes need no key; what they do need is a strict
Content-Security-Policy, because the console renders names that tenants chose.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.api.access import Public

STATIC_DIR = Path(__file__).with_name("static")

# No inline script or style, nothing from another origin, never framed (click-jacking). Photos
# the operator drops are shown from blob: URLs; nothing else needs an exception.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Small files that change with each release: revalidate rather than serve a stale console.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    """Static files with the console's security headers on every answer, errors included."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:  # missing file or wrong method: answered here, headers on
            response = PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_console(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False, dependencies=[Public])

    @router.get("/console")
    def console_root() -> RedirectResponse:
        # Relative URLs inside the page resolve against /console/, so always land there.
        return RedirectResponse("/console/", status_code=308, headers=SECURITY_HEADERS)

    app.include_router(router)
    app.mount("/console", ConsoleFiles(directory=STATIC_DIR, html=True), name="console")

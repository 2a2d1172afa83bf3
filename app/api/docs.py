"""/docs (Swagger UI) and /redoc served offline: their scripts and styles come from the
`fastapi-offline` package installed with the service, never from a CDN, and no Google fonts, so
the pages work on a closed network and no visit tells a third party.

A Content-Security-Policy keeps it that way: ReDoc 2 renders its "API docs by Redocly" logo
from cdn.redoc.ly unconditionally, and the policy stops the browser from ever fetching it (the
image hides itself when it fails to load).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from app.api.access import Public

ASSETS_URL = "/docs-assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    """Allow exactly this page's inline start-up script (by hash) and nothing from elsewhere.
    Inline styles stay allowed: both UIs set style attributes and inject style sheets."""
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page


def assets_dir() -> Path:
    # The package's own copy of swagger-ui-dist and redoc's standalone bundle (MIT licensed).
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Call on an app created with `docs_url=None, redoc_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"
    favicon = f"{ASSETS_URL}/favicon.png"
    # Open to anyone, like the OpenAPI document they render: they carry no data of their own.
    router = APIRouter(include_in_schema=False, dependencies=[Public])

    @router.get("/docs")
    def swagger_ui() -> HTMLResponse:
        return _same_origin_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=oauth2_redirect,
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=favicon,
                # The default validator badge fetches validator.swagger.io: off.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @router.get(oauth2_redirect)
    def swagger_ui_redirect() -> HTMLResponse:
        return _same_origin_only(get_swagger_ui_oauth2_redirect_html())

    @router.get("/redoc")
    def redoc() -> HTMLResponse:
        return _same_origin_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=favicon,
                with_google_fonts=False,
            )
        )

    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

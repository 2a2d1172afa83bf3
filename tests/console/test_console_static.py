"""The console and the API docs as files over HTTP (no browser): where they are served, their
security headers, and that nothing in them points at another origin. The browser tests
(test_console_browser.py) prove the same in Chromium."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from app.api.console import STATIC_DIR
from app.main import create_app
from app.settings import Settings

FOREIGN = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # These routes need neither models nor a database: no lifespan is started.
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("console"))  # type: ignore[call-arg]
    return TestClient(create_app(settings, json_logs=False))


def test_console_redirects_to_its_directory(client: TestClient) -> None:
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/console/"


def test_console_page_has_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_console_assets_carry_the_headers_too(client: TestClient) -> None:
    for path in ("/console/js/main.js", "/console/console.css", "/console/nope.js"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
    assert (
        client.get("/console/js/main.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert client.get("/console/nope.js").status_code == 404


def test_console_files_have_no_inline_script_style_or_foreign_url() -> None:
    names = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert any(p.suffix == ".js" for p in names)
    for path in names:
        text = path.read_text()
        assert not FOREIGN.search(text), path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path
        if path.suffix == ".html":
            assert re.search(r"<script(?![^>]*\bsrc=)", text) is None, f"inline script in {path}"
            assert "style=" not in text and "<style" not in text, path
            assert not re.search(r"\son[a-z]+\s*=", text), f"inline handler in {path}"
        assert not re.search(r"localStorage\s*[.\[]", text), f"localStorage used in {path}"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_their_assets_from_this_service(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert not FOREIGN.search(html), html
    assert "fonts.googleapis" not in html
    for asset in re.findall(r"""(?:src|href)=["'](/docs-assets/[^"']+)""", html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset


def test_docs_assets_come_from_the_installed_package() -> None:
    bundled = files("fastapi_offline") / "static"
    assert (bundled / "swagger-ui-bundle.js").is_file()
    assert (bundled / "redoc.standalone.js").is_file()

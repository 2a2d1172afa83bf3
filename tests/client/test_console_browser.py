"""The console and the API docs in a real headless Chromium (Debian's `chromium`, driven by
Playwright), against the real service: the operator's whole path through the console, the 401
path after a key is revoked, a hostile display name rendered as text, and no request to any
origin but the service's own.

Set FACEMATCH_CONSOLE_SCREENSHOTS=docs/console to (re)write the screenshots the README shows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import IN_CI, PHOTOS
from tests.live_server import ServedApi

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__pwned=1"><b>pwned</b>'
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Deadlines for steps that run the models on a busy 2-core machine, in ms.
INFERENCE_MS = 60_000
STEP_MS = 15_000
SHOTS = os.environ.get("FACEMATCH_CONSOLE_SCREENSHOTS")

# Recorded before any page script runs (Playwright injects it outside the page's CSP):
# violations of the Content-Security-Policy would otherwise only show in the console.
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _chromium() -> str:
    path = (
        os.environ.get("FACEMATCH_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    reason = "no chromium found: scripts/test.sh installs Debian's `chromium` when run as root"
    if path is None:
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (it is in the dev extra)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Watch:
    """What a page did that the operator would not see: errors, foreign requests."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # stopped by the page's CSP: never sent
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.add_init_script(RECORD_CSP)
        return page

    def _request(self, request: Any) -> None:
        url = request.url
        self.requests.append(url)
        if not (url.startswith(self.origin + "/") or url.startswith(("blob:", "data:"))):
            self.foreign.append(url)

    def _failed(self, request: Any) -> None:
        if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP"):
            self.blocked.append(request.url)

    def check(self, page: Any, *, expected: tuple[str, ...] = ()) -> None:
        """No CSP violation, console error or foreign request beyond the `expected` ones."""
        csp = [v for v in page.evaluate("window.__csp") if not any(x in v for x in expected)]
        assert csp == []
        assert [e for e in self.errors if not any(x in e for x in expected)] == []
        assert [u for u in self.foreign if u not in self.blocked] == []
        assert [u for u in self.blocked if not any(x in u for x in expected)] == []


def _page(browser: Any, api: ServedApi, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Watch]:
    context = browser.new_context(viewport=viewport, base_url=api.base_url)
    watch = Watch(api.base_url)
    return watch.attach(context.new_page()), watch


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _sign_in(page: Any, key: str) -> None:
    page.goto("/console/")
    page.get_by_test_id("api-key-input").fill(key)
    page.get_by_test_id("api-key-submit").click()


def _row(page: Any, testid: str, text: str) -> Any:
    return page.get_by_test_id(testid).filter(has_text=text)


# Chromium reports each refused request (the expected 422 reject, the 401 after revocation) as
# a console error "Failed to load resource"; any other error fails the test.
EXPECTED_HTTP_ERRORS = (
    "status of 401",
    "status of 422",
)


def _default_threshold(served_api: ServedApi) -> float:
    """The threshold in force as the service reports it (GET /v1/models), not a copy of it."""
    models = httpx.get(
        f"{served_api.base_url}/v1/models", headers={"X-API-Key": served_api.api_key}, timeout=10
    )
    models.raise_for_status()
    return float(models.json()["models"][0]["threshold"])


def test_operator_path_through_the_console(browser: Any, served_api: ServedApi) -> None:
    page, watch = _page(browser, served_api)
    expect = _expect()

    # Sign in; the key lives in sessionStorage only and survives a reload of the tab.
    page.goto("/console")
    _shot(page, "01-sign-in")
    _sign_in(page, served_api.api_key)
    name = f"staff-{uuid.uuid4().hex[:6]}"
    page.get_by_test_id("collection-name-input").fill(name)
    page.get_by_test_id("collection-create").click()
    expect(_row(page, "collection-row", name)).to_have_count(1)
    assert page.evaluate("Object.keys(localStorage).length") == 0
    assert served_api.api_key not in page.url
    page.reload()
    expect(_row(page, "collection-row", name)).to_have_count(1, timeout=STEP_MS)
    _shot(page, "02-collections")

    # A collection: identities, one of them with markup in its display name.
    _row(page, "collection-row", name).click()
    page.get_by_test_id("identity-external-id-input").fill("obama")
    page.get_by_test_id("identity-display-name-input").fill("Barack Obama")
    page.get_by_test_id("identity-create").click()
    expect(_row(page, "identity-row", "obama")).to_have_count(1)
    page.get_by_test_id("identity-external-id-input").fill("hostile")
    page.get_by_test_id("identity-display-name-input").fill(HOSTILE)
    page.get_by_test_id("identity-create").click()
    expect(_row(page, "identity-row", "hostile")).to_contain_text(HOSTILE)
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("main b", has_text="pwned").count() == 0
    assert page.evaluate("window.__pwned") is None

    # Enroll three photos: two accepted, the dog rejected with its reason in words.
    _row(page, "identity-row", "obama").click()
    page.get_by_test_id("enroll-files").set_input_files(
        [
            PHOTOS / "obama" / "obama.jpg",
            PHOTOS / "obama" / "obama1.jpg",
            PHOTOS / "nonface" / "dlib__dog.jpg",
        ]
    )
    results = page.get_by_test_id("enroll-result")
    expect(results).to_have_count(3)
    expect(results.filter(has_text="accepted")).to_have_count(2, timeout=INFERENCE_MS)
    rejected = results.filter(has_text="dlib__dog.jpg")
    expect(rejected).to_contain_text("no_face", timeout=INFERENCE_MS)
    expect(rejected).to_contain_text("no face")
    expect(page.get_by_test_id("face-row")).to_have_count(2, timeout=STEP_MS)
    expect(results.filter(has_text="accepted").get_by_test_id("face-box")).to_have_count(2)
    page.get_by_test_id("verify-identity-files").set_input_files(PHOTOS / "obama" / "obama3.jpg")
    expect(page.get_by_test_id("verify-identity-result")).to_contain_text(
        "Same person", timeout=INFERENCE_MS
    )
    _shot(page, "04-identity-enroll")

    # Identify a group photo: a box per face, the enrolled one named, the other unknown.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=name).click()
    page.get_by_test_id("identify-files").set_input_files(
        PHOTOS / "multiface" / "face_recognition__obama_and_biden.jpg"
    )
    faces = page.get_by_test_id("identify-result")
    expect(faces.first).to_be_visible(timeout=INFERENCE_MS)
    found = faces.count()  # Biden, Obama and, small at the bottom right, a girl
    assert found >= 2
    expect(page.get_by_test_id("face-overlay").get_by_test_id("face-box")).to_have_count(found)
    expect(faces.filter(has_text="obama")).to_have_count(1)
    expect(faces.filter(has_text="unknown")).to_have_count(found - 1)
    _shot(page, "03-collection-identify")
    # Raising the threshold past every similarity re-labels at once, without a new request.
    before = len(watch.requests)
    page.locator("#threshold").fill("1")
    expect(faces.filter(has_text="unknown")).to_have_count(found)
    assert len(watch.requests) == before
    page.locator("#threshold").fill(str(_default_threshold(served_api)))
    expect(faces.filter(has_text="obama")).to_have_count(1)

    # Verify two photos of the same person.
    page.get_by_role("link", name="Verify").click()
    page.get_by_test_id("verify-a-files").set_input_files(PHOTOS / "obama" / "obama2.jpg")
    page.get_by_test_id("verify-b-files").set_input_files(PHOTOS / "obama" / "obama3.jpg")
    expect(page.get_by_test_id("verify-result")).to_contain_text(
        "Same person", timeout=INFERENCE_MS
    )
    _shot(page, "05-verify")

    page.get_by_role("link", name="Detect").click()
    page.get_by_test_id("detect-files").set_input_files(
        PHOTOS / "multiface" / "dlib__2008_001322.jpg"
    )
    expect(page.get_by_test_id("detect-result").locator("tbody tr")).to_have_count(
        3, timeout=INFERENCE_MS
    )
    _shot(page, "06-detect")

    # Admin: a new identify key, shown once; signed in with it elsewhere, then revoked.
    page.get_by_role("link", name="Admin").click()
    page.get_by_test_id("key-role").select_option("identify")
    page.get_by_test_id("key-name").fill("front door")
    page.get_by_test_id("key-create").click()
    secret = page.get_by_test_id("new-key-secret").inner_text(timeout=STEP_MS)
    assert secret.startswith("fm_")
    # The plot marks the service's calibrated default, whatever the template mode makes it.
    expect(page.get_by_test_id("threshold-marker")).to_contain_text(
        f"{_default_threshold(served_api):.4f}"
    )
    _shot(page, "07-admin")

    door, door_watch = _page(browser, served_api)
    _sign_in(door, secret)
    expect(_row(door, "collection-row", name)).to_have_count(1)
    expect(door.get_by_role("link", name="Admin")).to_be_hidden()
    expect(door.get_by_test_id("collection-create")).to_have_count(0)

    page.get_by_test_id("key-row").filter(has_text="front door").get_by_test_id(
        "key-revoke"
    ).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("key-row").filter(has_text="front door")).to_contain_text("revoked")

    _row(door, "collection-row", name).click()  # the next call answers 401
    expect(door.get_by_test_id("api-key-input")).to_be_visible(timeout=STEP_MS)
    expect(door.get_by_role("alert")).to_contain_text("not valid")
    assert door.evaluate("sessionStorage.length") == 0
    door_watch.check(door, expected=EXPECTED_HTTP_ERRORS)

    # Phone width: the collection page still reads (no horizontal scrolling of the page).
    page.set_viewport_size(PHONE)
    page.goto(f"/console/#/collections/{_collection_id(page, name)}")
    expect(_row(page, "identity-row", "obama")).to_have_count(1, timeout=STEP_MS)
    page.get_by_test_id("identify-files").set_input_files(
        PHOTOS / "multiface" / "face_recognition__obama_and_biden.jpg"
    )
    expect(faces.filter(has_text="obama")).to_have_count(1, timeout=INFERENCE_MS)
    wide = page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > w + 1)
            .map((e) => `${e.tagName}.${e.className.baseVal ?? e.className}`)""",
        PHONE["width"],
    )
    assert wide == []
    page.get_by_test_id("identify-files").scroll_into_view_if_needed()
    _shot(page, "08-phone-identify")

    watch.check(page, expected=EXPECTED_HTTP_ERRORS)


def _collection_id(page: Any, name: str) -> str:
    collections = page.evaluate(
        """async () => (await (await fetch('/v1/collections?limit=500',
            {headers: {'X-API-Key': sessionStorage.getItem('facematch.apiKey')}})).json()).items"""
    )
    return str(next(c["id"] for c in collections if c["name"] == name))


# ReDoc 2 hard-codes its sidebar logo to cdn.redoc.ly; /redoc's Content-Security-Policy stops the
# browser from fetching it, which Chromium reports as a violation (and the request never leaves).
REDOC_LOGO = "cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize("page_path", ["/docs", "/redoc"])
def test_api_docs_render_offline(browser: Any, served_api: ServedApi, page_path: str) -> None:
    page, watch = _page(browser, served_api)
    expect = _expect()
    page.goto(page_path)
    if page_path == "/redoc":
        heading = page.get_by_role("heading", name="facematch", exact=False).first
        expect(heading).to_be_visible(timeout=STEP_MS)
        expect(page.get_by_text("Identify (1:N)").first).to_be_attached()
    else:
        expect(page.locator(".swagger-ui .info")).to_contain_text("facematch", timeout=STEP_MS)
        expect(page.locator(".opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    watch.check(page, expected=(REDOC_LOGO,) if page_path == "/redoc" else ())
    assert any(u.endswith("/openapi.json") for u in watch.requests)


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_MS)
    return expect

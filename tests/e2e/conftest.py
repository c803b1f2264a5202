"""A real headless Chromium driven by Playwright against pytest-django's
live server, which runs the production settings (DEBUG off) over plain HTTP."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from recognizer.predictor import reset_predictor
from tests.e2e.traffic import ARTIFACTS, ApiTraffic

# Debian's Chromium: Playwright's own browser download is not available here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


# Per module, so the setting below ends with the browser tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need it: "
            "apt-get install -y chromium chromium-driver",
            pytrace=False,
        )
    # Playwright's sync API keeps an asyncio loop in this thread, which Django
    # takes for an async context and refuses ORM calls in. The tests' own code
    # is synchronous, so the check does not apply while the browser runs.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One folder for the session: the bundled model is copied in once.
    return tmp_path_factory.mktemp("model-store")


@pytest.fixture
def site(settings, model_store: Path, transactional_db) -> Iterator[str]:
    """A live server on production settings made fit for plain HTTP, with
    throttling counters of its own and no model registered yet; its URL.

    pytest-django's LiveServer, started per test rather than the session-wide
    `live_server` fixture: Django's middleware reads settings such as
    SECURE_SSL_REDIRECT once, when the server builds its handler, so the
    overrides must be in place before the server starts.
    """
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    settings.MODEL_STORE_DIR = model_store
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"e2e-{uuid.uuid4().hex}",
        }
    }
    # The web process caches the loaded model and its database row; each test
    # registers the bundled model afresh, so start from an empty cache.
    reset_predictor()
    server = LiveServer("localhost")
    try:
        yield server.url
    finally:
        server.stop()
        reset_predictor()


@pytest.fixture
def active_model(site: str):
    from training.bundle import bundled_model_install

    return bundled_model_install()


@pytest.fixture
def traffic() -> ApiTraffic:
    return ApiTraffic()


@pytest.fixture
def new_page(
    browser: Browser, traffic: ApiTraffic, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Opens a page in a fresh browser context (cookies, session), with the
    given context options. At the end, a screenshot of each page is kept
    under test-artifacts/e2e/ and any JavaScript error fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(**options: Any) -> Page:
        context = browser.new_context(**{"viewport": {"width": 1024, "height": 900}, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", traffic.started)
        page.on("requestfinished", lambda req: traffic.finished(req, ok=True))
        page.on("requestfailed", lambda req: traffic.finished(req, ok=False))
        return page

    yield open_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for index, context in enumerate(contexts):
        suffix = f"-{index}" if index else ""
        for page in context.pages:
            page.screenshot(
                path=str(ARTIFACTS / f"{request.node.name}{suffix}.png"), full_page=True
            )
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A desktop-sized page."""
    return new_page()

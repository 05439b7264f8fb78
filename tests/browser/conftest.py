"""Pages tested in a real browser: Playwright for Python driving the system's Chromium.

One browser for the whole session; each test opens its pages in a fresh
context (its own localStorage), from ``file://``, with every request other than
the page itself blocked and counted, and console errors collected.

Where Playwright or Chromium is missing these tests skip with the reason, so the
README's test command passes on a fresh machine; ``RELU_STUDY_REQUIRE_BROWSER=1``
(set by ``.ci/run``) turns that skip into a failure.  ``RELU_STUDY_CHROMIUM``
names the browser executable when it is not ``chromium`` on the PATH.
Screenshots go to ``RELU_STUDY_SCREENSHOTS`` or to a folder under pytest's
temporary directory; the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
_SHOT_DIR: list[Path] = []


def chromium_executable() -> str | None:
    named = os.environ.get("RELU_STUDY_CHROMIUM")
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _unavailable(reason: str):
    if os.environ.get("RELU_STUDY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests cannot run: {reason} (RELU_STUDY_REQUIRE_BROWSER=1 requires them)", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    exe = chromium_executable()
    if exe is None:
        _unavailable("no Chromium executable found (apt-get install chromium, or set RELU_STUDY_CHROMIUM)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("RELU_STUDY_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    _SHOT_DIR.append(folder)
    return folder


def pytest_terminal_summary(terminalreporter):
    if _SHOT_DIR and any(_SHOT_DIR[0].iterdir()):
        terminalreporter.write_line(f"browser screenshots: {_SHOT_DIR[0]}")


class Visit:
    """One page open in its own browser context: requests other than the page's
    own file are aborted and listed in ``blocked``; console errors and uncaught
    exceptions are listed in ``errors``."""

    def __init__(self, browser, path: Path, color_scheme: str):
        self.url = Path(path).resolve().as_uri()
        self.color_scheme = color_scheme
        self.context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1200, "height": 900})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def _route(self, route):
        if route.request.url.split("#")[0] == self.url:
            route.continue_()
        else:
            route.abort()

    def _request(self, request):
        if request.url.split("#")[0] != self.url:
            self.blocked.append(request.url)

    def reload(self):
        self.page.reload()
        self.page.wait_for_load_state("load")

    def assert_clean(self):
        """Loaded from file://, made no request, logged no error."""
        assert self.blocked == [], f"requests left the page: {self.blocked}"
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
def open_page(browser):
    visits: list[Visit] = []

    def _open(path, color_scheme: str = "light") -> Visit:
        visit = Visit(browser, path, color_scheme)
        visits.append(visit)
        return visit

    yield _open
    for v in visits:
        v.context.close()

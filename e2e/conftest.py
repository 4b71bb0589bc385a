"""The browser suite's fixtures: a fresh PostgreSQL database with the demo loaded, the real
server on a free loopback port, Debian's Chromium driven by Playwright, and axe-core.

Run with `make e2e` (it installs Chromium, Playwright and axe-core first). Nothing here is
collected by `make test`: the suite lives outside tests/ and every test is marked e2e.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ADMIN_URL = os.environ.get("E2E_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("E2E_DATABASE_NAME", "timebank_e2e")
# The flags this machine needs: no sandbox as root, and no background calls to Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 780}
PASSWORD = "riverside-demo-2026"
BLOCKING_IMPACTS = {"serious", "critical"}


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@demo.timebank.localhost"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_database() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{DB_NAME}"


@pytest.fixture(scope="session")
def server_url() -> str:
    """The real Django server (runserver, no reloader) on a free loopback port."""
    ARTIFACTS.mkdir(exist_ok=True)
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    env = {
        **os.environ,
        "DATABASE_URL": _fresh_database(),
        # Mail goes to the console, so into the server log; tasks run in the request.
        "CELERY_TASK_ALWAYS_EAGER": "true",
        # A newcomer signs in straight after signing up, without opening a confirmation email.
        "ACCOUNT_EMAIL_VERIFICATION": "none",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "EMAIL_URL"):
        env.pop(name, None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "load_demo"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    log = open(ARTIFACTS / "server.log", "w")  # closed at teardown
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if server.poll() is not None:
                raise RuntimeError(f"the server stopped; see {ARTIFACTS / 'server.log'}")
            try:
                urllib.request.urlopen(f"{url}/health/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not answer within 20 seconds")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        print(f"\nScreenshots (360 px wide): {SCREENSHOTS}")


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make e2e` installs Debian's chromium package")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make e2e` runs npm ci in e2e/")
    with sync_playwright() as p:
        # Playwright's launch() starts Chromium with a fresh, empty --user-data-dir of its own
        # (a temporary folder, removed at close); it refuses one passed in args.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Site:
    """One person's phone-sized browser tab, checking every page it visits with axe-core."""

    def __init__(self, browser: Browser, base_url: str, *, javascript: bool = True) -> None:
        self.base_url = base_url
        self.javascript = javascript
        self.context = browser.new_context(
            base_url=base_url,
            viewport=PHONE,
            java_script_enabled=javascript,
            locale="en-GB",
        )
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.checked: list[str] = []

    def goto(self, path: str) -> Page:
        self.page.goto(path)
        self.check()
        return self.page

    @contextmanager
    def navigates(self) -> Iterator[Page]:
        """Wrap a click or key press that loads a new page; the new page is then checked."""
        with self.page.expect_navigation():
            yield self.page
        self.check()

    def check(self) -> None:
        """axe-core on the page just loaded: fail on any serious or critical violation."""
        if not self.javascript:
            return  # axe is JavaScript; the same pages are checked by the JavaScript-on tests
        page = self.page
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, {
                    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                   'wcag22aa', 'best-practice']},
                    resultTypes: ['violations'],
                });
                return r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.map(n => n.target.join(' ')),
                }));
            }"""
        )
        self.checked.append(page.url)
        bad = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
        if bad:
            lines = [
                f"{v['impact']} {v['id']} ({v['help']}): {', '.join(v['targets'][:5])}" for v in bad
            ]
            pytest.fail(f"axe-core on {page.url}:\n  " + "\n  ".join(lines), pytrace=False)
        minor = [v for v in result if v["impact"] not in BLOCKING_IMPACTS]
        if minor:
            with open(ARTIFACTS / "axe-minor.jsonl", "a") as f:
                f.write(json.dumps({"url": page.url, "violations": minor}) + "\n")

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def sign_in(self, address: str, password: str = PASSWORD) -> None:
        page = self.goto("/accounts/login/")
        page.fill("input[name=login]", address)
        page.fill("input[name=password]", password)
        with self.navigates():
            page.locator("main form button[type=submit]").first.click()
        assert "/accounts/login/" not in page.url, f"signing in as {address} failed"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def site(browser: Browser, server_url: str):
    """Open a phone-sized tab: ``site()`` with JavaScript, ``site(javascript=False)`` without."""
    opened: list[Site] = []

    def open_site(*, javascript: bool = True) -> Site:
        s = Site(browser, server_url, javascript=javascript)
        opened.append(s)
        return s

    yield open_site
    for s in opened:
        s.close()

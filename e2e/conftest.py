"""The browser suite's fixtures: a fresh PostgreSQL database with the demo loaded, the real
server on a free loopback port, Debian's Chromium driven by Playwright, and axe-core.

Run with `make e2e` (it installs Chromium, Playwright and axe-core first). Nothing here is
collected by `make test`: the suite lives outside tests/ and every test is marked e2e.

The browser behaves as a person's does: after every page it asks for /favicon.ico by itself
(headless Chromium does not, which hid a broken two-factor set-up), the suite reloads after
a POST, goes back, and double-clicks submits. Every page is checked with axe-core, for the
content security policy, for sideways scrolling and for tables cut off at 360 px; screenshots
are taken at 360 and 1280 px. Page loads and form fields per core task are counted
(``Site.task``) into e2e-artifacts/task-counts.json (bench/task_counts.py prints them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# The commissioner's printed pack, and each of its pages as an image (pdftoppm), to look at.
PDF_PAGES = ARTIFACTS / "pdf"
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
DESKTOP = {"width": 1280, "height": 900}
COUNTS = ARTIFACTS / "task-counts.json"
PASSWORD = "riverside-demo-2026"
BLOCKING_IMPACTS = {"serious", "critical"}
# The demo's staff must use two-factor authentication (members/mfa.py). Brenda sets hers up in
# the browser at her first sign-in, as a person would (the secret read off the set-up page is
# kept here); Cora's is given through allauth's own API, with a secret the suite knows.
TOTP_SECRETS = {
    name: base64.b32encode(hashlib.sha1(f"e2e {name}".encode()).digest()).decode()
    for name in ("Cora Council", "Colin County")
}
TOTP_PERIOD = 30
ENROL = """
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from members.models import User
for email, secret in {secrets!r}.items():
    user = User.objects.get(email=email)
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
"""


# Staff of the demo: they must use two-factor authentication.
STAFF = ("Brenda Broker", "Cora Council", "Colin County")


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@demo.timebank.localhost"


def totp_code(secret: str, counter: int) -> str:
    """The code an authenticator app shows for ``secret`` in 30-second step ``counter`` (RFC 6238)."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


# The last time step whose code each secret used: the server accepts a code only once.
_last_step: dict[str, int] = {}


def fresh_totp_code(secret: str) -> str:
    """A code not used before: waits for the next 30-second step if this one's is spent."""
    while int(time.time()) // TOTP_PERIOD <= _last_step.get(secret, -1):
        time.sleep(1)
    step = int(time.time()) // TOTP_PERIOD
    _last_step[secret] = step
    return totp_code(secret, step)


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
    for folder in (SCREENSHOTS, PDF_PAGES):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    COUNTS.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": _fresh_database(),
        # The demo as `make run` serves it (DEBUG is off unless set).
        "DEBUG": os.environ.get("DEBUG", "true"),
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
    secrets = {email(name): secret for name, secret in TOTP_SECRETS.items()}
    enrol = ENROL.format(secrets=secrets)
    subprocess.run([*manage, "shell", "-c", enrol], env=env, cwd=ROOT, check=True)
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
        print(f"\nScreenshots (360 and 1280 px wide): {SCREENSHOTS}")


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
    """One person's phone-sized browser tab, checking every page it visits with axe-core and
    failing on anything the content security policy blocked (the browser reports each block
    as a console error)."""

    def __init__(self, browser: Browser, base_url: str, *, javascript: bool = True) -> None:
        self.base_url = base_url
        self.javascript = javascript
        # Page loads and form fields of the task under way (``task``).
        self.counting: dict | None = None
        self.context = browser.new_context(
            base_url=base_url,
            viewport=PHONE,
            java_script_enabled=javascript,
            locale="en-GB",
        )
        # axe-core goes in through DevTools on every page, before the page's own scripts: an
        # added <script> tag would be inline script, which the content security policy blocks.
        self.context.add_init_script(path=str(AXE))
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.checked: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.blocked.append(f"{self.page.url}: {message.text}")

    def goto(self, path: str) -> Page:
        self.page.goto(path)
        self._loaded()
        self.check()
        return self.page

    def _loaded(self) -> None:
        if self.counting is not None:
            self.counting["page_loads"] += 1

    def favicon(self) -> None:
        """What every browser does by itself on every page: ask for /favicon.ico (with the
        person's cookies, following redirects). It must be the icon, never another page."""
        response = self.page.request.get("/favicon.ico")
        assert response.url.endswith("/favicon.ico"), f"/favicon.ico went to {response.url}"
        assert response.status == 200, f"/favicon.ico answered {response.status}"
        assert "icon" in response.headers.get("content-type", ""), response.headers

    @contextmanager
    def task(self, name: str) -> Iterator[dict]:
        """Count what a core task costs the person: the pages loaded (each checked page) and
        the form fields of each form they send (``fields``); added to COUNTS."""
        self.counting = {"task": name, "page_loads": 0, "form_fields": 0, "forms": []}
        try:
            yield self.counting
        finally:
            done, self.counting = self.counting, None
        counts = json.loads(COUNTS.read_text()) if COUNTS.exists() else {}
        counts[name] = done
        COUNTS.write_text(json.dumps(counts, indent=2) + "\n")

    def fields(self, form: str = "main form[method=post]") -> int:
        """The fields the person sees in ``form`` (a group of radio buttons or checkboxes
        is one question), added to the task under way."""
        count = self.page.evaluate(
            """sel => {
                const form = document.querySelector(sel);
                const seen = new Set();
                for (const el of form.querySelectorAll('input, select, textarea')) {
                    if (el.type === 'hidden' || !el.checkVisibility({visibilityProperty: true})) continue;
                    seen.add(el.type === 'radio' || (el.type === 'checkbox' && el.name &&
                             form.querySelectorAll(`[name="${el.name}"]`).length > 1)
                             ? 'group:' + el.name : 'el:' + (el.id || el.name));
                }
                return seen.size;
            }""",
            form,
        )
        if self.counting is not None:
            self.counting["form_fields"] += count
            self.counting["forms"].append({"url": self.page.url, "fields": count})
        return count

    @contextmanager
    def navigates(self) -> Iterator[Page]:
        """Wrap a click or key press that loads a new page; the new page is then checked."""
        with self.page.expect_navigation():
            yield self.page
        self._loaded()
        self.check()

    def check(self) -> None:
        """On the page just loaded: ask for the favicon as the browser does; fail on anything
        the content security policy blocked, on sideways scrolling or a table cut off at
        360 px, and on any serious or critical violation axe-core finds."""
        self.favicon()
        if self.blocked:
            pytest.fail("blocked by the content security policy:\n  " + "\n  ".join(self.blocked))
        if not self.javascript:
            return  # axe is JavaScript; the same pages are checked by the JavaScript-on tests
        page = self.page
        # The phone layout (or whatever width the tab has now): nothing makes the whole page
        # scroll sideways (WCAG 1.4.10 Reflow), and no table is wider than its place: a column
        # scrolled out of sight is cut off. The one exception is Reflow's own: a data table of
        # many columns (the commissioner report's) may scroll inside a labelled region the
        # keyboard can reach and scroll.
        viewport = (page.viewport_size or PHONE)["width"]
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > viewport:
            pytest.fail(f"{page.url} is {width} px wide on a {viewport} px screen", pytrace=False)
        cut = page.evaluate(
            """() => [...document.querySelectorAll('table')]
                .filter(t => !t.closest('[role=region][tabindex="0"][aria-label], [role=region][tabindex="0"][aria-labelledby]'))
                .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                             || (t.parentElement.scrollWidth > t.parentElement.clientWidth + 1))
                .map(t => {
                    const edge = t.parentElement.getBoundingClientRect().right;
                    const wide = [...t.querySelectorAll('th, td')]
                        .find(c => c.getBoundingClientRect().right > edge + 1);
                    const name = (t.querySelector('caption, th') || t).textContent.trim().slice(0, 40);
                    return wide ? `${name} (widest: "${wide.textContent.trim().slice(0, 60)}")` : name;
                })"""
        )
        if cut:
            pytest.fail(f"{page.url}: tables cut off at {viewport} px: {cut}", pytrace=False)
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
        """The whole page on the phone (360 px) and on a desktop (1280 px)."""
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-360.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)
        try:
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-1280.png"), full_page=True)
        finally:
            self.page.set_viewport_size(PHONE)

    def sign_in(self, address: str, password: str = PASSWORD) -> None:
        """Sign in with the password and, for staff, the code from their authenticator app;
        staff without one set it up here first (``set_up_two_factor``)."""
        page = self.goto("/accounts/login/")
        page.fill("input[name=login]", address)
        page.fill("input[name=password]", password)
        with self.navigates():
            page.locator("main form button[type=submit]").first.click()
        assert "/accounts/login/" not in page.url, f"signing in as {address} failed"
        name = next((n for n in STAFF if email(n) == address), None)
        if name is None:
            return
        if name not in TOTP_SECRETS:
            assert "/accounts/2fa/totp/activate/" in page.url, f"{address} was not sent to set up"
            self.set_up_two_factor(name)
            return
        # Staff: allauth asks for the code from the authenticator app.
        assert "/accounts/2fa/authenticate/" in page.url, f"{address} was not asked for a code"
        page.fill("input[name=code]", fresh_totp_code(TOTP_SECRETS[name]))
        with self.navigates():
            page.locator("main form button[type=submit]").first.click()
        assert "/accounts/2fa/" not in page.url, f"the code for {address} was refused"

    def set_up_two_factor(self, name: str, *, screenshots: str = "") -> str:
        """On allauth's set-up page: read the secret as an authenticator app reads the QR
        code, then do what a browser and a person do before typing the code (the favicon
        request, a reload of the page), then type the app's code. Returns the secret."""
        page = self.page
        assert "/accounts/2fa/totp/activate/" in page.url, page.url
        if screenshots:
            self.screenshot(f"{screenshots}-set-up-two-factor")
        secret = page.locator("#authenticator_secret").input_value()
        self.favicon()
        with self.navigates():
            page.reload()
        assert page.locator("#authenticator_secret").input_value() == secret, (
            "a reload of the set-up page changed the secret the person had scanned"
        )
        page.fill("input[name=code]", fresh_totp_code(secret))
        with self.navigates():
            page.locator("main form button[type=submit]").first.click()
        assert "/accounts/2fa/totp/activate/" not in page.url, (
            "the code from the QR code just scanned was refused: "
            + page.locator("main").inner_text().replace("\n", " | ")
        )
        TOTP_SECRETS[name] = secret
        return secret

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
    blocked = [line for s in opened for line in s.blocked]
    for s in opened:
        s.close()
    if blocked:
        pytest.fail("blocked by the content security policy:\n  " + "\n  ".join(blocked))

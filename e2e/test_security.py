"""Two-factor sign-in and set-up, and the content security policy, in a real Chromium.

Runs after test_flows.py (file order) and only reads and signs in; the site admin also sets
up an authenticator, which no other test relies on.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import TOTP_SECRETS, Site, email, fresh_totp_code

pytestmark = pytest.mark.e2e
ADMIN = "admin@demo.timebank.localhost"


def test_the_suite_notices_what_the_policy_blocks(site) -> None:
    """An inline script is refused by the browser, and the console check sees the refusal."""
    alice: Site = site()
    page = alice.goto("/")
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.inlineRan = true';
            document.body.appendChild(s);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.inlineRan") is None
    assert any("Content Security Policy" in line for line in alice.blocked), alice.blocked
    alice.blocked.clear()  # seen: the fixture would otherwise fail this test at teardown


def test_a_broker_is_asked_for_the_code_and_a_wrong_one_is_refused(site) -> None:
    if "Brenda Broker" not in TOTP_SECRETS:  # test_flows.py sets it up; run alone, here
        first: Site = site()
        first.sign_in(email("Brenda Broker"))
        first.close()
    brenda: Site = site()
    page = brenda.goto("/accounts/login/")
    page.fill("input[name=login]", email("Brenda Broker"))
    page.fill("input[name=password]", "riverside-demo-2026")
    with brenda.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/authenticate/" in page.url
    brenda.screenshot("brenda-15-asked-for-the-code")
    secret = TOTP_SECRETS["Brenda Broker"]
    right = fresh_totp_code(secret)
    page.fill("input[name=code]", f"{(int(right) + 1) % 1_000_000:06d}")
    with brenda.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/authenticate/" in page.url
    expect(page.locator("main")).to_contain_text("Incorrect code")
    page.fill("input[name=code]", right)
    with brenda.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/" not in page.url
    with brenda.navigates():
        page.get_by_role("link", name="Broker's desk").first.click()
    assert page.url.endswith("/banks/riverside/desk/")


def test_the_site_admin_sets_up_an_authenticator_at_first_sign_in(site) -> None:
    """The demo's admin has none: the site explains why and sends them straight to set one up
    (no second password just after signing in); a favicon request and a reload of the page
    before the code is typed change nothing."""
    admin: Site = site()
    page = admin.goto("/accounts/login/")
    page.fill("input[name=login]", ADMIN)
    page.fill("input[name=password]", "riverside-demo-2026")
    with admin.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/totp/activate/" in page.url, page.url
    expect(page.locator("main")).to_contain_text("set up an authenticator app")
    admin.set_up_two_factor("admin", screenshots="admin-01")
    page.goto("/admin/")  # Django's own pages: the policy is checked, axe-core is not
    expect(page.locator("body")).to_contain_text("Site administration")


def test_the_api_docs_run_under_the_policy(site) -> None:
    """Swagger UI starts from a script file (no inline script) and loads the schema."""
    alice: Site = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.page
    page.goto("/api/docs/")  # Swagger UI's own page: the policy is checked, axe-core is not
    expect(page.locator(".swagger-ui .info")).to_contain_text("Time bank API")
    page.wait_for_timeout(300)
    assert alice.blocked == [], alice.blocked

"""A confirmation sent twice (a double click, or the page open in two tabs): the second finds the
exchange decided and says so on the exchange's page, never an error page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import email

pytestmark = pytest.mark.e2e
BANK = "/banks/riverside"


def test_confirming_again_from_a_stale_page_says_it_is_already_decided(site) -> None:
    # Alice received a quarter hour of help from Bob: Bob's hours go up, Alice's down a little.
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/record/")
    description = f"Carried the shopping {uuid.uuid4().hex[:6]}"
    page.check("input[name=direction][value=received]")
    bob = page.locator("select[name=other] option", has_text="Bob Baker").get_attribute("value")
    page.select_option("select[name=other]", value=bob)
    page.fill("input[name=minutes]", "0.25")
    page.fill("input[name=description]", description)
    with alice.navigates():
        page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(description)
    exchange = page.url

    # Bob has the exchange open in two tabs, and confirms in both.
    first, second = site(), site()
    for tab in (first, second):
        tab.sign_in(email("Bob Baker"))
        tab.goto(exchange)
    confirm = re.compile(r"^Yes, I helped Alice Archer for 15 minutes")
    with first.navigates():
        first.page.get_by_role("button", name=confirm).click()
    expect(first.page.locator(".messages")).to_contain_text("The hours have moved.")
    with second.navigates():
        second.page.get_by_role("button", name=confirm).click()
    expect(second.page.locator(".messages")).to_contain_text(
        "This exchange has already been decided: it is completed."
    )
    expect(second.page.get_by_role("button", name=confirm)).to_have_count(0)
    second.screenshot("21-bob-confirms-again-already-decided")

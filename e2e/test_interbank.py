"""Exchanges between linked time banks, in a real Chromium: Alice (Riverside) records help she
gave Max of Millbrook, the neighbouring bank the demo links; Max confirms with one tap; both
statements name the other bank, and both banks' commissioner reports count it among their
exchanges with other time banks (six each way recorded and confirmed first, through the
services, so that the figures are above the suppression threshold; and this one).

Screenshots: e2e-artifacts/screenshots/interbank-<step>-{360,1280}.png."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import ADMIN_URL, DB_NAME, ROOT, SCREENSHOTS, Site, email

pytestmark = pytest.mark.e2e

# Six exchanges each way over the last three weeks, each recorded by the member who gave and
# confirmed by the other, between six Riverside members and Millbrook's three.
SEED = """
from datetime import timedelta
from django.utils import timezone
from exchanges.services import Details
from interbank import services
from ledger import services as ledger
from members.models import Person, TimeBank
river, mill = TimeBank.objects.get(slug="riverside"), TimeBank.objects.get(slug="millbrook")
def members(bank, skip=()):
    return list(Person.objects.filter(memberships__time_bank=bank, memberships__role="member",
        memberships__status="approved", user__isnull=False).exclude(display_name__in=skip)
        .order_by("pk"))
ours = members(river, ("Alice Archer", "Bob Baker", "Chidi Okafor"))[:6]
theirs = members(mill)
today = timezone.localdate()
for n, person in enumerate(ours):
    other = theirs[n % len(theirs)]
    mine = ledger.open_account(time_bank=river, person=person)
    yours = ledger.open_account(time_bank=mill, person=other)
    for recorder, own, account, asked in ((person, mine, yours, other), (other, yours, mine, person)):
        cross = services.record_between_banks(recorded_by=recorder, own=own, other=account,
            gave=True, minutes=60, idempotency_key=f"e2e-trade-{n}-{own.pk}",
            details=Details(effective_date=today - timedelta(days=2 + 3 * n),
                            description="Helped a neighbour"))
        services.confirm(cross=cross, person=asked)
"""


@pytest.fixture(scope="module")
def trade_history(server_url: str) -> None:
    env = {"DATABASE_URL": f"{ADMIN_URL.rsplit('/', 1)[0]}/{DB_NAME}", "DEBUG": "true"}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SEED],
        env={**os.environ, **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def trade_row(site: Site, slug: str, other: str) -> list[str]:
    """The row for ``other`` in the section "Exchanges with other time banks" of ``slug``'s
    commissioner report for the last 30 days."""
    today = date.today()
    start = (today - timedelta(days=30)).isoformat()
    page = site.goto(f"/banks/{slug}/commissioner-report/?start={start}&end={today.isoformat()}")
    section = page.locator("section#section-between_banks")
    expect(section.get_by_role("heading", level=2)).to_have_text("Exchanges with other time banks")
    row = section.locator("tbody tr", has_text=other)
    expect(row).to_have_count(1)
    section.scroll_into_view_if_needed()
    texts = row.locator("th, td").all_inner_texts()
    section.screenshot(path=str(SCREENSHOTS / f"interbank-{slug}-report-section-{texts[1]}.png"))
    return texts


def test_alice_helps_max_of_millbrook_he_confirms_and_both_banks_show_it(
    site, trade_history
) -> None:
    description = f"Mended the garden gate {uuid.uuid4().hex[:6]}"
    cora = site()
    cora.sign_in(email("Cora Council"))
    before = trade_row(cora, "riverside", "Millbrook Time Bank")
    assert before[1:] == ["6", "6", "6", "6", "0"], before

    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto("/banks/riverside/record/")
    with alice.navigates():
        page.get_by_role(
            "link", name="Help with a member of a linked time bank? Record it here"
        ).click()
    page.check("input[name=direction][value=gave]")
    page.select_option("select[name=other]", label="Max Miller (Millbrook Time Bank)")
    page.fill("input[name=minutes]", "1.5")
    page.fill("input[name=description]", description)
    alice.screenshot("interbank-01-alice-records-across")
    alice.fields()
    with alice.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(description)
    expect(page.locator(".messages")).to_contain_text("Max Miller is asked to confirm it")
    expect(page.locator("main")).to_contain_text(
        "Alice Archer (Riverside Time Bank) helped Max Miller (Millbrook Time Bank) for 1.5 hours"
    )
    alice.screenshot("interbank-02-alice-recorded")

    max_ = site()
    max_.sign_in(email("Max Miller"))
    page = max_.goto("/")
    item = page.locator(".waiting-for-you .exchange-item", has_text=description)
    expect(item).to_contain_text("Alice Archer says: “I helped you for 1.5 hours")
    expect(item.get_by_role("button")).to_contain_text(
        "Yes, Alice Archer (Riverside Time Bank) helped me for 1.5 hours"
    )
    max_.screenshot("interbank-03-max-asked")
    with max_.navigates():
        item.get_by_role("button").click()
    expect(page.locator(".messages")).to_contain_text("Done: the exchange is now completed")
    expect(page.locator("dd.status")).to_have_text("Completed")
    max_.screenshot("interbank-04-max-confirmed")

    # Both statements: the line, with the other bank's name.
    page = max_.goto("/banks/millbrook/statement/")
    line = page.locator("table.statement tbody tr", has_text=description)
    expect(line.locator(".who")).to_have_text("Riverside Time Bank")
    expect(line.locator(".hours")).to_have_text("−1.5")
    max_.screenshot("interbank-05-max-statement")
    page = alice.goto("/banks/riverside/statement/")
    line = page.locator("table.statement tbody tr", has_text=description)
    expect(line.locator(".who")).to_have_text("Millbrook Time Bank")
    expect(line.locator(".hours")).to_have_text("+1.5")
    alice.screenshot("interbank-06-alice-statement")

    # Both banks' commissioner reports: 1.5 hours more out of Riverside, into Millbrook.
    after = trade_row(cora, "riverside", "Millbrook Time Bank")
    assert after[1:] == ["7", "7.5", "6", "6", "-1.5"], after
    cora.screenshot("interbank-07-riverside-commissioner-report")
    colin = site()
    colin.sign_in(email("Colin County"))
    theirs = trade_row(colin, "millbrook", "Riverside Time Bank")
    assert theirs[1:] == ["6", "6", "7", "7.5", "1.5"], theirs
    colin.screenshot("interbank-08-millbrook-commissioner-report")

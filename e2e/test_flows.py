"""Each person's journey in a real Chromium, as that person: Brenda (broker), Alice and Bob
(members), Chidi (receiving help), Cora (commissioner) and a newcomer.

The browser asks for /favicon.ico by itself after every page, and every page is checked
(axe-core, the content security policy, 360 px); each journey checks the truth of what is
shown (the new row is where it should be, the balance moved by the right amount and the
figures add up), reloads after a POST, goes back, and double-clicks a submit. Screenshots at
360 and 1280 px: e2e-artifacts/screenshots/<person>-<step>-{360,1280}.png.

The tests share one demo database and run in file order, as the story of a week at Riverside.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from .conftest import PDF_PAGES, PHONE, TOTP_SECRETS, Site, email

pytestmark = pytest.mark.e2e
PHONE_WIDTH = PHONE["width"]
BANK = "/banks/riverside"
HELP = "Contact your broker"
# Where the help link sits (WCAG 2.2 SC 3.2.6 Consistent Help): its path from <body>, which
# landmark holds it, its place among that landmark's links, and the landmarks' order.
HELP_PLACE = """name => {
    const links = [...document.querySelectorAll('a')].filter(a => a.textContent.trim() === name);
    if (links.length !== 1) return {count: links.length};
    const link = links[0];
    const path = [];
    for (let el = link; el && el !== document.body; el = el.parentElement) {
        path.unshift(el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
    }
    const landmark = link.closest('footer, header, nav, main, aside');
    const landmarks = [...document.body.querySelectorAll(':scope > header, :scope > main, :scope > footer')]
        .map(el => el.tagName.toLowerCase());
    return {count: 1, path: path.join(' > '), landmark: landmark && landmark.tagName.toLowerCase(),
            index: [...landmark.querySelectorAll('a')].indexOf(link), landmarks: landmarks.join(',')};
}"""
HELP_SEEN: list[tuple[str, dict]] = []


@pytest.fixture(autouse=True)
def help_on_every_page(monkeypatch) -> None:
    """Every page any test visits has the one help link, in the page footer, in one place."""
    checked = Site.check

    def check(self: Site) -> None:
        checked(self)
        footer_link = self.page.get_by_role("contentinfo").get_by_role(
            "link", name=HELP, exact=True
        )
        assert footer_link.count() == 1, f"no '{HELP}' link in the footer of {self.page.url}"
        if self.javascript:
            place = self.page.evaluate(HELP_PLACE, HELP)
            HELP_SEEN.append((self.page.url, place))
            first_url, first = HELP_SEEN[0]
            assert place == first, (
                f"the help link moved: {self.page.url} has {place}, {first_url} had {first}"
            )

    monkeypatch.setattr(Site, "check", check)


# --- Reading what the page says ---------------------------------------------------------------

HOURS = re.compile(
    r"(?P<sign>[-−])?(?P<n>\d+(?:\.\d+)?) hours?(?: (?P<m>\d+) minutes?)?|(?P<only>\d+) minutes?"
)


def minutes_in(text: str) -> int:
    """The first amount of hours in ``text`` as people read it ("1.5 hours", "45 minutes",
    "1 hour 40 minutes"), in minutes."""
    found = HOURS.search(text)
    assert found, f"no hours in {text!r}"
    if found.group("only"):
        return int(found.group("only"))
    minutes = round(float(found.group("n")) * 60) + int(found.group("m") or 0)
    return -minutes if found.group("sign") else minutes


def balance(page: Page) -> int:
    """The balance a member reads, in minutes, from its words ("You have 3 hours to spend",
    "... received 9 hours more than ... given", "... as much as ..."), never a bare number."""
    text = page.locator("p.balance").first.inner_text()
    if "as much as" in text or "no hours yet" in text:
        return 0
    amount = minutes_in(text)
    if re.search(r"received .* more than", text):
        return -amount
    assert "to spend" in text, f"the balance is not in words: {text!r}"
    return amount


def totals(page: Page) -> dict[str, int]:
    """The hours given and received (and given to or away) the glance shows, in minutes."""
    text = page.locator("p.totals").first.inner_text()
    given = re.search(r"You have given (.+?) of help and received (.+? (?:hours?|minutes?))", text)
    assert given, text
    shown = {"given": minutes_in(given.group(1)), "received": minutes_in(given.group(2))}
    gifts_in = re.search(r"You were given (.+?) \(", text)
    gifts_out = re.search(r"You gave (.+?) away", text)
    shown["in"] = minutes_in(gifts_in.group(1)) if gifts_in else 0
    shown["out"] = minutes_in(gifts_out.group(1)) if gifts_out else 0
    # An opening balance from the bank's earlier records (an imported bank).
    earlier = re.search(
        r"(\S+ (?:hours?|minutes?)(?: \d+ minutes?)?)( received before)? came with you", text
    )
    if earlier:
        shown["in" if not earlier.group(2) else "out"] += minutes_in(earlier.group(1))
    return shown


def assert_adds_up(page: Page) -> int:
    """What the glance says adds up: given - received + given to - given away = balance."""
    shown, said = totals(page), balance(page)
    assert shown["given"] - shown["received"] + shown["in"] - shown["out"] == said, (
        f"{shown} does not add up to the balance {said}"
    )
    return said


def items(page: Page, selector: str) -> list[str]:
    return page.locator(f"{selector} .exchange-item").all_inner_texts()


def tab_to(page: Page, selector: str, *, presses: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has focus, as a keyboard user would,
    checking each time that the focused element is on screen (not hidden under anything)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """sel => {
                const el = document.activeElement;
                const r = el.getBoundingClientRect();
                const x = r.left + Math.min(r.width / 2, 10), y = r.top + r.height / 2;
                const hit = document.elementFromPoint(x, y);
                return {match: el.matches(sel),
                        visible: r.width > 0 && y >= 0 && y <= innerHeight,
                        covered: !!hit && !(el === hit || el.contains(hit) || hit.contains(el)
                                            || (el.labels && [...el.labels].some(l => l.contains(hit)))),
                        what: el.outerHTML.slice(0, 80)};
            }""",
            selector,
        )
        if state["match"]:
            assert state["visible"], f"focus is off screen on {state['what']}"
            assert not state["covered"], f"focus is hidden under another element: {state['what']}"
            return
    raise AssertionError(f"Tab never reached {selector}")


def double_click_submit(site: Site, button) -> None:
    """A person's double click (or an impatient second tap) on a submit button."""
    with site.navigates():
        button.dblclick()


# --- Brenda, the broker -----------------------------------------------------------------------


def test_brenda_sets_up_two_factor_at_her_first_sign_in(site) -> None:
    """Must show 1 of issue 22: signing in straight to the set-up (no second password), the
    browser's favicon request and a reload between scanning the QR code and typing the code,
    and the code is accepted."""
    assert "Brenda Broker" not in TOTP_SECRETS, "run the suite in file order"
    brenda = site()
    page = brenda.goto("/accounts/login/")
    page.fill("input[name=login]", email("Brenda Broker"))
    page.fill("input[name=password]", "riverside-demo-2026")
    with brenda.navigates():
        page.locator("main form button[type=submit]").first.click()
    # Straight to the set-up, with the reason: not asked for the password just typed.
    assert "/accounts/2fa/totp/activate/" in page.url, page.url
    expect(page.locator("main")).to_contain_text("set up an authenticator app")
    brenda.set_up_two_factor("Brenda Broker", screenshots="brenda-01")
    brenda.screenshot("brenda-02-recovery-codes")
    page = brenda.goto(f"{BANK}/desk/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Broker's desk")


def test_brenda_finds_edna_and_approves_her_exchange_on_the_desk(site) -> None:
    """Brenda finds Edna (offline) with the desk's search box, then approves "Set up Edna's
    tablet" in place; Edna's balance goes down by exactly the hour."""
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page = brenda.goto("/")
    brenda.screenshot("brenda-03-home")
    page = brenda.goto(f"{BANK}/desk/")
    # The desk's "Find a member" finds Edna alone.
    page.get_by_label("Find a member by name").fill("Edna")
    with brenda.navigates():
        page.get_by_role("button", name="Search").first.click()
    found = page.locator("table tbody tr").all_inner_texts()
    assert len(found) == 1 and "Edna Green" in found[0], found
    brenda.screenshot("brenda-04-find-edna")
    with brenda.navigates():
        page.get_by_role("link", name="Edna Green").click()
    edna_page = page.url
    before = balance(page)
    with brenda.task("approve"):
        page = brenda.goto("/")
        with brenda.navigates():
            page.get_by_role(
                "link", name=re.compile("Broker's desk: 1 exchange to approve")
            ).click()
        brenda.screenshot("brenda-05-desk")
        desk = page.url
        # In place (desk.js): the card becomes the answer, which has the focus; no page load.
        page.get_by_role("button", name='Approve "Set up Edna\'s tablet"').click()
        answer = page.get_by_role("status").filter(has_text="Done: the exchange is now completed.")
        expect(answer).to_be_focused()
        expect(page.locator("#approve")).to_have_text("0 exchanges to approve")
        assert page.url == desk
        brenda.check()
    brenda.screenshot("brenda-06-desk-approved-in-place")
    page = brenda.goto(edna_page)
    assert balance(page) == before - 60
    brenda.screenshot("brenda-07-edna-after-approval")


def test_brenda_adds_margaret_and_enters_her_paper_slip_from_last_week(site) -> None:
    """Add a member without email (joined ten days ago, on paper) → her page → "Record an
    exchange for Margaret" names her and asks whether she gave or received → last week's slip
    goes in (a double-clicked submit records it once) → her balance and statement say so."""
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    today = date.today()
    name = f"Margaret Dawson {uuid.uuid4().hex[:4]}"
    with brenda.task("add an offline member and record for them"):
        page = brenda.goto("/")
        with brenda.navigates():
            page.get_by_role("link", name="Add a member who does not use the website").click()
        page.get_by_label("Name shown to other members").fill(name)
        page.get_by_label("Date they joined (optional)").fill(
            (today - timedelta(days=10)).isoformat()
        )
        page.get_by_label("Area").fill("GL54")
        brenda.screenshot("brenda-08-add-margaret")
        brenda.fields()
        with brenda.navigates():
            page.get_by_role("button", name="Add the member").click()
        # Her page, not the applications queue.
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        expect(page.locator(".messages")).to_contain_text(f"{name} is now a member")
        member_page = page.url
        brenda.screenshot("brenda-09-margarets-page")
        with brenda.navigates():
            page.get_by_role("link", name=f"Record an exchange for {name}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Record an exchange for {name}")
        page.get_by_label(f"{name} received help").check()
        page.locator("select[name=other]").select_option(label="Dot Evans (GL50)")
        slip_day = today - timedelta(days=7)
        page.get_by_label("Date the help happened").fill(slip_day.isoformat())
        page.get_by_label("Hours").fill("1")
        description = f"Took Margaret to the library {uuid.uuid4().hex[:4]}"
        page.get_by_label("What was the help?").fill(description)
        brenda.screenshot("brenda-10-record-for-margaret")
        brenda.fields()
        double_click_submit(brenda, page.get_by_role("button", name="Record the exchange"))
        expect(page.get_by_role("heading", level=1)).to_have_text(description)
        expect(page.locator(".messages")).to_contain_text(f"Dot Evans helped {name} for 1 hour on")
    brenda.screenshot("brenda-11-recorded-for-margaret")
    # Reload after the POST: the exchange page again, nothing recorded twice.
    with brenda.navigates():
        page.reload()
    page = brenda.goto(member_page)
    assert (
        f"{name} has received 1 hour more than they have given"
        in page.locator("p.balance").inner_text()
    )
    with brenda.navigates():
        page.get_by_role("link", name=f"{name}'s statement").click()
    rows = page.locator("table.statement tbody tr").all_inner_texts()
    lines = [r for r in rows if description in r]
    assert len(lines) == 1, rows  # once, though the button was clicked twice
    assert "Dot Evans" in lines[0] and "−1" in lines[0], lines[0]
    brenda.screenshot("brenda-12-margarets-statement")
    # "Mark as left" asks first; Brenda says no.
    page = brenda.goto(member_page)
    with brenda.navigates():
        page.get_by_role("link", name=f"Mark {name} as left").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Mark {name} as left?")
    brenda.screenshot("brenda-13-mark-as-left-asks")
    with brenda.navigates():
        page.get_by_role("link", name=f"No, back to {name}").click()
    expect(page.get_by_role("link", name=f"Mark {name} as left")).to_be_visible()


# --- Alice and Bob, members -------------------------------------------------------------------


def test_alice_records_gardening_for_bob_with_the_keyboard(site) -> None:
    """Alice's home answers at a glance; she records with the keyboard from her home's one
    button; a double click records once; reload and back change nothing; the new row is first
    in what she waits on, and the demo's pending exchange for Bob is still listed."""
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto("/")
    before = assert_adds_up(page)
    alice.screenshot("alice-01-home")
    description = f"Weeded the front garden {uuid.uuid4().hex[:6]}"
    with alice.task("record"):
        page = alice.goto("/")
        with alice.navigates():
            page.get_by_role("link", name="Record help you gave or received").click()
        alice.screenshot("alice-02-record-form")
        page.locator("body").focus()
        tab_to(page, "input[name=direction][value=gave]")
        page.keyboard.press("Space")
        expect(page.locator("input[name=direction][value=gave]")).to_be_checked()
        tab_to(page, "select[name=other]")
        page.keyboard.type("Bob Baker")
        tab_to(page, "input[name=minutes]")
        page.keyboard.type("1.5")
        tab_to(page, "input[name=description]")
        page.keyboard.type(description)
        alice.fields()
        double_click_submit(alice, page.get_by_role("button", name="Record the exchange"))
        expect(page.get_by_role("heading", level=1)).to_have_text(description)
    expect(page.locator(".messages")).to_contain_text("You helped Bob Baker for 1.5 hours on")
    expect(page.locator(".messages")).to_contain_text("We have asked Bob Baker to confirm it.")
    expect(page.locator("dd.status")).to_have_text("Waiting for Bob Baker to confirm")
    alice.screenshot("alice-03-recorded")
    with alice.navigates():
        page.reload()
    # Back to the form (perhaps from the browser's cache): nothing is sent again.
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record an exchange")
    alice.check()
    page = alice.goto("/")
    waiting = items(page, ".waiting-on-others")
    assert description in waiting[0], waiting  # today's help, newest first
    assert sum(description in w for w in waiting) == 1, waiting
    assert any("Pruned the apple tree" in w for w in waiting), waiting
    assert "Waiting for Bob Baker to confirm" in waiting[0]
    # Nothing moves until Bob confirms.
    assert assert_adds_up(page) == before
    alice.screenshot("alice-04-home-waiting")


def test_bob_confirms_with_one_tap_and_his_balance_moves(site) -> None:
    """Bob's home asks him, in the second person, about each exchange waiting for him; one
    tap (double-tapped) confirms it; his balance goes down by exactly 1.5 hours, and the
    exchange is listed on his bank page just after."""
    bob = site()
    bob.sign_in(email("Bob Baker"))
    page = bob.goto("/")
    before = assert_adds_up(page)
    questions = items(page, ".waiting-for-you")
    garden = [q for q in questions if "Weeded the front garden" in q]
    assert garden and "Alice Archer says: “I helped you for 1.5 hours" in garden[0], questions
    bob.screenshot("bob-01-home-waiting-for-you")
    description = re.search(r"Weeded the front garden \w+", garden[0]).group(0)
    with bob.task("confirm"):
        page = bob.goto("/")
        yes = page.locator(".waiting-for-you .exchange-item", has_text=description).get_by_role(
            "button", name=re.compile(r"^Yes, Alice Archer helped me for 1.5 hours")
        )
        double_click_submit(bob, yes)
    expect(page.locator(".messages")).to_contain_text(
        "Confirmed: Alice Archer helped you for 1.5 hours on"
    )
    assert not [q for q in items(page, ".waiting-for-you") if description in q]
    after = assert_adds_up(page)
    assert after == before - 90, (before, after)
    bob.screenshot("bob-02-confirmed")
    page = bob.goto(f"{BANK}/")
    listed = items(page, ".recent")
    mine = [row for row in listed if description in row]
    assert len(mine) == 1 and "Alice Archer helped you for 1.5 hours" in mine[0], listed
    assert "Completed" in mine[0]
    bob.screenshot("bob-03-bank-page")


def test_chidi_reads_who_helped_him_and_confirms(site) -> None:
    """Chidi received help (Sam Turner carried his shopping): the page speaks to him in the
    second person, names both sides and the day of the help; confirming moves his hours."""
    chidi = site()
    chidi.sign_in(email("Chidi Okafor"))
    page = chidi.goto("/")
    before = assert_adds_up(page)
    chidi.screenshot("chidi-01-home")
    item = page.locator(".waiting-for-you .exchange-item", has_text="Carried the shopping home")
    expect(item).to_contain_text("Sam Turner says: “I helped you for 1.5 hours on")
    expect(item).to_contain_text("Is that right?")
    with chidi.navigates():
        item.get_by_role("link", name=re.compile("No, that is not right")).click()
    main = page.locator("main")
    expect(main).to_contain_text("Sam Turner says: “I helped you for 1.5 hours")
    expect(page.locator("dd.status")).to_have_text("Waiting for you to confirm")
    expect(main).not_to_contain_text("Chidi Okafor gives")
    chidi.screenshot("chidi-02-the-exchange")
    with chidi.navigates():
        page.get_by_role("button", name=re.compile("^Yes, Sam Turner helped me")).click()
    expect(page.locator("dd.status")).to_have_text("Completed")
    expect(page.locator("p.story")).to_contain_text("Sam Turner helped you for 1.5 hours on")
    chidi.screenshot("chidi-03-confirmed")
    page = chidi.goto("/")
    assert assert_adds_up(page) == before - 90


def test_alice_reads_her_statement_in_date_order(site) -> None:
    """Her statement: by date of help, newest first, each line with whom, the balance
    following that order, nothing cut off at 360 px (Site.check)."""
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/statement/")
    rows = page.locator("table.statement tbody tr").all()
    lines = []
    for row in rows:
        cells = row.locator("td").all_inner_texts()
        if len(cells) == 5:
            lines.append(cells)
    assert lines, "no lines on the statement"
    days = [date(*_day(c[0])) for c in lines]
    assert days == sorted(days, reverse=True), days
    number = lambda s: float(s.replace("−", "-").replace("+", ""))  # noqa: E731
    for above, below in zip(lines, lines[1:], strict=False):
        # Reading down: each balance is the one below it plus that line's hours.
        assert abs(number(above[4]) - (number(below[4]) + number(above[3]))) < 0.01, (above, below)
    assert all(c[2] for c in lines), "a line without 'with whom'"
    alice.screenshot("alice-05-statement")


MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _day(text: str) -> tuple[int, int, int]:
    d, m, y = text.split()
    return int(y), MONTHS.index(m) + 1, int(d)


def test_record_an_exchange_without_javascript(site) -> None:
    """The record form is a plain form: it works with JavaScript turned off."""
    alice = site(javascript=False)
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/record/")
    page.get_by_label("I received help").check()
    page.locator("select[name=other]").select_option(label="Bob Baker (GL51)")
    page.get_by_label("Hours").fill("0.75")
    description = f"A lift to the shops {uuid.uuid4().hex[:6]}"
    page.get_by_label("What was the help?").fill(description)
    with alice.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(description)
    expect(page.locator(".messages")).to_contain_text("asked Bob Baker to confirm")
    alice.screenshot("alice-06-no-javascript-recorded")


# --- A newcomer ----------------------------------------------------------------------------------


def test_a_broker_who_took_part_waits_for_someone_else_and_is_told_who(site) -> None:
    """Brenda records an hour she gave Edna Green (offline): nobody moves hours alone, so it
    waits; the bank's only broker, she may not approve it, and the page says who does."""
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page = brenda.goto(f"{BANK}/record/")
    mine = page.locator("select[name=giver] option", has_text="Brenda Broker").first
    page.locator("select[name=giver]").select_option(mine.get_attribute("value"))
    page.locator("select[name=receiver]").select_option(label="Edna Green (GL54)")
    page.get_by_label("Hours").fill("1")
    description = f"Changed Edna's light bulbs {uuid.uuid4().hex[:6]}"
    page.get_by_label("What was the help?").fill(description)
    with brenda.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    expect(page.locator(".messages")).to_contain_text("A broker will check it")
    # Her own exchange's page offers her no "Approve".
    expect(page.get_by_role("button", name="Approve: move the hours")).to_have_count(0)
    brenda.screenshot("10b-brenda-own-exchange-waits")
    # On the desk it waits with the others; trying anyway says who approves it.
    page = brenda.goto(f"{BANK}/desk/")
    with brenda.navigates():
        page.get_by_role("button", name=f'Approve "{description}"').click()
    expect(page.locator("main")).to_contain_text("You took part in this exchange")
    expect(page.locator("main")).to_contain_text("the site's administrator approves it")
    brenda.screenshot("10c-brenda-told-who-approves")


def test_a_newcomer_signs_up_applies_and_a_broker_approves(site) -> None:
    """A newcomer signs up and applies; forgetting the code-of-conduct box brings the error
    summary to the top, focused, linked to the box; Brenda approves; the newcomer's home then
    answers at a glance."""
    name = f"Nia Newcomer {uuid.uuid4().hex[:4]}"
    address = f"nia.{uuid.uuid4().hex[:8]}@example.org"
    nia = site()
    page = nia.goto("/accounts/signup/")
    page.fill("input[name=email]", address)
    page.fill("input[name=password1]", "a-long-new-password-2026")
    page.fill("input[name=password2]", "a-long-new-password-2026")
    nia.screenshot("newcomer-01-sign-up")
    with nia.navigates():
        page.locator("main form button[type=submit]").first.click()
    with nia.navigates():
        page.get_by_role("link", name="Apply to Riverside Time Bank").click()
    page.get_by_label("Name shown to other members").fill(name)
    page.get_by_label("Area").fill("GL52")
    page.get_by_label("First referee's name").fill("Pat Jones")
    page.get_by_label("First referee's phone or email").fill("01632 960123")
    page.get_by_label("Second referee's name").fill("Sam Lee")
    page.get_by_label("Second referee's phone or email").fill("sam@example.org")
    with nia.navigates():
        page.get_by_role("button", name="Send my application").click()
    # The summary is at the top, has the focus, and is on screen at once on a phone.
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    box = summary.bounding_box()
    assert box is not None and 0 <= box["y"] < 780, box
    assert page.title().startswith("Error:"), page.title()
    nia.screenshot("newcomer-02-error-summary")
    summary.get_by_role("link", name="Please agree to the code of conduct to apply.").click()
    expect(page.get_by_label("I have read the code of conduct and agree to it")).to_be_focused()
    page.get_by_label("I have read the code of conduct and agree to it").check()
    with nia.navigates():
        page.get_by_role("button", name="Send my application").click()
    expect(page.locator("main")).to_contain_text("We are checking your application.")
    nia.screenshot("newcomer-03-being-checked")

    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page_b = brenda.goto(f"{BANK}/applications/")
    brenda.screenshot("brenda-14-applications")
    with brenda.navigates():
        page_b.get_by_role("button", name=f"Approve {name}").click()
    expect(page_b.locator(".messages")).to_contain_text(f"{name} is now a member.")

    page = nia.goto("/")
    assert assert_adds_up(page) == 0
    expect(page.get_by_role("link", name="Record help you gave or received")).to_be_visible()
    nia.screenshot("newcomer-04-home")


# --- Cora, the commissioner -------------------------------------------------------------------


def test_cora_pulls_last_quarters_report_and_downloads_the_xlsx(site) -> None:
    """From her home, last quarter's report is one click; she downloads it as a spreadsheet."""
    cora = site()
    cora.sign_in(email("Cora Council"))
    page = cora.goto("/")
    cora.screenshot("cora-01-home")
    with cora.task("pull the quarterly report"):
        page = cora.goto("/")
        with cora.navigates():
            page.get_by_role("link", name="Last quarter's report").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    cora.screenshot("cora-02-quarterly-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all the tables (spreadsheet)").click()
    saved = download.value.path()
    with open(saved, "rb") as f:
        assert f.read(2) == b"PK", "the download is not an XLSX (zip) file"


# --- Everyone -------------------------------------------------------------------------------------


def test_a_member_publishes_an_offer_and_replies_to_a_request(site) -> None:
    """Alice offers help (two radio buttons, no '---------'); Bob answers a request."""
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/listings/new/")
    expect(page.locator("main")).not_to_contain_text("---------")
    page.get_by_label("Offer of help").check()
    page.get_by_label("Category").select_option(label="Gardening")
    title = f"Help planting bulbs {uuid.uuid4().hex[:4]}"
    page.get_by_label("Title").fill(title)
    with alice.navigates():
        page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    alice.screenshot("alice-07-offer")

    bob = site()
    bob.sign_in(email("Bob Baker"))
    page_b = bob.goto(f"{BANK}/listings/?kind=request")
    with bob.navigates():
        page_b.get_by_role("link", name="Someone to come shopping with me").first.click()
    page_b.get_by_label("Your message").fill("I could come with you on Saturday morning.")
    with bob.navigates():
        page_b.get_by_role("button", name="Send my message").click()
    expect(page_b.locator(".messages")).to_be_visible()
    bob.screenshot("bob-04-replied")


# What no person should read on the commissioner report: snake_case names, raw shares, ISO
# dates, the CSV's word for a withheld number (tests/reports/reading_data.py has the same).
MACHINE = re.compile(
    r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|(?<![\d.,])0\.\d{3,}\b|\b\d{4}-\d{2}-\d{2}\b|\bsuppressed\b"
)
APPENDIX = "Appendix: the full tables"


def test_a_commissioner_reads_the_quarterly_report_on_a_phone_and_at_a_desk(site) -> None:
    """Cora opens last quarter's report on her phone: the headline sentences come first, on
    screen, without scrolling sideways (axe-core clean, as on every page), with no machine
    name anywhere she reads; a figure's definition is one tap away. At a desk (1,280 px) the
    same page passes the same checks. She downloads the spreadsheet and the printed pack: at
    most six pages before its appendix, each page kept as an image to look at."""
    cora = site()
    cora.sign_in(email("Cora Council"))
    page = cora.goto("/")
    with cora.navigates():
        page.get_by_role("link", name="Last quarter's report").click()
    headline = page.locator(".headline")
    expect(headline).to_be_visible()
    sentences = headline.locator("p")
    assert sentences.count() >= 3, "fewer than three headline sentences"
    expect(sentences.first).to_contain_text("members of Riverside Time Bank exchanged")
    width = PHONE_WIDTH
    for i in range(sentences.count()):
        box = sentences.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (
            f"headline sentence {i + 1} does not fit the {width} px screen: {box}"
        )
    first = sentences.first.bounding_box()
    assert first and first["y"] + first["height"] <= page.viewport_size["height"], (
        "the first headline sentence is below the first screen"
    )
    read = page.locator("main").inner_text()
    assert not MACHINE.findall(read), f"machine names on the page: {MACHINE.findall(read)[:10]}"
    cora.screenshot("cora-03-quarterly-report-read")
    # A figure's definition: one tap on its name.
    page.get_by_role("link", name="Hours of help exchanged", exact=True).click()
    expect(page.locator("#def-hours_exchanged")).to_be_visible()
    expect(page.locator("#def-hours_exchanged + dd")).to_contain_text("hours of help given")
    # A chart's figures as a table, one tap away.
    page.locator("#chart-trend-hours summary").click()
    expect(page.locator("#chart-trend-hours table")).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    cora.check()
    expect(page.locator(".headline")).to_be_visible()
    page.set_viewport_size(PHONE)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download all the tables (spreadsheet)").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"PK", "the download is not an XLSX (zip) file"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the printed report (PDF)").click()
    pdf = PDF_PAGES / "commissioner-report.pdf"
    download.value.save_as(pdf)
    reader = PdfReader(pdf)
    # The outline (bookmarks, from the headings) nests the sections under the title.
    outline, items = [], list(reader.outline)
    while items:
        item = items.pop(0)
        if isinstance(item, list):
            items[:0] = item
        else:
            outline.append((item.title, reader.get_destination_page_number(item)))
    appendix = dict(outline)[APPENDIX]
    assert appendix <= 6, f"{appendix} pages before the appendix (at most 6)"
    text = " ".join(each.extract_text() for each in reader.pages)
    assert not MACHINE.findall(text), f"machine names in the PDF: {MACHINE.findall(text)[:10]}"
    # Every page as an image, for a person to look at (CI keeps e2e-artifacts/).
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(PDF_PAGES / "page")], check=True)
    assert len(list(PDF_PAGES.glob("page-*.png"))) == len(reader.pages)


def test_help_is_in_the_same_place_on_every_page_and_names_the_members_broker(site) -> None:
    """WCAG 2.2 SC 3.2.6: signed out, on allauth's pages, as a member and as a broker, the
    "Contact your broker" link is the first link of the footer; a member's names their bank."""
    visitor = site()
    for path in ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]:
        page = visitor.goto(path)
        expect(page.locator("footer .help")).to_contain_text("at the time bank scheme")

    alice = site()
    alice.sign_in(email("Alice Archer"))
    for path in [
        "/",
        f"{BANK}/",
        f"{BANK}/listings/",
        f"{BANK}/record/",
        "/profile/",
        "/accounts/email/",
        "/email/",
    ]:
        page = alice.goto(path)
        link = page.get_by_role("contentinfo").get_by_role("link", name=HELP, exact=True)
        expect(link).to_have_attribute("href", "mailto:brenda@riverside-timebank.localhost")
        expect(page.locator("footer .help")).to_contain_text("Riverside Time Bank")
        expect(page.locator("footer .help")).to_contain_text("01632 960 123")

    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    for path in [f"{BANK}/desk/", f"{BANK}/applications/", f"{BANK}/members/"]:
        brenda.goto(path)
    # Every visit above (and in the other tests) went through the same-place check.
    assert len({repr(place) for _, place in HELP_SEEN}) == 1

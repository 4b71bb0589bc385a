"""The core flows in a real Chromium on a 360-px-wide phone, with axe-core on every page.

The tests share one demo database and run in file order, as the story of a week at Riverside.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from .conftest import PDF_PAGES, PHONE, Site, email

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


def balance(page: Page) -> Decimal:
    """The balance shown on a dashboard or member page ("Balance: 1.5 hours")."""
    text = page.locator("p.big", has_text="Balance").first.inner_text()
    match = re.search(r"(-?[\d.]+|no|none)\s*hours?", text.replace("−", "-"), re.IGNORECASE)
    assert match, f"no balance in {text!r}"
    value = match.group(1)
    return Decimal(0) if value.lower() in {"no", "none"} else Decimal(value)


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


def record_with_keyboard(site: Site, description: str) -> None:
    """Alice's record form, filled with Tab, Space, Enter and typing only."""
    page = site.page
    page.locator("body").focus()
    tab_to(page, "input[name=direction][value=gave]")
    page.keyboard.press("Space")
    expect(page.locator("input[name=direction][value=gave]")).to_be_checked()
    tab_to(page, "select[name=other]")
    page.keyboard.type("Bob Baker")
    assert "Bob Baker" in page.evaluate(
        "() => { const s = document.querySelector('select[name=other]');"
        " return s.options[s.selectedIndex].text; }"
    )
    tab_to(page, "input[name=minutes]")
    page.keyboard.type("0.5")
    tab_to(page, "input[name=description]")
    page.keyboard.type(description)
    with site.navigates():
        page.keyboard.press("Enter")
    errors = page.locator(".errorlist, [role=alert]").all_inner_texts()
    assert not errors, f"the record form said: {errors}"


def test_member_records_other_party_confirms_and_hours_move(site) -> None:
    """(1) Alice records on her phone with the keyboard; (2) Bob confirms; the hours move.

    Half an hour: the demo leaves Bob a little above his credit limit."""
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/")
    before = balance(page)
    alice.screenshot("01-alice-dashboard")
    with alice.navigates():
        page.get_by_role("link", name="Record an exchange").first.click()
    alice.screenshot("02-alice-record-form")
    description = f"Weeded the front garden {uuid.uuid4().hex[:6]}"
    record_with_keyboard(alice, description)
    expect(page.get_by_role("heading", level=1)).to_have_text(description)
    expect(page.locator(".messages")).to_contain_text("asked Bob Baker to confirm")
    expect(page.locator("dd.status")).to_contain_text(re.compile("confirm", re.IGNORECASE))
    alice.screenshot("03-alice-recorded-waiting")

    bob = site()
    bob.sign_in(email("Bob Baker"))
    page_b = bob.goto(f"{BANK}/")
    bob.screenshot("04-bob-please-confirm")
    with bob.navigates():
        page_b.get_by_role("button", name=f'Confirm "{description}"').click()
    expect(page_b.get_by_role("button", name=f'Confirm "{description}"')).to_have_count(0)
    bob.screenshot("05-bob-confirmed")

    page = alice.goto(f"{BANK}/")
    assert balance(page) == before + Decimal("0.5")


def test_broker_approves_on_the_desk_and_balances_move(site) -> None:
    """(3) Brenda approves "Set up Edna's tablet" (Chidi for Edna, who is offline)."""
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page = brenda.goto(f"{BANK}/members/?name=Edna")
    with brenda.navigates():
        page.get_by_role("link", name="Edna Green").first.click()
    edna_page = page.url
    before = balance(page)
    page = brenda.goto(f"{BANK}/desk/")
    brenda.screenshot("06-brenda-desk")
    desk = page.url
    # In place (desk.js): the card becomes the answer, which has the focus; no page load.
    page.get_by_role("button", name='Approve "Set up Edna\'s tablet"').click()
    answer = page.get_by_role("status").filter(has_text="Done: the exchange is now completed.")
    expect(answer).to_be_focused()
    expect(page.get_by_role("button", name='Approve "Set up Edna\'s tablet"')).to_have_count(0)
    expect(page.locator("#approve")).to_have_text("0 exchanges to approve")
    assert page.url == desk
    brenda.check()
    brenda.screenshot("06b-brenda-desk-approved-in-place")
    page = brenda.goto(edna_page)
    assert balance(page) == before - Decimal(1)
    brenda.screenshot("07-brenda-edna-after-approval")


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
    alice.screenshot("08-no-javascript-recorded")


def test_broker_records_for_an_offline_member(site) -> None:
    """(5) Brenda records an hour Dot gave Edna Green, who has no login; the hours move."""
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page = brenda.goto(f"{BANK}/members/?name=Edna")
    with brenda.navigates():
        page.get_by_role("link", name="Edna Green").first.click()
    edna_page = page.url
    before = balance(page)
    page = brenda.goto(f"{BANK}/desk/")
    with brenda.navigates():
        page.get_by_role("link", name="Record an exchange", exact=True).click()
    page.locator("select[name=giver]").select_option(label="Dot Evans (GL50)")
    page.locator("select[name=receiver]").select_option(label="Edna Green (GL54)")
    page.get_by_label("Hours").fill("1")
    description = f"Sat with Edna while she knitted {uuid.uuid4().hex[:6]}"
    page.get_by_label("What was the help?").fill(description)
    brenda.screenshot("09-brenda-records-for-edna")
    with brenda.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(description)
    expect(page.locator(".messages")).to_contain_text("The hours have moved")
    page = brenda.goto(edna_page)
    assert balance(page) == before - Decimal(1)
    brenda.screenshot("10-brenda-edna-after-recording")


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
    """(4) A newcomer signs up, applies to Riverside, sees they are being checked; Brenda
    approves them from the applications queue and they can open the time bank."""
    name = f"Nia Newcomer {uuid.uuid4().hex[:4]}"
    address = f"nia.{uuid.uuid4().hex[:8]}@example.org"
    nia = site()
    page = nia.goto("/accounts/signup/")
    page.fill("input[name=email]", address)
    page.fill("input[name=password1]", "a-long-new-password-2026")
    page.fill("input[name=password2]", "a-long-new-password-2026")
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
    page.get_by_label("I have read the code of conduct and agree to it").check()
    nia.screenshot("11-newcomer-applies")
    with nia.navigates():
        page.get_by_role("button", name="Send my application").click()
    expect(page.locator("main")).to_contain_text("We are checking your application.")

    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    page_b = brenda.goto(f"{BANK}/applications/")
    brenda.screenshot("12-brenda-applications")
    with brenda.navigates():
        page_b.get_by_role("button", name=f"Approve {name}").click()
    expect(page_b.locator(".messages")).to_contain_text(f"{name} is now a member.")

    page = nia.goto("/")
    with nia.navigates():
        page.get_by_role("link", name="Your hours and exchanges").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Riverside Time Bank")


def test_a_member_publishes_an_offer_and_replies_to_a_request(site) -> None:
    """(6) Alice offers help; Bob answers a request through the site."""
    alice = site()
    alice.sign_in(email("Alice Archer"))
    page = alice.goto(f"{BANK}/listings/new/")
    page.get_by_label("Offer of help").check()
    page.get_by_label("Category").select_option(label="Gardening")
    title = f"Help planting bulbs {uuid.uuid4().hex[:4]}"
    page.get_by_label("Title").fill(title)
    with alice.navigates():
        page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    alice.screenshot("13-alice-offer")

    bob = site()
    bob.sign_in(email("Bob Baker"))
    page_b = bob.goto(f"{BANK}/listings/?kind=request")
    with bob.navigates():
        page_b.get_by_role("link", name="Someone to come shopping with me").first.click()
    page_b.get_by_label("Your message").fill("I could come with you on Saturday morning.")
    with bob.navigates():
        page_b.get_by_role("button", name="Send my message").click()
    expect(page_b.locator(".messages")).to_be_visible()
    bob.screenshot("14-bob-replied")


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
        page.get_by_role("link", name="Commissioner report").click()
    with cora.navigates():
        page.get_by_role("link", name="Last quarter").click()
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
    cora.screenshot("15-cora-quarterly-report-360")
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
    cora.screenshot("16-cora-quarterly-report-1280")
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

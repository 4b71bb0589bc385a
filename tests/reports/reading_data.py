"""Three periods of help in Riverside (and one in Hillside) whose figures are known by
construction, for the comparisons and the headline sentences; and what a person reads of a page
or a PDF, for the check that no machine name reaches them.

"Today" is 15 October 2026 (frozen). Riverside's trading members (alice, bob, brenda, olive and
p0..p7) were all approved on 1 July 2025; nobody else joins. brenda records every exchange on
the day it happened:

- July to September 2025 (a year before): 6 exchanges of 60 min on 1..6 August, p(i) helps
  p(i+1 mod 6): 6 hours; 6 took part, 6 gave, 6 received, 6 did both; 12 new members.
- April to June 2026 (the period before): 8 exchanges of 90 min on 1..8 May, p(i) helps
  p(i+1 mod 8): 12 hours; 8 took part, gave, received and did both.
- July to September 2026 (the period): the same 8 on 1..8 July, and p0 helps p1 for 120 min on
  9 and 10 July: 10 exchanges, 16 hours; 8 took part, gave, received and did both. p6 and p7
  leave on 10 August: 2 members left (fewer than 5: not shown), 10 at the end.
- Hillside (for the banks side by side): hugo and h0..h4, approved a year before today; 5
  exchanges of 60 min on 1..5 July 2026, h(i) helps h(i+1 mod 5): 5 hours, 5 took part.

Before 1 July 2025 Riverside had no members and no exchanges: the report for July to
September 2025 has nothing to compare with.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import time_machine

from exchanges import services as exchanges
from ledger import services as ledger
from ledger.models import Account
from members.models import CommissionerGrant, Membership, Person
from tests.base import Cast
from tests.factories import enrol_in_mfa, make_member, make_person
from tests.support import user_of

LONDON = ZoneInfo("Europe/London")
TODAY = datetime(2026, 10, 15, 12, tzinfo=LONDON)
QUARTER = (date(2026, 7, 1), date(2026, 9, 30))
FIRST_QUARTER = (date(2025, 7, 1), date(2025, 9, 30))


def at(day: date) -> time_machine.travel:
    return time_machine.travel(
        datetime.combine(day, datetime.min.time(), LONDON).replace(hour=12), tick=False
    )


def frozen() -> time_machine.travel:
    return time_machine.travel(TODAY, tick=False)


class KnownYear(Cast):
    people: list[Person]
    hillside_people: list[Person]
    fiona: Person

    @classmethod
    def build_year(cls) -> None:
        with frozen():
            cls.build_cast()
            bank = cls.riverside
            cls.people = [make_member(bank, f"Person {i}") for i in range(8)]
            Membership.objects.filter(time_bank=bank, decided_at__isnull=False).update(
                decided_at=datetime(2025, 7, 1, 10, tzinfo=LONDON)
            )
            cls.hillside_people = [make_member(cls.hillside, f"Hillside {i}") for i in range(5)]
            # fiona: a council officer with grants for both banks, to see them combined.
            cls.fiona = make_person("Fiona Funder")
            enrol_in_mfa(user_of(cls.fiona))
            for each in (cls.riverside, cls.hillside):
                CommissionerGrant.objects.create(
                    person=cls.fiona,
                    time_bank=each,
                    starts_on=date(2025, 1, 1),
                    ends_on=date(2027, 12, 31),
                    granted_by=cls.brenda,
                )
        with at(date(2025, 7, 1)):
            accounts = [ledger.open_account(time_bank=bank, person=p) for p in cls.people]

        def help(
            giver: Account,
            receiver: Account,
            minutes: int,
            day: date,
            recorder: Person | None = None,
        ) -> None:
            with at(day):
                exchanges.record_exchange(
                    recorded_by=recorder or cls.brenda,
                    giver=giver,
                    receiver=receiver,
                    minutes=minutes,
                    details=exchanges.Details(effective_date=day, description="Help"),
                )

        for i in range(6):
            help(accounts[i], accounts[(i + 1) % 6], 60, date(2025, 8, 1 + i))
        for i in range(8):
            help(accounts[i], accounts[(i + 1) % 8], 90, date(2026, 5, 1 + i))
        for i in range(8):
            help(accounts[i], accounts[(i + 1) % 8], 90, date(2026, 7, 1 + i))
        for day in (9, 10):
            help(accounts[0], accounts[1], 120, date(2026, 7, day))
        with at(date(2026, 8, 10)):
            for person in cls.people[6:]:
                exchanges.leave_time_bank(
                    membership=person.memberships.get(time_bank=bank), by=cls.brenda
                )
        with at(date(2026, 7, 1)):
            theirs = [
                ledger.open_account(time_bank=cls.hillside, person=p) for p in cls.hillside_people
            ]
        for i in range(5):
            help(theirs[i], theirs[(i + 1) % 5], 60, date(2026, 7, 1 + i), recorder=cls.hugo)


# --- What a person reads ------------------------------------------------------------------------

# Machine names that must never reach a person: snake_case words (hours_exchanged, 85_plus),
# raw shares (0.8966), ISO dates (2026-07-01) and the CSV's word for a withheld cell.
MACHINE = re.compile(
    r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|(?<![\d.,])0\.\d{3,}\b|\b\d{4}-\d{2}-\d{2}\b|\bsuppressed\b"
)


def machine_names(text: str) -> list[str]:
    """Every machine name in ``text`` (see ``MACHINE``), in order."""
    return [match.group(0) for match in MACHINE.finditer(text)]


class VisibleText(HTMLParser):
    """The words a person reads or hears on a page: its text (the SVG's included), and the
    attributes read out or shown (aria-label, alt, title, placeholder); not scripts, styles,
    links' addresses or form values."""

    SPOKEN = ("aria-label", "alt", "title", "placeholder")

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        self.parts.extend(value or "" for name, value in attrs if name in self.SPOKEN)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

"""A generated quarter of help in Riverside whose true totals are known by construction.

"Today" is 15 June 2026 (frozen); the period is 1 April to 15 June 2026. Ten members m0..m9
(joined a year ago), the GP surgery (gp) and a food bank (fb), all recorded by brenda:

- person to person: 20 exchanges on 1..20 April, m(i) helps m(i+3 mod 10), 60 min when i is
  even, 90 when odd; the last (i = 19, 90 min) is then reversed. Plus one group exchange on
  10 May: m0 earns 120 min from m1 and m2 (60 each). So 20 exchanges, 1,530 min.
- person to organisation: 6 exchanges on 1..6 May, m0..m5 help gp, 45 min each: 270 min.
- organisation to person: 5 on 1..5 June, gp helps m5..m9, 30 min each: 150 min.
- organisation to organisation: 2 on 10 and 11 June, gp helps fb, 60 min each: 120 min.
- today: m0 donates 60 min to the pot; brenda grants 30 min from the pot to m1.

Totals: 33 exchanges, 2,070 min = 34.50 h; active 12 (10 individuals, 2 organisations);
givers 11 (m0..m9, gp); receivers 12 (m0..m9, gp, fb); over 12 months 11 both gave and
received, fb only received. Members at period end: alice, bob, brenda, olive and m0..m9 = 14.
Value: 2,070 min x £8.00 / 60 = £276.00; x £13.45 = £464.025 -> £464.03; x £12.71 =
£438.495 -> £438.50 (half up, once).
"""

from __future__ import annotations

from datetime import date, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import time_machine

from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from listings.models import Category
from members.models import Organisation, Person
from tests.base import Cast
from tests.factories import make_member, make_organisation

NOW = datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("Europe/London"))
START, END = date(2026, 4, 1), date(2026, 6, 15)
SECRET = "Secret errand"


def frozen() -> time_machine.travel:
    return time_machine.travel(NOW, tick=False)


class KnownQuarter(Cast):
    people: list[Person]
    foodbank: Organisation

    @classmethod
    def build_quarter(cls) -> None:
        with frozen():
            cls.build_cast()
            bank, brenda = cls.riverside, cls.brenda
            cls.people = [make_member(bank, f"Generated Person {i}") for i in range(10)]
            m = [ledger.open_account(time_bank=bank, person=p) for p in cls.people]
            cls.foodbank = make_organisation(bank, "Eastgate Food Bank")
            gp = ledger.open_account(time_bank=bank, organisation=cls.gp)
            fb = ledger.open_account(time_bank=bank, organisation=cls.foodbank)
            # get_or_create: a TransactionTestCase flush may have removed the seeded categories.
            gardening, _ = Category.objects.get_or_create(
                slug="gardening", defaults={"name": "Gardening"}
            )

            def help(giver: Account, receiver: Account, minutes: int, day: date) -> Exchange:
                return exchanges.record_exchange(
                    recorded_by=brenda,
                    giver=giver,
                    receiver=receiver,
                    minutes=minutes,
                    details=exchanges.Details(
                        effective_date=day, description=SECRET, category=gardening
                    ),
                )

            done = [
                help(m[i % 10], m[(i + 3) % 10], 60 if i % 2 == 0 else 90, date(2026, 4, 1 + i))
                for i in range(20)
            ]
            exchanges.reverse_exchange(exchange=done[-1], broker=brenda, reason="Recorded twice")
            exchanges.record_group_exchange(
                recorded_by=brenda,
                time_bank=bank,
                providers=[(m[0], 120)],
                receivers=[(m[1], 60), (m[2], 60)],
                details=exchanges.Details(effective_date=date(2026, 5, 10), description=SECRET),
            )
            for i in range(6):
                help(m[i], gp, 45, date(2026, 5, 1 + i))
            for i in range(5):
                help(gp, m[5 + i], 30, date(2026, 6, 1 + i))
            help(gp, fb, 60, date(2026, 6, 10))
            help(gp, fb, 60, date(2026, 6, 11))
            pot = ledger.community_pot(time_bank=bank)
            exchanges.donate_hours(recorded_by=brenda, donor=m[0], to_account=pot, minutes=60)
            exchanges.grant_from_pot(
                broker=brenda, time_bank=bank, to_account=m[1], minutes=30, reason="A start"
            )

    @classmethod
    def names(cls) -> list[str]:
        """Every person-level string that must never reach a commissioner."""
        people = [cls.alice, cls.bob, cls.brenda, cls.cora, cls.dora, cls.olive, *cls.people]
        return [p.display_name for p in people] + [cls.gp.name, cls.foodbank.name, SECRET]


class Tables(HTMLParser):
    """The report page's tables as {table id: [[cell text, ...], ...]}, bar cells left out."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and "report-table" in (found.get("class") or ""):
            self.table = found["id"] or ""
            self.tables[self.table] = []
        elif self.table and tag == "tr":
            self.tables[self.table].append([])
        elif self.table and tag in ("td", "th") and "bar-cell" not in (found.get("class") or ""):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.table = None
        elif self.table and tag in ("td", "th") and self.cell is not None:
            self.tables[self.table][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

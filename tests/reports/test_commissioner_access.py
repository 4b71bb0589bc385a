"""Who sees the commissioner report, that it carries no person-level data in any format, and
that every download is recorded."""

from __future__ import annotations

import io
from datetime import date, timedelta

from django.test import TestCase
from django.urls import reverse
from openpyxl import load_workbook

from members.models import CommissionerGrant, Person, Role
from reports.models import ReportDownload
from tests.factories import enrol_in_mfa, make_member, make_person
from tests.support import PageResponse, user_of

from .commissioning_data import END, START, KnownQuarter, frozen

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
TABLES = [
    "summary",
    "other_movements",
    "reciprocity",
    "exchange_mix",
    "categories",
    "coproduction",
    "equivalent_value",
    "trend",
]


class CommissionerAccess(KnownQuarter, TestCase):
    ada: Person
    fiona: Person
    gus: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_quarter()
        with frozen():
            cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
            # fiona: a council officer with grants for Riverside and Hillside, and no membership.
            cls.fiona = make_person("Fiona Funder")
            # A grant makes her staff: she has two-factor authentication, as she must.
            enrol_in_mfa(user_of(cls.fiona))
            for bank in (cls.riverside, cls.hillside):
                CommissionerGrant.objects.create(
                    person=cls.fiona,
                    time_bank=bank,
                    starts_on=date(2026, 4, 1),
                    ends_on=date(2027, 3, 31),
                    granted_by=cls.brenda,
                )
            # gus: his grant for Riverside ended last year.
            cls.gus = make_person("Gus Gone")
            CommissionerGrant.objects.create(
                person=cls.gus,
                time_bank=cls.riverside,
                starts_on=date(2024, 4, 1),
                ends_on=date(2025, 3, 31),
            )

    def setUp(self) -> None:
        traveller = frozen()
        traveller.start()
        self.addCleanup(traveller.stop)

    def get(
        self, who: Person | None, name: str, query: dict[str, str], slug: str = "riverside"
    ) -> PageResponse:
        self.client.logout()
        if who is not None:
            self.client.force_login(user_of(who))
        if name == "api-report":
            return self.client.get(reverse(name), {**query, "banks": slug})
        return self.client.get(reverse(name, args=[slug.split(",")[0]]), query)

    def test_commissioners_brokers_and_grant_holders_see_it_and_no_one_else(self):
        names = ["commissioner-report", "commissioner-report-csv", "commissioner-report-xlsx"]
        allowed = [self.cora, self.brenda, self.ada, self.fiona]
        refused = [self.alice, self.bob, self.dora, self.hugo, self.gus]
        for name in [*names, "api-report"]:
            for person in allowed:
                with self.subTest(name=name, who=person.display_name):
                    self.assertEqual(self.get(person, name, PERIOD).status_code, 200)
            for person in refused:
                with self.subTest(name=name, who=person.display_name):
                    self.assertEqual(self.get(person, name, PERIOD).status_code, 403)
        for name in names:
            self.assertEqual(self.get(None, name, PERIOD).status_code, 302)
        self.assertEqual(self.get(None, "api-report", PERIOD).status_code, 403)

    def test_banks_combine_only_when_every_one_is_in_the_remit(self):
        both = {**PERIOD, "with": "hillside"}
        self.assertEqual(self.get(self.fiona, "commissioner-report", both).status_code, 200)
        self.assertEqual(self.get(self.cora, "commissioner-report", both).status_code, 403)
        self.assertEqual(
            self.get(self.fiona, "api-report", PERIOD, slug="riverside,hillside").status_code, 200
        )
        self.assertEqual(
            self.get(self.cora, "api-report", PERIOD, slug="riverside,hillside").status_code, 403
        )
        self.assertEqual(
            self.get(self.fiona, "api-report", PERIOD, slug="riverside,nowhere").status_code, 404
        )

    def test_a_commissioner_reaches_no_person_level_data_in_any_format(self):
        names = self.names()
        page = self.get(self.cora, "commissioner-report", PERIOD).content.decode()
        texts = {"page": page}
        for table in TABLES:
            texts[f"csv {table}"] = self.get(
                self.cora, "commissioner-report-csv", {**PERIOD, "table": table}
            ).content.decode()
        book = load_workbook(
            io.BytesIO(self.get(self.cora, "commissioner-report-xlsx", PERIOD).content)
        )
        texts["xlsx"] = "\n".join(
            str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
        )
        texts["api"] = self.get(self.cora, "api-report", PERIOD).content.decode()
        for where, text in texts.items():
            for name in names:
                with self.subTest(where=where, name=name):
                    self.assertNotIn(name, text)
        # The page is about the report only: the figures are there, nobody's name.
        self.assertIn("hours_exchanged", page)

    def test_every_download_is_recorded_and_the_page_view_is_not_a_download(self):
        self.get(self.cora, "commissioner-report", PERIOD)
        self.get(self.cora, "commissioner-report-csv", {**PERIOD, "table": "exchange_mix"})
        self.get(self.cora, "commissioner-report-xlsx", PERIOD)
        self.get(self.fiona, "api-report", PERIOD, slug="riverside,hillside")
        self.get(self.bob, "commissioner-report-csv", PERIOD)  # refused: not a download
        rows = [
            (
                d.user_id,
                d.bank_slugs,
                d.start,
                d.end,
                d.format,
                d.table,
                sorted(d.time_banks.values_list("slug", flat=True)),
            )
            for d in ReportDownload.objects.order_by("pk")
        ]
        self.assertEqual(
            rows,
            [
                (self.cora.user_id, "riverside", START, END, "csv", "exchange_mix", ["riverside"]),
                (self.cora.user_id, "riverside", START, END, "xlsx", "", ["riverside"]),
                (
                    self.fiona.user_id,
                    "riverside,hillside",
                    START,
                    END,
                    "json",
                    "",
                    ["hillside", "riverside"],
                ),
            ],
        )

    def test_bad_periods_and_unknown_tables_are_refused(self):
        backwards = {"start": "2026-06-01", "end": "2026-05-01"}
        self.assertEqual(self.get(self.cora, "commissioner-report", backwards).status_code, 400)
        self.assertEqual(self.get(self.cora, "commissioner-report-csv", backwards).status_code, 400)
        self.assertEqual(self.get(self.cora, "api-report", backwards).status_code, 400)
        self.assertEqual(
            self.get(
                self.cora, "commissioner-report-csv", {**PERIOD, "table": "members"}
            ).status_code,
            404,
        )
        self.assertFalse(ReportDownload.objects.exists())

    def test_the_home_page_links_a_commissioner_and_the_desk_a_broker_to_the_report(self):
        url = reverse("commissioner-report", args=["riverside"])
        self.client.force_login(user_of(self.cora))
        self.assertContains(self.client.get(reverse("home")), url)
        self.client.force_login(user_of(self.brenda))
        self.assertContains(self.client.get(reverse("desk", args=["riverside"])), url)

    def test_the_presets_cover_the_month_and_the_quarter_just_ended(self):
        response = self.get(self.cora, "commissioner-report", {})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["report"].start, date(2026, 5, 1))
        self.assertEqual(response.context["report"].end, date(2026, 5, 31))
        self.assertContains(response, "?start=2026-01-01&amp;end=2026-03-31")
        quarter = self.get(self.cora, "commissioner-report", {"preset": "quarter"})
        self.assertEqual(quarter.context["report"].end, date(2026, 4, 1) - timedelta(days=1))

"""Must show 2: what banks really have imports. TimeOverflow's importers' files, Komunitin's
exports and its 4-column transfer upload, and the spreadsheet template, each laid out as the
other platform's own code lays it out (the source file is cited above each fixture)."""

from __future__ import annotations

import io
from datetime import date, time

from django.contrib.auth.hashers import is_password_usable
from django.test import TestCase
from django.utils import timezone
from openpyxl import load_workbook

from exchanges.models import Exchange, Kind, State
from imports import adapters
from imports.models import ExternalRecord, Invitation
from ledger import services as ledger
from ledger.models import Account, AccountKind
from listings.models import Listing, ListingKind
from members.models import Membership, Organisation, Person, Role, TimeBank
from tests.factories import make_bank, make_member
from tests.support import user_of

from .support import checked, imported, text

# coopdevs/timeoverflow app/services/user_importer.rb: positional, no header:
# 0 member_uid, 1 entry_date, 2-4 name parts, 5 gender code (1-4 into User::GENDERS),
# 6 date_of_birth, 7 phone, 8 alt_phone, 9 email.
TIMEOVERFLOW_USERS = text(
    "1,2019-03-04,Ana,García,López,1,1950-06-01,600111222,,ana@example.org",
    "2,2019-05-10,Joan,Puig,,2,,600333444,933000000,",
    "3,2020-01-15,Marta,,,4,1988-02-29,,,marta@example.org",
)
# app/services/transfer_importer.rb (commit 60416f5a): 0 source_id, 1 source_type,
# 2 destination_id, 3 destination_type, 4 amount in seconds, 5 created_at, 6 reason, 7 post_id.
# Time moves from the source to the destination; "organization" is the bank's own account.
TIMEOVERFLOW_TRANSFERS = text(
    "2,member,1,member,5400,2020-02-01 10:00:00 +0100,Jardineria,",
    "1,member,3,member,3600,2020-03-01 11:30:00 +0100,Classes de català,7",
    ",organization,2,member,7200,2020-04-01 09:00:00 +0100,Hores de benvinguda,",
    "3,member,,organization,1800,2020-05-01 12:00:00 +0100,Donació,",
)
# app/services/post_importer.rb: 0 user_id, 1 type (Offer/Inquiry), 2 title, 3 description,
# 4 category_id, 5 created_at, 6 start_on, 7 end_on.
TIMEOVERFLOW_POSTS = text(
    "1,Offer,Jardineria,Poda i reg,3,2020-01-20 10:00:00 +0100,,2030-12-31",
    "2,Inquiry,Algú per anar a comprar,,5,2020-02-20 10:00:00 +0100,,",
)

# community-exchange-network/komunitin accounting/src/server/csv-mappers.ts, the admin
# exports: accounts.csv and transfers.csv, with these headers in this order.
KOMUNITIN_ACCOUNTS = text(
    "id,created,updated,code,status,balance,creditLimit,maximumBalance,key,user.id",
    "a0,2023-01-01T09:00:00.000Z,2024-01-01T00:00:00.000Z,NET2MIGRA,active,-1.00,0.00,,k0,",
    "a1,2023-01-10T09:00:00.000Z,2024-01-01T00:00:00.000Z,NET20001,active,3.50,10.00,,k1,u1",
    "a2,2023-02-10T09:00:00.000Z,2024-01-01T00:00:00.000Z,NET20002,active,-0.50,10.00,,k2,u2",
    "a3,2023-02-11T09:00:00.000Z,2024-01-01T00:00:00.000Z,NET20003,disabled,-2.00,10.00,,k3,u3",
)
KOMUNITIN_TRANSFERS = text(
    "id,created,updated,state,amount,description,hash,authorization,payer.id,payer.code,payee.id,payee.code,user.id",
    "t0,2023-03-01T10:00:00.000Z,2023-03-01T10:00:00.000Z,committed,2.00,Migrated balance,h0,,a0,NET2MIGRA,a1,NET20001,u0",
    "t1,2023-03-02T10:00:00.000Z,2023-03-02T10:00:00.000Z,committed,1.00,Migrated balance,h1,,a3,NET20003,a0,NET2MIGRA,u0",
    "t2,2023-04-01T10:00:00.000Z,2023-04-01T10:00:00.000Z,committed,1.50,Help with shopping,h2,,a2,NET20002,a1,NET20001,u2",
    "t3,2023-05-01T10:00:00.000Z,2023-05-01T10:00:00.000Z,committed,1.00,Computer help,h3,,a3,NET20003,a2,NET20002,u3",
    "t4,2023-06-01T10:00:00.000Z,2023-06-01T10:00:00.000Z,rejected,5.00,Not agreed,h4,,a1,NET20001,a2,NET20002,u1",
)
# Names and emails live in Komunitin's social API: given beside the exports, canonically.
KOMUNITIN_MEMBERS = text(
    "external_id,display_name,email",
    "NET20001,Núria Vidal,nuria@example.org",
    "NET20002,Pere Soler,",
)
# app/src/pages/transactions/CreateTransactionLoadFileBtn.vue: exactly 4 columns, From (payer
# account code), To (payee), Description, Amount; a first row whose last cell is not a number
# is a header and dropped.
KOMUNITIN_UPLOAD = text(
    "From,To,Description,Amount",
    "NET20002,NET20001,Lift to the station,0.5",
    " net20003 ,NET20002,Ironing,1",
)


def balance_of(bank, external_id: str) -> int:
    record = ExternalRecord.objects.get(time_bank=bank, file="members", external_id=external_id)
    return Account.objects.get(
        time_bank=bank, person_id=record.person_id, organisation_id=record.organisation_id
    ).posted_minutes


class FromTimeOverflow(TestCase):
    bank: TimeBank
    admin: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Sants Time Bank", slug="sants")
        cls.admin = make_member(cls.bank, "Ada Admin", role=Role.ADMIN)

    def test_users_transfers_and_posts_import_with_seconds_organisation_sources_and_names(self):
        result = imported(
            {
                "users.csv": TIMEOVERFLOW_USERS,
                "transfers.csv": TIMEOVERFLOW_TRANSFERS,
                "posts.csv": TIMEOVERFLOW_POSTS,
            },
            self.bank,
            self.admin,
        )
        self.assertEqual(result.plan.source, "timeoverflow")
        ana = Person.objects.get(display_name="Ana García López")
        self.assertEqual((ana.gender, ana.age_band, ana.phone), ("woman", "75_84", "600111222"))
        self.assertFalse(is_password_usable(user_of(ana).password))
        self.assertEqual(
            Membership.objects.get(person=ana, time_bank=self.bank).decided_at.date(),
            date(2019, 3, 4),
        )
        joan = Person.objects.get(display_name="Joan Puig")
        self.assertIsNone(joan.user)  # no email: an offline member
        self.assertEqual(joan.contact_preference, "broker")
        # Seconds became minutes; the organisation's account is the community pot.
        self.assertEqual(balance_of(self.bank, "1"), 90 - 60)
        self.assertEqual(balance_of(self.bank, "2"), -90 + 120)
        self.assertEqual(balance_of(self.bank, "3"), 60 - 30)
        pot = ledger.community_pot(time_bank=self.bank)
        self.assertEqual(pot.posted_minutes, -120 + 30)
        kinds = dict(
            Exchange.objects.filter(time_bank=self.bank).values_list("description", "kind")
        )
        self.assertEqual(kinds["Hores de benvinguda"], Kind.GRANT)
        self.assertEqual(kinds["Donació"], Kind.DONATION)
        self.assertEqual(kinds["Jardineria"], Kind.SERVICE)
        garden = Exchange.objects.get(description="Jardineria")
        self.assertEqual(garden.effective_date, date(2020, 2, 1))
        self.assertEqual(garden.journal.effective_date, date(2020, 2, 1))
        self.assertEqual(garden.minutes, 90)
        self.assertEqual(garden.giver.person, ana)
        offer = Listing.objects.get(title="Jardineria")
        request = Listing.objects.get(title="Algú per anar a comprar")
        self.assertEqual(
            (offer.kind, offer.person, offer.expires_on),
            (ListingKind.OFFER, ana, date(2030, 12, 31)),
        )
        self.assertEqual(request.kind, ListingKind.REQUEST)
        self.assertEqual(offer.category.slug, "other")
        self.assertEqual(Invitation.objects.filter(import_run=result.run).count(), 2)
        self.assertEqual(result.reconciliation["bank_sum"], 0)
        self.assertEqual(ledger.verify_ledger(time_bank=self.bank), [])

    def test_the_older_seven_column_transfers_file_is_read_and_dated_today(self):
        # app/services/transfer_importer.rb before created_at was added (commit 16c3573c):
        # 0 source_id, 1 source_type, 2 destination_id, 3 destination_type, 4 amount,
        # 5 reason, 6 post_id.
        result = imported(
            {
                "users.csv": TIMEOVERFLOW_USERS,
                "transfers.csv": text("2,member,1,member,1800,Recados,"),
            },
            self.bank,
            self.admin,
        )
        exchange = Exchange.objects.get(description="Recados")
        self.assertEqual(exchange.effective_date, timezone.localdate())
        self.assertTrue(any("dated today" in w.message for w in result.plan.warnings))

    def test_seconds_that_are_not_whole_minutes_are_a_problem_at_their_line_and_column(self):
        plan = checked(
            {
                "users.csv": TIMEOVERFLOW_USERS,
                "transfers.csv": text("2,member,1,member,90,2020-02-01,x,"),
            },
            self.bank,
            self.admin,
        )
        self.assertEqual(
            [(p.file, p.line, p.column) for p in plan.problems],
            [("transfers.csv", 1, "5 (amount)")],
        )


class FromKomunitin(TestCase):
    bank: TimeBank
    admin: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Netwerk", slug="netwerk")
        cls.admin = make_member(cls.bank, "Ada Admin", role=Role.ADMIN)

    def test_accounts_and_transfers_import_with_migrated_balances_checked_against_history(self):
        result = imported(
            {
                "accounts.csv": KOMUNITIN_ACCOUNTS,
                "transfers.csv": KOMUNITIN_TRANSFERS,
                "members.csv": KOMUNITIN_MEMBERS,
            },
            self.bank,
            self.admin,
        )
        self.assertEqual(result.plan.source, "komunitin")
        # Declared balances (accounts.csv) equal opening balance + history: no mismatch.
        self.assertEqual(result.reconciliation["mismatches"], 0)
        self.assertEqual(balance_of(self.bank, "NET20001"), 210)
        self.assertEqual(balance_of(self.bank, "NET20002"), -30)
        self.assertEqual(balance_of(self.bank, "NET20003"), -120)
        # The old migration account's transfers are opening balances here, against ours.
        migration = Account.objects.get(time_bank=self.bank, kind=AccountKind.MIGRATION)
        self.assertEqual(migration.posted_minutes, -120 + 60)
        self.assertEqual(
            Person.objects.get(display_name="Núria Vidal").user.email, "nuria@example.org"
        )
        self.assertEqual(Person.objects.filter(display_name="NET20003").count(), 1)
        disabled = Membership.objects.get(time_bank=self.bank, person__display_name="NET20003")
        self.assertEqual(disabled.status, "suspended")
        self.assertEqual(
            [p.message for p in result.plan.skipped], ["A rejected transfer moved no hours."]
        )
        self.assertEqual(ledger.verify_ledger(time_bank=self.bank), [])

        # Then Komunitin's 4-column upload, naming the accounts imported above.
        upload = imported({"transfers-upload.csv": KOMUNITIN_UPLOAD}, self.bank, self.admin)
        self.assertEqual(upload.plan.source, "komunitin_upload")
        lift = Exchange.objects.get(description="Lift to the station")
        self.assertEqual((lift.minutes, lift.effective_date), (30, timezone.localdate()))
        self.assertEqual(balance_of(self.bank, "NET20001"), 240)
        self.assertEqual(balance_of(self.bank, "NET20003"), -180)
        # The same upload again finds its rows: nothing new.
        again = imported({"transfers-upload.csv": KOMUNITIN_UPLOAD}, self.bank, self.admin)
        self.assertTrue(again.plan.nothing_new)
        self.assertEqual(ledger.verify_ledger(time_bank=self.bank), [])

    def test_a_declared_balance_that_history_does_not_reach_is_a_problem(self):
        accounts = KOMUNITIN_ACCOUNTS.replace(b"NET20001,active,3.50", b"NET20001,active,4.00")
        plan = checked(
            {"accounts.csv": accounts, "transfers.csv": KOMUNITIN_TRANSFERS}, self.bank, self.admin
        )
        [problem] = plan.problems
        self.assertEqual(
            (problem.file, problem.line, problem.column), ("accounts.csv", 3, "balance")
        )
        self.assertIn("declared balance of 4 hours does not match", problem.message)


class FromTheSpreadsheet(TestCase):
    bank: TimeBank
    admin: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Little Time Bank", slug="little")
        cls.admin = make_member(cls.bank, "Ada Admin", role=Role.ADMIN)

    def filled_template(self) -> bytes:
        """The downloadable template, filled in as a small bank would: example rows left in,
        dates as dates, hours as 1:30 (a time cell) or 2.5."""
        book = load_workbook(io.BytesIO(adapters.template_workbook()))
        members = book["Members"]
        members.append(
            [
                "1",
                "Jo Bloggs",
                "jo@example.org",
                "",
                "GL50 1AA",
                date(2021, 3, 5),
                "active",
                "member",
                "person",
                2.5,
                "Likes mornings",
            ]
        )
        members.append(
            [
                "2",
                "Sam Smith",
                None,
                "01632 960001",
                "GL51",
                date(2021, 4, 1),
                "active",
                "member",
                "person",
                -1,
                None,
            ]
        )
        members.append(
            [
                "3",
                "The Community Café",
                None,
                None,
                "GL50",
                None,
                None,
                None,
                "organisation",
                "-1:30",
                None,
            ]
        )
        exchanges = book["Exchanges"]
        exchanges.append(
            ["x1", date(2024, 1, 10), "1", "2", time(1, 30), "Gardening", "gardening", "service"]
        )
        exchanges.append(["x2", date(2024, 2, 10), "1", "3", 1.5, "Washing up", "", "service"])
        book["Opening balances"].append(["1", "-0:30", date(2023, 12, 31)])
        book["Opening balances"].append(["2", "0:30", date(2023, 12, 31)])
        book["Offers"].append(
            ["o1", "1", "offer", "Garden help", "Weekends", "gardening", date(2030, 1, 1)]
        )
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def test_the_filled_in_template_imports_and_its_example_rows_are_left_out(self):
        result = imported({"our-bank.xlsx": self.filled_template()}, self.bank, self.admin)
        self.assertEqual(result.plan.source, "spreadsheet")
        self.assertEqual(
            sorted({(p.file, p.message) for p in result.plan.skipped}),
            [
                (sheet, "The template's example row.")
                for sheet in ("Exchanges", "Members", "Offers", "Opening balances")
            ],
        )
        self.assertEqual(balance_of(self.bank, "1"), -30 + 90 + 90)
        self.assertEqual(balance_of(self.bank, "2"), 30 - 90)
        self.assertEqual(balance_of(self.bank, "3"), -90)
        jo = Person.objects.get(display_name="Jo Bloggs")
        self.assertEqual(jo.area, "GL50")  # the outward code only
        self.assertEqual(Organisation.objects.get(time_bank=self.bank).name, "The Community Café")
        self.assertEqual(Exchange.objects.get(description="Gardening").state, State.COMPLETED)
        self.assertEqual(Listing.objects.get(title="Garden help").expires_on, date(2030, 1, 1))
        self.assertEqual(result.reconciliation["bank_sum"], 0)
        self.assertEqual(ledger.verify_ledger(time_bank=self.bank), [])

    def test_the_template_has_a_sheet_per_file_an_example_row_and_notes(self):
        book = load_workbook(io.BytesIO(adapters.template_workbook()))
        self.assertEqual(
            book.sheetnames, ["Read me", "Members", "Exchanges", "Opening balances", "Offers"]
        )
        self.assertEqual(book["Members"]["A2"].value, "EXAMPLE-1")
        notes = "\n".join(
            str(c.value) for row in book["Read me"].iter_rows() for c in row if c.value
        )
        self.assertIn("invited to set a password", notes)
        self.assertIn("05/03/2024", notes)

    def test_a_formula_in_a_cell_is_refused_with_its_sheet_row_and_column(self):
        book = load_workbook(io.BytesIO(self.filled_template()))
        book["Exchanges"]["E4"] = "=SUM(1,2)"
        out = io.BytesIO()
        book.save(out)
        plan = checked({"our-bank.xlsx": out.getvalue()}, self.bank, self.admin)
        formulas = [(p.file, p.line, p.column) for p in plan.problems if "formula" in p.message]
        self.assertEqual(formulas, [("Exchanges", 4, "E (hours)")])

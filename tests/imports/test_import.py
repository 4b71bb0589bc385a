"""Importing into a bank that already runs: once only (external ids), only what is new from a
corrected file, opening balances against the migration account, closed months left as they
were reported, people (passwords never imported; invitations on the admin's day; offline
members; logins that already exist), and the reconciliation in the audit trail."""

from __future__ import annotations

from datetime import date, timedelta

import time_machine
from django.contrib.auth.hashers import is_password_usable
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services as exchanges
from exchanges.models import Exchange, Kind, State
from imports import services
from imports.exporting import bank_files
from imports.models import Invitation
from ledger import services as ledger
from ledger.models import Account, AccountKind
from listings.models import Listing
from members.models import Membership, Person, Role, Status, TimeBank
from privacy.services import erase_person, export_person_data
from reports import services as reports
from reports.models import MonthlyReport
from tests.base import CastTestCase
from tests.factories import PASSWORD, make_bank, make_member
from tests.support import at, eager_tasks, user_of
from timebank.dates import add_months, first_of

from .support import checked, imported, text

TODAY = timezone.localdate()
EARLIER = TODAY - timedelta(days=40)

MEMBERS = text(
    "external_id,display_name,email,joined_on,status,role,account_type,representatives,password",
    "101,Jo Bloggs,jo@example.org,2020-01-01,active,member,person,,hunter2",
    "102,Sam Smith,,2020-02-01,active,member,person,,",
    "103,Pat Parker,pat@example.org,2020-03-01,left,member,person,,",
    "104,The Lunch Club,,,,,organisation,101,",
)
MEMBERS_LEFT_ON = (
    MEMBERS.replace(b"2020-03-01,left", b"2020-03-01,left")
    .replace(
        b"external_id,display_name,email,joined_on,status,role,account_type,representatives,password",
        b"external_id,display_name,email,joined_on,status,role,account_type,representatives,password,left_on",
    )
    .replace(b"2020-03-01,left,member,person,,", b"2020-03-01,left,member,person,,,2021-06-30")
)
EXCHANGES = text(
    "external_id,service_date,provider_external_id,recipient_external_id,minutes,description,kind",
    f"e1,{EARLIER - timedelta(days=5)},101,102,90,Gardening,service",
    f"e2,{EARLIER - timedelta(days=4)},102,101,30,Shopping,service",
    f"e3,{EARLIER - timedelta(days=3)},101,,60,Lunch,group",
    f"e3,{EARLIER - timedelta(days=3)},,104,60,Lunch,group",
)
OPENINGS = text(
    "member_external_id,balance,as_of_date",
    f"103,-2:30,{EARLIER - timedelta(days=30)}",
    f"102,1.5,{EARLIER - timedelta(days=30)}",
)
OFFERS = text(
    "external_id,member_external_id,kind,title",
    "o1,101,offer,Help with the garden",
    "o2,104,request,Volunteers for the lunch",
)


def counts(reconciliation: dict, file: str) -> dict:
    """One file's counts (rows, new, existing, skipped) from a reconciliation."""
    [found] = [c for c in reconciliation["counts"] if c["file"] == file]
    return {k: v for k, v in found.items() if k != "file"}


def bank_files_in(members: bytes = MEMBERS_LEFT_ON, **more: bytes) -> dict[str, bytes]:
    files = {
        "members.csv": members,
        "exchanges.csv": EXCHANGES,
        "opening_balances.csv": OPENINGS,
        "offers.csv": OFFERS,
    }
    files.update({f"{name}.csv": data for name, data in more.items()})
    return files


class ImportingIntoARunningBank(CastTestCase):
    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)

    def test_it_creates_people_organisations_history_offers_and_reconciles(self):
        result = imported(bank_files_in(), self.riverside, self.ada)
        reconciliation = result.reconciliation
        self.assertEqual(reconciliation["bank_sum"], 0)
        self.assertEqual(reconciliation["mismatches"], 0)
        self.assertEqual(
            counts(reconciliation, "exchanges.csv"),
            {"rows": 4, "new": 3, "existing": 0, "skipped": 0},
        )
        # Passwords are never imported: the column is left out with a warning.
        self.assertTrue(any(w.column == "password" for w in result.plan.warnings))
        jo = Person.objects.get(display_name="Jo Bloggs")
        self.assertFalse(is_password_usable(user_of(jo).password))
        pat = Membership.objects.get(person__display_name="Pat Parker")
        self.assertEqual(
            (pat.status, timezone.localtime(pat.left_at).date().isoformat()),
            (Status.LEFT, "2021-06-30"),
        )
        lunch = Exchange.objects.get(description="Lunch")
        self.assertEqual(
            (lunch.kind, lunch.minutes, lunch.state), (Kind.GROUP, 60, State.COMPLETED)
        )
        self.assertEqual(Listing.objects.get(title="Volunteers for the lunch").created_by, jo)
        # Opening balances are journals against the migration account: the bank sums to zero.
        migration = Account.objects.get(time_bank=self.riverside, kind=AccountKind.MIGRATION)
        self.assertEqual(migration.posted_minutes, 150 - 90)
        sam = next(m for m in reconciliation["members"] if m["external_id"] == "102")
        self.assertEqual((sam["opening"], sam["history"], sam["computed"]), (90, -60, 30))
        self.assertEqual(ledger.verify_ledger(time_bank=self.riverside), [])
        # In the audit trail, with its figures.
        event = AuditEvent.objects.get(action=Action.BANK_IMPORTED)
        self.assertEqual((event.actor, event.object_id), (self.ada, result.run.pk))
        self.assertEqual(event.details["bank_sum_minutes"], 0)
        self.assertEqual(counts(event.details, "members.csv")["new"], 4)
        # And the export writes the same rows back, ids and all.
        exported = bank_files(self.riverside)
        self.assertIn("103,-150,", exported["opening_balances.csv"])
        self.assertIn("e3,", exported["exchanges.csv"])
        self.assertIn("104,,,,The Lunch Club", exported["members.csv"])

    def test_an_imported_members_old_id_is_in_their_export_and_a_reimport_never_brings_them_back(
        self,
    ):
        imported(bank_files_in(), self.riverside, self.ada)
        jo = Person.objects.get(display_name="Jo Bloggs")
        [row] = export_person_data(person=jo)["tables"]["imported_as"]
        self.assertEqual(
            (row["time_bank"], row["file"], row["external_id"]),
            (self.riverside.name, "members", "101"),
        )
        erase_person(person=jo, admin=user_of(self.ada), reason="person_asked")
        people = Person.objects.count()
        imported(bank_files_in(), self.riverside, self.ada)
        self.assertEqual(Person.objects.count(), people)
        self.assertFalse(Person.objects.filter(display_name="Jo Bloggs").exists())

    def test_importing_the_same_files_again_changes_nothing(self):
        imported(bank_files_in(), self.riverside, self.ada)
        before = bank_files(self.riverside)
        again = imported(bank_files_in(), self.riverside, self.ada)
        self.assertTrue(again.plan.nothing_new)
        self.assertIsNone(again.run)
        self.assertEqual(bank_files(self.riverside), before)
        self.assertEqual(AuditEvent.objects.filter(action=Action.BANK_IMPORTED).count(), 1)

    def test_a_corrected_file_imports_only_what_is_new(self):
        imported(bank_files_in(), self.riverside, self.ada)
        corrected = bank_files_in(
            members=MEMBERS_LEFT_ON + b"105,Kim Lee,,2020-04-01,active,member,person,,,\n",
            exchanges=EXCHANGES + text(f"e4,{EARLIER},105,101,45,Ironing,service"),
        )
        result = imported(corrected, self.riverside, self.ada)
        self.assertEqual(counts(result.reconciliation, "members.csv")["new"], 1)
        self.assertEqual(counts(result.reconciliation, "exchanges.csv")["new"], 1)
        self.assertEqual(counts(result.reconciliation, "exchanges.csv")["existing"], 3)
        self.assertEqual(Person.objects.filter(display_name="Jo Bloggs").count(), 1)
        self.assertEqual(Exchange.objects.filter(description="Gardening").count(), 1)
        self.assertEqual(ledger.verify_ledger(time_bank=self.riverside), [])

    def test_an_exchange_imported_before_cannot_be_changed_by_a_new_file(self):
        imported(bank_files_in(), self.riverside, self.ada)
        changed = bank_files_in(exchanges=EXCHANGES.replace(b",90,Gardening", b",120,Gardening"))
        [problem] = checked(changed, self.riverside, self.ada).problems
        self.assertEqual(
            (problem.file, problem.line, problem.column), ("exchanges.csv", 2, "external_id")
        )
        self.assertIn("imported before with other details", problem.message)

    def test_a_member_whose_email_has_a_login_here_joins_with_it_and_keeps_their_password(self):
        outsider = make_member(self.hillside, "Jo Elsewhere", email="jo@example.org")
        result = imported(bank_files_in(), self.riverside, self.ada)
        user_of(outsider).refresh_from_db()
        self.assertTrue(user_of(outsider).check_password(PASSWORD))
        self.assertTrue(
            Membership.objects.filter(person=outsider, time_bank=self.riverside).exists()
        )
        self.assertFalse(Person.objects.filter(display_name="Jo Bloggs").exists())
        self.assertFalse(Invitation.objects.filter(person=outsider).exists())
        self.assertTrue(
            any(
                "already have a login" in w.message or "already has a login" in w.message
                for w in result.plan.warnings
            )
        )

    def test_pending_history_waits_for_a_broker_who_can_approve_it(self):
        pending = (EXCHANGES + text(f"e9,{EARLIER},101,102,60,Waiting,service,pending")).replace(
            b"kind\n", b"kind,state\n"
        )
        imported(bank_files_in(exchanges=pending), self.riverside, self.ada)
        waiting = Exchange.objects.get(description="Waiting")
        self.assertEqual(waiting.state, State.AWAITING_APPROVAL)
        exchanges.approve_exchange(exchange=waiting, broker=self.brenda)
        self.assertEqual(Exchange.objects.get(pk=waiting.pk).state, State.COMPLETED)
        self.assertEqual(ledger.verify_ledger(time_bank=self.riverside), [])

    def test_a_member_whose_old_balance_is_past_the_limit_gets_a_wider_limit_reported(self):
        deep = OPENINGS.replace(b"103,-2:30", b"103,-12:00")
        result = imported(bank_files_in(opening_balances=deep), self.riverside, self.ada)
        [widened] = result.reconciliation["widened_limits"]
        self.assertEqual(
            (widened["external_id"], widened["old_limit"], widened["new_limit"]),
            ("103", -600, -720),
        )


class Invitations(TestCase):
    bank: TimeBank
    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Shire Time Bank", slug="shire")
        cls.ada = make_member(cls.bank, "Ada Admin", role=Role.ADMIN)

    def test_invitations_go_out_on_the_chosen_day_once_and_the_link_sets_a_password(self):
        day = TODAY + timedelta(days=3)
        result = services.import_files(
            files=bank_files_in(),
            file_name="x.zip",
            time_bank=self.bank,
            actor=self.ada,
            invite_on=day,
        )
        self.assertEqual(services.send_invitations(), 0)
        self.assertEqual(len(mail.outbox), 0)
        # Jo and Pat have emails; Sam is offline and gets none.
        self.assertEqual(Invitation.objects.filter(import_run=result.run).count(), 2)
        with time_machine.travel(at(day, 9), tick=False):
            self.assertEqual(services.send_invitations(), 2)
            self.assertEqual(services.send_invitations(), 0)
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox), ["jo@example.org", "pat@example.org"]
        )
        message = next(m for m in mail.outbox if m.to == ["jo@example.org"])
        self.assertIn("Shire Time Bank has moved", message.subject)
        self.assertNotIn("hunter2", message.body)
        link = next(
            line for line in message.body.splitlines() if "/accounts/password/reset/key/" in line
        )
        path = link.strip().split("127.0.0.1:8000", 1)[1]
        page = self.client.get(path, follow=True)
        self.assertEqual(page.status_code, 200)
        form_url = page.redirect_chain[-1][0] if page.redirect_chain else path
        done = self.client.post(
            form_url, {"password1": "a-new-long-password-7", "password2": "a-new-long-password-7"}
        )
        self.assertEqual(done.status_code, 302)
        jo = Person.objects.get(display_name="Jo Bloggs").user
        jo.refresh_from_db()
        self.assertTrue(jo.check_password("a-new-long-password-7"))

    def test_sending_now_queues_them_after_the_import_commits(self):
        with eager_tasks(), self.captureOnCommitCallbacks(execute=True):
            services.import_files(
                files=bank_files_in(),
                file_name="x.zip",
                time_bank=self.bank,
                actor=self.ada,
                invite_on=TODAY,
            )
        self.assertEqual(len(mail.outbox), 2)


def build(bank: TimeBank, month: date) -> str:
    """The monthly job for ``month``, on the 1st of the month after."""
    with time_machine.travel(at(add_months(month, 1), 6), tick=False), eager_tasks():
        return reports.build_monthly_report(time_bank=bank, month=month)


class ClosedMonths(CastTestCase):
    def test_history_in_a_reported_month_leaves_its_report_and_shows_as_revisions(self):
        ada = make_member(self.riverside, "Ada Admin", role=Role.ADMIN)
        month = add_months(first_of(TODAY), -3)
        build(self.riverside, month)
        reported = MonthlyReport.objects.get(time_bank=self.riverside, month=month)
        files = {
            "members.csv": text("external_id,display_name", "201,Kim", "202,Lee"),
            "exchanges.csv": text(
                "external_id,service_date,provider_external_id,recipient_external_id,minutes,description",
                f"c1,{month + timedelta(days=3)},201,202,60,Late history",
            ),
        }
        result = imported(files, self.riverside, ada)
        self.assertEqual(result.reconciliation["closed_months"], [f"{month:%Y-%m}"])
        self.assertTrue(any("already reported" in w.message for w in result.plan.warnings))
        after = MonthlyReport.objects.get(pk=reported.pk)
        self.assertEqual(after.figures, reported.figures)
        self.assertEqual(after.commissioner, reported.commissioner)
        build(self.riverside, add_months(month, 1))
        following = MonthlyReport.objects.get(time_bank=self.riverside, month=add_months(month, 1))
        revised = {(r["month"], r["figure"]): (r["was"], r["now"]) for r in following.revisions}
        self.assertEqual(revised[(month.isoformat(), "exchanges")], (0, 1))

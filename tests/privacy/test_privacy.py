"""Data-protection rights: a member exports what is held about them; an admin erases a person
while every balance, report and the ledger's checks stay exactly the same."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

import time_machine
from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.urls import reverse

from audit.models import AuditEvent
from ledger.models import Account
from ledger.services import verify_ledger
from listings import services as listings
from listings.models import Capability, CapabilityLevel, Category, Contact, Listing, ListingKind
from members import services as members
from members.models import Membership, Note, Person, Role, User
from privacy import services as privacy
from privacy.services import ERASED, EXPORT_COLUMNS
from reports import services as reports
from reports.commissioning import commissioner_report
from reports.models import MonthlyReport, Statement
from safeguarding import services as safeguarding
from tests.factories import make_member, make_user
from tests.reports.support import KnownMonth
from tests.support import at, eager_tasks, user_of
from timebank.dates import add_months

OLD_NAME = "Alice Archer"


class AliceWithEverything(KnownMonth, TestCase):
    """Month M reported, plus an offer of alice's, bob's reply to it, her skill and a note."""

    ada: Person
    month_end: date
    offer: Listing
    reply: Contact

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        # ada: an administrator of Riverside, who may erase its members.
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        Person.objects.filter(pk=cls.bob.pk).update(phone="07700 900123")
        # ada is also the safeguarding lead and has recorded a reference check on alice.
        Membership.objects.filter(person=cls.ada).update(safeguarding_lead=True)
        safeguarding.record_safeguarding_check(
            membership=cls.alice.memberships.get(),
            by=cls.ada,
            check=safeguarding.SafeguardingCheck(
                check_type="reference", checked_on=date(2026, 1, 5), outcome="clear"
            ),
        )
        category = Category.objects.get(slug="gardening")
        with time_machine.travel(at(cls.m - timedelta(days=20)), tick=False):
            cls.offer = listings.publish_listing(
                author=cls.alice,
                time_bank=cls.riverside,
                details=listings.ListingDetails(
                    kind=ListingKind.OFFER,
                    category=category,
                    title="Alice Archer's hedge trimming",
                    description="Ask for Alice Archer at number 4.",
                ),
            )
            cls.reply = listings.reply_to_listing(
                listing=cls.offer, sender=cls.bob, message="Hello Alice Archer, my hedge please."
            )
        listings.add_capability(
            editor=cls.alice,
            membership=cls.alice.memberships.get(),
            category=category,
            description="Hedges, as Alice Archer does them",
            level=CapabilityLevel.DOES,
        )
        members.add_note(
            author=cls.brenda,
            membership=cls.alice.memberships.get(),
            text="Alice Archer prefers mornings.",
        )
        with time_machine.travel(at(add_months(cls.m, 1), 6), tick=False), eager_tasks():
            reports.build_monthly_report(time_bank=cls.riverside, month=cls.m)
        cls.month_end = add_months(cls.m, 1) - timedelta(days=1)


class ExportMyData(AliceWithEverything):
    def download(self, fmt: str):
        self.client.force_login(user_of(self.alice))
        return self.client.get(reverse("profile-export"), {"format": fmt})

    def test_the_json_export_holds_each_kind_of_data_about_the_member(self):
        response = self.download("json")
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response["Content-Disposition"])
        tables = response.json()["tables"]
        self.assertEqual(set(tables), set(EXPORT_COLUMNS))
        self.assertEqual(tables["person"][0]["display_name"], OLD_NAME)
        self.assertEqual(tables["login"][0]["email"], "alice.archer@example.org")
        self.assertEqual(tables["memberships"][0]["referee_1_name"], "Ref One")
        self.assertEqual(tables["listings"][0]["title"], "Alice Archer's hedge trimming")
        self.assertEqual(tables["contacts"][0]["direction"], "received")
        self.assertEqual(tables["contacts"][0]["from_name"], "Bob Baker")
        self.assertEqual(
            tables["capabilities"][0]["description"], "Hedges, as Alice Archer does them"
        )
        self.assertEqual(tables["notes"][0]["text"], "Alice Archer prefers mornings.")
        self.assertEqual(tables["notes"][0]["author"], "Brenda Broker")
        # alice gave 2 h and 1 h and received 1 h: +60 (two hours less one), balance 120.
        account = tables["accounts"][0]
        self.assertEqual(account["balance_minutes"], 120)
        self.assertEqual(
            [(e["minutes"], e["running_balance_minutes"]) for e in tables["entries"]],
            [(120, 120), (-60, 60), (60, 120)],
        )
        self.assertEqual(date.fromisoformat(tables["entries"][0]["date"]), self.m + timedelta(2))
        self.assertEqual(len(tables["exchanges"]), 3)
        self.assertIn("Bob Baker", tables["exchanges"][0]["parties"])
        statement = tables["statements"][0]
        self.assertEqual(statement["month"], self.m.isoformat())
        self.assertEqual(statement["given_minutes"], 180)
        actions = {event["action"] for event in tables["audit_events"]}
        self.assertLessEqual({"exchange.recorded", "person.exported"}, actions)

    def test_it_holds_no_other_members_contact_details(self):
        text = self.download("json").content.decode()
        self.assertNotIn("07700 900123", text)
        for other in (self.bob, self.brenda, self.carl, self.olive):
            if other.user is not None:
                self.assertNotIn(other.user.email, text)

    def test_the_csv_export_is_a_zip_of_one_parsable_file_per_table(self):
        response = self.download("csv")
        self.assertEqual(response["Content-Type"], "application/zip")
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        self.assertEqual(sorted(archive.namelist()), sorted(f"{t}.csv" for t in EXPORT_COLUMNS))
        for table, columns in EXPORT_COLUMNS.items():
            reader = csv.DictReader(io.StringIO(archive.read(f"{table}.csv").decode()))
            self.assertEqual(reader.fieldnames, columns)
            rows = list(reader)
            if table != "imported_as":  # Alice was never imported: tests/imports/test_import.py
                self.assertTrue(rows, f"{table} is empty")
        entries = list(csv.DictReader(io.StringIO(archive.read("entries.csv").decode())))
        self.assertEqual([int(e["minutes"]) for e in entries], [120, -60, 60])
        self.assertEqual([date.fromisoformat(e["date"]).month for e in entries], [self.m.month] * 3)

    def test_each_export_is_recorded_in_the_audit_trail(self):
        self.download("json")
        self.download("csv")
        events = AuditEvent.objects.filter(action="person.exported", actor=self.alice)
        self.assertEqual(sorted(e.details["format"] for e in events), ["csv", "json"])

    def test_it_needs_a_signed_in_member(self):
        response = self.client.get(reverse("profile-export"))
        self.assertEqual(response.status_code, 302)

    def test_the_profile_page_links_to_it(self):
        self.client.force_login(user_of(self.alice))
        self.assertContains(self.client.get(reverse("profile")), reverse("profile-export"))


class ErasePerson(AliceWithEverything):
    def snapshot(self):
        return {
            "balances": list(
                Account.objects.order_by("pk").values_list(
                    "pk", "posted_minutes", "pending_in_minutes", "pending_out_minutes", "version"
                )
            ),
            "figures": list(MonthlyReport.objects.order_by("pk").values_list("pk", "figures")),
            "statements": list(
                Statement.objects.order_by("pk").values_list(
                    "pk", "given_minutes", "received_minutes", "balance_minutes", "nudge"
                )
            ),
            "commissioner": commissioner_report(
                banks=[self.riverside], start=self.m, end=self.month_end
            ).tables,
            "ledger": verify_ledger(),
        }

    def erase(self, admin: User | None = None):
        return privacy.erase_person(
            person=self.alice, admin=admin or user_of(self.ada), reason="person_asked"
        )

    def test_erasing_a_member_keeps_every_balance_report_and_the_ledger_sound(self):
        before = self.snapshot()
        self.assertEqual(before["ledger"], [])
        self.assertIn(OLD_NAME, MonthlyReport.objects.get().lists["both"])
        erased = self.erase()
        self.assertEqual(self.snapshot(), before)
        self.assertRegex(erased.display_name, r"^Former member [A-Z2-7]{4}$")
        self.assertIn(erased.display_name, MonthlyReport.objects.get().lists["both"])

    def test_the_old_name_is_nowhere_in_the_people_and_report_rows(self):
        self.erase()
        for model in (Person, Membership, Listing, Contact, Capability, Note):
            for row in model.objects.values():
                self.assertNotIn(OLD_NAME, json.dumps(row, default=str), model.__name__)
        for report in MonthlyReport.objects.all():
            self.assertNotIn(OLD_NAME, json.dumps(report.lists))
        for statement in Statement.objects.all():
            self.assertNotIn(OLD_NAME, json.dumps(statement.exchanged_with))
            self.assertNotIn(OLD_NAME, json.dumps(statement.suggestions))

    def test_it_wipes_identity_and_closes_the_login(self):
        person = self.erase()
        person.refresh_from_db()
        self.assertEqual((person.bio, person.area, person.phone), ("", "", ""))
        membership = person.memberships.get()
        self.assertEqual(membership.referee_1_name + membership.referee_2_contact, "")
        self.assertEqual(Listing.objects.get(pk=self.offer.pk).title, ERASED)
        self.assertEqual(Contact.objects.get(pk=self.reply.pk).message, ERASED)
        self.assertEqual(Note.objects.get(person=person).text, ERASED)
        user = User.objects.get(pk=self.alice.user_id)
        self.assertFalse(user.is_active)
        self.assertFalse(user.has_usable_password())
        self.assertTrue(user.email.endswith("@erased.invalid"))
        self.assertFalse(EmailAddress.objects.filter(user=user).exists())
        self.assertFalse(
            self.client.login(email="alice.archer@example.org", password=self.password)
        )

    def test_the_pseudonym_is_stable(self):
        first = self.erase().display_name
        self.assertEqual(self.erase().display_name, first)

    def test_the_audit_trail_records_it_without_the_old_name(self):
        self.erase()
        event = AuditEvent.objects.get(action="person.erased")
        self.assertEqual((event.actor, event.object_id), (self.ada, self.alice.pk))
        self.assertNotIn(OLD_NAME, json.dumps(event.details))

    def test_a_reason_is_required(self):
        with self.assertRaises(ValidationError):
            privacy.erase_person(person=self.alice, admin=user_of(self.ada), reason="  ")

    def test_only_an_admin_of_every_bank_or_staff_may_erase(self):
        for someone in (self.bob, self.brenda, self.cora, self.hugo, self.alice):
            with self.subTest(someone.display_name), self.assertRaises(PermissionDenied):
                self.erase(admin=someone.user)
        # An admin of Riverside only may not erase someone who is also in Hillside.
        Membership.objects.create(
            person=self.alice, time_bank=self.hillside, status="approved", decided_at=at(self.m)
        )
        with self.assertRaises(PermissionDenied):
            self.erase()
        staff = make_user("staff@example.org")
        User.objects.filter(pk=staff.pk).update(is_staff=True)
        staff.refresh_from_db()
        self.assertTrue(self.erase(admin=staff).display_name.startswith("Former member"))

    def test_an_admin_erases_from_the_member_page_after_confirming(self):
        url = reverse("member-erase", args=["riverside", self.alice.pk])
        self.client.force_login(user_of(self.ada))
        page = self.client.get(reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertContains(page, url)
        self.assertContains(self.client.get(url), "Erase Alice Archer")
        self.assertEqual(self.client.post(url, {"reason": ""}).status_code, 200)
        self.assertEqual(Person.objects.get(pk=self.alice.pk).display_name, OLD_NAME)
        response = self.client.post(url, {"reason": "person_asked"})
        self.assertRedirects(response, reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertNotEqual(Person.objects.get(pk=self.alice.pk).display_name, OLD_NAME)

    def test_a_broker_is_refused_and_sees_no_link(self):
        url = reverse("member-erase", args=["riverside", self.alice.pk])
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertNotContains(page, url)
        self.assertEqual(self.client.post(url, {"reason": "x"}).status_code, 403)
        self.assertEqual(Person.objects.get(pk=self.alice.pk).display_name, OLD_NAME)

"""Erasure leaves nothing: after an erasure no text column of any table (found by introspecting
the database, not listed by hand) holds the person's name, email or phone, in any case.

The audit trail keeps a reason code, never free text; Django's admin log is rewritten; every
free-text field that can hold personal data (``Membership.leave_reason`` among them) is erased,
and is in the member's export before that.
"""

from __future__ import annotations

import json

from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from exchanges import services as exchanges
from ledger.services import verify_ledger
from listings import services as listings
from members import services as members
from members.models import Membership, Note, Person, Role, Status, User
from privacy import services as privacy
from privacy.services import EXPORT_COLUMNS
from tests.factories import enrol_in_mfa, make_member, make_user
from tests.support import admin_change_data, user_of

from .test_privacy import OLD_NAME, AliceWithEverything

EMAIL = "alice.archer@example.org"
PHONE = "01632 960 743"
# Column types that hold text, as Django's introspection names them on either backend.
TEXT_TYPES = {"CharField", "TextField", "JSONField", "EmailField", "SlugField"}


def text_columns() -> list[tuple[str, str]]:
    """Every (table, column) of the database that holds text, by introspection."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                try:
                    kind = connection.introspection.get_field_type(column.type_code, column)
                except KeyError:
                    continue
                if kind in TEXT_TYPES:
                    found.append((table, column.name))
    return found


def rows_holding(needle: str) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text cell containing ``needle``, in any case."""
    quote = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(
                f"SELECT CAST({quote(column)} AS TEXT) FROM {quote(table)} "
                f"WHERE LOWER(CAST({quote(column)} AS TEXT)) LIKE %s",
                [f"%{needle.lower()}%"],
            )
            hits += [(table, column, value) for (value,) in cursor.fetchall()]
    return hits


class AliceWithAHistory(AliceWithEverything):
    """Alice with exchanges, a note, replies both ways, an admin edit, a left membership, and
    her name, email and phone written by others (a referee, a note, a message)."""

    sam: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        Person.objects.filter(pk=cls.alice.pk).update(phone=PHONE, bio="Gardener in GL50.")
        cls.alice.refresh_from_db()
        # She was a member of Hillside too, and left, saying why.
        make_member(cls.hillside, "Holly Hillside")
        hillside = Membership.objects.create(
            person=cls.alice,
            time_bank=cls.hillside,
            status=Status.APPROVED,
            decided_at=cls.alice.memberships.get(time_bank=cls.riverside).decided_at,
        )
        exchanges.leave_time_bank(
            membership=hillside,
            by=cls.alice,
            reason=f"Alice Archer moved away; reach her on {PHONE}.",
        )
        # Others wrote about her: bob's referee, a note about bob, a message to her.
        Membership.objects.filter(person=cls.bob, time_bank=cls.riverside).update(
            referee_1_name="ALICE ARCHER", referee_1_contact=EMAIL
        )
        members.add_note(
            author=cls.brenda,
            membership=cls.bob.memberships.get(),
            text=f"Introduced to alice archer ({EMAIL}, {PHONE}).",
        )
        bob_offer = listings.publish_listing(
            author=cls.bob,
            time_bank=cls.riverside,
            details=listings.ListingDetails(
                kind="offer",
                category=cls.offer.category,
                title="Lifts to the surgery",
            ),
        )
        listings.reply_to_listing(
            listing=bob_offer,
            sender=cls.alice,
            message=f"Hi Bob, Alice Archer here: {EMAIL} or {PHONE}.",
        )
        # sam: the site's administrator, who edits her in the admin and later erases her.
        cls.sam = make_user("sam.staff@example.org")
        User.objects.filter(pk=cls.sam.pk).update(is_staff=True, is_superuser=True)
        cls.sam.refresh_from_db()
        enrol_in_mfa(cls.sam)

    def edit_alice_in_the_admin(self) -> None:
        self.client.force_login(self.sam)
        url = reverse("admin:members_person_change", args=[self.alice.pk])
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        data = admin_change_data(page, bio="Gardener in GL50, edited by staff.")
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302)
        self.client.logout()

    def erase(self) -> Person:
        return privacy.erase_person(person=self.alice, admin=self.sam, reason="person_asked")


class ErasureLeavesNothing(AliceWithAHistory):
    def test_no_text_column_of_any_table_holds_her_name_email_or_phone_afterwards(self):
        self.edit_alice_in_the_admin()
        for needle in (OLD_NAME, EMAIL, PHONE):
            self.assertTrue(rows_holding(needle), f"the test data should hold {needle!r}")
        self.assertGreater(len(text_columns()), 50)
        self.erase()
        for needle in (OLD_NAME, EMAIL, PHONE):
            with self.subTest(needle=needle):
                self.assertEqual(rows_holding(needle), [])
        self.assertEqual(verify_ledger(), [])

    def test_the_audit_trail_keeps_a_reason_code_never_free_text(self):
        with self.assertRaises(ValidationError):
            privacy.erase_person(
                person=self.alice, admin=self.sam, reason=f"She asked by email from {EMAIL}"
            )
        self.erase()
        event = AuditEvent.objects.get(action="person.erased", time_bank=self.riverside)
        self.assertEqual(event.details["reason"], "person_asked")
        self.assertNotIn("@", json.dumps(event.details))

    def test_the_admin_log_no_longer_names_her(self):
        self.edit_alice_in_the_admin()
        entry = LogEntry.objects.get(object_id=str(self.alice.pk))
        self.assertEqual(entry.object_repr, OLD_NAME)
        person = self.erase()
        entry.refresh_from_db()
        self.assertEqual(entry.object_repr, person.display_name)
        self.assertNotIn("alice", entry.change_message.lower())

    def test_why_she_left_is_in_her_export_and_erased_with_her(self):
        self.client.force_login(user_of(self.alice))
        tables = self.client.get(reverse("profile-export")).json()["tables"]
        self.assertIn("leave_reason", EXPORT_COLUMNS["memberships"])
        left = [m for m in tables["memberships"] if m["status"] == Status.LEFT]
        self.assertEqual(left[0]["leave_reason"], f"Alice Archer moved away; reach her on {PHONE}.")
        self.assertIsNotNone(left[0]["left_at"])
        self.erase()
        reasons = Membership.objects.filter(person=self.alice).values_list(
            "leave_reason", flat=True
        )
        self.assertNotIn(PHONE, " ".join(reasons))
        self.assertFalse(Note.objects.filter(text__icontains="alice archer").exists())

    def test_an_admin_erases_from_the_member_page_choosing_a_reason(self):
        ada = Person.objects.get(display_name="Ada Admin")
        Membership.objects.filter(person=self.alice, time_bank=self.hillside).delete()
        url = reverse("member-erase", args=["riverside", self.alice.pk])
        self.client.force_login(user_of(ada))
        self.assertEqual(self.client.post(url, {"reason": "She asked me"}).status_code, 200)
        self.assertEqual(Person.objects.get(pk=self.alice.pk).display_name, OLD_NAME)
        response = self.client.post(url, {"reason": "person_asked"})
        self.assertRedirects(response, reverse("member-page", args=["riverside", self.alice.pk]))
        self.assertNotEqual(Person.objects.get(pk=self.alice.pk).display_name, OLD_NAME)
        self.assertEqual(
            AuditEvent.objects.get(action="person.erased").details["reason"],
            "person_asked",
        )
        self.assertEqual(ada.memberships.get().role, Role.ADMIN)


class OnlyHerMentionsGo(AliceWithAHistory):
    def test_someone_else_with_her_name_or_a_longer_address_keeps_them(self):
        namesake = make_member(self.riverside, "Alice Archer", email="x" + EMAIL)
        other = make_member(self.riverside, "Alice Archerson")
        self.erase()
        namesake.refresh_from_db()
        self.assertEqual(namesake.display_name, "Alice Archer")
        self.assertEqual(user_of(namesake).email, "x" + EMAIL)
        other.refresh_from_db()
        self.assertEqual(other.display_name, "Alice Archerson")

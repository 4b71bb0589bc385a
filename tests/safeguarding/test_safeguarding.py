"""Safeguarding checks: seen and changed only by the bank's safeguarding lead, every change
audited with ids and types only, deleted by the retention job, exported and erased."""

from __future__ import annotations

import io
from datetime import date, datetime
from unittest import mock

import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services as exchanges
from members import services as members
from members.models import Membership, Person, Role
from privacy import services as privacy
from safeguarding import services as safeguarding
from safeguarding import tasks
from safeguarding.models import CheckOutcome, CheckType, SafeguardingRecord
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

TODAY = datetime(2026, 6, 15, 12, tzinfo=timezone.get_default_timezone())


def check(**fields: object) -> safeguarding.SafeguardingCheck:
    values: dict = {
        "check_type": CheckType.DBS_ENHANCED,
        "checked_on": date(2026, 1, 10),
        "outcome": CheckOutcome.CLEAR,
        "reference_number": "001234567890",
        "expires_on": date(2029, 1, 10),
    }
    return safeguarding.SafeguardingCheck(**(values | fields))


class Safeguarding(CastTestCase):
    ada: Person
    on_bob: SafeguardingRecord

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # ada: Riverside's administrator and its safeguarding lead. brenda is not the lead.
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        Membership.objects.filter(person=cls.ada).update(safeguarding_lead=True)
        cls.on_bob = safeguarding.record_safeguarding_check(
            membership=cls.bob.memberships.get(), by=cls.ada, check=check()
        )

    # --- Who sees them ---------------------------------------------------------------------

    def test_only_the_safeguarding_lead_sees_a_members_checks(self):
        url = reverse("safeguarding", args=["riverside", self.bob.pk])
        self.client.force_login(user_of(self.ada))
        page = self.client.get(url)
        self.assertContains(page, "001234567890")
        self.assertContains(page, "DBS enhanced")
        for person in (self.brenda, self.alice, self.bob, self.cora, self.dora, self.hugo):
            with self.subTest(person=person.display_name):
                self.client.force_login(user_of(person))
                response = self.client.get(url)
                self.assertEqual(response.status_code, 403)
                self.assertNotContains(response, "001234567890", status_code=403)

    def test_a_check_is_not_found_by_anyone_but_the_lead(self):
        for name in ("safeguarding-edit",):
            url = reverse(name, args=[self.on_bob.pk])
            for person in (self.brenda, self.bob, self.cora, self.hugo):
                with self.subTest(person=person.display_name):
                    self.client.force_login(user_of(person))
                    self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_member_page_links_to_checks_only_for_the_lead(self):
        url = reverse("member-page", args=["riverside", self.bob.pk])
        self.client.force_login(user_of(self.ada))
        self.assertContains(self.client.get(url), "References and checks")
        self.client.force_login(user_of(self.brenda))
        self.assertNotContains(self.client.get(url), "References and checks")

    def test_a_broker_named_lead_sees_them_and_a_commissioner_can_never_be_lead(self):
        members.change_role(
            membership=self.brenda.memberships.get(),
            role=Role.BROKER,
            by=self.ada,
            safeguarding_lead=True,
        )
        self.client.force_login(user_of(self.brenda))
        url = reverse("safeguarding", args=["riverside", self.bob.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        # The database refuses a commissioner as lead; the service never makes one.
        with transaction.atomic(), self.assertRaises(IntegrityError):
            Membership.objects.filter(person=self.cora).update(safeguarding_lead=True)
        with self.assertRaisesMessage(ValidationError, "Nothing changed"):
            members.change_role(
                membership=self.cora.memberships.get(),
                role=Role.COMMISSIONER,
                by=self.ada,
                safeguarding_lead=True,
            )
        self.client.force_login(user_of(self.cora))
        self.assertEqual(self.client.get(url).status_code, 403)

    # --- Services, each audited ------------------------------------------------------------

    def test_recording_updating_and_deleting_are_audited_with_ids_and_types_only(self):
        recorded = AuditEvent.objects.get(action=Action.SAFEGUARDING_RECORDED)
        self.assertEqual((recorded.actor, recorded.time_bank), (self.ada, self.riverside))
        self.assertEqual(recorded.object_id, self.on_bob.pk)
        self.assertEqual(recorded.details, {"person": self.bob.pk, "check_type": "dbs_enhanced"})

        safeguarding.update_safeguarding_check(
            record=self.on_bob, by=self.ada, check=check(outcome=CheckOutcome.CONCERNS)
        )
        self.on_bob.refresh_from_db()
        self.assertEqual(self.on_bob.outcome, CheckOutcome.CONCERNS)
        updated = AuditEvent.objects.get(action=Action.SAFEGUARDING_UPDATED)
        self.assertEqual(updated.details, {"person": self.bob.pk, "check_type": "dbs_enhanced"})

        safeguarding.delete_safeguarding_check(record=self.on_bob, by=self.ada)
        self.assertFalse(SafeguardingRecord.objects.exists())
        deleted = AuditEvent.objects.get(action=Action.SAFEGUARDING_DELETED)
        self.assertEqual(deleted.actor, self.ada)
        self.assertEqual(
            deleted.details,
            {
                "person": self.bob.pk,
                "check_type": "dbs_enhanced",
                "record": self.on_bob.pk,
                "reason": "deleted",
            },
        )
        for event in AuditEvent.objects.filter(action__startswith="safeguarding."):
            self.assertNotIn("001234567890", str(event.details))

    def test_only_the_lead_may_record_change_or_delete(self):
        for by in (self.brenda, self.alice, self.cora, self.hugo):
            with self.subTest(by=by.display_name):
                with self.assertRaises(PermissionDenied):
                    safeguarding.record_safeguarding_check(
                        membership=self.alice.memberships.get(), by=by, check=check()
                    )
                with self.assertRaises(PermissionDenied):
                    safeguarding.update_safeguarding_check(record=self.on_bob, by=by, check=check())
                with self.assertRaises(PermissionDenied):
                    safeguarding.delete_safeguarding_check(record=self.on_bob, by=by)
        self.assertEqual(SafeguardingRecord.objects.count(), 1)

    def test_bad_dates_and_types_are_refused_with_a_field_message(self):
        cases = {
            "checked_on": check(checked_on=date(2099, 1, 1), expires_on=None),
            "expires_on": check(expires_on=date(2025, 1, 1)),
            "check_type": check(check_type="horoscope"),
            "outcome": check(outcome="fine"),
        }
        for field, bad in cases.items():
            with self.subTest(field=field), self.assertRaises(ValidationError) as refused:
                safeguarding.record_safeguarding_check(
                    membership=self.alice.memberships.get(), by=self.ada, check=bad
                )
            self.assertIn(field, refused.exception.message_dict)

    def test_the_lead_records_a_check_through_the_page_and_bad_input_is_a_form_error(self):
        self.client.force_login(user_of(self.ada))
        url = reverse("safeguarding", args=["riverside", self.alice.pk])
        response = self.client.post(
            url,
            {
                "check_type": "reference",
                "checked_on": "2026-02-01",
                "outcome": "clear",
                "reference_number": "",
            },
        )
        self.assertRedirects(response, url)
        self.assertTrue(
            SafeguardingRecord.objects.filter(person=self.alice, check_type="reference").exists()
        )
        response = self.client.post(
            url,
            {
                "check_type": "dbs_basic",
                "checked_on": "2026-02-01",
                "expires_on": "2026-01-01",
                "outcome": "clear",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors)

    def test_the_lead_edits_and_deletes_through_the_pages(self):
        self.client.force_login(user_of(self.ada))
        response = self.client.post(
            reverse("safeguarding-edit", args=[self.on_bob.pk]),
            {
                "check_type": "dbs_standard",
                "checked_on": "2026-01-10",
                "outcome": "clear",
                "reference_number": "99",
            },
        )
        self.assertRedirects(response, reverse("safeguarding", args=["riverside", self.bob.pk]))
        self.on_bob.refresh_from_db()
        self.assertEqual(
            (self.on_bob.check_type, self.on_bob.reference_number), ("dbs_standard", "99")
        )
        self.client.post(reverse("safeguarding-delete", args=[self.on_bob.pk]))
        self.assertFalse(SafeguardingRecord.objects.exists())

    # --- Retention ---------------------------------------------------------------------------

    def test_the_retention_job_deletes_checks_six_months_after_they_lapse(self):
        lapsing = safeguarding.record_safeguarding_check(
            membership=self.alice.memberships.get(),
            by=self.ada,
            check=check(check_type=CheckType.ID_CHECK, expires_on=date(2026, 2, 1)),
        )
        # 1 July: five months after it lapsed, kept.
        with time_machine.travel(datetime(2026, 7, 1, 12, tzinfo=TODAY.tzinfo), tick=False):
            self.assertEqual(safeguarding.delete_expired_safeguarding_records(), 0)
        # 1 August: six months after, deleted; bob's check (valid to 2029) stays.
        with time_machine.travel(datetime(2026, 8, 1, 12, tzinfo=TODAY.tzinfo), tick=False):
            self.assertEqual(safeguarding.delete_expired_safeguarding_records(), 1)
            # Safe to run twice.
            self.assertEqual(safeguarding.delete_expired_safeguarding_records(), 0)
        self.assertEqual(list(SafeguardingRecord.objects.all()), [self.on_bob])
        event = AuditEvent.objects.get(action=Action.SAFEGUARDING_DELETED)
        self.assertIsNone(event.actor)
        self.assertEqual(event.time_bank, self.riverside)
        self.assertEqual(
            event.details,
            {
                "person": self.alice.pk,
                "check_type": "id",
                "record": lapsing.pk,
                "reason": "retention",
            },
        )

    def test_a_check_renewed_after_the_job_listed_it_is_kept(self):
        lapsing = safeguarding.record_safeguarding_check(
            membership=self.alice.memberships.get(),
            by=self.ada,
            check=check(check_type=CheckType.ID_CHECK, expires_on=date(2026, 2, 1)),
        )
        listed = safeguarding.safeguarding_records_past_retention(today=date(2026, 8, 1))
        self.assertEqual(listed, [lapsing])
        # The lead renews it while the job is between listing and deleting.
        SafeguardingRecord.objects.filter(pk=lapsing.pk).update(expires_on=date(2029, 2, 1))
        with mock.patch.object(
            safeguarding, "safeguarding_records_past_retention", return_value=listed
        ):
            self.assertEqual(
                safeguarding.delete_expired_safeguarding_records(today=date(2026, 8, 1)), 0
            )
        self.assertTrue(SafeguardingRecord.objects.filter(pk=lapsing.pk).exists())

    def test_the_retention_job_deletes_checks_of_members_who_left_after_the_banks_period(self):
        self.riverside.safeguarding_retention_months = 3
        self.riverside.save(update_fields=["safeguarding_retention_months"])
        with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=TODAY.tzinfo), tick=False):
            exchanges.leave_time_bank(membership=self.bob.memberships.get(), by=self.brenda)
        with time_machine.travel(datetime(2026, 5, 31, 12, tzinfo=TODAY.tzinfo), tick=False):
            self.assertEqual(safeguarding.delete_expired_safeguarding_records(), 0)
        with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=TODAY.tzinfo), tick=False):
            self.assertEqual(tasks.delete_expired_safeguarding_records(), 1)
        self.assertFalse(SafeguardingRecord.objects.exists())

    def test_the_management_command_runs_the_job_and_refuses_a_bad_date(self):
        out = io.StringIO()
        call_command("delete_expired_safeguarding", "--today", "2029-07-10", stdout=out)
        self.assertIn("1 check(s) deleted", out.getvalue())
        self.assertFalse(SafeguardingRecord.objects.exists())
        with self.assertRaisesMessage(CommandError, "--today must be a date"):
            call_command("delete_expired_safeguarding", "--today", "next week")

    def test_the_job_is_in_the_one_beat_schedule(self):
        from timebank.celery import app

        tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
        self.assertIn("safeguarding.tasks.delete_expired_safeguarding_records", tasks_scheduled)

    # --- Export and erasure ----------------------------------------------------------------

    def test_export_my_data_includes_the_members_own_checks(self):
        self.client.force_login(user_of(self.bob))
        tables = self.client.get(reverse("profile-export")).json()["tables"]
        self.assertEqual(
            [(c["check_type"], c["reference_number"]) for c in tables["safeguarding_checks"]],
            [("dbs_enhanced", "001234567890")],
        )
        self.client.force_login(user_of(self.alice))
        tables = self.client.get(reverse("profile-export")).json()["tables"]
        self.assertEqual(tables["safeguarding_checks"], [])

    def test_erasure_deletes_the_checks_and_audits_each(self):
        privacy.erase_person(person=self.bob, admin=user_of(self.ada), reason="person_asked")
        self.assertFalse(SafeguardingRecord.objects.exists())
        event = AuditEvent.objects.get(action=Action.SAFEGUARDING_DELETED)
        self.assertEqual((event.actor, event.time_bank), (self.ada, self.riverside))
        self.assertEqual(event.details["reason"], "erasure")

"""Leaving a time bank: the member themself or a broker of the bank marks the membership as
left, with the time kept and an audit event; the database refuses a "left" without a time."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services
from members.models import Membership, Person, Status
from tests.base import CastTestCase
from tests.support import user_of


class LeavingTheTimeBank(CastTestCase):
    def membership(self, person: Person) -> Membership:
        return Membership.objects.get(person=person, time_bank=self.riverside)

    def test_a_member_can_leave_and_it_is_recorded_in_the_audit_log(self):
        left = services.leave_time_bank(membership=self.membership(self.bob), by=self.bob)
        left.refresh_from_db()
        self.assertEqual(left.status, Status.LEFT)
        self.assertAlmostEqual(left.left_at, timezone.now(), delta=timedelta(seconds=5))
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_LEFT)
        self.assertEqual(
            (event.actor, event.time_bank, event.object_id), (self.bob, self.riverside, left.pk)
        )
        self.assertEqual(event.details, {"by_member": True})

    def test_a_broker_marks_a_member_as_left_with_a_reason_kept_out_of_the_audit_log(self):
        services.leave_time_bank(
            membership=self.membership(self.bob), by=self.brenda, reason=" Moved away "
        )
        left = self.membership(self.bob)
        self.assertEqual((left.status, left.leave_reason), (Status.LEFT, "Moved away"))
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_LEFT)
        self.assertEqual((event.actor, event.details), (self.brenda, {"by_member": False}))
        self.assertNotIn("Moved away", str(event.details))

    def test_no_one_else_can_mark_a_member_as_left(self):
        for someone in (self.alice, self.cora, self.hugo, self.dora):
            with self.subTest(someone=someone), self.assertRaises(PermissionDenied):
                services.leave_time_bank(membership=self.membership(self.bob), by=someone)
        self.assertEqual(self.membership(self.bob).status, Status.APPROVED)
        self.assertFalse(AuditEvent.objects.filter(action=Action.MEMBERSHIP_LEFT).exists())

    def test_only_an_approved_or_suspended_member_can_leave(self):
        services.leave_time_bank(membership=self.membership(self.bob), by=self.bob)
        with self.assertRaises(ValidationError):
            services.leave_time_bank(membership=self.membership(self.bob), by=self.brenda)
        with self.assertRaises(ValidationError):
            services.leave_time_bank(membership=self.membership(self.dora), by=self.brenda)
        Membership.objects.filter(person=self.alice).update(status=Status.SUSPENDED)
        services.leave_time_bank(membership=self.membership(self.alice), by=self.brenda)
        self.assertEqual(self.membership(self.alice).status, Status.LEFT)

    def test_the_database_refuses_left_without_a_time_and_a_time_without_left(self):
        for change in (
            {"status": Status.LEFT},
            {"left_at": timezone.now()},
        ):
            with self.subTest(change=change), self.assertRaises(IntegrityError):
                with transaction.atomic():
                    Membership.objects.filter(person=self.bob).update(**change)


class MarkAsLeft(CastTestCase):
    def test_the_broker_is_asked_to_confirm_before_a_member_is_marked_as_left(self):
        self.client.force_login(user_of(self.brenda))
        page = reverse("member-page", args=["riverside", self.bob.pk])
        leave = reverse("member-leave", args=["riverside", self.bob.pk])
        member_page = self.client.get(page)
        # The member page links to the question; nothing on it marks anyone as left.
        self.assertContains(member_page, f'href="{leave}"')
        self.assertNotContains(member_page, f'action="{leave}"')
        question = self.client.get(leave)
        self.assertContains(question, "Mark Bob Baker as left?")
        self.assertContains(question, "Yes, mark Bob Baker as left")
        self.assertEqual(
            Membership.objects.get(person=self.bob, time_bank=self.riverside).status,
            Status.APPROVED,
        )
        response = self.client.post(leave, {"reason": "Moved away"})
        self.assertRedirects(response, page)
        membership = Membership.objects.get(person=self.bob, time_bank=self.riverside)
        self.assertEqual((membership.status, membership.leave_reason), (Status.LEFT, "Moved away"))
        response = self.client.get(page)
        self.assertNotContains(response, "Mark Bob Baker as left")
        self.assertContains(response, "Left on")

    def test_marking_twice_is_a_message_not_an_error(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("member-leave", args=["riverside", self.bob.pk])
        self.client.post(url)
        response = self.client.post(url, follow=True)
        self.assertContains(response, "Only a member can leave")
        self.assertEqual(AuditEvent.objects.filter(action=Action.MEMBERSHIP_LEFT).count(), 1)

    def test_only_the_banks_brokers_may_use_it(self):
        url = reverse("member-leave", args=["riverside", self.bob.pk])
        for person, code in {
            self.alice: 403,
            self.bob: 403,
            self.cora: 403,
            self.hugo: 403,
        }.items():
            self.client.force_login(user_of(person))
            with self.subTest(person=person):
                self.assertEqual(self.client.post(url).status_code, code)
                self.assertEqual(self.client.get(url).status_code, code)
        self.assertEqual(
            Membership.objects.get(person=self.bob, time_bank=self.riverside).status,
            Status.APPROVED,
        )

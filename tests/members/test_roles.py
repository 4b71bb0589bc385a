"""Role changes go through one audited service: admins change roles, brokers within limits,
and no bank loses its last admin or broker. The Django admin cannot change a role."""

from __future__ import annotations

from django.contrib.admin.sites import site
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.urls import reverse

from audit.models import Action, AuditEvent
from members import services as members
from members.models import Membership, Person, Role, Status
from tests.base import CastTestCase
from tests.factories import enrol_in_mfa, make_member, make_user
from tests.support import user_of


class ChangeRole(CastTestCase):
    ada: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # ada: Riverside's only administrator.
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)

    def membership(self, person) -> Membership:
        return person.memberships.get()

    def test_an_admin_makes_a_member_a_broker_and_it_is_audited_with_old_and_new_role(self):
        changed = members.change_role(
            membership=self.membership(self.bob), role=Role.BROKER, by=self.ada
        )
        self.assertEqual(changed.role, Role.BROKER)
        self.assertEqual(self.membership(self.bob).role, Role.BROKER)
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_ROLE_CHANGED)
        self.assertEqual((event.actor, event.time_bank), (self.ada, self.riverside))
        self.assertEqual(event.object_id, changed.pk)
        self.assertEqual(event.details["old_role"], "member")
        self.assertEqual(event.details["new_role"], "broker")
        self.assertEqual(event.details["person"], self.bob.pk)

    def test_a_broker_may_make_a_broker_but_not_an_admin(self):
        members.change_role(membership=self.membership(self.bob), role=Role.BROKER, by=self.brenda)
        with self.assertRaises(PermissionDenied):
            members.change_role(
                membership=self.membership(self.alice), role=Role.ADMIN, by=self.brenda
            )
        with self.assertRaises(PermissionDenied):
            members.change_role(
                membership=self.membership(self.ada), role=Role.MEMBER, by=self.brenda
            )
        self.assertEqual(self.membership(self.alice).role, Role.MEMBER)

    def test_members_commissioners_and_other_banks_brokers_may_not_change_roles(self):
        for by in (self.alice, self.cora, self.hugo, self.dora):
            with self.subTest(by=by.display_name), self.assertRaises(PermissionDenied):
                members.change_role(membership=self.membership(self.bob), role=Role.BROKER, by=by)
        self.assertFalse(AuditEvent.objects.filter(action=Action.MEMBERSHIP_ROLE_CHANGED).exists())

    def test_nobody_may_remove_the_last_admin(self):
        with self.assertRaisesMessage(ValidationError, "only administrator"):
            members.change_role(membership=self.membership(self.ada), role=Role.BROKER, by=self.ada)
        # With a second admin, the first may step down.
        members.change_role(membership=self.membership(self.brenda), role=Role.ADMIN, by=self.ada)
        members.change_role(membership=self.membership(self.ada), role=Role.BROKER, by=self.ada)
        self.assertEqual(self.membership(self.ada).role, Role.BROKER)

    def test_nobody_may_remove_the_last_broker_of_a_bank_without_an_admin(self):
        with self.assertRaisesMessage(ValidationError, "only broker"):
            members.change_role(
                membership=self.hugo.memberships.get(), role=Role.MEMBER, by=self.hugo
            )
        self.assertEqual(self.hugo.memberships.get().role, Role.BROKER)

    def test_an_applicant_has_no_role_to_change_and_an_unknown_role_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "approved"):
            members.change_role(
                membership=self.membership(self.dora), role=Role.BROKER, by=self.ada
            )
        with self.assertRaises(ValidationError) as refused:
            members.change_role(membership=self.membership(self.bob), role="king", by=self.ada)
        self.assertIn("role", refused.exception.message_dict)

    def test_only_an_admin_names_the_safeguarding_lead_and_only_among_brokers(self):
        with self.assertRaises(PermissionDenied):
            members.change_role(
                membership=self.membership(self.brenda),
                role=Role.BROKER,
                by=self.brenda,
                safeguarding_lead=True,
            )
        members.change_role(
            membership=self.membership(self.brenda),
            role=Role.BROKER,
            by=self.ada,
            safeguarding_lead=True,
        )
        self.assertTrue(self.membership(self.brenda).safeguarding_lead)
        # Made a plain member, she stops being the lead too.
        members.change_role(membership=self.membership(self.brenda), role=Role.MEMBER, by=self.ada)
        self.assertFalse(self.membership(self.brenda).safeguarding_lead)
        last = AuditEvent.objects.filter(action=Action.MEMBERSHIP_ROLE_CHANGED).latest("pk")
        self.assertEqual(
            (last.details["old_safeguarding_lead"], last.details["new_safeguarding_lead"]),
            (True, False),
        )

    def test_the_role_page_changes_the_role_for_an_admin(self):
        self.client.force_login(user_of(self.ada))
        url = reverse("member-role", args=["riverside", self.bob.pk])
        self.assertContains(self.client.get(url), "Change Bob Baker")
        response = self.client.post(url, {"role": "broker"})
        self.assertRedirects(response, reverse("member-page", args=["riverside", self.bob.pk]))
        self.assertEqual(self.membership(self.bob).role, Role.BROKER)

    def test_the_role_page_shows_a_refusal_as_a_form_error(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("member-role", args=["riverside", self.bob.pk])
        response = self.client.post(url, {"role": "admin"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Only an administrator can make")
        response = self.client.post(url, {"role": "emperor"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors["role"])
        self.assertEqual(self.membership(self.bob).role, Role.MEMBER)

    def test_the_django_admin_cannot_change_a_role(self):
        staff = make_user("staff@example.org")
        staff.is_staff = staff.is_superuser = True
        staff.save()
        enrol_in_mfa(staff)
        request = RequestFactory().get("/")
        request.user = staff
        admin = site._registry[Membership]
        self.assertIn("role", admin.get_readonly_fields(request, self.membership(self.bob)))
        self.assertIn(
            "safeguarding_lead", admin.get_readonly_fields(request, self.membership(self.bob))
        )
        self.client.force_login(staff)
        membership = self.membership(self.bob)
        url = reverse("admin:members_membership_change", args=[membership.pk])
        response = self.client.post(
            url,
            {
                "person": self.bob.pk,
                "time_bank": self.riverside.pk,
                "role": "admin",
                "status": Status.APPROVED,
                "applied_at_0": "2026-01-01",
                "applied_at_1": "10:00",
                "decided_at_0": "2026-01-02",
                "decided_at_1": "10:00",
            },
        )
        # The form was saved (a redirect), with every field but the role.
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.membership(self.bob).role, Role.MEMBER)
        self.assertEqual(self.membership(self.bob).applied_at.year, 2026)

    def test_adding_a_membership_in_the_django_admin_audits_its_role(self):
        staff = make_user("staff@example.org")
        staff.is_staff = staff.is_superuser = True
        staff.save()
        enrol_in_mfa(staff)
        newbank = make_member(self.hillside, "Nina New", status=Status.APPLIED)
        self.client.force_login(staff)
        response = self.client.post(
            reverse("admin:members_membership_add"),
            {
                "person": newbank.pk,
                "time_bank": self.riverside.pk,
                "role": "admin",
                "status": Status.APPLIED,
                "applied_at_0": "2026-01-01",
                "applied_at_1": "10:00",
            },
        )
        self.assertEqual(response.status_code, 302, getattr(response, "context", None))
        added = Membership.objects.get(person=newbank, time_bank=self.riverside)
        self.assertEqual(added.role, Role.ADMIN)
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_ROLE_CHANGED)
        self.assertEqual(event.object_id, added.pk)
        self.assertEqual(
            (event.details["old_role"], event.details["new_role"], event.details["via"]),
            (None, "admin", "django_admin"),
        )

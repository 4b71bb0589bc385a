from django.core import mail
from django.urls import reverse

from members.models import Membership, Person, Status
from tests.base import CastTestCase
from tests.factories import make_user
from tests.support import user_of

APPLICATION = {
    "display_name": "Nina New",
    "area": "GL52",
    "bio": "I can help with gardening.",
    "phone": "",
    "contact_preference": "email",
    "referee_1_name": "Pat Jones",
    "referee_1_contact": "01632 960123",
    "referee_2_name": "Sam Lee",
    "referee_2_contact": "sam@example.org",
    "agrees_to_code": "on",
}


class JoiningOnTheWeb(CastTestCase):
    def test_a_newcomer_applies_and_sees_that_we_are_checking(self):
        nina = make_user("nina@example.org")
        self.client.force_login(nina)
        response = self.client.post(reverse("apply", args=["riverside"]), APPLICATION, follow=True)
        self.assertContains(response, "We are checking your application.")
        membership = Membership.objects.get(person__user=nina)
        self.assertEqual(membership.status, Status.APPLIED)
        self.assertEqual(membership.referee_2_name, "Sam Lee")
        self.assertIsNotNone(membership.agreed_code_of_conduct_at)

    def test_an_application_without_agreeing_to_the_code_is_refused_with_a_form_error(self):
        nina = make_user("nina@example.org")
        self.client.force_login(nina)
        response = self.client.post(
            reverse("apply", args=["riverside"]), {**APPLICATION, "agrees_to_code": ""}
        )
        self.assertContains(response, "Please agree to the code of conduct to apply.")
        self.assertFalse(Membership.objects.filter(person__user=nina).exists())
        self.assertFalse(Person.objects.filter(user=nina).exists())

    def test_the_same_referee_twice_is_refused(self):
        self.client.force_login(make_user("nina@example.org"))
        response = self.client.post(
            reverse("apply", args=["riverside"]), {**APPLICATION, "referee_2_name": "pat jones"}
        )
        self.assertContains(response, "Please give two different referees.")

    def test_the_broker_sees_their_queue_and_approves_and_the_applicant_is_emailed(self):
        self.client.force_login(user_of(self.brenda))
        queue = self.client.get(reverse("application-queue", args=["riverside"]))
        self.assertContains(queue, "Dora Applicant")
        self.assertNotContains(queue, "Harry Hopeful")
        application = self.dora.memberships.get()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("approve-application", args=[application.pk]))
        self.assertRedirects(response, reverse("application-queue", args=["riverside"]))
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPROVED)
        self.assertEqual(application.decided_by, self.brenda)
        self.assertIsNotNone(application.decided_at)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, [user_of(self.dora).email])
        self.assertIn("Welcome to Riverside Time Bank", mail.outbox[0].subject)

    def test_the_broker_declines_with_a_reason_that_the_applicant_reads(self):
        self.client.force_login(user_of(self.brenda))
        application = self.dora.memberships.get()
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                reverse("decline-application", args=[application.pk]),
                {"reason": "We could not reach your referees."},
            )
        application.refresh_from_db()
        self.assertEqual(application.status, Status.DECLINED)
        self.assertIn("We could not reach your referees.", mail.outbox[0].body)
        self.client.force_login(user_of(self.dora))
        self.assertContains(self.client.get(reverse("home")), "We could not reach your referees.")

    def test_declining_without_a_reason_is_a_form_error_and_changes_nothing(self):
        self.client.force_login(user_of(self.brenda))
        application = self.dora.memberships.get()
        response = self.client.post(
            reverse("decline-application", args=[application.pk]), {"reason": ""}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "This field is required.")
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)

    def test_approving_twice_says_it_was_already_decided(self):
        self.client.force_login(user_of(self.brenda))
        application = self.dora.memberships.get()
        self.client.post(reverse("approve-application", args=[application.pk]))
        response = self.client.post(
            reverse("approve-application", args=[application.pk]), follow=True
        )
        self.assertContains(response, "already been decided")


class BrokersOnlyDecideTheirOwnBank(CastTestCase):
    def test_a_broker_of_another_bank_cannot_see_the_queue(self):
        self.client.force_login(user_of(self.hugo))
        response = self.client.get(reverse("application-queue", args=["riverside"]))
        self.assertEqual(response.status_code, 403)

    def test_a_broker_of_another_bank_cannot_approve_or_decline(self):
        self.client.force_login(user_of(self.hugo))
        application = self.dora.memberships.get()
        approve = self.client.post(reverse("approve-application", args=[application.pk]))
        decline = self.client.post(
            reverse("decline-application", args=[application.pk]), {"reason": "x"}
        )
        self.assertEqual(approve.status_code, 404)
        self.assertEqual(decline.status_code, 404)
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)

    def test_a_member_cannot_approve_anyone(self):
        self.client.force_login(user_of(self.alice))
        application = self.dora.memberships.get()
        self.assertEqual(
            self.client.post(reverse("approve-application", args=[application.pk])).status_code, 404
        )
        self.assertEqual(
            self.client.get(reverse("application-queue", args=["riverside"])).status_code, 403
        )
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)

    def test_a_commissioner_cannot_approve_anyone(self):
        self.client.force_login(user_of(self.cora))
        application = self.dora.memberships.get()
        self.assertEqual(
            self.client.post(reverse("approve-application", args=[application.pk])).status_code, 404
        )

    def test_signed_out_visitors_are_sent_to_sign_in(self):
        response = self.client.get(reverse("application-queue", args=["riverside"]))
        self.assertRedirects(
            response, f"{reverse('account_login')}?next=/banks/riverside/applications/"
        )


class OfflineMembers(CastTestCase):
    def test_an_offline_member_exists_without_a_login(self):
        self.assertIsNone(self.olive.user)
        self.assertTrue(self.olive.is_offline)
        self.assertEqual(self.olive.memberships.get().status, Status.APPROVED)

    def test_a_broker_adds_an_offline_member_who_gets_an_hours_account_and_no_email(self):
        from ledger.models import Account

        self.client.force_login(user_of(self.brenda))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("add-offline-member", args=["riverside"]),
                {
                    "display_name": "Edna Green",
                    "area": "GL54",
                    "bio": "",
                    "phone": "01632 960999",
                    "contact_preference": "broker",
                },
            )
        self.assertEqual(response.status_code, 302)
        edna = Person.objects.get(display_name="Edna Green")
        self.assertIsNone(edna.user)
        membership = edna.memberships.get()
        self.assertEqual((membership.status, membership.decided_by), (Status.APPROVED, self.brenda))
        self.assertTrue(Account.objects.filter(person=edna, time_bank=self.riverside).exists())
        self.assertEqual(mail.outbox, [])

    def test_a_member_cannot_add_offline_members(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("add-offline-member", args=["riverside"]), {"display_name": "X"}
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Person.objects.filter(display_name="X").exists())


class EditingAProfile(CastTestCase):
    def test_a_member_edits_their_profile_and_is_not_asked_again_when_applying_elsewhere(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("profile"),
            {
                "display_name": "Alice A.",
                "area": "GL53",
                "bio": "Gardens",
                "phone": "",
                "contact_preference": "phone",
            },
        )
        self.assertRedirects(response, reverse("home"))
        self.alice.refresh_from_db()
        self.assertEqual((self.alice.display_name, self.alice.area), ("Alice A.", "GL53"))
        form = self.client.get(reverse("apply", args=["hillside"]))
        self.assertContains(form, 'value="Alice A."')

    def test_a_blank_name_is_a_form_error(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("profile"), {"display_name": "", "contact_preference": "email"}
        )
        self.assertContains(response, "This field is required.")
        self.alice.refresh_from_db()
        self.assertEqual(self.alice.display_name, "Alice Archer")

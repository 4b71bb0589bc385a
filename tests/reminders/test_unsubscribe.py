"""One-click unsubscribe: a POST to the link in the email's List-Unsubscribe header turns the
kind off without a session (RFC 8058); a GET only asks; essential mail still goes."""

from datetime import timedelta

from django.core import mail
from django.test import Client

from reminders.models import EmailPreference
from tests.listings.support import make_listing

from .support import ReminderTestCase


class OneClickUnsubscribe(ReminderTestCase):
    def setUp(self) -> None:
        self.listing = make_listing(self.riverside, self.bob, "Dog walking")
        self.run_job("expiry", self.listing.expires_on - timedelta(days=7))
        (self.email,) = self.mail_to(self.bob)
        self.link = self.email.extra_headers["List-Unsubscribe"].strip("<>")
        self.path = self.link.removeprefix("http://127.0.0.1:8000")

    def preference(self) -> EmailPreference:
        return EmailPreference.objects.get(person=self.bob)

    def test_the_email_carries_the_link_and_the_one_click_header(self):
        self.assertIn(self.link, self.email.body)
        self.assertEqual(
            self.email.extra_headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click"
        )

    def test_a_post_without_a_session_or_csrf_token_unsubscribes(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(self.path, {"List-Unsubscribe": "One-Click"})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(self.preference().listing_expiry)
        self.assertTrue(self.preference().log_hours)

    def test_a_get_only_asks(self):
        response = Client().get(self.path)
        self.assertContains(response, '<form method="post"')
        self.assertTrue(self.preference().listing_expiry)

    def test_an_unknown_token_is_not_found(self):
        response = Client().post("/email/unsubscribe/not-a-token/listing_expiry/")
        self.assertEqual(response.status_code, 404)

    def test_after_unsubscribing_only_essential_mail_comes(self):
        Client().post(self.path)
        mail.outbox.clear()
        renewed = make_listing(self.riverside, self.bob, "Ironing")
        self.record(self.today + timedelta(days=1))  # bob must confirm: essential
        mail.outbox.clear()
        self.run_job("expiry", renewed.expires_on - timedelta(days=7))
        self.run_job("confirm", self.today + timedelta(days=4))
        subjects = [m.subject for m in self.mail_to(self.bob)]
        self.assertEqual(len(subjects), 1)
        self.assertIn("please confirm", subjects[0])

"""allauth's emails (confirm your address, reset your password) leave through the worker too:
a mail server that is down never fails a sign-up that was saved."""

from __future__ import annotations

from django.core import mail
from django.test import TestCase, override_settings
from django.urls import reverse

from members.models import User
from tests.support import MAIL_SERVER_DOWN, MailServerDown


def sign_up(email: str) -> dict[str, str]:
    # Each test its own address: allauth sends one confirmation per address every few minutes.
    passphrase = "a-long-and-unusual-passphrase-7"
    return {"email": email, "password1": passphrase, "password2": passphrase}


class AccountEmails(TestCase):
    def test_the_confirmation_email_goes_through_the_worker_with_its_link(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("account_signup"), sign_up("newcomer@example.org"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual([m.to for m in mail.outbox], [["newcomer@example.org"]])
        self.assertIn("/accounts/confirm-email/", mail.outbox[0].body)

    @override_settings(EMAIL_BACKEND=MAIL_SERVER_DOWN)
    def test_signing_up_answers_and_keeps_the_account_when_the_mail_server_is_down(self):
        MailServerDown.attempts = 0
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("account_signup"), sign_up("offline@example.org"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(User.objects.filter(email="offline@example.org").exists())
        # The worker tried, and tried again (here, at once).
        self.assertGreater(MailServerDown.attempts, 1)

"""Emails leave through the worker after the write commits, and a mail server that is down
never fails (or turns into a 500) a write that was saved; the email is retried until the mail
server takes it. (Tasks run in the test's process here, as the suite's conftest sets; the fault
test, tests/faults/, runs a real worker against an unreachable mail server.)"""

from __future__ import annotations

from typing import Any, cast

from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from exchanges.models import Exchange, State
from members.models import ApprovalRule
from tests.support import (
    MAIL_SERVER_DOWN,
    REFUSING_MAIL_SERVER,
    MailServerDown,
    RefusingBackend,
    user_of,
)

from .test_api_exchanges import ApiCase

BODY = {
    "time_bank": "riverside",
    "role": "gave",
    "hours": "1",
    "description": "Weeded the garden",
}


class EmailsAreQueuedForAfterTheCommit(ApiCase):
    def test_recording_queues_one_task_per_recipient_and_sends_nothing_before_the_commit(self):
        from exchanges import tasks

        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client_for(self.alice).post(
                "/api/exchanges/", {**BODY, "other_account": self.bob_account.pk}, format="json"
            )
            self.assertEqual(response.status_code, 201, response.content)
            self.assertEqual(mail.outbox, [])
        queued = [c for c in callbacks if getattr(c, "task", None) is tasks.send_exchange_email]
        self.assertEqual(len(queued), 1)
        self.assertEqual(
            cast(Any, queued[0]).args,
            ("exchange-please-confirm", response.json()["id"], self.bob.pk),
        )
        for callback in callbacks:
            callback()
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.bob).email]])

    def test_please_confirm_is_not_sent_once_the_exchange_no_longer_waits(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            exchange = self.record()
        # The worker is slow: the other party declined on the site before it got to it.
        Exchange.objects.filter(pk=exchange.pk).update(
            state=State.DECLINED, decline_reason="Not me", declined_at=timezone.now()
        )
        for callback in callbacks:
            callback()
        self.assertEqual(mail.outbox, [])


@override_settings(EMAIL_BACKEND=MAIL_SERVER_DOWN)
class AMailServerThatIsDownFailsNoSavedWrite(ApiCase):
    def setUp(self) -> None:
        MailServerDown.attempts = 0

    def test_recording_answers_201_and_keeps_the_exchange_when_mail_cannot_be_sent(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.alice).post(
                "/api/exchanges/",
                {**BODY, "other_account": self.bob_account.pk},
                format="json",
                HTTP_IDEMPOTENCY_KEY="down-1",
            )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertTrue(Exchange.objects.filter(pk=response.json()["id"]).exists())
        # The worker tried, and tried again with back-off (here, at once).
        self.assertGreater(MailServerDown.attempts, 1)

    def test_a_confirmation_answers_200_and_its_retry_answers_200_not_409(self):
        exchange = self.record()
        client = self.client_for(self.bob)
        with self.captureOnCommitCallbacks(execute=True):
            first = client.post(
                f"/api/exchanges/{exchange.pk}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1"
            )
        self.assertEqual(first.status_code, 200, first.content)
        again = client.post(
            f"/api/exchanges/{exchange.pk}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1"
        )
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again.json()["state"], "completed")

    def test_approving_declining_and_reversing_answer_when_mail_cannot_be_sent(self):
        self.set_policy(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        brenda = self.client_for(self.brenda)
        approved, declined = self.record(), self.record()
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(brenda.post(f"/api/exchanges/{approved.pk}/approve/").status_code, 200)
        with self.captureOnCommitCallbacks(execute=True):
            response = brenda.post(
                f"/api/exchanges/{declined.pk}/decline/", {"reason": "Twice"}, format="json"
            )
            self.assertEqual(response.status_code, 200)
        with self.captureOnCommitCallbacks(execute=True):
            response = brenda.post(
                f"/api/exchanges/{approved.pk}/reverse/", {"reason": "Wrong"}, format="json"
            )
            self.assertEqual(response.status_code, 200)

    def test_the_web_form_records_and_moves_on_when_mail_cannot_be_sent(self):
        self.client.force_login(user_of(self.alice))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": self.bob_account.pk,
                    "effective_date": timezone.localdate().isoformat(),
                    "minutes": "1",
                    "description": "Weeded the garden",
                    "coproduction": "co-delivery",
                    "idempotency_key": "web-down-1",
                },
            )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Exchange.objects.count(), 1)


class ARefusedEmailIsRetried(ApiCase):
    def setUp(self) -> None:
        RefusingBackend.refusals = {user_of(self.bob).email: 2}
        RefusingBackend.attempts.clear()

    @override_settings(EMAIL_BACKEND=REFUSING_MAIL_SERVER)
    def test_an_email_the_mail_server_refuses_twice_goes_on_the_third_try(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.alice).post(
                "/api/exchanges/", {**BODY, "other_account": self.bob_account.pk}, format="json"
            )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(RefusingBackend.attempts[user_of(self.bob).email], 3)
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.bob).email]])

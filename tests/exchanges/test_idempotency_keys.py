"""Idempotency keys are the caller's own on every interface, and a retry is judged by what the
caller sent: never by the bank's policy at the time, nor by a date the server filled in."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from exchanges import services
from exchanges.models import Exchange, State
from ledger.models import Journal
from members.models import ApprovalRule
from tests.support import at, user_of

from .test_api_exchanges import ApiCase


class KeysAreTheCallersOwn(ApiCase):
    def web_record(self, person, *, key: str, other, direction="gave", description="Ironing"):
        self.client.force_login(person.user)
        return self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {
                "direction": direction,
                "other": other.pk,
                "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                "minutes": "1",
                "description": description,
                "coproduction": "co-delivery",
                "idempotency_key": key,
            },
        )

    def test_a_members_form_key_cannot_block_the_correction_of_an_exchange(self):
        completed = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=services.Details(effective_date=timezone.localdate(), description="Lift"),
        )
        # Bob sends a form whose hidden key is the one a correction of that exchange would use.
        self.web_record(self.bob, key=f"reverse-exchange-{completed.pk}", other=self.carl_account)
        self.assertTrue(Exchange.objects.filter(description="Ironing").exists())
        reversed_ = services.reverse_exchange(
            exchange=completed, broker=self.brenda, reason="Wrong"
        )
        self.assertEqual(reversed_.state, State.REVERSED)
        self.assertEqual(self.posted(self.alice_account), 0)

    def test_two_members_sending_the_same_form_key_never_meet(self):
        self.web_record(self.alice, key="same-key", other=self.bob_account, description="Ironing")
        self.web_record(self.bob, key="same-key", other=self.alice_account, description="Baking")
        self.assertEqual(
            sorted(Exchange.objects.values_list("description", flat=True)), ["Baking", "Ironing"]
        )

    def test_the_donation_and_grant_forms_namespace_their_keys_too(self):
        self.client.force_login(user_of(self.alice))
        self.client.post(
            reverse("donate", args=["riverside"]),
            {"to_account": self.pot.pk, "minutes": "1", "note": "", "idempotency_key": "k"},
        )
        self.client.force_login(user_of(self.brenda))
        self.client.post(
            reverse("grant", args=["riverside"]),
            {
                "to_account": self.bob_account.pk,
                "minutes": "1",
                "reason": "Hi",
                "idempotency_key": "k",
            },
        )
        self.assertEqual(Exchange.objects.count(), 2)
        self.assertNotIn("k", Journal.objects.values_list("idempotency_key", flat=True))

    @property
    def carl_account(self):
        from ledger import services as ledger

        return ledger.open_account(time_bank=self.riverside, person=self.carl)


class GenuineRetriesReplay(ApiCase):
    def post(self, person, path, body, key):
        return self.client_for(person).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    def body(self, **fields):
        # Bob records help he received from Alice: his own hours, so no confirmation is needed.
        return {
            "time_bank": "riverside",
            "role": "received",
            "other_account": self.alice_account.pk,
            "hours": "1",
            "description": "Fixed my bike",
            **fields,
        }

    def test_a_retry_replays_under_the_newcomers_rule_after_another_exchange_is_approved(self):
        self.set_policy(
            confirmation_required=False,
            approval_rule=ApprovalRule.NEWCOMERS,
            approval_first_exchanges=1,
        )
        first = self.post(self.bob, "/api/exchanges/", self.body(), "retry-1")
        self.assertEqual(first.json()["state"], State.AWAITING_APPROVAL)
        other = self.post(self.bob, "/api/exchanges/", self.body(hours="2"), "retry-2")
        services.approve_exchange(
            exchange=Exchange.objects.get(pk=other.json()["id"]), broker=self.brenda
        )
        again = self.post(self.bob, "/api/exchanges/", self.body(), "retry-1")
        self.assertEqual(again.status_code, 201, again.content)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(Exchange.objects.count(), 2)

    def test_a_retry_replays_after_the_bank_changes_its_approval_rule(self):
        self.set_policy(confirmation_required=False)
        first = self.post(self.bob, "/api/exchanges/", self.body(), "policy-1")
        self.assertEqual(first.json()["state"], State.COMPLETED)
        self.set_policy(approval_rule=ApprovalRule.ALL)
        again = self.post(self.bob, "/api/exchanges/", self.body(), "policy-1")
        self.assertEqual(again.status_code, 201, again.content)
        self.assertEqual(again.json()["id"], first.json()["id"])

    def test_a_retry_after_midnight_without_a_date_replays(self):
        self.set_policy(confirmation_required=False)
        today = timezone.localdate()
        with time_machine.travel(at(today, 23, 59), tick=False):
            first = self.post(self.bob, "/api/exchanges/", self.body(), "midnight-1")
        with time_machine.travel(at(today + timedelta(days=1), 0, 1), tick=False):
            again = self.post(self.bob, "/api/exchanges/", self.body(), "midnight-1")
        self.assertEqual(again.status_code, 201, again.content)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(again.json()["effective_date"], today.isoformat())

    def test_a_donation_or_grant_retried_after_midnight_replays(self):
        today = timezone.localdate()
        donation = {"time_bank": "riverside", "hours": "1"}
        grant = {
            "time_bank": "riverside",
            "to_account": self.bob_account.pk,
            "hours": "0.5",
            "reason": "Welcome hours",
        }
        with time_machine.travel(at(today, 23, 59), tick=False):
            gift = self.post(self.alice, "/api/donations/", donation, "gift-1")
            granted = self.post(self.brenda, "/api/grants/", grant, "grant-1")
        with time_machine.travel(at(today + timedelta(days=1), 0, 1), tick=False):
            gift_again = self.post(self.alice, "/api/donations/", donation, "gift-1")
            granted_again = self.post(self.brenda, "/api/grants/", grant, "grant-1")
        self.assertEqual(
            [gift_again.status_code, granted_again.status_code], [201, 201], gift_again.content
        )
        self.assertEqual(gift_again.json()["id"], gift.json()["id"])
        self.assertEqual(granted_again.json()["id"], granted.json()["id"])

    def test_the_same_key_with_another_body_is_still_a_conflict(self):
        self.set_policy(confirmation_required=False)
        self.post(self.bob, "/api/exchanges/", self.body(), "conflict-1")
        response = self.post(self.bob, "/api/exchanges/", self.body(hours="3"), "conflict-1")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "IdempotencyConflict")

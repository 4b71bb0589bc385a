"""Problem 2 of issue 22: a refusal at a limit says what to do next and never shows another
member's figures; a broker can record it anyway, for a broker to approve.

Bob stands at -9.5 hours (the bank's limit is -10 hours), so 1.5 hours more would take him to
-11 hours: Alice may not learn any of those numbers.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from exchanges import services
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from members.models import Person, Role
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

# Bob's figures, as a page or the API would print them.
BOBS_FIGURES = re.compile(r"[-−]\s?(9\.5|10|11)\b|9\.5 hours|11 hours")


class LimitRefusals(CastTestCase):
    alice_account: Account
    bob_account: Account
    carl: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.riverside.contact_phone = "01632 960 123"
        cls.riverside.save()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        # carl: gave Bob the help that put him near his limit.
        cls.carl = make_member(cls.riverside, "Carl Carer")
        carl_account = ledger.open_account(time_bank=cls.riverside, person=cls.carl)
        ledger.transfer(
            from_account=cls.bob_account,
            to_account=carl_account,
            minutes=570,
            idempotency_key="bob-near-his-limit",
            effective_date=timezone.localdate() - timedelta(days=20),
            recorded_by=cls.brenda,
            description="Moved house",
        )

    def record_as(self, person, data: dict, url: str | None = None):
        self.client.force_login(person.user)
        url = url or reverse("record-exchange", args=["riverside"])
        form = self.client.get(url).context["form"]
        body = {
            "effective_date": timezone.localdate().isoformat(),
            "minutes": "1.5",
            "description": "Pruned the apple tree",
            "idempotency_key": form.initial["idempotency_key"],
            **data,
        }
        return self.client.post(url, body)

    def test_a_member_past_the_other_members_limit_is_told_to_ask_the_broker_and_no_figures(self):
        response = self.record_as(self.alice, {"direction": "gave", "other": self.bob_account.pk})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Bob Baker has received as many hours as the time bank")
        self.assertContains(response, "ask your broker (01632 960 123)")
        self.assertContains(response, "they can record it for a broker to approve")
        errors = " ".join(response.context["form"].non_field_errors())
        self.assertIsNone(BOBS_FIGURES.search(errors), errors)
        self.assertNotContains(response, "does not have enough hours")
        self.assertFalse(Exchange.objects.exists())

    def test_the_api_says_the_same_without_figures(self):
        client = APIClient()
        client.force_authenticate(self.alice.user)
        response = client.post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "role": "gave",
                "other_account": self.bob_account.pk,
                "hours": "1.5",
                "description": "Pruned the apple tree",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 409)
        body = response.json()
        self.assertEqual(body["code"], "PastLimit")
        self.assertIn("ask your broker", body["detail"])
        self.assertIsNone(BOBS_FIGURES.search(body["detail"]), body["detail"])

    def test_a_member_cannot_ask_the_api_to_go_past_a_limit(self):
        client = APIClient()
        client.force_authenticate(self.alice.user)
        response = client.post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "role": "gave",
                "other_account": self.bob_account.pk,
                "hours": "1.5",
                "description": "Pruned the apple tree",
                "past_limit": True,
            },
            format="json",
        )
        self.assertEqual(response.status_code, 403)

    def test_the_documented_api_example_shows_no_other_members_figures(self):
        self.client.force_login(user_of(self.alice))
        schema = self.client.get("/api/schema/?format=json").content.decode()
        self.assertNotIn("does not have enough hours", schema)
        self.assertIn("PastLimit", schema)

    def test_a_member_past_his_own_limit_sees_his_own_figures_and_what_to_do(self):
        response = self.record_as(
            self.bob, {"direction": "received", "other": self.alice_account.pk}
        )
        self.assertContains(response, "Your balance would be -11 hours, past the limit of -10")
        self.assertContains(response, "Give some help first, or ask your broker")

    def test_a_maximum_balance_refusal_does_not_show_the_other_members_balance(self):
        ledger.set_limits(
            account=self.alice_account, credit_limit_minutes=-600, max_balance_minutes=60
        )
        response = self.record_as(
            self.carl, {"direction": "received", "other": self.alice_account.pk, "minutes": "2"}
        )
        errors = " ".join(response.context["form"].non_field_errors())
        self.assertIn("Alice Archer holds as many hours as the time bank allows", errors)
        self.assertNotIn("2 hours", errors)
        self.assertNotIn("1 hour", errors)

    def test_a_donation_past_the_receivers_maximum_does_not_show_it(self):
        ledger.set_limits(
            account=self.alice_account, credit_limit_minutes=-600, max_balance_minutes=60
        )
        self.client.force_login(user_of(self.carl))
        form = self.client.get(reverse("donate", args=["riverside"])).context["form"]
        response = self.client.post(
            reverse("donate", args=["riverside"]),
            {
                "to_account": self.alice_account.pk,
                "minutes": "2",
                "idempotency_key": form.initial["idempotency_key"],
            },
        )
        errors = " ".join(response.context["form"].non_field_errors())
        self.assertIn("ask your broker", errors)
        self.assertNotIn("2 hours", errors)

    def test_a_broker_sees_the_figures_and_records_it_for_a_broker_to_approve(self):
        url = reverse("record-exchange", args=["riverside"]) + f"?for={self.bob_account.pk}"
        data = {"direction": "received", "other": self.alice_account.pk}
        refused = self.record_as(self.brenda, data, url)
        self.assertContains(refused, "Bob Baker&#x27;s balance would be -11 hours")
        self.assertContains(refused, "Record it anyway, for a broker to approve")
        self.assertContains(refused, 'type="checkbox" name="past_limit"')
        key = refused.context["form"].data["idempotency_key"]
        response = self.client.post(
            url,
            {
                **refused.context["form"].data.dict(),
                "past_limit": "on",
                "idempotency_key": key,
            },
        )
        exchange = Exchange.objects.get()
        self.assertRedirects(response, reverse("exchange", args=[exchange.pk]))
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        self.assertTrue(exchange.flagged_over_limit)
        self.assertEqual(ledger.balance(account=self.bob_account).available, -660)
        # On the desk, and approving it moves the hours past the old limit: another broker's
        # decision, never the one who recorded it (exchanges.rules).
        desk = self.client.get(reverse("desk", args=["riverside"]))
        self.assertContains(desk, "Pruned the apple tree")
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)
        bella = make_member(self.riverside, "Bella Broker", role=Role.BROKER)
        services.approve_exchange(exchange=exchange, broker=bella)
        self.assertEqual(ledger.balance(account=self.bob_account).posted, -660)
        self.assertEqual(ledger.balance(account=self.alice_account).posted, 90)

    def test_declining_it_releases_the_hours_and_narrows_the_limit_back(self):
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=90,
            details=services.Details(
                effective_date=timezone.localdate(), description="Pruned the apple tree"
            ),
            past_limit=True,
        )
        self.assertEqual(Account.objects.get(pk=self.bob_account.pk).credit_limit_minutes, -660)
        services.decline_exchange(exchange=exchange, person=self.brenda, reason="Too much")
        self.assertEqual(Account.objects.get(pk=self.bob_account.pk).credit_limit_minutes, -600)
        self.assertEqual(ledger.balance(account=self.bob_account).available, -570)

    def test_past_limit_changes_nothing_when_it_is_within_the_limits(self):
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.bob_account,
            receiver=self.alice_account,
            minutes=60,
            details=services.Details(
                effective_date=timezone.localdate(), description="Fixed the gate"
            ),
            past_limit=True,
        )
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertFalse(exchange.flagged_over_limit)

    def test_a_retried_past_limit_record_replays_the_first(self):
        first, second = (
            services.record_exchange(
                recorded_by=self.brenda,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=90,
                details=services.Details(
                    effective_date=timezone.localdate(), description="Pruned the apple tree"
                ),
                idempotency_key="past-limit-once",
                past_limit=True,
            )
            for _ in range(2)
        )
        self.assertEqual(first.pk, second.pk)
        self.assertEqual(ledger.balance(account=self.bob_account).available, -660)

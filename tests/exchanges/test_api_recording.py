"""The exchanges API: what it accepts (hours, unknown fields), idempotent retries, group
exchanges, donations and grants."""

from __future__ import annotations

from django.core import mail

from exchanges.models import Exchange, Kind
from ledger import services as ledger
from ledger.models import Journal
from members.models import GroupRemainderRule

from .test_api_exchanges import REFUSED_ANONYMOUS, ApiCase


class WhatIsAccepted(ApiCase):
    def post(self, person=None, **fields):
        body = {
            "time_bank": "riverside",
            "role": "gave",
            "other_account": self.bob_account.pk,
            "hours": "1.5",
            "description": "Weeded the garden",
            **fields,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return self.client_for(person or self.alice).post("/api/exchanges/", body, format="json")

    def test_hours_are_read_exactly_as_minutes(self):
        # Each exchange waits for Bob's confirmation, holding his hours: lift his limit.
        ledger.set_limits(
            account=self.bob_account, credit_limit_minutes=None, max_balance_minutes=None
        )
        for hours, minutes in [("0.25", 15), ("1.5", 90), (2, 120), (1.75, 105), ("24", 1440)]:
            with self.subTest(hours=hours):
                response = self.post(hours=hours)
                self.assertEqual(response.status_code, 201, response.content)
                self.assertEqual(response.json()["minutes"], minutes)

    def test_bad_hours_are_a_400_naming_the_field(self):
        for hours in [0, -1, "1.1", "0.1", "abc", "", "NaN", "Infinity", True, "1e9", "48", [1]]:
            with self.subTest(hours=hours):
                response = self.post(hours=hours)
                self.assertEqual(response.status_code, 400, response.content)
                self.assertEqual(list(response.json()), ["hours"])
        self.assertFalse(Exchange.objects.exists())

    def test_bad_minutes_are_a_400_naming_the_field(self):
        for minutes in [0, -15, 20, 10**5, "x"]:
            with self.subTest(minutes=minutes):
                response = self.post(hours=None, minutes=minutes)
                self.assertEqual(response.status_code, 400, response.content)
                self.assertEqual(list(response.json()), ["minutes"])

    def test_hours_and_minutes_together_or_neither_are_refused(self):
        self.assertIn("hours", self.post(minutes=90).json())
        self.assertIn("hours", self.post(hours=None).json())

    def test_unknown_fields_are_refused_by_name(self):
        response = self.post(colour="red", minuets=90)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(sorted(response.json()), ["colour", "minuets"])

    def test_role_and_broker_fields_cannot_be_mixed(self):
        response = self.post(giver_account=self.alice_account.pk)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.post(role=None).status_code, 400)
        self.assertIn("role", self.post(role="helped").json())

    def test_a_future_date_is_a_400_on_the_date(self):
        response = self.post(effective_date="2999-01-01")
        self.assertEqual(response.status_code, 400)
        self.assertIn("effective_date", response.json())

    def test_an_unknown_category_or_listing_is_a_400_on_its_field(self):
        self.assertIn("category", self.post(category="no-such-thing").json())
        self.assertIn("listing", self.post(listing=999999).json())

    def test_a_description_is_required(self):
        self.assertIn("description", self.post(description=None).json())
        self.assertIn("description", self.post(description="   ").json())

    def test_recording_with_oneself_is_a_400(self):
        response = self.post(other_account=self.alice_account.pk)
        self.assertEqual(response.status_code, 400)


class IdempotentRetries(ApiCase):
    def setUp(self) -> None:
        self.set_policy(confirmation_required=False)

    def post(self, person, path, body, key):
        return self.client_for(person).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    def exchange_body(self, **fields):
        # Bob records the help Alice gave him: his own hours, so it completes at once.
        return {
            "time_bank": "riverside",
            "role": "received",
            "other_account": self.alice_account.pk,
            "hours": "2",
            "description": "Painted the fence",
            **fields,
        }

    def test_a_retry_with_the_same_key_returns_the_original_and_moves_nothing(self):
        with self.captureOnCommitCallbacks(execute=True):
            first = self.post(self.bob, "/api/exchanges/", self.exchange_body(), "k-1")
        with self.captureOnCommitCallbacks(execute=True):
            again = self.post(self.bob, "/api/exchanges/", self.exchange_body(), "k-1")
        self.assertEqual(first.status_code, 201, first.content)
        self.assertEqual(again.status_code, 201, again.content)
        self.assertEqual(first.json()["id"], again.json()["id"])
        self.assertEqual(
            (self.posted(self.alice_account), self.posted(self.bob_account)), (120, -120)
        )
        self.assertEqual((Exchange.objects.count(), Journal.objects.count()), (1, 1))
        # The completed email went out once, to both.
        self.assertEqual(len(mail.outbox), 2)

    def test_the_same_key_with_another_body_is_a_409(self):
        self.post(self.bob, "/api/exchanges/", self.exchange_body(), "k-2")
        response = self.post(self.bob, "/api/exchanges/", self.exchange_body(hours="3"), "k-2")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "IdempotencyConflict")
        self.assertEqual(self.posted(self.alice_account), 120)

    def test_two_callers_choosing_the_same_key_do_not_meet(self):
        bob = self.post(self.bob, "/api/exchanges/", self.exchange_body(), "same")
        alice = self.post(
            self.alice,
            "/api/exchanges/",
            self.exchange_body(other_account=self.bob_account.pk, hours="1"),
            "same",
        )
        self.assertEqual((alice.status_code, bob.status_code), (201, 201))
        self.assertNotEqual(alice.json()["id"], bob.json()["id"])

    def test_a_key_that_is_too_long_is_a_400(self):
        response = self.post(self.alice, "/api/exchanges/", self.exchange_body(), "k" * 65)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Idempotency-Key", response.json())
        self.assertFalse(Exchange.objects.exists())

    def test_donations_and_grants_are_idempotent_too(self):
        donation = {"time_bank": "riverside", "hours": "1"}
        first = self.post(self.alice, "/api/donations/", donation, "d-1")
        again = self.post(self.alice, "/api/donations/", donation, "d-1")
        self.assertEqual(first.json()["id"], again.json()["id"])
        grant = {
            "time_bank": "riverside",
            "to_account": self.bob_account.pk,
            "hours": "0.5",
            "reason": "Welcome hours",
        }
        first = self.post(self.brenda, "/api/grants/", grant, "g-1")
        again = self.post(self.brenda, "/api/grants/", grant, "g-1")
        self.assertEqual(first.json()["id"], again.json()["id"])
        self.assertEqual(self.posted(self.pot), 60 - 30)
        self.assertEqual(self.posted(self.bob_account), 30)

    def test_group_exchanges_are_idempotent_too(self):
        body = {
            "time_bank": "riverside",
            "providers": [{"account": self.alice_account.pk, "hours": "1"}],
            "receivers": [{"account": self.bob_account.pk, "hours": "1"}],
            "description": "Computer class",
        }
        first = self.post(self.brenda, "/api/exchanges/group/", body, "grp-1")
        again = self.post(self.brenda, "/api/exchanges/group/", body, "grp-1")
        self.assertEqual(first.status_code, 201, first.content)
        self.assertEqual(first.json()["id"], again.json()["id"])
        self.assertEqual(self.posted(self.alice_account), 60)


class GroupExchanges(ApiCase):
    def body(self, **fields):
        return {
            "time_bank": "riverside",
            "providers": [{"account": self.alice_account.pk, "hours": "2"}],
            "receivers": [
                {"account": self.bob_account.pk, "hours": "0.75"},
                {"account": self.olive_account.pk, "minutes": 45},
            ],
            "description": "Computer class at the library",
            **fields,
        }

    def test_a_broker_records_a_class_and_the_pot_makes_up_the_difference(self):
        response = self.client_for(self.brenda).post(
            "/api/exchanges/group/", self.body(), format="json"
        )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(
            (body["kind"], body["state"], body["minutes"]), ("group", "completed", 120)
        )
        self.assertEqual(
            sorted((leg["account"]["holder"], leg["minutes"]) for leg in body["legs"]),
            [
                ("Alice Archer", 120),
                ("Bob Baker", -45),
                ("Community pot", -30),
                ("Olive Offline", -45),
            ],
        )
        self.assertEqual(ledger.verify_ledger(time_bank=self.riverside), [])

    def test_a_representative_records_for_their_organisation(self):
        response = self.client_for(self.alice).post(
            "/api/exchanges/group/",
            {
                "time_bank": "riverside",
                "providers": [
                    {"account": self.bob_account.pk, "hours": "2"},
                    {"account": self.olive_account.pk, "hours": "2"},
                ],
                "receivers": [{"account": self.gp_account.pk, "hours": "4"}],
                "description": "Community lunch",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(self.posted(self.gp_account), -240)

    def test_a_member_who_represents_no_one_taking_part_is_refused(self):
        response = self.client_for(self.carl).post(
            "/api/exchanges/group/", self.body(), format="json"
        )
        self.assertEqual(response.status_code, 403)

    def test_outsiders_are_refused(self):
        for person in (self.hugo, self.cora, self.dora):
            with self.subTest(person.display_name):
                response = self.client_for(person).post(
                    "/api/exchanges/group/", self.body(), format="json"
                )
                self.assertEqual(response.status_code, 403)
        anonymous = self.client_for().post("/api/exchanges/group/", self.body(), format="json")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_a_bank_that_wants_balanced_groups_refuses_an_uneven_one(self):
        self.set_policy(group_remainder_rule=GroupRemainderRule.NONE)
        response = self.client_for(self.brenda).post(
            "/api/exchanges/group/", self.body(), format="json"
        )
        self.assertEqual(response.status_code, 400)

    def test_bad_legs_are_a_400_naming_the_leg(self):
        body = self.body(receivers=[{"account": self.bob_account.pk, "hours": "1.1"}])
        response = self.client_for(self.brenda).post("/api/exchanges/group/", body, format="json")
        self.assertEqual(response.status_code, 400)
        # Errors of a list name the position of the leg at fault.
        self.assertEqual(list(response.json()["receivers"]["0"]), ["hours"])
        empty = self.client_for(self.brenda).post(
            "/api/exchanges/group/", self.body(providers=[]), format="json"
        )
        self.assertIn("providers", empty.json())
        unknown = self.client_for(self.brenda).post(
            "/api/exchanges/group/",
            self.body(providers=[{"account": self.alice_account.pk, "hours": 1, "x": 1}]),
            format="json",
        )
        self.assertEqual(unknown.status_code, 400)
        self.assertIn("x", unknown.json()["providers"]["0"])


class DonationsAndGrants(ApiCase):
    def test_a_member_gives_hours_to_the_community_pot(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.alice).post(
                "/api/donations/",
                {"time_bank": "riverside", "hours": "1.5", "note": "For the winter appeal"},
                format="json",
            )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["kind"], "donation")
        self.assertEqual((self.posted(self.alice_account), self.posted(self.pot)), (-90, 90))

    def test_a_member_gives_hours_to_another_member(self):
        response = self.client_for(self.alice).post(
            "/api/donations/",
            {"time_bank": "riverside", "minutes": 30, "to_account": self.bob_account.pk},
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(self.posted(self.bob_account), 30)

    def test_a_member_cannot_give_away_someone_elses_hours(self):
        response = self.client_for(self.carl).post(
            "/api/donations/",
            {"time_bank": "riverside", "hours": 1, "from_account": self.bob_account.pk},
            format="json",
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.posted(self.bob_account), 0)

    def test_outsiders_cannot_donate_in_the_bank(self):
        for person in (self.hugo, self.cora, self.dora):
            with self.subTest(person.display_name):
                response = self.client_for(person).post(
                    "/api/donations/", {"time_bank": "riverside", "hours": 1}, format="json"
                )
                self.assertEqual(response.status_code, 403)

    def test_a_donation_past_the_limit_is_a_409(self):
        response = self.client_for(self.alice).post(
            "/api/donations/", {"time_bank": "riverside", "hours": "10.25"}, format="json"
        )
        self.assertEqual(response.status_code, 409)

    def test_only_a_broker_of_the_bank_grants_from_the_pot(self):
        body = {
            "time_bank": "riverside",
            "to_account": self.alice_account.pk,
            "hours": "2",
            "reason": "Welcome hours",
        }
        for person, expected in [
            (self.alice, 403),
            (self.carl, 403),
            (self.hugo, 403),
            (self.cora, 403),
            (self.dora, 403),
            (self.brenda, 201),
        ]:
            with self.subTest(person.display_name):
                response = self.client_for(person).post("/api/grants/", body, format="json")
                self.assertEqual(response.status_code, expected, response.content)
        self.assertEqual((self.posted(self.alice_account), self.posted(self.pot)), (120, -120))
        anonymous = self.client_for().post("/api/grants/", body, format="json")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_a_grant_needs_a_reason(self):
        response = self.client_for(self.brenda).post(
            "/api/grants/",
            {"time_bank": "riverside", "to_account": self.alice_account.pk, "hours": 1},
            format="json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("reason", response.json())
        self.assertEqual(Exchange.objects.filter(kind=Kind.GRANT).count(), 0)


class RefusalsAtTheEdges(ApiCase):
    def test_a_member_cannot_earn_hours_from_the_community_pot_by_recording_an_exchange(self):
        # Hours leave the pot only as a broker's grant; record_exchange accepts the pot as the
        # receiver, and with no confirmation and no approval the hours move at once.
        self.set_policy(confirmation_required=False)
        response = self.client_for(self.alice).post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "role": "gave",
                "other_account": self.pot.pk,
                "hours": "5",
                "description": "Helped the pot",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.posted(self.pot), 0)

    def test_a_week_long_group_exchange_is_recorded_and_a_crowd_over_the_limit_is_a_400(self):
        # Each leg may be up to the bank's maximum (at most a week); the total has no cap.
        self.set_policy(max_exchange_minutes=7 * 24 * 60)
        ledger.set_limits(
            account=self.bob_account, credit_limit_minutes=None, max_balance_minutes=None
        )
        response = self.client_for(self.brenda).post(
            "/api/exchanges/group/",
            {
                "time_bank": "riverside",
                "providers": [
                    {"account": self.alice_account.pk, "minutes": 7 * 24 * 60},
                    {"account": self.olive_account.pk, "minutes": 7 * 24 * 60},
                ],
                "receivers": [{"account": self.bob_account.pk, "minutes": 7 * 24 * 60}],
                "description": "A very long festival",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(self.posted(self.alice_account), 7 * 24 * 60)
        crowd = [{"account": self.alice_account.pk, "minutes": 15}] * 101
        response = self.client_for(self.brenda).post(
            "/api/exchanges/group/",
            {
                "time_bank": "riverside",
                "providers": crowd,
                "receivers": [{"account": self.bob_account.pk, "minutes": 15}],
                "description": "Too many",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 400)

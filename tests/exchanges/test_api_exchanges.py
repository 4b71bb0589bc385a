"""The exchanges API, role by role: who may see, record, confirm, approve, decline and reverse.

The rule the statuses follow: an exchange the caller may not see (another time bank, not a
party, a commissioner, an applicant) is 404; one they see but may not act on is 403; recording
in a bank where the caller does not trade is 403; anonymous callers are refused (401/403).
"""

from __future__ import annotations

from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from exchanges import services
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from members.models import ApprovalRule, Person
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

REFUSED_ANONYMOUS = {401, 403}


class ApiCase(CastTestCase):
    """The cast with hours accounts, a second member (carl) who takes no part, and helpers."""

    carl: Person
    alice_account: Account
    bob_account: Account
    brenda_account: Account
    olive_account: Account
    gp_account: Account
    pot: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # carl: an approved member of Riverside who is not a party to the exchanges below.
        cls.carl = make_member(cls.riverside, "Carl Carter")
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.brenda_account = ledger.open_account(time_bank=cls.riverside, person=cls.brenda)
        cls.olive_account = ledger.open_account(time_bank=cls.riverside, person=cls.olive)
        cls.gp_account = ledger.open_account(time_bank=cls.riverside, organisation=cls.gp)
        cls.pot = ledger.community_pot(time_bank=cls.riverside)

    def client_for(self, person=None) -> APIClient:
        client = APIClient()
        if person is not None:
            client.force_authenticate(person.user)
        return client

    def set_policy(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.riverside, name, value)
        self.riverside.save()

    def record(self, *, by=None, giver=None, receiver=None, minutes=60) -> Exchange:
        return services.record_exchange(
            recorded_by=by or self.alice,
            giver=giver or self.alice_account,
            receiver=receiver or self.bob_account,
            minutes=minutes,
            details=services.Details(
                effective_date=timezone.localdate(), description="Weeded the garden"
            ),
        )

    def posted(self, account) -> int:
        return ledger.balance(account=account).posted


class SeeingExchanges(ApiCase):
    def test_each_role_sees_an_exchange_or_gets_404(self):
        exchange = self.record()
        cases = [
            (self.alice, 200),
            (self.bob, 200),
            (self.brenda, 200),
            (self.carl, 404),
            (self.hugo, 404),
            (self.cora, 404),
            (self.dora, 404),
        ]
        for person, expected in cases:
            with self.subTest(person.display_name):
                response = self.client_for(person).get(f"/api/exchanges/{exchange.pk}/")
                self.assertEqual(response.status_code, expected)
        anonymous = self.client_for().get(f"/api/exchanges/{exchange.pk}/")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_the_detail_names_the_parties_and_the_hours(self):
        exchange = self.record(minutes=90)
        body = self.client_for(self.bob).get(f"/api/exchanges/{exchange.pk}/").json()
        self.assertEqual(body["state"], "unconfirmed")
        self.assertEqual((body["minutes"], body["hours"]), (90, "1.5 hours"))
        self.assertEqual(body["giver"]["holder"], "Alice Archer")
        self.assertEqual(body["receiver"]["holder"], "Bob Baker")
        self.assertEqual(body["awaiting_confirmation_from"]["display_name"], "Bob Baker")
        self.assertEqual(
            sorted(leg["minutes"] for leg in body["legs"]),
            [-90, 90],
        )

    def test_the_list_is_scoped_to_what_the_caller_may_see(self):
        mine = self.record()
        others = self.record(by=self.bob, giver=self.bob_account, receiver=self.olive_account)
        ids = {
            person.display_name: {
                row["id"]
                for row in self.client_for(person).get("/api/exchanges/").json()["results"]
            }
            for person in (self.alice, self.bob, self.brenda, self.carl, self.hugo, self.cora)
        }
        self.assertEqual(ids["Alice Archer"], {mine.pk})
        self.assertEqual(ids["Bob Baker"], {mine.pk, others.pk})
        self.assertEqual(ids["Brenda Broker"], {mine.pk, others.pk})
        self.assertEqual(ids["Carl Carter"], set())
        self.assertEqual(ids["Hugo Hillside"], set())
        self.assertEqual(ids["Cora Council"], set())

    def test_the_list_filters_by_time_bank_and_state(self):
        self.record()
        self.set_policy(confirmation_required=False)
        done = self.record(by=self.bob)
        client = self.client_for(self.alice)
        rows = client.get("/api/exchanges/", {"state": "completed"}).json()["results"]
        self.assertEqual([row["id"] for row in rows], [done.pk])
        self.assertEqual(
            client.get("/api/exchanges/", {"time_bank": "hillside"}).json()["results"], []
        )
        self.assertEqual(
            len(client.get("/api/exchanges/", {"time_bank": "riverside"}).json()["results"]), 2
        )

    def test_a_bad_filter_is_a_400_naming_it(self):
        client = self.client_for(self.alice)
        self.assertIn("state", client.get("/api/exchanges/", {"state": "lost"}).json())
        self.assertIn("colour", client.get("/api/exchanges/", {"colour": "red"}).json())

    def test_the_list_makes_the_same_number_of_queries_for_one_exchange_or_many(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.client_for(self.brenda)
        self.record()
        with CaptureQueriesContext(connection) as one:
            client.get("/api/exchanges/")
        for _ in range(4):
            self.record(by=self.bob, giver=self.bob_account, receiver=self.olive_account)
        with CaptureQueriesContext(connection) as five:
            body = client.get("/api/exchanges/").json()
        self.assertEqual(body["count"], 5)
        self.assertEqual(len(one.captured_queries), len(five.captured_queries))

    def test_an_id_that_is_not_a_number_is_404(self):
        self.assertEqual(self.client_for(self.alice).get("/api/exchanges/abc/").status_code, 404)


class RecordingByRole(ApiCase):
    def body(self, **fields):
        return {
            "time_bank": "riverside",
            "role": "gave",
            "other_account": self.bob_account.pk,
            "hours": "1.5",
            "description": "Weeded the garden",
            **fields,
        }

    def test_a_member_records_help_they_gave_and_the_other_party_is_asked_to_confirm(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.alice).post(
                "/api/exchanges/", self.body(), format="json"
            )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["state"], body["minutes"]), ("unconfirmed", 90))
        self.assertEqual(body["giver"]["id"], self.alice_account.pk)
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.bob).email]])
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 90)

    def test_a_member_records_help_they_received(self):
        response = self.client_for(self.alice).post(
            "/api/exchanges/", self.body(role="received"), format="json"
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["receiver"]["id"], self.alice_account.pk)

    def test_a_representative_records_for_their_organisation(self):
        response = self.client_for(self.alice).post(
            "/api/exchanges/",
            self.body(role="received", account=self.gp_account.pk),
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["receiver"]["holder"], "Riverside GP Surgery")

    def test_a_broker_records_between_two_members_and_it_completes_at_once(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.brenda).post(
                "/api/exchanges/",
                {
                    "time_bank": "riverside",
                    "giver_account": self.olive_account.pk,
                    "receiver_account": self.bob_account.pk,
                    "minutes": 60,
                    "description": "A lift to the GP",
                    "coproduction": "co-delivery",
                },
                format="json",
            )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["state"], "completed")
        self.assertEqual(
            (self.posted(self.olive_account), self.posted(self.bob_account)), (60, -60)
        )
        # Olive is offline: only Bob gets an email.
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.bob).email]])

    def test_a_member_cannot_record_between_two_other_members(self):
        response = self.client_for(self.carl).post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "giver_account": self.alice_account.pk,
                "receiver_account": self.bob_account.pk,
                "hours": 1,
                "description": "Not mine to record",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Exchange.objects.exists())

    def test_those_who_do_not_trade_in_the_bank_cannot_record_there(self):
        for person in (self.hugo, self.cora, self.dora):
            with self.subTest(person.display_name):
                response = self.client_for(person).post(
                    "/api/exchanges/", self.body(), format="json"
                )
                self.assertEqual(response.status_code, 403)
        anonymous = self.client_for().post("/api/exchanges/", self.body(), format="json")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)
        self.assertFalse(Exchange.objects.exists())

    def test_an_unknown_time_bank_is_404(self):
        response = self.client_for(self.alice).post(
            "/api/exchanges/", self.body(time_bank="nowhere"), format="json"
        )
        self.assertEqual(response.status_code, 404)

    def test_an_account_of_another_bank_is_a_400_on_its_field(self):
        hugo_account = ledger.open_account(time_bank=self.hillside, person=self.hugo)
        response = self.client_for(self.alice).post(
            "/api/exchanges/", self.body(other_account=hugo_account.pk), format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("other_account", response.json())

    def test_a_limit_past_the_receivers_hours_is_a_409(self):
        self.set_policy(confirmation_required=False, max_exchange_minutes=24 * 60)
        client = self.client_for(self.alice)
        for _ in range(2):
            ok = client.post("/api/exchanges/", self.body(hours="5"), format="json")
            self.assertEqual(ok.status_code, 201, ok.content)
        refused = client.post("/api/exchanges/", self.body(hours="0.25"), format="json")
        self.assertEqual(refused.status_code, 409)
        self.assertEqual(refused.json()["code"], "PastLimit")
        # Alice reads what to do next, and nothing of Bob's balance or limit.
        self.assertIn("ask your broker", refused.json()["detail"])
        self.assertNotIn("10", refused.json()["detail"])
        # Alice gained, so each waits for a broker, holding Bob's hours meanwhile.
        self.assertEqual(ledger.balance(account=self.bob_account).available, -600)


class Confirming(ApiCase):
    def test_each_role_on_confirm(self):
        cases = [
            (self.alice, 403),  # the recorder
            (self.brenda, 403),  # brokers approve instead
            (self.carl, 404),
            (self.hugo, 404),
            (self.cora, 404),
            (self.dora, 404),
            (self.bob, 200),  # the other party
        ]
        for person, expected in cases:
            with self.subTest(person.display_name):
                exchange = self.record()
                response = self.client_for(person).post(f"/api/exchanges/{exchange.pk}/confirm/")
                self.assertEqual(response.status_code, expected, response.content)
                exchange.refresh_from_db()
                expected_state = State.COMPLETED if expected == 200 else State.UNCONFIRMED
                self.assertEqual(exchange.state, expected_state)
        exchange = self.record()
        anonymous = self.client_for().post(f"/api/exchanges/{exchange.pk}/confirm/")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_confirming_moves_the_hours_and_tells_both(self):
        exchange = self.record(minutes=45)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.bob).post(f"/api/exchanges/{exchange.pk}/confirm/")
        self.assertEqual(response.json()["state"], "completed")
        self.assertEqual(
            (self.posted(self.alice_account), self.posted(self.bob_account)), (45, -45)
        )
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            [user_of(self.alice).email, user_of(self.bob).email],
        )

    def test_confirm_takes_no_fields(self):
        exchange = self.record()
        response = self.client_for(self.bob).post(
            f"/api/exchanges/{exchange.pk}/confirm/", {"hours": "9"}, format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("hours", response.json())

    def test_confirming_twice_is_refused(self):
        exchange = self.record()
        client = self.client_for(self.bob)
        client.post(f"/api/exchanges/{exchange.pk}/confirm/")
        again = client.post(f"/api/exchanges/{exchange.pk}/confirm/")
        self.assertIn(again.status_code, {400, 409})
        self.assertEqual(self.posted(self.alice_account), 60)

    def test_deciding_a_decided_exchange_is_a_409_conflict(self):
        exchange = self.record()
        client = self.client_for(self.bob)
        client.post(f"/api/exchanges/{exchange.pk}/confirm/")
        self.assertEqual(client.post(f"/api/exchanges/{exchange.pk}/confirm/").status_code, 409)


class Approving(ApiCase):
    def setUp(self) -> None:
        self.set_policy(confirmation_required=False, approval_rule=ApprovalRule.ALL)

    def test_each_role_on_approve(self):
        cases = [
            (self.alice, 403),  # a member approving her own exchange
            (self.bob, 403),  # the other party
            (self.carl, 404),
            (self.hugo, 404),  # a broker of another time bank
            (self.cora, 404),
            (self.dora, 404),
            (self.brenda, 200),
        ]
        for person, expected in cases:
            with self.subTest(person.display_name):
                exchange = self.record()
                self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
                response = self.client_for(person).post(f"/api/exchanges/{exchange.pk}/approve/")
                self.assertEqual(response.status_code, expected, response.content)
        self.assertEqual(self.posted(self.alice_account), 60)
        exchange = self.record()
        anonymous = self.client_for().post(f"/api/exchanges/{exchange.pk}/approve/")
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_a_broker_cannot_approve_an_exchange_they_took_part_in(self):
        exchange = self.record(by=self.brenda, giver=self.brenda_account)
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        response = self.client_for(self.brenda).post(f"/api/exchanges/{exchange.pk}/approve/")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.posted(self.brenda_account), 0)

    def test_approving_moves_the_hours_and_tells_both(self):
        exchange = self.record(minutes=120)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.brenda).post(f"/api/exchanges/{exchange.pk}/approve/")
        self.assertEqual(response.json()["state"], "completed")
        self.assertEqual(self.posted(self.alice_account), 120)
        self.assertEqual(len(mail.outbox), 2)


class Declining(ApiCase):
    def test_each_role_on_decline(self):
        cases = [
            (self.alice, 403),  # the recorder
            (self.carl, 404),
            (self.hugo, 404),
            (self.cora, 404),
            (self.dora, 404),
            (self.bob, 200),  # the person asked to confirm
            (self.brenda, 200),
        ]
        for person, expected in cases:
            with self.subTest(person.display_name):
                exchange = self.record()
                response = self.client_for(person).post(
                    f"/api/exchanges/{exchange.pk}/decline/",
                    {"reason": "It was one hour, not two."},
                    format="json",
                )
                self.assertEqual(response.status_code, expected, response.content)
        exchange = self.record()
        anonymous = self.client_for().post(
            f"/api/exchanges/{exchange.pk}/decline/", {"reason": "x"}, format="json"
        )
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_declining_releases_the_held_hours_and_tells_both_why(self):
        exchange = self.record()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client_for(self.brenda).post(
                f"/api/exchanges/{exchange.pk}/decline/",
                {"reason": "Recorded twice."},
                format="json",
            )
        body = response.json()
        self.assertEqual((body["state"], body["decline_reason"]), ("declined", "Recorded twice."))
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 0)
        self.assertEqual(len(mail.outbox), 2)

    def test_a_decline_without_a_reason_is_a_400_naming_it(self):
        exchange = self.record()
        for body in ({}, {"reason": "   "}):
            with self.subTest(body=body):
                response = self.client_for(self.brenda).post(
                    f"/api/exchanges/{exchange.pk}/decline/", body, format="json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("reason", response.json())


class Reversing(ApiCase):
    def setUp(self) -> None:
        # Bob records the help he received: his own hours, completed at once.
        self.set_policy(confirmation_required=False)

    def test_each_role_on_reverse(self):
        cases = [
            (self.alice, 403),
            (self.bob, 403),
            (self.carl, 404),
            (self.hugo, 404),
            (self.cora, 404),
            (self.dora, 404),
            (self.brenda, 200),
        ]
        for person, expected in cases:
            with self.subTest(person.display_name):
                exchange = self.record(by=self.bob)
                self.assertEqual(exchange.state, State.COMPLETED)
                response = self.client_for(person).post(
                    f"/api/exchanges/{exchange.pk}/reverse/",
                    {"reason": "Recorded by mistake."},
                    format="json",
                )
                self.assertEqual(response.status_code, expected, response.content)
        # Seven recorded, one reversed.
        self.assertEqual(self.posted(self.alice_account), 6 * 60)
        exchange = self.record(by=self.bob)
        anonymous = self.client_for().post(
            f"/api/exchanges/{exchange.pk}/reverse/", {"reason": "x"}, format="json"
        )
        self.assertIn(anonymous.status_code, REFUSED_ANONYMOUS)

    def test_reversing_twice_moves_the_hours_back_once(self):
        exchange = self.record(by=self.bob)
        client = self.client_for(self.brenda)
        first = client.post(
            f"/api/exchanges/{exchange.pk}/reverse/", {"reason": "Mistake."}, format="json"
        )
        self.assertEqual(first.json()["state"], "reversed")
        again = client.post(
            f"/api/exchanges/{exchange.pk}/reverse/", {"reason": "Mistake."}, format="json"
        )
        self.assertIn(again.status_code, {400, 409})
        self.assertEqual((self.posted(self.alice_account), self.posted(self.bob_account)), (0, 0))
        self.assertEqual(ledger.verify_ledger(time_bank=self.riverside), [])

"""Balances and statements through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchanges import services

from .test_api_exchanges import REFUSED_ANONYMOUS, ApiCase


class Balances(ApiCase):
    def test_a_member_sees_their_accounts_with_pending_hours_apart(self):
        self.set_policy(confirmation_required=False)
        # Bob pays: his own record of it completes without anyone's confirmation.
        self.record(by=self.bob, minutes=150)
        self.set_policy(confirmation_required=True)
        self.record(by=self.bob, giver=self.bob_account, receiver=self.alice_account, minutes=60)
        rows = self.client_for(self.alice).get("/api/balances/").json()
        mine = {row["holder"]: row for row in rows}
        # Alice's own account and the surgery's, which she represents.
        self.assertEqual(set(mine), {"Alice Archer", "Riverside GP Surgery"})
        alice = mine["Alice Archer"]
        self.assertEqual(
            (
                alice["account"],
                alice["time_bank"],
                alice["posted_minutes"],
                alice["pending_out_minutes"],
                alice["available_minutes"],
                alice["hours"],
                alice["available_hours"],
            ),
            (self.alice_account.pk, "riverside", 150, 60, 90, "2.5 hours", "1.5 hours"),
        )

    def test_people_without_accounts_see_none(self):
        self.assertEqual(self.client_for(self.cora).get("/api/balances/").json(), [])
        self.assertIn(self.client_for().get("/api/balances/").status_code, REFUSED_ANONYMOUS)


class Statements(ApiCase):
    def setUp(self) -> None:
        self.set_policy(confirmation_required=False)
        self.today = timezone.localdate()

    def statement(self, person, account, **dates):
        params = {"account": account.pk, **{k: v.isoformat() for k, v in dates.items()}}
        return self.client_for(person).get("/api/statement/", params)

    def test_a_statement_has_opening_and_closing_balances_and_running_lines(self):
        first = self.record(by=self.bob, minutes=120)
        self.record(by=self.alice, giver=self.bob_account, receiver=self.alice_account, minutes=45)
        # Pending: not on a statement until posted.
        self.set_policy(confirmation_required=True)
        self.record(minutes=15)
        body = self.statement(self.alice, self.alice_account, **{"from": self.today}).json()
        self.assertEqual((body["opening_minutes"], body["closing_minutes"]), (0, 75))
        self.assertEqual(
            [(line["minutes"], line["balance_minutes"]) for line in body["lines"]],
            [(120, 120), (-45, 75)],
        )
        self.assertEqual(body["lines"][0]["exchange"], first.pk)
        self.assertEqual(body["closing_hours"], "1.25 hours")

        later = self.statement(
            self.alice,
            self.alice_account,
            **{"from": self.today + timedelta(days=1)},
            to=self.today + timedelta(days=2),
        ).json()
        self.assertEqual(
            (later["opening_minutes"], later["closing_minutes"], later["lines"]), (75, 75, [])
        )
        earlier = self.statement(
            self.alice,
            self.alice_account,
            **{"from": self.today - timedelta(days=7)},
            to=self.today - timedelta(days=1),
        ).json()
        self.assertEqual(
            (earlier["opening_minutes"], earlier["closing_minutes"], earlier["lines"]), (0, 0, [])
        )

    def test_a_reversal_shows_as_its_own_line(self):
        exchange = self.record(by=self.bob, minutes=60)
        services.reverse_exchange(exchange=exchange, broker=self.brenda, reason="Mistake")
        body = self.statement(self.bob, self.bob_account, **{"from": self.today}).json()
        self.assertEqual(
            [
                (line["minutes"], line["balance_minutes"], line["exchange"])
                for line in body["lines"]
            ],
            [(-60, -60, exchange.pk), (60, 0, exchange.pk)],
        )

    def test_who_may_read_a_statement(self):
        cases = [
            (self.alice, self.alice_account, 200),
            (self.alice, self.gp_account, 200),  # she represents the surgery
            (self.brenda, self.alice_account, 200),  # the bank's broker
            (self.brenda, self.pot, 200),
            (self.bob, self.alice_account, 404),
            (self.hugo, self.alice_account, 404),
            (self.cora, self.alice_account, 404),
            (self.dora, self.alice_account, 404),
        ]
        for person, account, expected in cases:
            with self.subTest(f"{person.display_name} on {account.holder_name}"):
                self.assertEqual(self.statement(person, account).status_code, expected)
        self.assertIn(self.statement_anonymous().status_code, REFUSED_ANONYMOUS)

    def statement_anonymous(self):
        return self.client_for().get("/api/statement/", {"account": self.alice_account.pk})

    def test_bad_queries_are_a_400_naming_the_field(self):
        client = self.client_for(self.alice)
        cases: list[tuple[dict[str, Any], str]] = [
            ({}, "account"),
            ({"account": "x"}, "account"),
            ({"account": self.alice_account.pk, "from": "yesterday"}, "from"),
            ({"account": self.alice_account.pk, "from": "2025-02-01", "to": "2025-01-01"}, "from"),
            ({"account": self.alice_account.pk, "page": 2}, "page"),
        ]
        for params, field in cases:
            with self.subTest(params=params):
                response = client.get("/api/statement/", params)
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json())
        self.assertEqual(client.get("/api/statement/", {"account": 999999}).status_code, 404)

    def test_the_statement_makes_the_same_number_of_queries_for_one_line_or_many(self):
        self.record(by=self.bob)
        with CaptureQueriesContext(connection) as one:
            self.assertEqual(len(self.statement(self.alice, self.alice_account).json()["lines"]), 1)
        for _ in range(4):
            self.record(by=self.alice, giver=self.bob_account, receiver=self.alice_account)
        with CaptureQueriesContext(connection) as five:
            self.assertEqual(len(self.statement(self.alice, self.alice_account).json()["lines"]), 5)
        self.assertEqual(len(one.captured_queries), len(five.captured_queries))

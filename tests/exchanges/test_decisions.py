"""Deciding an exchange, as a careful client retries it: confirm, approve, decline and reverse
take an Idempotency-Key, a retry with the key answers what the first decision did, and an
exchange already decided is a 409 that says what it is now, whoever asks, before any check
that depends on its state."""

from __future__ import annotations

import threading
from typing import Any
from unittest import skipUnless

from django.db import close_old_connections, connection
from django.test import TransactionTestCase

from exchanges import services
from exchanges.exceptions import AlreadyDecided
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Journal
from members.models import ApprovalRule, Person
from tests.base import Cast
from tests.support import ApiResponse

from .test_api_exchanges import ApiCase

REASON = {"reason": "It was one hour, not two."}


class DecisionCase(ApiCase):
    def decide(
        self,
        person: Person,
        exchange: Exchange,
        action: str,
        *,
        key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> ApiResponse:
        headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        return self.client_for(person).post(
            f"/api/exchanges/{exchange.pk}/{action}/", body or {}, format="json", **headers
        )


class RetriedDecisionsAnswerWhatTheFirstDid(DecisionCase):
    def test_a_retried_confirm_answers_what_the_first_did_and_moves_the_hours_once(self):
        exchange = self.record(minutes=90)
        first = self.decide(self.bob, exchange, "confirm", key="c-1")
        again = self.decide(self.bob, exchange, "confirm", key="c-1")
        self.assertEqual((first.status_code, again.status_code), (200, 200), again.content)
        self.assertEqual(first.json(), again.json())
        self.assertEqual(again.json()["state"], "completed")
        self.assertEqual(self.posted(self.alice_account), 90)
        self.assertEqual(exchange.decisions.count(), 1)

    def test_a_retried_approve_answers_what_the_first_did(self):
        self.set_policy(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        exchange = self.record(minutes=60)
        first = self.decide(self.brenda, exchange, "approve", key="a-1")
        again = self.decide(self.brenda, exchange, "approve", key="a-1")
        self.assertEqual((first.status_code, again.status_code), (200, 200), again.content)
        self.assertEqual(again.json()["state"], "completed")
        self.assertEqual(self.posted(self.alice_account), 60)

    def test_a_retried_decline_by_the_person_asked_answers_200_not_403(self):
        # The other party's decline was applied but its answer lost: the retry, now that the
        # exchange is declined, used to fail the permission check (it needs "unconfirmed").
        exchange = self.record()
        first = self.decide(self.bob, exchange, "decline", key="d-1", body=REASON)
        again = self.decide(self.bob, exchange, "decline", key="d-1", body=REASON)
        self.assertEqual((first.status_code, again.status_code), (200, 200), again.content)
        self.assertEqual(again.json()["state"], "declined")
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 0)

    def test_a_retried_reverse_answers_what_the_first_did_and_reverses_once(self):
        self.set_policy(confirmation_required=False)
        exchange = self.record(by=self.bob, minutes=60)  # the payer records: done at once
        body = {"reason": "Recorded twice."}
        first = self.decide(self.brenda, exchange, "reverse", key="r-1", body=body)
        again = self.decide(self.brenda, exchange, "reverse", key="r-1", body=body)
        self.assertEqual((first.status_code, again.status_code), (200, 200), again.content)
        self.assertEqual(again.json()["state"], "reversed")
        self.assertEqual(self.posted(self.alice_account), 0)
        self.assertEqual(Journal.objects.filter(reverses=exchange.journal).count(), 1)

    def test_a_retry_after_the_exchange_moved_on_still_answers_its_own_decision(self):
        self.set_policy(approval_rule=ApprovalRule.ALL)
        exchange = self.record()
        self.assertEqual(self.decide(self.bob, exchange, "confirm", key="c-2").status_code, 200)
        self.assertEqual(self.decide(self.brenda, exchange, "approve").status_code, 200)
        again = self.decide(self.bob, exchange, "confirm", key="c-2")
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again.json()["state"], "completed")

    def test_the_same_key_for_another_decision_is_a_409_and_changes_nothing(self):
        first, second = self.record(), self.record(minutes=30)
        self.assertEqual(self.decide(self.bob, first, "confirm", key="k").status_code, 200)
        reused = self.decide(self.bob, second, "confirm", key="k")
        self.assertEqual(reused.status_code, 409, reused.content)
        self.assertEqual(reused.json()["code"], "DecisionKeyReused")
        second.refresh_from_db()
        self.assertEqual(second.state, State.UNCONFIRMED)
        # Another reason with the same key is another decision too.
        third = self.record(minutes=45)
        self.decide(self.bob, third, "decline", key="d", body=REASON)
        other = self.decide(self.bob, third, "decline", key="d", body={"reason": "Not me."})
        self.assertEqual(other.status_code, 409)

    def test_two_callers_choosing_the_same_key_do_not_meet(self):
        self.set_policy(approval_rule=ApprovalRule.ALL)
        exchange = self.record()
        self.assertEqual(self.decide(self.bob, exchange, "confirm", key="same").status_code, 200)
        approved = self.decide(self.brenda, exchange, "approve", key="same")
        self.assertEqual(approved.status_code, 200, approved.content)

    def test_a_decision_key_the_api_cannot_keep_is_a_400_naming_the_header(self):
        exchange = self.record()
        for key in ("k" * 65, "with space", "tab\tkey"):
            with self.subTest(key=key):
                response = self.decide(self.bob, exchange, "confirm", key=key)
                self.assertEqual(response.status_code, 400)
                self.assertIn("Idempotency-Key", response.json())
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, State.UNCONFIRMED)


class AlreadyDecidedIsA409WhoeverAsks(DecisionCase):
    def assert_already(self, response: ApiResponse, state: str) -> None:
        self.assertEqual(response.status_code, 409, response.content)
        self.assertEqual(response.json()["code"], "AlreadyDecided")
        self.assertEqual(response.json()["state"], state)

    def test_deciding_a_completed_exchange_is_a_409_with_its_state_for_anyone_who_sees_it(self):
        self.set_policy(confirmation_required=False)
        exchange = self.record(by=self.bob)  # the payer records: done at once
        # The recorder, the other party and the broker all see it: all are told it is done,
        # before any check of who may approve or decline (which would say 403).
        for person in (self.alice, self.bob, self.brenda):
            for action, body in (("approve", None), ("decline", REASON), ("confirm", None)):
                with self.subTest(person=person.display_name, action=action):
                    self.assert_already(
                        self.decide(person, exchange, action, body=body), "completed"
                    )
        # Not theirs to see: still 404.
        self.assertEqual(self.decide(self.carl, exchange, "approve").status_code, 404)

    def test_declining_after_confirming_is_a_409_not_a_403(self):
        self.set_policy(approval_rule=ApprovalRule.ALL)
        exchange = self.record()
        self.assertEqual(self.decide(self.bob, exchange, "confirm").status_code, 200)
        self.assert_already(
            self.decide(self.bob, exchange, "decline", body=REASON), "awaiting_approval"
        )
        # The broker may still decline it: it waits for them.
        self.assertEqual(
            self.decide(self.brenda, exchange, "decline", body=REASON).status_code, 200
        )

    def test_reversing_a_declined_exchange_is_a_409_for_a_member_as_for_a_broker(self):
        exchange = self.record()
        self.decide(self.bob, exchange, "decline", body=REASON)
        for person in (self.alice, self.brenda):
            with self.subTest(person=person.display_name):
                self.assert_already(
                    self.decide(person, exchange, "reverse", body={"reason": "x"}), "declined"
                )

    def test_the_service_says_what_the_exchange_is_now(self):
        exchange = self.record()
        services.confirm_exchange(exchange=exchange, person=self.bob)
        with self.assertRaises(AlreadyDecided) as raised:
            services.approve_exchange(exchange=exchange, broker=self.alice)
        self.assertEqual(raised.exception.exchange_state, State.COMPLETED)


@skipUnless(connection.vendor == "postgresql", "needs real parallel connections: PostgreSQL only")
class SameDecisionAtOnce(Cast, TransactionTestCase):
    """Two copies of one request (a client that timed out and retried at once) race on two
    connections: the decision is made once and both answer it."""

    def setUp(self) -> None:
        self.build_cast()
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def test_two_identical_confirms_at_once_confirm_once_and_both_answer_it(self):
        from django.utils import timezone

        exchange = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=services.Details(effective_date=timezone.localdate(), description="Lift"),
        )
        barrier = threading.Barrier(2)
        answers: list[object] = []

        def confirm() -> None:
            try:
                barrier.wait()
                answers.append(
                    services.confirm_exchange(
                        exchange=Exchange(pk=exchange.pk), person=self.bob, idempotency_key="same"
                    ).state
                )
            except Exception as error:  # noqa: BLE001 - the test reports it
                answers.append(error)
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=confirm) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(answers, [State.COMPLETED, State.COMPLETED])
        self.assertEqual(Exchange.objects.get(pk=exchange.pk).decisions.count(), 1)
        self.assertEqual(ledger.balance(account=self.alice_account).posted, 60)

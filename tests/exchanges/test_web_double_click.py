"""A double click on the site's decide buttons: the first click decides, the second finds it
decided and says so on the exchange's page (never a 500, whichever button)."""

from __future__ import annotations

from django.urls import reverse

from exchanges.models import Exchange, State
from members.models import ApprovalRule, Person
from tests.support import PageResponse, user_of

from .test_api_exchanges import ApiCase


class DoubleClicks(ApiCase):
    def click(self, person: Person, exchange: Exchange, action: str, **data: str) -> PageResponse:
        self.client.force_login(person.user)
        return self.client.post(reverse(f"{action}-exchange", args=[exchange.pk]), data)

    def assert_told_it_is_decided(self, response: PageResponse) -> None:
        self.assertEqual(response.status_code, 302)
        page = self.client.get(response["Location"])
        self.assertContains(page, "This exchange has already been decided")

    def test_a_double_click_on_confirm_says_it_is_already_confirmed(self):
        exchange = self.record()
        self.assertEqual(self.click(self.bob, exchange, "confirm").status_code, 302)
        self.assert_told_it_is_decided(self.click(self.bob, exchange, "confirm"))
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertEqual(self.posted(self.alice_account), 60)

    def test_a_double_click_on_approve_says_it_is_already_approved(self):
        self.set_policy(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        exchange = self.record()
        self.assertEqual(self.click(self.brenda, exchange, "approve").status_code, 302)
        self.assert_told_it_is_decided(self.click(self.brenda, exchange, "approve"))
        self.assertEqual(self.posted(self.alice_account), 60)

    def test_a_double_click_on_decline_or_reverse_says_it_is_already_decided(self):
        exchange = self.record()
        self.assertEqual(self.click(self.bob, exchange, "decline", reason="No").status_code, 302)
        self.assert_told_it_is_decided(self.click(self.bob, exchange, "decline", reason="No"))
        self.set_policy(confirmation_required=False)
        done = self.record(by=self.bob)  # the payer records: done at once
        self.assertEqual(self.click(self.brenda, done, "reverse", reason="Wrong").status_code, 302)
        self.assert_told_it_is_decided(self.click(self.brenda, done, "reverse", reason="Wrong"))

    def test_the_desks_in_place_approve_answers_400_on_a_second_click(self):
        self.set_policy(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        exchange = self.record()
        self.client.force_login(user_of(self.brenda))
        url = reverse("approve-exchange", args=[exchange.pk])
        first = self.client.post(url, HTTP_X_REQUESTED_WITH="in-place")
        second = self.client.post(url, HTTP_X_REQUESTED_WITH="in-place")
        self.assertEqual((first.status_code, second.status_code), (200, 400))

"""Every role on every exchange action through the web pages: each refused with the right status."""

from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from exchanges import services
from exchanges.models import State
from ledger import services as ledger
from members.models import Person
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

# Expected status per role; 302 after a POST means the action was done (or, for anonymous,
# the redirect to sign in). alice recorded the exchange and gave the help; bob received it.
EXPECTED = {
    "view": {
        "anonymous": 302,
        "alice": 200,
        "bob": 200,
        "carl": 404,
        "brenda": 200,
        "hugo": 404,
        "cora": 404,
        "dora": 404,
    },
    "confirm": {
        "anonymous": 302,
        "alice": 403,
        "bob": 302,
        "carl": 404,
        "brenda": 403,
        "hugo": 404,
        "cora": 404,
        "dora": 404,
    },
    "approve": {
        "anonymous": 302,
        "alice": 403,
        "bob": 403,
        "carl": 404,
        "brenda": 302,
        "hugo": 404,
        "cora": 404,
        "dora": 404,
    },
    "decline": {
        "anonymous": 302,
        "alice": 403,
        "bob": 302,
        "carl": 404,
        "brenda": 302,
        "hugo": 404,
        "cora": 404,
        "dora": 404,
    },
    "reverse": {
        "anonymous": 302,
        "alice": 403,
        "bob": 403,
        "carl": 404,
        "brenda": 302,
        "hugo": 404,
        "cora": 404,
        "dora": 404,
    },
}
URLS = {
    "view": "exchange",
    "confirm": "confirm-exchange",
    "approve": "approve-exchange",
    "decline": "decline-exchange",
    "reverse": "reverse-exchange",
}


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class EveryRoleOnEveryExchangeAction(CastTestCase):
    carl: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # carl: a member of Riverside who took no part in the exchange.
        cls.carl = make_member(cls.riverside, "Carl Bystander")

    def make_exchange(self, *, completed: bool):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        exchange = services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=bob,
            minutes=60,
            details=services.Details(
                effective_date=timezone.localdate() - timedelta(days=1), description="Lift"
            ),
        )
        if completed:
            exchange = services.approve_exchange(exchange=exchange, broker=self.brenda)
        return exchange

    def test_each_role_gets_the_expected_answer_for_each_action(self):
        for action, by_role in EXPECTED.items():
            for role, expected in by_role.items():
                # Each cell in its own savepoint, rolled back, so cells do not add up.
                with self.subTest(action=action, role=role), rolled_back():
                    exchange = self.make_exchange(completed=action == "reverse")
                    before = exchange.state
                    self.client.logout()
                    if role != "anonymous":
                        self.client.force_login(getattr(self, role).user)
                    url = reverse(URLS[action], args=[exchange.pk])
                    if action == "view":
                        response = self.client.get(url)
                    else:
                        response = self.client.post(url, {"reason": "Checked with both"})
                    self.assertEqual(response.status_code, expected)
                    exchange.refresh_from_db()
                    done = action != "view" and role != "anonymous" and expected == 302
                    self.assertEqual(
                        exchange.state != before, done, f"{role} {action}: state {exchange.state}"
                    )

    def test_commissioners_and_applicants_cannot_open_exchange_pages(self):
        for person in (self.cora, self.dora, self.hugo):
            self.client.force_login(user_of(person))
            for name in ("dashboard", "record-exchange", "statement"):
                with self.subTest(person=person.display_name, page=name):
                    self.assertEqual(
                        self.client.get(reverse(name, args=["riverside"])).status_code, 403
                    )

    def test_only_brokers_reach_the_desk_and_grants(self):
        for person, expected in (
            (self.alice, 403),
            (self.cora, 403),
            (self.hugo, 403),
            (self.brenda, 200),
        ):
            self.client.force_login(user_of(person))
            for name in ("desk", "grant"):
                with self.subTest(person=person.display_name, page=name):
                    self.assertEqual(
                        self.client.get(reverse(name, args=["riverside"])).status_code, expected
                    )

    def test_the_state_after_the_other_party_declines_is_declined(self):
        exchange = self.make_exchange(completed=False)
        self.client.force_login(user_of(self.bob))
        self.client.post(
            reverse("decline-exchange", args=[exchange.pk]), {"reason": "Never happened"}
        )
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, State.DECLINED)

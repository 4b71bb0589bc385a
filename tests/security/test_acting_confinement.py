"""Acting for a member reaches the bank acted in, and nothing else: by slug, by id, through the
API's lists, statement and writes. Confinement is applied inside the querysets and access
functions every view uses (``members.access.scope_for``), so a new view gets it for free."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from exchanges import services as exchanges
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from listings.models import Capability, Category, Listing
from members.models import ContactPreference, Membership, Person, Role, Status
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of


class HettyInTwoBanks(CastTestCase):
    """hetty belongs to Riverside and Hillside; brenda, Riverside's broker, acts for her."""

    hetty: Person
    hal: Person
    hetty_riverside: Account
    hetty_hillside: Account
    hal_account: Account
    completed: Exchange
    unconfirmed: Exchange
    capability: Capability

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # hetty: a member of both banks, with a login, who asked for help through her broker.
        cls.hetty = make_member(
            cls.riverside, "Hetty Both", contact_preference=ContactPreference.BROKER
        )
        Membership.objects.create(
            person=cls.hetty,
            time_bank=cls.hillside,
            role=Role.MEMBER,
            status=Status.APPROVED,
            decided_at=timezone.now() - timedelta(days=365),
        )
        # hal: a member of Hillside only.
        cls.hal = make_member(cls.hillside, "Hal Hillside")
        cls.hetty_riverside = ledger.open_account(time_bank=cls.riverside, person=cls.hetty)
        cls.hetty_hillside = ledger.open_account(time_bank=cls.hillside, person=cls.hetty)
        cls.hal_account = ledger.open_account(time_bank=cls.hillside, person=cls.hal)
        yesterday = timezone.localdate() - timedelta(days=1)
        cls.completed = exchanges.record_exchange(
            recorded_by=cls.hugo,
            giver=cls.hal_account,
            receiver=cls.hetty_hillside,
            minutes=60,
            details=exchanges.Details(effective_date=yesterday, description="Hillside lift"),
        )
        cls.unconfirmed = exchanges.record_exchange(
            recorded_by=cls.hal,
            giver=cls.hal_account,
            receiver=cls.hetty_hillside,
            minutes=30,
            details=exchanges.Details(effective_date=yesterday, description="Hillside shopping"),
        )
        gardening = Category.objects.get(slug="gardening")
        cls.capability = Capability.objects.create(
            person=cls.hetty, time_bank=cls.hillside, category=gardening, description="Roses"
        )


class ActingStaysInItsBank(HettyInTwoBanks):
    def setUp(self) -> None:
        self.client.force_login(user_of(self.brenda))
        started = self.client.post(reverse("acting-start", args=["riverside", self.hetty.pk]))
        self.assertEqual(started.status_code, 302)

    def test_the_fixtures_are_what_the_tests_say(self):
        self.assertEqual(self.completed.state, State.COMPLETED)
        self.assertEqual(self.unconfirmed.awaiting_confirmation_from, self.hetty)

    def test_another_banks_exchange_by_id_is_not_found(self):
        self.assertEqual(
            self.client.get(reverse("exchange", args=[self.completed.pk])).status_code, 404
        )
        self.assertEqual(self.client.get(f"/api/exchanges/{self.completed.pk}/").status_code, 404)

    def test_the_api_list_holds_only_the_acting_banks_exchanges(self):
        response = self.client.get("/api/exchanges/")
        self.assertEqual(response.status_code, 200)
        banks = {row["time_bank"] for row in response.json()["results"]}
        self.assertNotIn("hillside", banks)
        response = self.client.get("/api/exchanges/", {"time_bank": "hillside"})
        self.assertEqual(response.json()["results"], [])

    def test_the_api_statement_of_another_banks_account_is_not_found(self):
        response = self.client.get("/api/statement/", {"account": self.hetty_hillside.pk})
        self.assertEqual(response.status_code, 404)

    def test_the_api_balances_hold_only_the_acting_banks_accounts(self):
        response = self.client.get("/api/balances/")
        self.assertEqual([row["time_bank"] for row in response.json()], ["riverside"])

    def test_confirming_another_banks_exchange_is_refused_and_moves_nothing(self):
        response = self.client.post(
            f"/api/exchanges/{self.unconfirmed.pk}/confirm/", {}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 404)
        web = self.client.post(reverse("confirm-exchange", args=[self.unconfirmed.pk]))
        self.assertEqual(web.status_code, 404)
        self.assertEqual(Exchange.objects.get(pk=self.unconfirmed.pk).state, State.UNCONFIRMED)
        self.assertEqual(ledger.balance(account=self.hetty_hillside).posted, -60)

    def test_publishing_a_listing_in_another_bank_is_refused(self):
        response = self.client.post(
            "/api/listings/",
            {"time_bank": "hillside", "kind": "offer", "category": "gardening", "title": "Roses"},
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 403, response.content)
        self.assertFalse(Listing.objects.filter(time_bank=self.hillside).exists())
        # In the bank acted in, it works.
        response = self.client.post(
            "/api/listings/",
            {"time_bank": "riverside", "kind": "offer", "category": "gardening", "title": "Roses"},
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 201, response.content)

    def test_another_banks_capability_by_id_is_not_found(self):
        response = self.client.post(reverse("capability-delete", args=[self.capability.pk]))
        self.assertEqual(response.status_code, 404)
        self.assertTrue(Capability.objects.filter(pk=self.capability.pk).exists())

    def test_recording_through_the_api_in_another_bank_is_refused(self):
        response = self.client.post(
            "/api/exchanges/",
            {
                "time_bank": "hillside",
                "role": "gave",
                "other_account": self.hal_account.pk,
                "hours": "1",
                "description": "Gardening",
            },
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 403)


class ServicesRefuseAnotherBankWhileActing(HettyInTwoBanks):
    """Below the interfaces, too: while a broker acts for a member in one bank, the services
    refuse to move hours in another, whoever calls them."""

    def test_recording_or_confirming_in_another_bank_while_acting_is_refused(self):
        from django.core.exceptions import PermissionDenied

        from audit import services as audit

        with audit.acting_for(broker=self.brenda, member=self.hetty, time_bank=self.riverside):
            with self.assertRaises(PermissionDenied):
                exchanges.record_exchange(
                    recorded_by=self.hetty,
                    giver=self.hetty_hillside,
                    receiver=self.hal_account,
                    minutes=60,
                    details=exchanges.Details(
                        effective_date=timezone.localdate(), description="Gardening"
                    ),
                )
            with self.assertRaises(PermissionDenied):
                exchanges.confirm_exchange(exchange=self.unconfirmed, person=self.hetty)
        # As herself, hetty confirms her own Hillside exchange.
        exchanges.confirm_exchange(exchange=self.unconfirmed, person=self.hetty)
        self.assertEqual(Exchange.objects.get(pk=self.unconfirmed.pk).state, State.COMPLETED)

"""Nobody moves hours alone: the one rule (``exchanges.rules``) on every path that moves hours.

Nobody completes, approves or grants a movement of hours in which they are a party or from
which they gain, by their own hand. A broker or representative who takes part is treated as a
member: the other party confirms, or a *different* broker approves.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from exchanges import services
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from members.models import ApprovalRule, ContactPreference, Person, Role, TimeBank
from tests.base import CastTestCase
from tests.factories import enrol_in_mfa, make_bank, make_member, make_person
from tests.support import user_of


def details(description: str = "Gardening") -> services.Details:
    return services.Details(
        effective_date=timezone.localdate() - timedelta(days=1), description=description
    )


class SeparationOfDuties(CastTestCase):
    bella: Person
    alice_account: Account
    bob_account: Account
    brenda_account: Account
    olive_account: Account
    gp_account: Account
    pot: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # bella: a second broker of Riverside, who decides what brenda may not.
        cls.bella = make_member(cls.riverside, "Bella Broker", role=Role.BROKER)
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.brenda_account = ledger.open_account(time_bank=cls.riverside, person=cls.brenda)
        cls.olive_account = ledger.open_account(time_bank=cls.riverside, person=cls.olive)
        cls.gp_account = ledger.open_account(time_bank=cls.riverside, organisation=cls.gp)
        cls.pot = ledger.community_pot(time_bank=cls.riverside)

    def posted(self, account) -> int:
        return ledger.balance(account=account).posted

    def set_policy(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.riverside, name, value)
        self.riverside.save()

    # --- A broker who takes part is a member ------------------------------------------------

    def test_a_broker_who_records_help_she_gave_waits_for_the_members_confirmation(self):
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.brenda_account,
            receiver=self.bob_account,
            minutes=600,
            details=details(),
        )
        self.assertEqual(
            (exchange.state, exchange.awaiting_confirmation_from), (State.UNCONFIRMED, self.bob)
        )
        self.assertEqual((self.posted(self.bob_account), self.posted(self.brenda_account)), (0, 0))
        with self.assertRaises(PermissionDenied):
            services.confirm_exchange(exchange=exchange, person=self.brenda)
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)
        services.confirm_exchange(exchange=exchange, person=self.bob)
        self.assertEqual(self.posted(self.bob_account), -600)

    def test_a_broker_who_gave_help_to_an_offline_member_waits_for_another_broker(self):
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.brenda_account,
            receiver=self.olive_account,
            minutes=120,
            details=details(),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)
        services.approve_exchange(exchange=exchange, broker=self.bella)
        self.assertEqual(self.posted(self.brenda_account), 120)

    def test_a_broker_who_received_help_is_asked_to_be_confirmed_like_any_member(self):
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=self.brenda_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual(
            (exchange.state, exchange.awaiting_confirmation_from), (State.UNCONFIRMED, self.alice)
        )

    def test_a_broker_cannot_grant_pot_hours_to_herself(self):
        with self.assertRaises(PermissionDenied):
            services.grant_from_pot(
                broker=self.brenda,
                time_bank=self.riverside,
                to_account=self.brenda_account,
                minutes=600,
                reason="Thank you for your work",
            )
        self.assertEqual(self.posted(self.brenda_account), 0)
        # Another broker may.
        services.grant_from_pot(
            broker=self.bella,
            time_bank=self.riverside,
            to_account=self.brenda_account,
            minutes=600,
            reason="Thank you for your work",
        )
        self.assertEqual(self.posted(self.brenda_account), 600)

    def test_a_broker_cannot_grant_pot_hours_to_an_organisation_she_represents(self):
        self.gp.representatives.add(self.brenda)
        with self.assertRaises(PermissionDenied):
            services.grant_from_pot(
                broker=self.brenda,
                time_bank=self.riverside,
                to_account=self.gp_account,
                minutes=60,
                reason="Surgery volunteers",
            )

    def test_a_broker_cannot_donate_a_members_hours_to_herself(self):
        services.record_exchange(
            recorded_by=self.bella,
            giver=self.bob_account,
            receiver=self.alice_account,
            minutes=300,
            details=details(),
        )
        with self.assertRaises(PermissionDenied):
            services.donate_hours(
                recorded_by=self.brenda,
                donor=self.bob_account,
                to_account=self.brenda_account,
                minutes=300,
            )
        self.assertEqual(
            (self.posted(self.bob_account), self.posted(self.brenda_account)), (300, 0)
        )

    def test_a_representative_cannot_give_her_organisations_hours_to_herself(self):
        with self.assertRaises(PermissionDenied):
            services.donate_hours(
                recorded_by=self.alice,
                donor=self.gp_account,
                to_account=self.alice_account,
                minutes=60,
            )

    def test_a_broker_who_took_part_cannot_reverse_the_exchange(self):
        exchange = services.record_exchange(
            recorded_by=self.bella,
            giver=self.alice_account,
            receiver=self.brenda_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual(exchange.state, State.COMPLETED)
        with self.assertRaises(PermissionDenied):
            services.reverse_exchange(exchange=exchange, broker=self.brenda, reason="Wrong")
        services.reverse_exchange(exchange=exchange, broker=self.bella, reason="Wrong")
        self.assertEqual(self.posted(self.brenda_account), 0)

    # --- Group exchanges ------------------------------------------------------------------

    def test_a_representative_cannot_pay_herself_through_a_group_exchange(self):
        exchange = services.record_group_exchange(
            recorded_by=self.alice,
            time_bank=self.riverside,
            providers=[(self.alice_account, 24 * 60)],
            receivers=[(self.gp_account, 15), (self.bob_account, 600)],
            details=details("Community lunch"),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        balances = [self.posted(a) for a in (self.alice_account, self.bob_account, self.pot)]
        self.assertEqual(balances, [0, 0, 0])
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.alice)
        services.approve_exchange(exchange=exchange, broker=self.brenda)
        self.assertEqual(self.posted(self.alice_account), 24 * 60)

    def test_a_representatives_group_exchange_paid_by_her_organisation_completes(self):
        exchange = services.record_group_exchange(
            recorded_by=self.alice,
            time_bank=self.riverside,
            providers=[(self.bob_account, 120), (self.olive_account, 120)],
            receivers=[(self.gp_account, 240)],
            details=details("Volunteers at the surgery's lunch"),
        )
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertEqual(self.posted(self.gp_account), -240)

    def test_a_representatives_group_exchange_taking_from_the_pot_waits_for_a_broker(self):
        exchange = services.record_group_exchange(
            recorded_by=self.alice,
            time_bank=self.riverside,
            providers=[(self.bob_account, 120)],
            receivers=[(self.gp_account, 60)],
            details=details("Volunteers"),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        self.assertEqual(self.posted(self.pot), 0)

    # --- Approving ------------------------------------------------------------------------

    def test_under_approve_all_the_broker_who_recorded_an_exchange_cannot_approve_it(self):
        self.set_policy(approval_rule=ApprovalRule.ALL)
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)
        self.assertEqual(Exchange.objects.get(pk=exchange.pk).state, State.AWAITING_APPROVAL)
        services.approve_exchange(exchange=exchange, broker=self.bella)
        self.assertEqual(self.posted(self.alice_account), 60)

    def test_with_confirmation_off_a_member_who_gained_waits_for_a_broker(self):
        self.set_policy(confirmation_required=False)
        gave = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual(gave.state, State.AWAITING_APPROVAL)
        self.assertEqual(self.posted(self.alice_account), 0)
        # The member who pays may record it as done: her hours, her say.
        received = services.record_exchange(
            recorded_by=self.bob,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual(received.state, State.COMPLETED)

    # --- The same rule through every interface -----------------------------------------------

    def test_the_api_applies_the_rule_to_a_broker_recording_her_own_help(self):
        client = APIClient()
        client.force_authenticate(self.brenda.user)
        response = client.post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "giver_account": self.brenda_account.pk,
                "receiver_account": self.bob_account.pk,
                "hours": "10",
                "description": "Decorating",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["state"], State.UNCONFIRMED)
        grant = client.post(
            "/api/grants/",
            {
                "time_bank": "riverside",
                "to_account": self.brenda_account.pk,
                "hours": "5",
                "reason": "For me",
            },
            format="json",
        )
        self.assertEqual(grant.status_code, 403)
        self.assertEqual(self.posted(self.brenda_account), 0)

    def test_the_web_form_applies_the_rule_to_a_broker_recording_her_own_help(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("record-exchange", args=["riverside"])
        key = self.client.get(url).context["form"].initial["idempotency_key"]
        self.client.post(
            url,
            {
                "giver": self.brenda_account.pk,
                "receiver": self.bob_account.pk,
                "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                "minutes": "10",
                "description": "Decorating",
                "coproduction": "co-delivery",
                "idempotency_key": key,
            },
        )
        exchange = Exchange.objects.get(description="Decorating")
        self.assertEqual(exchange.state, State.UNCONFIRMED)
        self.assertEqual(self.posted(self.brenda_account), 0)

    def test_a_broker_acting_for_a_member_cannot_confirm_what_she_gains_from(self):
        # mabel: a member with a login who asked for help through her broker.
        mabel = make_member(
            self.riverside, "Mabel Through-Broker", contact_preference=ContactPreference.BROKER
        )
        mabel_account = ledger.open_account(time_bank=self.riverside, person=mabel)
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.brenda_account,
            receiver=mabel_account,
            minutes=180,
            details=details(),
        )
        self.assertEqual(exchange.awaiting_confirmation_from, mabel)
        self.client.force_login(user_of(self.brenda))
        self.client.post(reverse("acting-start", args=["riverside", mabel.pk]))
        response = self.client.post(reverse("confirm-exchange", args=[exchange.pk]))
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Exchange.objects.get(pk=exchange.pk).state, State.UNCONFIRMED)
        self.assertEqual(self.posted(self.brenda_account), 0)

    def test_a_broker_acting_for_a_member_cannot_approve_what_she_recorded_as_the_member(self):
        mabel = make_member(
            self.riverside, "Mabel Through-Broker", contact_preference=ContactPreference.BROKER
        )
        mabel_account = ledger.open_account(time_bank=self.riverside, person=mabel)
        self.client.force_login(user_of(self.brenda))
        self.client.post(reverse("acting-start", args=["riverside", mabel.pk]))
        url = reverse("record-exchange", args=["riverside"])
        key = self.client.get(url).context["form"].initial["idempotency_key"]
        self.client.post(
            url,
            {
                "direction": "gave",
                "other": self.olive_account.pk,
                "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                "minutes": "2",
                "description": "Shopping",
                "coproduction": "co-delivery",
                "idempotency_key": key,
            },
        )
        exchange = Exchange.objects.get(description="Shopping")
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        self.client.post(reverse("acting-stop"))
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)
        services.approve_exchange(exchange=exchange, broker=self.bella)
        self.assertEqual(self.posted(mabel_account), 120)


class SingleBrokerBank(CastTestCase):
    """In a bank with one broker, what she may not approve goes to the site's administrator."""

    lakeside: TimeBank
    lena: Person
    lou: Person
    lena_account: Account
    lou_account: Account
    sam: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.lakeside = make_bank(name="Lakeside Time Bank", slug="lakeside")
        cls.lena = make_member(cls.lakeside, "Lena Lone-Broker", role=Role.BROKER)
        cls.lou = make_member(cls.lakeside, "Lou Offline", offline=True)
        cls.lena_account = ledger.open_account(time_bank=cls.lakeside, person=cls.lena)
        cls.lou_account = ledger.open_account(time_bank=cls.lakeside, person=cls.lou)
        # sam: the site's administrator (staff), with a profile and two-factor sign-in.
        cls.sam = make_person("Sam Site-Admin")
        user_of(cls.sam).is_staff = user_of(cls.sam).is_superuser = True
        user_of(cls.sam).save()
        enrol_in_mfa(user_of(cls.sam))

    def test_the_site_admin_approves_what_the_only_broker_may_not(self):
        exchange = services.record_exchange(
            recorded_by=self.lena,
            giver=self.lena_account,
            receiver=self.lou_account,
            minutes=90,
            details=details(),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        with self.assertRaises(PermissionDenied) as refused:
            services.approve_exchange(exchange=exchange, broker=self.lena)
        self.assertIn("site's administrator", str(refused.exception))
        self.client.force_login(user_of(self.sam))
        response = self.client.post(
            "/admin/exchanges/exchange/",
            {"action": "approve_exchanges", "_selected_action": [exchange.pk]},
            follow=True,
        )
        self.assertEqual(response.status_code, 200)
        approved = Exchange.objects.get(pk=exchange.pk)
        self.assertEqual((approved.state, approved.approved_by), (State.COMPLETED, self.sam))
        self.assertEqual(ledger.balance(account=self.lena_account).posted, 90)

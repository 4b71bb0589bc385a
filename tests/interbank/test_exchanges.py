"""Exchanges between members of linked banks: four entries in one transaction, the same life
as inside a bank, each bank's approval rule on its own half, limits naming whose."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from exchanges import services as exchange_services
from exchanges.exceptions import AlreadyDecided, PastLimit
from exchanges.models import Exchange, State
from interbank import services
from interbank.models import Link
from ledger import services as ledger
from ledger.exceptions import IdempotencyConflict
from ledger.models import Account, Entry, Journal
from members.models import ApprovalRule, TimeBank
from tests.base import CastTestCase

from .support import LinkedBanks, details


class CrossBankExchanges(LinkedBanks, CastTestCase):
    the_link: Link

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.the_link = cls.link(riverside_limit=120, hillside_limit=60)

    def record(
        self, *, by=None, own=None, other=None, gave=True, minutes=60, key=None, text="Bike"
    ):
        fresh = Account.objects.select_related("time_bank")
        return services.record_between_banks(
            recorded_by=by or self.alice,
            own=fresh.get(pk=(own or self.alice_account).pk),
            other=fresh.get(pk=(other or self.hal_account).pk),
            gave=gave,
            minutes=minutes,
            details=details(text),
            idempotency_key=key,
        )

    def balance(self, account: Account) -> int:
        return Account.objects.get(pk=account.pk).posted_minutes

    def test_a_member_gives_help_across_and_the_other_confirms_four_entries_move(self):
        cross = self.record()
        self.assertEqual(cross.giving.time_bank, self.riverside)
        self.assertEqual(cross.receiving.time_bank, self.hillside)
        self.assertEqual(cross.giving.state, State.UNCONFIRMED)
        self.assertEqual(cross.giving.awaiting_confirmation_from, self.hal)
        with self.assertRaises(PermissionDenied):
            services.confirm(cross=cross, person=self.alice)
        services.confirm(cross=cross, person=self.hal)
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.COMPLETED)
            self.assertTrue(half.between_banks)
        self.assertEqual(self.balance(self.alice_account), 60)
        self.assertEqual(self.balance(self.hal_account), -60)
        link = self.the_link
        self.assertEqual(self.balance(link.proposer_mirror), -60)
        self.assertEqual(self.balance(link.partner_mirror), 60)
        # Two journals, one per bank, each balanced, both keyed by the transaction id.
        journals = Journal.objects.filter(idempotency_key=f"interbank-{cross.transaction_id}")
        self.assertEqual(
            sorted(j.time_bank_id for j in journals), sorted([self.riverside.pk, self.hillside.pk])
        )
        self.assertEqual(Entry.objects.filter(journal__in=journals).count(), 4)
        self.assertEqual(cross.receiver_reference, f"hillside/{self.hal.pk}")
        self.assertEqual(ledger.verify_ledger(), [])

    def test_the_exchange_services_of_one_bank_refuse_a_half(self):
        cross = self.record()
        with self.assertRaises(PermissionDenied):
            exchange_services.confirm_exchange(exchange=cross.receiving, person=self.hal)
        with self.assertRaises(PermissionDenied):
            exchange_services.approve_exchange(exchange=cross.giving, broker=self.brenda)

    def test_a_retry_with_the_same_key_answers_the_first_and_another_request_conflicts(self):
        first = self.record(key="k-1")
        again = self.record(key="k-1")
        self.assertEqual(first.pk, again.pk)
        with self.assertRaises(IdempotencyConflict):
            self.record(key="k-1", minutes=30)
        self.assertEqual(Exchange.objects.filter(between_banks=True).count(), 2)

    def test_a_decision_retried_with_its_key_changes_nothing(self):
        cross = self.record()
        services.confirm(cross=cross, person=self.hal, idempotency_key="c-1")
        services.confirm(cross=cross, person=self.hal, idempotency_key="c-1")
        with self.assertRaises(AlreadyDecided):
            services.confirm(cross=cross, person=self.hal, idempotency_key="c-2")

    def test_the_giving_banks_trust_limit_refuses_and_says_whose(self):
        self.record(minutes=60)
        with self.assertRaises(PastLimit) as refused:
            self.record(minutes=75, other=self.hetty_account)
        self.assertIn("Riverside Time Bank past the trust limit", str(refused.exception))
        self.assertIn("Hillside Time Bank", str(refused.exception))
        # Hillside's own limit is an hour: its members may give one hour more than they got.
        with self.assertRaises(PastLimit) as refused:
            self.record(by=self.hal, own=self.hal_account, other=self.bob_account, minutes=75)
        self.assertIn("Hillside Time Bank past the trust limit", str(refused.exception))
        self.assertEqual(Exchange.objects.filter(between_banks=True).count(), 2)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_each_banks_approval_rule_applies_on_its_own_side(self):
        TimeBank.objects.filter(pk=self.hillside.pk).update(approval_rule=ApprovalRule.ALL)
        cross = self.record()
        self.assertFalse(cross.giving.needs_approval)
        self.assertTrue(cross.receiving.needs_approval)
        services.confirm(cross=cross, person=self.hal)
        cross.giving.refresh_from_db()
        self.assertEqual(cross.giving.state, State.AWAITING_APPROVAL)
        # Riverside's broker cannot approve Hillside's side, nor has a side of her own to.
        with self.assertRaises(PermissionDenied):
            services.approve(cross=cross, broker=self.brenda)
        services.approve(cross=cross, broker=self.hugo)
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.COMPLETED)
        self.assertEqual(cross.receiving.approved_by, self.hugo)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_it_waits_until_both_banks_rules_are_satisfied(self):
        TimeBank.objects.filter(pk__in=[self.riverside.pk, self.hillside.pk]).update(
            approval_rule=ApprovalRule.ALL
        )
        cross = self.record()
        services.approve(cross=cross, broker=self.brenda)
        services.confirm(cross=cross, person=self.hal)
        cross.giving.refresh_from_db()
        self.assertEqual(cross.giving.state, State.AWAITING_APPROVAL)
        self.assertEqual(self.balance(self.alice_account), 0)
        services.approve(cross=cross, broker=self.hugo)
        cross.giving.refresh_from_db()
        self.assertEqual(cross.giving.state, State.COMPLETED)
        self.assertEqual(self.balance(self.alice_account), 60)

    def test_a_member_or_broker_of_an_unlinked_bank_decides_nothing(self):
        cross = self.record()
        from members.models import Role
        from tests.factories import make_bank, make_member

        elsewhere = make_bank(name="Elsewhere", slug="elsewhere")
        eve = make_member(elsewhere, "Eve Broker", role=Role.BROKER)
        with self.assertRaises(PermissionDenied):
            services.approve(cross=cross, broker=eve)
        with self.assertRaises(PermissionDenied):
            services.decline(cross=cross, person=eve, reason="No")
        with self.assertRaises(PermissionDenied):
            services.confirm(cross=cross, person=self.hetty)

    def test_declining_voids_both_halves(self):
        cross = self.record()
        services.decline(cross=cross, person=self.hal, reason="Not me")
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.DECLINED)
        self.assertEqual(Account.objects.get(pk=self.hal_account.pk).pending_out_minutes, 0)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_reversal_reverses_all_four_entries(self):
        cross = self.record()
        services.confirm(cross=cross, person=self.hal)
        with self.assertRaises(PermissionDenied):
            services.reverse(cross=cross, broker=self.alice, reason="Wrong")
        services.reverse(cross=cross, broker=self.hugo, reason="Wrong person")
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.REVERSED)
            self.assertEqual(Entry.objects.filter(journal_id=half.reversal_id).count(), 2)
        for account in (self.alice_account, self.hal_account):
            self.assertEqual(self.balance(account), 0)
        self.assertEqual(self.balance(self.the_link.proposer_mirror), 0)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_a_member_who_received_records_it_and_the_other_confirms(self):
        cross = self.record(gave=False, other=self.hetty_account)
        self.assertEqual(cross.giving.time_bank, self.hillside)
        self.assertEqual(cross.giving.awaiting_confirmation_from, self.hetty)
        services.confirm(cross=cross, person=self.hetty)
        self.assertEqual(self.balance(self.alice_account), -60)
        self.assertEqual(self.balance(self.the_link.partner_mirror), -60)
        self.assertEqual(ledger.verify_ledger(), [])


class HoldsNobodyDecides(LinkedBanks, CastTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.link()

    def test_a_hold_nobody_decides_expires_in_both_banks_and_runs_daily(self):
        from datetime import timedelta

        from django.core.management import call_command
        from django.utils import timezone

        from timebank.celery import app

        cross = services.record_between_banks(
            recorded_by=self.alice,
            own=self.alice_account,
            other=self.hal_account,
            gave=True,
            minutes=60,
            details=details(),
        )
        self.assertEqual(services.expire_pending(), 0)
        later = timezone.localdate() + timedelta(days=100)
        call_command("expire_pending_between_banks", "--today", later.isoformat(), stdout=None)
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.DECLINED)
            self.assertEqual(Journal.objects.get(pk=half.journal_id).state, "expired")
        self.assertEqual(services.expire_pending(today=later), 0)
        self.assertEqual(ledger.verify_ledger(), [])
        tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
        self.assertIn("interbank.tasks.expire_pending", tasks)


class MirrorsAreNoParty(LinkedBanks, CastTestCase):
    the_link: Link

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.the_link = cls.link()

    def test_a_bank_exchange_with_the_mirror_itself_is_refused(self):
        from django.core.exceptions import ValidationError

        mirror = Account.objects.get(pk=self.the_link.proposer_mirror_id)
        with self.assertRaises(ValidationError):
            exchange_services.record_exchange(
                recorded_by=self.alice,
                giver=self.alice_account,
                receiver=mirror,
                minutes=60,
                details=details(),
            )
        with self.assertRaises(ValidationError):
            exchange_services.donate_hours(
                recorded_by=self.alice, donor=self.alice_account, to_account=mirror, minutes=60
            )

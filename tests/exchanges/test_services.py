"""Exchange services: the bank's policies, group exchanges, donations, grants, corrections."""

from datetime import timedelta
from typing import Any

from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from exchanges import services
from exchanges.exceptions import AlreadyDecided, PastLimit
from exchanges.models import Exchange, Kind, State
from ledger import services as ledger
from members.models import ApprovalRule, GroupRemainderRule, LimitRule
from tests.base import CastTestCase
from tests.factories import make_member


def details(description: str = "Gardening", days_ago: int = 1) -> services.Details:
    return services.Details(
        effective_date=timezone.localdate() - timedelta(days=days_ago), description=description
    )


class Policies(CastTestCase):
    def setUp(self) -> None:
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def record(self, minutes: int = 60, by=None) -> Exchange:
        return services.record_exchange(
            recorded_by=by or self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=minutes,
            details=details(),
        )

    def test_with_confirmation_off_and_no_approval_the_hours_move_at_once(self):
        self.riverside.confirmation_required = False
        self.riverside.save()
        # Bob, who pays, records it: his hours, his say.
        exchange = self.record(by=self.bob)
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertEqual(ledger.balance(account=self.alice_account).posted, 60)

    def test_a_member_recorded_exchange_waits_for_the_other_party_and_holds_their_hours(self):
        exchange = self.record()
        self.assertEqual(
            (exchange.state, exchange.awaiting_confirmation_from), (State.UNCONFIRMED, self.bob)
        )
        self.assertEqual(exchange.confirm_by, timezone.localdate() + timedelta(days=14))
        self.assertEqual(ledger.balance(account=self.bob_account).available, -60)

    def test_the_recorder_cannot_confirm_their_own_exchange(self):
        exchange = self.record()
        with self.assertRaises(PermissionDenied):
            services.confirm_exchange(exchange=exchange, person=self.alice)

    def test_exchanges_over_n_hours_need_approval(self):
        self.riverside.confirmation_required = False
        self.riverside.approval_rule = ApprovalRule.OVER_HOURS
        self.riverside.approval_over_minutes = 120
        self.riverside.save()
        self.assertEqual(self.record(120, by=self.bob).state, State.COMPLETED)
        self.assertEqual(self.record(135, by=self.bob).state, State.AWAITING_APPROVAL)

    def test_newcomers_first_exchanges_need_approval(self):
        self.riverside.confirmation_required = False
        self.riverside.approval_rule = ApprovalRule.NEWCOMERS
        self.riverside.approval_first_exchanges = 1
        self.riverside.save()
        first = self.record(by=self.bob)
        self.assertEqual(first.state, State.AWAITING_APPROVAL)
        services.approve_exchange(exchange=first, broker=self.brenda)
        self.assertEqual(self.record(by=self.bob).state, State.COMPLETED)

    def test_an_offline_other_party_cannot_confirm_so_a_broker_approves(self):
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        exchange = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=olive,
            minutes=60,
            details=details(),
        )
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)

    def test_a_broker_records_for_both_without_confirmation(self):
        self.assertEqual(self.record(by=self.brenda).state, State.COMPLETED)

    def test_a_member_cannot_record_an_exchange_between_two_others(self):
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        with self.assertRaises(PermissionDenied):
            services.record_exchange(
                recorded_by=self.alice,
                giver=olive,
                receiver=self.bob_account,
                minutes=60,
                details=details(),
            )

    def test_the_block_rule_refuses_past_the_limit(self):
        self.riverside.confirmation_required = False
        self.riverside.save()
        self.record(600, by=self.brenda)
        with self.assertRaises(PastLimit):
            self.record(15, by=self.brenda)
        self.assertEqual(Exchange.objects.count(), 1)

    def test_the_flag_rule_records_past_the_limit_and_flags_it_for_the_broker(self):
        self.riverside.limit_rule = LimitRule.FLAG
        self.riverside.save()
        carol = make_member(self.riverside, "Carol Flagged")
        carol_account = ledger.open_account(time_bank=self.riverside, person=carol)
        self.assertIsNone(carol_account.credit_limit_minutes)
        ok = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=carol_account,
            minutes=600,
            details=details(),
        )
        past = services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=carol_account,
            minutes=60,
            details=details(),
        )
        self.assertEqual((ok.flagged_over_limit, past.flagged_over_limit), (False, True))
        self.assertEqual(ledger.balance(account=carol_account).posted, -660)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_hours_must_be_quarter_hours_within_the_banks_maximum(self):
        for minutes in (0, -15, 10, 24 * 60 + 15):
            with self.subTest(minutes=minutes), self.assertRaises(ValidationError):
                self.record(minutes)

    def test_help_cannot_predate_joining(self):
        with self.assertRaises(ValidationError):
            services.record_exchange(
                recorded_by=self.brenda,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=60,
                details=details(days_ago=366),
            )


class Deciding(CastTestCase):
    def setUp(self) -> None:
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.exchange = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
        )

    def test_the_other_party_says_it_is_not_right_and_the_hold_is_released(self):
        with self.captureOnCommitCallbacks(execute=True):
            services.decline_exchange(
                exchange=self.exchange, person=self.bob, reason="It was 30 minutes"
            )
        self.exchange.refresh_from_db()
        self.assertEqual(self.exchange.state, State.DECLINED)
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 0)
        self.assertEqual(len(mail.outbox), 2)
        self.assertIn("It was 30 minutes", mail.outbox[0].body)

    def test_a_broker_of_another_bank_cannot_approve(self):
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=self.exchange, broker=self.hugo)

    def test_a_broker_cannot_approve_an_exchange_they_took_part_in(self):
        brenda = ledger.open_account(time_bank=self.riverside, person=self.brenda)
        exchange = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=brenda,
            minutes=30,
            details=details(),
        )
        with self.assertRaises(PermissionDenied):
            services.approve_exchange(exchange=exchange, broker=self.brenda)

    def test_a_decided_exchange_cannot_be_decided_again(self):
        services.approve_exchange(exchange=self.exchange, broker=self.brenda)
        with self.assertRaises(AlreadyDecided):
            services.decline_exchange(exchange=self.exchange, person=self.brenda, reason="Too late")

    def test_a_broker_reverses_a_completed_exchange_with_a_reason_and_both_balances_return(self):
        services.approve_exchange(exchange=self.exchange, broker=self.brenda)
        with self.assertRaises(ValidationError):
            services.reverse_exchange(exchange=self.exchange, broker=self.brenda, reason=" ")
        reversed_ = services.reverse_exchange(
            exchange=self.exchange, broker=self.brenda, reason="Recorded twice"
        )
        self.assertEqual((reversed_.state, reversed_.reversed_by), (State.REVERSED, self.brenda))
        self.assertEqual(reversed_.reversal.reverses_id, self.exchange.journal_id)
        self.assertEqual(ledger.balance(account=self.alice_account).posted, 0)
        with self.assertRaises(AlreadyDecided):
            services.reverse_exchange(exchange=self.exchange, broker=self.brenda, reason="Again")
        self.assertEqual(ledger.verify_ledger(), [])

    def test_overdue_confirmations_are_confirmed_automatically_once(self):
        later = timezone.localdate() + timedelta(days=15)
        self.assertEqual(services.confirm_overdue_exchanges(today=later), 1)
        self.assertEqual(services.confirm_overdue_exchanges(today=later), 0)
        self.exchange.refresh_from_db()
        self.assertEqual((self.exchange.state, self.exchange.confirmed_by), (State.COMPLETED, None))


class GroupsDonationsGrants(CastTestCase):
    def setUp(self) -> None:
        self.accounts = {
            p.display_name.split()[0].lower(): ledger.open_account(
                time_bank=self.riverside, person=p
            )
            for p in (self.alice, self.bob, self.brenda, self.olive)
        }
        self.gp_account = ledger.open_account(time_bank=self.riverside, organisation=self.gp)
        self.pot = ledger.community_pot(time_bank=self.riverside)

    def test_a_class_with_an_uneven_split_leaves_the_remainder_in_the_pot(self):
        a = self.accounts
        exchange = services.record_group_exchange(
            recorded_by=self.brenda,
            time_bank=self.riverside,
            providers=[(a["alice"], 120)],
            receivers=[(a["bob"], 60), (a["olive"], 60), (self.gp_account, 45)],
            details=details("Computer class"),
        )
        self.assertEqual(
            (exchange.kind, exchange.state, exchange.minutes), (Kind.GROUP, State.COMPLETED, 120)
        )
        self.assertEqual(exchange.journal.entries.count(), 5)
        self.assertEqual(ledger.balance(account=a["alice"]).posted, 120)
        self.assertEqual(ledger.balance(account=self.pot).posted, 45)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_volunteers_at_a_community_lunch_earn_from_the_organisation_in_one_journal(self):
        a = self.accounts
        self.riverside.default_credit_limit_minutes = -600
        exchange = services.record_group_exchange(
            recorded_by=self.alice,  # she represents the GP surgery
            time_bank=self.riverside,
            providers=[(a["bob"], 120), (a["olive"], 120)],
            receivers=[(self.gp_account, 240)],
            details=details("Community lunch"),
        )
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertEqual(ledger.balance(account=self.gp_account).posted, -240)
        self.assertEqual(ledger.balance(account=self.pot).posted, 0)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_a_member_cannot_record_a_group_exchange(self):
        a = self.accounts
        with self.assertRaises(PermissionDenied):
            services.record_group_exchange(
                recorded_by=self.bob,
                time_bank=self.riverside,
                providers=[(a["bob"], 60)],
                receivers=[(a["olive"], 60)],
                details=details(),
            )

    def test_an_uneven_group_is_refused_where_the_bank_has_no_pot_rule(self):
        self.riverside.group_remainder_rule = GroupRemainderRule.NONE
        self.riverside.save()
        a = self.accounts
        with self.assertRaises(ValidationError):
            services.record_group_exchange(
                recorded_by=self.brenda,
                time_bank=self.riverside,
                providers=[(a["alice"], 60)],
                receivers=[(a["bob"], 30), (a["olive"], 15)],
                details=details(),
            )

    def test_a_member_donates_to_the_pot_and_a_broker_grants_from_it(self):
        a = self.accounts
        services.record_exchange(
            recorded_by=self.brenda,
            giver=a["alice"],
            receiver=a["bob"],
            minutes=180,
            details=details(),
        )
        donation = services.donate_hours(
            recorded_by=self.alice, donor=a["alice"], to_account=self.pot, minutes=120
        )
        self.assertEqual((donation.kind, donation.state), (Kind.DONATION, State.COMPLETED))
        with self.assertRaises(PermissionDenied):
            services.donate_hours(
                recorded_by=self.bob, donor=a["alice"], to_account=self.pot, minutes=15
            )
        with self.assertRaises(ValidationError):
            services.grant_from_pot(
                broker=self.brenda,
                time_bank=self.riverside,
                to_account=a["olive"],
                minutes=60,
                reason="",
            )
        with self.assertRaises(PermissionDenied):
            services.grant_from_pot(
                broker=self.alice,
                time_bank=self.riverside,
                to_account=a["olive"],
                minutes=60,
                reason="x",
            )
        grant = services.grant_from_pot(
            broker=self.brenda,
            time_bank=self.riverside,
            to_account=a["olive"],
            minutes=90,
            reason="Winter support",
        )
        self.assertEqual((grant.kind, grant.giver), (Kind.GRANT, self.pot))
        self.assertEqual(ledger.balance(account=self.pot).posted, 30)
        self.assertEqual(ledger.balance(account=a["olive"]).posted, 90)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_a_replayed_key_returns_the_original_exchange(self):
        a = self.accounts
        kwargs: dict[str, Any] = dict(
            recorded_by=self.brenda,
            giver=a["alice"],
            receiver=a["bob"],
            minutes=60,
            details=details(),
        )
        first = services.record_exchange(**kwargs, idempotency_key="same")
        again = services.record_exchange(**kwargs, idempotency_key="same")
        self.assertEqual(first.pk, again.pk)
        self.assertEqual(ledger.balance(account=a["alice"]).posted, 60)

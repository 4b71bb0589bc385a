"""Lifecycle and policy: leaving or suspension voids what would debit the member; a change of
the bank's limit policy reaches existing accounts; holds nobody decides expire by a scheduled
job, on the bank's own period."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services
from exchanges.exceptions import PastLimit
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account, Journal, JournalState
from members.models import ApprovalRule, LimitRule, Person, Status
from tests.base import CastTestCase
from tests.factories import enrol_in_mfa, make_member, make_person
from tests.support import admin_change_data, at, user_of
from timebank.celery import app


def details(description: str = "Gardening", day=None) -> services.Details:
    return services.Details(
        effective_date=day or timezone.localdate() - timedelta(days=1), description=description
    )


class Lifecycle(CastTestCase):
    def setUp(self) -> None:
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def posted(self, account) -> int:
        return ledger.balance(account=account).posted

    def test_leaving_voids_what_would_debit_the_leaver_and_auto_confirmation_never_does(self):
        owed = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=120,
            details=details(),
        )
        self.assertEqual(owed.awaiting_confirmation_from, self.bob)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            services.leave_time_bank(membership=self.bob.memberships.get(), by=self.bob)
        voided = Exchange.objects.get(pk=owed.pk)
        self.assertEqual(voided.state, State.DECLINED)
        self.assertEqual(voided.journal.state, JournalState.VOIDED)
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 0)
        # The other party is told, after commit; the leaver is not asked to confirm again.
        self.assertEqual([m.to for m in mail.outbox], [["alice.archer@example.org"]])
        # The deadline passes: nothing is confirmed, nobody is debited.
        self.assertEqual(
            services.confirm_overdue_exchanges(today=timezone.localdate() + timedelta(days=30)), 0
        )
        self.assertEqual((self.posted(self.bob_account), self.posted(self.alice_account)), (0, 0))
        self.assertEqual(ledger.verify_ledger(), [])

    def test_leaving_keeps_what_pays_the_leaver(self):
        paid = services.record_exchange(
            recorded_by=self.alice,
            giver=self.bob_account,
            receiver=self.alice_account,
            minutes=60,
            details=details(),
        )
        services.leave_time_bank(membership=self.bob.memberships.get(), by=self.brenda)
        self.assertEqual(Exchange.objects.get(pk=paid.pk).state, State.UNCONFIRMED)

    def test_suspension_voids_what_would_debit_the_member(self):
        owed = services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
        )
        services.suspend_membership(membership=self.bob.memberships.get(), by=self.brenda)
        self.assertEqual(self.bob.memberships.get().status, Status.SUSPENDED)
        self.assertEqual(Exchange.objects.get(pk=owed.pk).state, State.DECLINED)
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 0)


class LimitPolicy(CastTestCase):
    """The bank's credit limit policy, changed in the admin, reaches every existing account."""

    sam: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.sam = make_person("Sam Site-Admin")
        user_of(cls.sam).is_staff = user_of(cls.sam).is_superuser = True
        user_of(cls.sam).save()
        enrol_in_mfa(user_of(cls.sam))

    def change_policy(self, **changes) -> None:
        self.client.force_login(user_of(self.sam))
        url = reverse("admin:members_timebank_change", args=[self.riverside.pk])
        response = self.client.post(url, admin_change_data(self.client.get(url), **changes))
        self.assertEqual(response.status_code, 302)
        self.riverside.refresh_from_db()

    def give_bob(self, minutes: int) -> Exchange:
        return services.record_exchange(
            recorded_by=self.brenda,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=minutes,
            details=details(),
        )

    def setUp(self) -> None:
        self.riverside.limit_rule = LimitRule.FLAG
        self.riverside.save()
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def test_switching_to_block_applies_the_limit_to_accounts_opened_under_flag(self):
        self.assertIsNone(self.bob_account.credit_limit_minutes)
        self.change_policy(limit_rule=LimitRule.BLOCK)
        self.assertEqual(Account.objects.get(pk=self.bob_account.pk).credit_limit_minutes, -600)
        self.give_bob(600)
        with self.assertRaises(PastLimit):
            for _ in range(3):
                self.give_bob(24 * 60)
        self.assertEqual(ledger.balance(account=self.bob_account).posted, -600)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_an_account_already_past_the_new_limit_is_held_where_it_is(self):
        self.give_bob(20 * 60)
        self.change_policy(limit_rule=LimitRule.BLOCK)
        self.assertEqual(Account.objects.get(pk=self.bob_account.pk).credit_limit_minutes, -1200)
        with self.assertRaises(PastLimit):
            self.give_bob(15)
        # Alice keeps the bank's limit.
        self.assertEqual(Account.objects.get(pk=self.alice_account.pk).credit_limit_minutes, -600)

    def test_each_account_changed_is_audited_with_its_old_and_new_limit(self):
        self.change_policy(limit_rule=LimitRule.BLOCK, default_credit_limit_minutes=-300)
        events = AuditEvent.objects.filter(action=Action.ACCOUNT_LIMITS_CHANGED)
        changed = {e.object_id: e.details for e in events}
        self.assertEqual(changed[self.bob_account.pk]["old_credit_limit"], None)
        self.assertEqual(changed[self.bob_account.pk]["new_credit_limit"], -300)
        self.assertTrue(all(e.time_bank_id == self.riverside.pk for e in events))

    def test_switching_to_flag_lifts_hard_limits_and_keeps_the_threshold_for_flagging(self):
        self.change_policy(limit_rule=LimitRule.BLOCK)
        self.change_policy(limit_rule=LimitRule.FLAG)
        self.assertIsNone(Account.objects.get(pk=self.bob_account.pk).credit_limit_minutes)
        self.assertEqual(self.riverside.default_credit_limit_minutes, -600)
        self.give_bob(600)
        self.assertTrue(self.give_bob(60).flagged_over_limit)


class HoldsExpire(CastTestCase):
    def setUp(self) -> None:
        self.riverside.approval_rule = ApprovalRule.ALL
        self.riverside.save()
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def waiting(self, days_ago: int) -> Exchange:
        day = timezone.localdate() - timedelta(days=days_ago)
        with time_machine.travel(at(day), tick=False):
            return services.record_exchange(
                recorded_by=self.brenda,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=60,
                details=details(day=day),
            )

    def test_holds_nobody_decided_within_the_banks_period_are_released(self):
        self.assertEqual(self.riverside.pending_expiry_days, 60)
        old, recent = self.waiting(61), self.waiting(59)
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 120)
        self.assertEqual(services.expire_pending(), 1)
        expired = Exchange.objects.get(pk=old.pk)
        self.assertEqual(expired.state, State.DECLINED)
        self.assertEqual(Journal.objects.get(pk=old.journal_id).state, JournalState.EXPIRED)
        self.assertEqual(Exchange.objects.get(pk=recent.pk).state, State.AWAITING_APPROVAL)
        self.assertEqual(ledger.balance(account=self.bob_account).pending_out, 60)
        # Safe to run twice.
        self.assertEqual(services.expire_pending(), 0)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_the_period_is_the_banks_own(self):
        self.riverside.pending_expiry_days = 30
        self.riverside.save()
        self.waiting(31)
        self.assertEqual(services.expire_pending(), 1)

    def test_expire_pending_runs_on_the_beat_schedule_and_as_a_command(self):
        tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
        self.assertIn("exchanges.tasks.expire_pending", tasks)
        # The task a worker finds when it starts (Celery's autodiscovery).
        app.loader.import_default_modules()
        self.assertIn("exchanges.tasks.expire_pending", app.tasks)
        old = self.waiting(90)
        call_command("expire_pending", verbosity=0)
        self.assertEqual(Exchange.objects.get(pk=old.pk).state, State.DECLINED)

    def test_another_banks_holds_follow_its_own_period(self):
        # Other banks' holds follow their own period.
        self.hillside.pending_expiry_days = 365
        self.hillside.save()
        hal = make_member(self.hillside, "Hal Hillside")
        hal_account = ledger.open_account(time_bank=self.hillside, person=hal)
        hugo_account = ledger.open_account(time_bank=self.hillside, person=self.hugo)
        day = timezone.localdate() - timedelta(days=90)
        with time_machine.travel(at(day), tick=False):
            held = services.record_exchange(
                recorded_by=hal,
                giver=hal_account,
                receiver=hugo_account,
                minutes=60,
                details=details(day=day),
            )
        services.expire_pending()
        self.assertTrue(Exchange.objects.get(pk=held.pk).is_open)


class MembershipStatusCommand(CastTestCase):
    def command(self, *args: str) -> str:
        out = StringIO()
        call_command("membership_status", *args, stdout=out)
        return out.getvalue().strip()

    def test_a_broker_suspends_and_reinstates_a_member_from_the_command_line(self):
        bob = str(self.bob.pk)
        by = ["--by", "brenda.broker@example.org"]
        self.assertEqual(
            self.command("riverside", bob, "suspend", *by), "Bob Baker in riverside: suspended"
        )
        self.assertEqual(AuditEvent.objects.filter(action=Action.MEMBERSHIP_SUSPENDED).count(), 1)
        self.assertEqual(
            self.command("riverside", bob, "reinstate", *by), "Bob Baker in riverside: approved"
        )
        with self.assertRaisesMessage(CommandError, "Only another broker"):
            self.command("riverside", bob, "suspend", "--by", "alice.archer@example.org")
        with self.assertRaisesMessage(CommandError, "No member"):
            self.command("hillside", bob, "suspend", *by)

    def test_the_admin_shows_a_memberships_status_but_never_changes_it(self):
        from members.admin import MembershipAdmin
        from members.models import Membership

        self.assertIn(
            "status", MembershipAdmin(Membership, None).get_readonly_fields(None, obj=Membership())
        )


class TheDeadlineNeverConfirmsForSomeoneWhoLeft(CastTestCase):
    def test_an_exchange_recorded_as_the_member_left_is_never_confirmed_for_them(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        owed = services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=bob,
            minutes=60,
            details=details(),
        )
        # As if it had been recorded while the leaving was being written: still open.
        from members.models import Membership

        Membership.objects.filter(person=self.bob).update(
            status=Status.LEFT, left_at=timezone.now()
        )
        later = timezone.localdate() + timedelta(days=30)
        self.assertEqual(services.confirm_overdue_exchanges(today=later), 0)
        self.assertEqual(Exchange.objects.get(pk=owed.pk).state, State.UNCONFIRMED)
        self.assertEqual(ledger.balance(account=bob).posted, 0)

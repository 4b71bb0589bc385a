"""The life of a link between two time banks: propose, accept, decline, suspend, resume, end;
each bank's trust limit on its own mirror account."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import Action, AuditEvent
from exchanges.models import State
from interbank import services
from interbank.models import Link, LinkStatus, Sharing
from ledger import services as ledger
from ledger.models import Account, AccountKind, Journal
from tests.base import CastTestCase
from tests.factories import make_bank

from .support import LinkedBanks, details


class LinkLife(LinkedBanks, CastTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()

    def propose(self) -> Link:
        return services.propose_link(
            by=self.ada,
            time_bank=self.riverside,
            partner=self.hillside,
            trust_limit_minutes=300,
            shares=Sharing.OFFERS,
        )

    def test_an_admin_proposes_and_the_other_banks_admin_accepts(self):
        link = self.propose()
        self.assertEqual(link.status, LinkStatus.PROPOSED)
        self.assertFalse(Account.objects.filter(kind=AccountKind.MIRROR).exists())
        link = services.accept_link(
            link=link, by=self.hilda, trust_limit_minutes=120, shares=Sharing.MEMBERS
        )
        self.assertEqual(link.status, LinkStatus.ACTIVE)
        # One mirror per bank, each with its own bank's trust limit as its credit limit.
        self.assertEqual(link.proposer_mirror.time_bank, self.riverside)
        self.assertEqual(link.proposer_mirror.partner_bank, self.hillside)
        self.assertEqual(link.proposer_mirror.credit_limit_minutes, -300)
        self.assertEqual(link.partner_mirror.credit_limit_minutes, -120)
        self.assertEqual(link.partner_mirror.holder_name, "Riverside Time Bank")
        self.assertEqual(link.visible(self.riverside), Sharing.MEMBERS)
        self.assertTrue(
            AuditEvent.objects.filter(action=Action.LINK_ACCEPTED, time_bank=self.hillside).exists()
        )

    def test_only_admins_propose_and_only_the_asked_bank_accepts(self):
        with self.assertRaises(PermissionDenied):
            services.propose_link(
                by=self.brenda,
                time_bank=self.riverside,
                partner=self.hillside,
                trust_limit_minutes=60,
                shares=Sharing.NOTHING,
            )
        link = self.propose()
        for stranger in (self.ada, self.hugo, self.alice):
            with self.subTest(stranger=stranger.display_name), self.assertRaises(PermissionDenied):
                services.accept_link(
                    link=link, by=stranger, trust_limit_minutes=60, shares=Sharing.NOTHING
                )

    def test_two_banks_have_one_live_link(self):
        self.propose()
        with self.assertRaises(ValidationError):
            services.propose_link(
                by=self.hilda,
                time_bank=self.hillside,
                partner=self.riverside,
                trust_limit_minutes=60,
                shares=Sharing.NOTHING,
            )

    def test_the_other_bank_declines_and_a_new_proposal_may_follow(self):
        link = services.decline_link(link=self.propose(), by=self.hilda)
        self.assertEqual(link.status, LinkStatus.DECLINED)
        with self.assertRaises(ValidationError):
            services.accept_link(
                link=link, by=self.hilda, trust_limit_minutes=60, shares=Sharing.NOTHING
            )
        self.assertEqual(self.propose().status, LinkStatus.PROPOSED)

    def test_suspending_cancels_open_exchanges_and_only_the_suspender_resumes(self):
        link = self.link()
        cross = services.record_between_banks(
            recorded_by=self.alice,
            own=self.alice_account,
            other=self.hal_account,
            gave=True,
            minutes=60,
            details=details(),
        )
        self.assertEqual(cross.giving.state, State.UNCONFIRMED)
        link, cancelled = services.suspend_link(link=link, by=self.hilda)
        self.assertEqual((link.status, cancelled), (LinkStatus.SUSPENDED, 1))
        for half in (cross.giving, cross.receiving):
            half.refresh_from_db()
            self.assertEqual(half.state, State.DECLINED)
            self.assertIn("suspended its link", half.decline_reason)
            self.assertEqual(Journal.objects.get(pk=half.journal_id).state, "voided")
        self.assertEqual(Account.objects.get(pk=self.hal_account.pk).pending_out_minutes, 0)
        with self.assertRaises(PermissionDenied):
            services.record_between_banks(
                recorded_by=self.alice,
                own=self.alice_account,
                other=self.hal_account,
                gave=True,
                minutes=60,
                details=details(),
            )
        with self.assertRaises(PermissionDenied):
            services.resume_link(link=link, by=self.ada)
        self.assertEqual(services.resume_link(link=link, by=self.hilda).status, LinkStatus.ACTIVE)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_ending_cancels_open_exchanges_keeps_completed_ones_and_a_new_link_finds_the_mirrors(
        self,
    ):
        link = self.link()
        done = services.record_between_banks(
            recorded_by=self.alice,
            own=self.alice_account,
            other=self.hal_account,
            gave=True,
            minutes=60,
            details=details(),
        )
        services.confirm(cross=done, person=self.hal)
        waiting = services.record_between_banks(
            recorded_by=self.hetty,
            own=self.hetty_account,
            other=self.bob_account,
            gave=True,
            minutes=30,
            details=details("Shopping"),
        )
        link, cancelled = services.end_link(link=link, by=self.ada)
        self.assertEqual((link.status, cancelled), (LinkStatus.ENDED, 1))
        waiting.giving.refresh_from_db()
        done.giving.refresh_from_db()
        self.assertEqual(waiting.giving.state, State.DECLINED)
        self.assertEqual(done.giving.state, State.COMPLETED)
        self.assertEqual(Account.objects.get(pk=link.proposer_mirror_id).posted_minutes, -60)
        # A new link: the same mirrors, and a trust limit below what was given is refused.
        again = services.propose_link(
            by=self.hilda,
            time_bank=self.hillside,
            partner=self.riverside,
            trust_limit_minutes=60,
            shares=Sharing.NOTHING,
        )
        with self.assertRaises(ValidationError):
            services.accept_link(
                link=again, by=self.ada, trust_limit_minutes=30, shares=Sharing.NOTHING
            )
        again = services.accept_link(
            link=again, by=self.ada, trust_limit_minutes=90, shares=Sharing.NOTHING
        )
        self.assertEqual(again.partner_mirror_id, link.proposer_mirror_id)
        self.assertEqual(ledger.verify_ledger(), [])

    def test_each_side_sets_its_own_terms(self):
        link = self.link()
        link = services.set_terms(
            link=link, by=self.hilda, trust_limit_minutes=30, shares=Sharing.NOTHING
        )
        self.assertEqual(link.partner_limit_minutes, 30)
        self.assertEqual(Account.objects.get(pk=link.partner_mirror_id).credit_limit_minutes, -30)
        self.assertEqual(link.proposer_limit_minutes, 600)
        self.assertEqual(link.visible(self.riverside), Sharing.NOTHING)
        with self.assertRaises(PermissionDenied):
            services.set_terms(link=link, by=self.hugo, trust_limit_minutes=0, shares="nothing")
        with self.assertRaises(ValidationError):
            services.set_terms(link=link, by=self.ada, trust_limit_minutes=-5, shares="nothing")

    def test_an_unlinked_bank_cannot_trade(self):
        self.link()
        elsewhere = make_bank(name="Elsewhere", slug="elsewhere")
        from tests.factories import make_member

        ella = make_member(elsewhere, "Ella Else")
        ella_account = ledger.open_account(time_bank=elsewhere, person=ella)
        with self.assertRaises(PermissionDenied):
            services.record_between_banks(
                recorded_by=ella,
                own=ella_account,
                other=self.alice_account,
                gave=True,
                minutes=60,
                details=details(),
            )

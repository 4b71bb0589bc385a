"""The pages: an admin proposes and the other accepts; a member records across and the other
confirms; what members see of a linked bank (never contact details); cross-bank probes."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from exchanges.models import Exchange, State
from interbank.models import CrossBankExchange, Link, LinkStatus
from members.models import ApprovalRule, Role, TimeBank
from tests.base import CastTestCase
from tests.factories import make_bank, make_member

from .support import LinkedBanks


class LinkPages(LinkedBanks, CastTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()

    def test_an_admin_proposes_on_the_page_and_the_other_accepts(self):
        self.client.force_login(self.ada.user)
        page = self.client.post(
            reverse("interbank-links", args=["riverside"]),
            {"partner": self.hillside.pk, "trust_limit": "10", "shares": "offers"},
        )
        self.assertRedirects(page, reverse("interbank-links", args=["riverside"]))
        link = Link.objects.get()
        self.assertEqual((link.status, link.proposer_limit_minutes), (LinkStatus.PROPOSED, 600))
        self.client.force_login(self.hilda.user)
        listing = self.client.get(reverse("interbank-links", args=["hillside"]))
        self.assertContains(listing, "Accept the link")
        self.client.post(
            reverse("interbank-link-change", args=[link.pk]),
            {"change": "accept", "trust_limit": "5", "shares": "members"},
        )
        link.refresh_from_db()
        self.assertEqual((link.status, link.partner_limit_minutes), (LinkStatus.ACTIVE, 300))
        self.client.post(reverse("interbank-link-change", args=[link.pk]), {"change": "suspend"})
        link.refresh_from_db()
        self.assertEqual(link.status, LinkStatus.SUSPENDED)
        # Riverside did not suspend it: its admin cannot resume it.
        self.client.force_login(self.ada.user)
        page = self.client.post(
            reverse("interbank-link-change", args=[link.pk]), {"change": "resume"}, follow=True
        )
        self.assertContains(page, "Only an administrator")
        link.refresh_from_db()
        self.assertEqual(link.status, LinkStatus.SUSPENDED)

    def test_a_bad_trust_limit_is_a_message_not_an_error(self):
        link = self.link()
        self.client.force_login(self.ada.user)
        page = self.client.post(
            reverse("interbank-link-change", args=[link.pk]),
            {"change": "terms", "trust_limit": "-3", "shares": "members"},
            follow=True,
        )
        self.assertEqual(page.status_code, 200)
        link.refresh_from_db()
        self.assertEqual(link.proposer_limit_minutes, 600)


class AcrossOnThePages(LinkedBanks, CastTestCase):
    the_link: Link

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.build_linked()
        cls.the_link = cls.link()

    def record(self, **data: str):
        self.client.force_login(self.alice.user)
        body = {
            "direction": "gave",
            "other": f"{self.hillside.pk}:{self.hal.pk}",
            "effective_date": timezone.localdate().isoformat(),
            "minutes": "1.5",
            "description": "Fixed a bike",
            "idempotency_key": "form-1",
        }
        body.update(data)
        return self.client.post(reverse("interbank-record", args=["riverside"]), body)

    def test_a_member_records_help_given_across_and_the_other_confirms(self):
        page = self.client.get(reverse("interbank-neighbours", args=["riverside"]))
        self.assertEqual(page.status_code, 302)
        self.client.force_login(self.alice.user)
        page = self.client.get(reverse("interbank-neighbours", args=["riverside"]))
        self.assertContains(page, "Hal Hillside")
        self.assertNotContains(page, self.hal.user.email)
        page = self.record()
        cross = CrossBankExchange.objects.get()
        self.assertRedirects(page, reverse("interbank-exchange", args=[cross.giving_id]))
        # A double-clicked form records it once.
        self.record()
        self.assertEqual(CrossBankExchange.objects.count(), 1)
        # Hal's own dashboard lists it; its page (and the old confirm URL) lead to his half.
        self.client.force_login(self.hal.user)
        home = self.client.get(reverse("dashboard", args=["hillside"]))
        self.assertContains(home, "Alice Archer says:")
        self.assertContains(home, "Yes, Alice Archer (Riverside Time Bank) helped me for 1.5 hours")
        page = self.client.get(reverse("exchange", args=[cross.receiving_id]))
        self.assertRedirects(page, reverse("interbank-exchange", args=[cross.receiving_id]))
        page = self.client.get(reverse("interbank-exchange", args=[cross.receiving_id]))
        self.assertContains(page, "Yes, that is right")
        self.assertContains(page, "Riverside Time Bank")
        self.client.post(
            reverse("interbank-exchange", args=[cross.receiving_id]), {"decision": "confirm"}
        )
        self.assertEqual(Exchange.objects.get(pk=cross.giving_id).state, State.COMPLETED)

    def test_a_broker_of_one_bank_cannot_decide_the_other_banks_side(self):
        TimeBank.objects.filter(pk=self.hillside.pk).update(approval_rule=ApprovalRule.ALL)
        self.record()
        cross = CrossBankExchange.objects.get()
        # Brenda (Riverside) approving Hillside's side: refused, and nothing moves.
        self.client.force_login(self.brenda.user)
        page = self.client.post(
            reverse("interbank-exchange", args=[cross.giving_id]), {"decision": "approve"}
        )
        self.assertContains(page, "needs no approval", status_code=403)
        # Hugo (Hillside) does not reach Riverside's half at all.
        self.client.force_login(self.hugo.user)
        page = self.client.post(
            reverse("interbank-exchange", args=[cross.giving_id]), {"decision": "approve"}
        )
        self.assertEqual(page.status_code, 404)
        receiving = Exchange.objects.get(pk=cross.receiving_id)
        self.assertIsNone(receiving.approved_by)

    def test_a_member_of_an_unlinked_bank_finds_nobody_and_cannot_forge_one(self):
        elsewhere = make_bank(name="Elsewhere", slug="elsewhere")
        ella = make_member(elsewhere, "Ella Else")
        make_member(elsewhere, "Ed Admin", role=Role.ADMIN)
        self.client.force_login(ella.user)
        page = self.client.get(reverse("interbank-record", args=["elsewhere"]))
        self.assertContains(page, "There is nobody to choose yet")
        page = self.client.post(
            reverse("interbank-record", args=["elsewhere"]),
            {
                "direction": "gave",
                "other": f"{self.riverside.pk}:{self.alice.pk}",
                "effective_date": timezone.localdate().isoformat(),
                "minutes": "1",
                "description": "x",
                "idempotency_key": "k",
            },
        )
        self.assertEqual(page.status_code, 200)
        self.assertFalse(CrossBankExchange.objects.exists())
        # Nor does she reach Riverside's pages of the link.
        self.assertEqual(
            self.client.get(reverse("interbank-neighbours", args=["riverside"])).status_code, 403
        )

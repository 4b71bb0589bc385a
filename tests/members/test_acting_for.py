"""A broker acts for a member (offline, or who asked for help): a banner on every page, the
member's own figures, and every action recorded as the broker on the member's behalf."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services as exchanges
from exchanges.models import Exchange, State
from ledger import services as ledger
from listings import services as listings
from listings.models import Capability, Category, Contact, Listing, ListingKind
from members.models import ContactPreference, Membership, Person, Role
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

BANNER = "You are acting for Olive Offline"
STOP = "Stop acting for Olive Offline"


class ActingFor(CastTestCase):
    gardening: Category
    bob_offer: Listing

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.gardening = Category.objects.get(slug="gardening")
        cls.bob_offer = listings.publish_listing(
            author=cls.bob,
            time_bank=cls.riverside,
            details=listings.ListingDetails(
                kind=ListingKind.OFFER, category=cls.gardening, title="Lawn mowing"
            ),
        )

    def start(self, person: Person, *, as_: Person | None = None):
        self.client.force_login((as_ or self.brenda).user)
        return self.client.post(reverse("acting-start", args=["riverside", person.pk]))

    def events_since(self, first_pk: int):
        return AuditEvent.objects.filter(pk__gt=first_pk).order_by("pk")

    def test_brenda_acts_for_olive_and_every_page_shows_the_banner(self):
        response = self.start(self.olive)
        self.assertRedirects(response, reverse("dashboard", args=["riverside"]))
        started = AuditEvent.objects.get(action=Action.ACTING_STARTED)
        self.assertEqual((started.actor, started.on_behalf_of), (self.brenda, self.olive))
        self.assertEqual(started.time_bank, self.riverside)
        for name, args in (("dashboard", ["riverside"]), ("listings", ["riverside"]), ("home", [])):
            with self.subTest(page=name):
                page = self.client.get(reverse(name, args=args))
                self.assertContains(page, BANNER)
                self.assertContains(page, STOP)
                self.assertContains(page, 'class="acting-banner" role="status"')

    def test_the_members_own_pages_show_the_members_figures(self):
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        ledger.open_account(time_bank=self.riverside, person=self.brenda)
        exchanges.record_exchange(
            recorded_by=self.brenda,
            giver=olive,
            receiver=bob,
            minutes=120,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=2), description="Ironing"
            ),
        )
        self.start(self.olive)
        dashboard = self.client.get(reverse("dashboard", args=["riverside"]))
        self.assertEqual(dashboard.context["person"], self.olive)
        self.assertEqual(dashboard.context["account"], olive)
        self.assertContains(dashboard, "Ironing")
        statement = self.client.get(reverse("statement", args=["riverside"]))
        self.assertEqual(statement.context["account"], olive)
        self.assertEqual(statement.context["closing"], 120)
        # While acting, brenda is olive: the broker's pages are closed until she stops.
        self.assertEqual(self.client.get(reverse("desk", args=["riverside"])).status_code, 403)

    def test_every_action_in_the_mode_is_done_as_olive_and_recorded_as_brenda_for_olive(self):
        ledger.open_account(time_bank=self.riverside, person=self.olive)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.start(self.olive)
        first = AuditEvent.objects.latest("pk").pk

        # Record an exchange: olive gave bob an hour.
        form = self.client.get(reverse("record-exchange", args=["riverside"]))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": bob.pk,
                    "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                    "minutes": "1",
                    "description": "Walked the dog",
                    "coproduction": "co-delivery",
                    "idempotency_key": form.context["form"].initial["idempotency_key"],
                },
            )
        exchange = Exchange.objects.get(description="Walked the dog")
        self.assertRedirects(response, reverse("exchange", args=[exchange.pk]))
        self.assertEqual(exchange.recorded_by, self.olive)
        self.assertEqual(exchange.giver.person, self.olive)

        # Publish, then edit, an offer.
        response = self.client.post(
            reverse("listing-new", args=["riverside"]),
            {"kind": "offer", "category": self.gardening.pk, "title": "Knitting lessons"},
        )
        listing = Listing.objects.get(title="Knitting lessons")
        self.assertEqual((listing.person, listing.created_by), (self.olive, self.olive))
        self.client.post(
            reverse("listing-edit", args=[listing.pk]),
            {"kind": "offer", "category": self.gardening.pk, "title": "Knitting and sewing"},
        )
        listing.refresh_from_db()
        self.assertEqual(listing.title, "Knitting and sewing")
        self.client.post(reverse("listing-close", args=[listing.pk]))
        self.client.post(reverse("listing-renew", args=[listing.pk]))
        listing.refresh_from_db()
        self.assertTrue(listing.is_open)

        # Add to what she can do.
        self.client.post(
            reverse("capabilities", args=["riverside"]),
            {"category": self.gardening.pk, "description": "Roses", "level": "does"},
        )
        self.assertTrue(Capability.objects.filter(person=self.olive, description="Roses").exists())

        # Reply to bob's offer.
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                reverse("listing-detail", args=[self.bob_offer.pk]), {"message": "Yes please"}
            )
        self.assertEqual(Contact.objects.get(listing=self.bob_offer).from_person, self.olive)

        # Update her profile (not brenda's).
        response = self.client.post(
            reverse("profile"),
            {"display_name": "Olive Offline", "area": "GL52", "contact_preference": "broker"},
        )
        self.assertRedirects(response, reverse("dashboard", args=["riverside"]))
        self.olive.refresh_from_db()
        self.brenda.refresh_from_db()
        self.assertEqual((self.olive.area, self.brenda.area), ("GL52", ""))

        events = list(self.events_since(first))
        self.assertEqual(
            [e.action for e in events],
            [
                Action.EXCHANGE_RECORDED,
                Action.LISTING_PUBLISHED,
                Action.LISTING_UPDATED,
                Action.LISTING_UPDATED,
                Action.LISTING_UPDATED,
                Action.PROFILE_UPDATED,
                Action.LISTING_REPLIED,
                Action.PROFILE_UPDATED,
            ],
        )
        for event in events:
            with self.subTest(action=event.action):
                self.assertEqual((event.actor, event.on_behalf_of), (self.brenda, self.olive))

    def test_confirming_for_a_member_who_asked_for_help_is_recorded_as_the_broker(self):
        hetty = make_member(
            self.riverside, "Hetty Helped", contact_preference=ContactPreference.BROKER
        )
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        hetty_account = ledger.open_account(time_bank=self.riverside, person=hetty)
        exchange = exchanges.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=hetty_account,
            minutes=60,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=1), description="Shopping"
            ),
        )
        self.assertEqual(exchange.awaiting_confirmation_from, hetty)
        self.start(hetty)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("confirm-exchange", args=[exchange.pk]))
        exchange.refresh_from_db()
        self.assertEqual((exchange.state, exchange.confirmed_by), (State.COMPLETED, hetty))
        confirmed = AuditEvent.objects.get(action=Action.EXCHANGE_CONFIRMED)
        self.assertEqual((confirmed.actor, confirmed.on_behalf_of), (self.brenda, hetty))

    def test_a_member_doing_it_themself_writes_no_listing_or_profile_events(self):
        self.client.force_login(user_of(self.bob))
        self.client.post(
            reverse("listing-new", args=["riverside"]),
            {"kind": "offer", "category": self.gardening.pk, "title": "Bike repairs"},
        )
        self.assertTrue(Listing.objects.filter(title="Bike repairs", person=self.bob).exists())
        self.assertFalse(AuditEvent.objects.exists())

    def test_stopping_is_audited_and_brenda_is_herself_again(self):
        self.start(self.olive)
        response = self.client.post(reverse("acting-stop"))
        self.assertRedirects(response, reverse("member-page", args=["riverside", self.olive.pk]))
        stopped = AuditEvent.objects.get(action=Action.ACTING_STOPPED)
        self.assertEqual((stopped.actor, stopped.on_behalf_of), (self.brenda, self.olive))
        self.assertEqual(stopped.details, {"reason": "stopped"})
        page = self.client.get(reverse("desk", args=["riverside"]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, BANNER)

    def test_acting_stops_by_itself_when_brenda_is_no_longer_a_broker(self):
        self.start(self.olive)
        Membership.objects.filter(person=self.brenda).update(role=Role.MEMBER)
        page = self.client.get(reverse("dashboard", args=["riverside"]))
        self.assertNotContains(page, BANNER)
        self.assertEqual(page.context["person"], self.brenda)
        self.assertNotIn("acting_for", self.client.session)
        stopped = AuditEvent.objects.get(action=Action.ACTING_STOPPED)
        self.assertEqual((stopped.actor, stopped.on_behalf_of), (self.brenda, self.olive))
        self.assertEqual(stopped.details, {"reason": "no_longer_allowed"})

    def test_acting_stops_by_itself_when_the_member_leaves(self):
        self.start(self.olive)
        exchanges.leave_time_bank(membership=self.olive.memberships.get(), by=self.brenda)
        page = self.client.get(reverse("home"))
        self.assertNotContains(page, BANNER)
        self.assertNotIn("acting_for", self.client.session)

    def test_hugo_cannot_act_for_olive(self):
        self.assertEqual(self.start(self.olive, as_=self.hugo).status_code, 403)
        self.assertNotIn("acting_for", self.client.session)

    def test_alice_cannot_act_for_anyone(self):
        for person in (self.olive, self.bob, self.dora):
            with self.subTest(person=person.display_name):
                self.assertEqual(self.start(person, as_=self.alice).status_code, 403)
        self.assertFalse(AuditEvent.objects.filter(action=Action.ACTING_STARTED).exists())

    def test_brenda_cannot_act_for_an_applicant_a_fellow_broker_or_another_banks_member(self):
        fellow = make_member(self.riverside, "Fred Fellow", role=Role.BROKER, offline=True)
        outsider = make_member(self.hillside, "Oscar Outsider", offline=True)
        for person in (self.dora, fellow, outsider, self.brenda):
            with self.subTest(person=person.display_name):
                self.assertEqual(self.start(person).status_code, 403)
        # bob has a login and did not ask for help: he does his own.
        self.assertEqual(self.start(self.bob).status_code, 403)
        self.assertNotIn("acting_for", self.client.session)

    def test_a_forged_session_naming_another_banks_member_is_dropped(self):
        outsider = make_member(self.hillside, "Oscar Outsider", offline=True)
        self.client.force_login(user_of(self.brenda))
        session = self.client.session
        session["acting_for"] = {"bank": self.hillside.pk, "person": outsider.pk}
        session.save()
        page = self.client.get(reverse("home"))
        self.assertNotContains(page, "You are acting for")
        self.assertNotIn("acting_for", self.client.session)

    def test_the_member_page_offers_acting_only_for_members_who_may_be_acted_for(self):
        self.client.force_login(user_of(self.brenda))
        olive = self.client.get(reverse("member-page", args=["riverside", self.olive.pk]))
        self.assertContains(olive, "Act for Olive Offline")
        bob = self.client.get(reverse("member-page", args=["riverside", self.bob.pk]))
        self.assertNotContains(bob, "Act for Bob Baker")

    def test_an_export_while_acting_is_refused_and_nothing_is_exported(self):
        # The export holds safeguarding checks, other banks' notes and monitoring answers:
        # only the member themself may download it.
        self.start(self.olive)
        response = self.client.get(reverse("profile-export"))
        self.assertContains(response, "Only the member can export their data", status_code=403)
        self.assertFalse(AuditEvent.objects.filter(action=Action.PERSON_EXPORTED).exists())

""" "Your offer or request stops showing soon": a week before a listing expires, to its owner
(or an organisation's representatives), once per listing per expiry date, with a link to
renew it."""

from datetime import timedelta

import time_machine
from django.core import mail

from listings import services as listings
from listings.models import Listing
from members.models import Representative
from reminders import services
from reminders.models import SentReminder
from tests.listings.support import make_listing
from tests.support import at, user_of

from .support import ReminderTestCase


class ListingsAboutToExpire(ReminderTestCase):
    def setUp(self) -> None:
        self.listing = make_listing(self.riverside, self.bob, "Dog walking")
        self.expires = self.listing.expires_on

    def days_before(self, days: int) -> int:
        self.run_job("expiry", self.expires - timedelta(days=days), hour=8)
        return len(self.mail_to(self.bob))

    def test_the_owner_is_told_a_week_before_once_with_a_link_to_renew(self):
        self.assertEqual(self.days_before(8), 0)
        self.assertEqual(self.days_before(7), 1)
        self.assertEqual(self.days_before(6), 1)
        self.assertEqual(self.days_before(0), 1)
        (email,) = self.mail_to(self.bob)
        self.assertIn('"Dog walking"', email.subject)
        self.assertIn(f"/listings/{self.listing.pk}/", email.body)
        self.assertIn("Renew", email.body)
        self.assertEqual(email.extra_headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")

    def test_after_renewing_the_owner_is_told_again_before_the_new_date(self):
        self.days_before(7)
        with time_machine.travel(at(self.expires - timedelta(days=5), 10), tick=False):
            renewed = listings.renew_listing(listing=self.listing, editor=self.bob)
        self.assertGreater(renewed.expires_on, self.expires)
        self.run_job("expiry", renewed.expires_on - timedelta(days=7))
        self.assertEqual(len(self.mail_to(self.bob)), 2)
        self.assertEqual(
            set(SentReminder.objects.values_list("period", flat=True)),
            {
                f"listing-{self.listing.pk}-{self.expires.isoformat()}",
                f"listing-{self.listing.pk}-{renewed.expires_on.isoformat()}",
            },
        )

    def test_a_closed_listing_gets_no_reminder(self):
        listings.close_listing(listing=self.listing, editor=self.bob)
        self.assertEqual(self.days_before(7), 0)

    def test_the_representatives_of_an_organisation_are_told_about_its_listing(self):
        gp_listing = make_listing(
            self.riverside,
            self.alice,
            "Flu clinic helpers",
            kind="request",
            for_organisation=self.gp,
        )
        self.run_job("expiry", gp_listing.expires_on - timedelta(days=7))
        (email,) = self.mail_to(self.alice)
        self.assertIn("Riverside GP Surgery", email.body)

    def test_a_representative_who_opted_out_does_not_stop_the_others_being_told(self):
        Representative.objects.create(organisation=self.gp, person=self.bob)
        services.update_preferences(person=self.alice, wanted={"listing_expiry": False})
        gp_listing = make_listing(
            self.riverside,
            self.alice,
            "Flu clinic helpers",
            kind="request",
            for_organisation=self.gp,
        )
        self.listing.delete()
        self.run_job("expiry", gp_listing.expires_on - timedelta(days=7))
        self.assertEqual([m.to[0] for m in mail.outbox], [user_of(self.bob).email])

    def test_an_unsubscribed_owner_is_not_told(self):
        services.update_preferences(person=self.bob, wanted={"listing_expiry": False})
        self.assertEqual(self.days_before(7), 0)
        self.assertFalse(SentReminder.objects.exists())

    def test_an_offline_owner_gets_no_email_and_is_in_their_brokers_digest(self):
        make_listing(self.riverside, self.olive, "Knitting lessons", author=self.brenda)
        day = self.expires - timedelta(days=3)
        self.run_job("expiry", day)
        self.assertFalse(SentReminder.objects.filter(person=self.olive).exists())
        self.assertEqual({m.to[0] for m in mail.outbox}, {user_of(self.bob).email})
        self.run_job("digest", day)
        (digest,) = self.mail_to(self.brenda)
        (olive,) = [
            line for line in digest.body.splitlines() if line.startswith("- Olive Offline:")
        ]
        self.assertIn('"Knitting lessons" stops showing after', olive)

    def test_a_replay_sends_nothing(self):
        self.days_before(7)
        self.assertEqual(self.run_job("expiry", self.expires - timedelta(days=7)), 0)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(Listing.objects.count(), 1)

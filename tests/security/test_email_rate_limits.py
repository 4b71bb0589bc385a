"""Whatever makes the site email another person is limited per sender per hour: replies to
offers and requests, a broker's introductions, and recorded exchanges (the other party is asked
to confirm). Past the limit: a message on the page, 429 with Retry-After from the API, and no
email; an hour later it is allowed again; a retry of what was already done still answers."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from listings import services as listings
from listings.models import Contact, ContactKind, Listing
from members import ratelimits
from members.models import Person
from members.ratelimits import RateLimited
from tests.base import CastTestCase
from tests.factories import make_member
from tests.listings.support import make_listing
from tests.support import user_of


def api_for(person: Person) -> APIClient:
    client = APIClient()
    client.force_authenticate(person.user)
    return client


class Replies(CastTestCase):
    offer: Listing

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.offer = make_listing(cls.riverside, cls.bob, "Computer help")

    def reply(self) -> Contact:
        return listings.reply_to_listing(listing=self.offer, sender=self.alice, message="Hello")

    def test_a_member_past_the_hourly_limit_of_replies_is_refused_and_nobody_is_emailed(self):
        for _ in range(ratelimits.REPLIES_PER_HOUR):
            self.reply()
        with self.captureOnCommitCallbacks(execute=True), self.assertRaises(RateLimited):
            self.reply()
        self.assertEqual(mail.outbox, [])
        self.assertEqual(
            Contact.objects.filter(kind=ContactKind.REPLY, from_person=self.alice).count(),
            ratelimits.REPLIES_PER_HOUR,
        )

    def test_the_api_answers_429_with_retry_after_and_the_page_says_why(self):
        for _ in range(ratelimits.REPLIES_PER_HOUR):
            self.reply()
        response = api_for(self.alice).post(
            f"/api/listings/{self.offer.pk}/reply/", {"message": "Hello"}, format="json"
        )
        self.assertEqual(response.status_code, 429, response.content)
        self.assertEqual(response.json()["code"], "RateLimited")
        self.assertEqual(response["Retry-After"], "3600")
        self.client.force_login(user_of(self.alice))
        page = self.client.post(
            reverse("listing-detail", args=[self.offer.pk]), {"message": "Hello"}, follow=True
        )
        self.assertContains(page, "please wait a while and try again")

    def test_an_hour_later_the_member_may_write_again(self):
        for _ in range(ratelimits.REPLIES_PER_HOUR):
            self.reply()
        with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
            self.assertIsNotNone(self.reply())

    def test_each_sender_has_their_own_limit(self):
        for _ in range(ratelimits.REPLIES_PER_HOUR):
            self.reply()
        carl = make_member(self.riverside, "Carl Carter")
        listings.reply_to_listing(listing=self.offer, sender=carl, message="Me too")


class Introductions(CastTestCase):
    def test_a_broker_past_the_hourly_limit_of_introductions_is_refused(self):
        request = make_listing(self.riverside, self.bob, "Shopping", kind="request")
        helpers = [
            make_member(self.riverside, f"Helper {n}")
            for n in range(ratelimits.INTRODUCTIONS_PER_HOUR + 1)
        ]
        for helper in helpers[:-1]:
            listings.introduce(broker=self.brenda, listing=request, helper=helper)
        with self.assertRaises(RateLimited):
            listings.introduce(broker=self.brenda, listing=request, helper=helpers[-1])


class RecordedExchanges(CastTestCase):
    alice_account: Account
    bob_account: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)

    def record(self, key: str) -> Exchange:
        return exchanges.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=15,
            details=exchanges.Details(effective_date=timezone.localdate(), description="Tea"),
            idempotency_key=key,
        )

    def test_a_member_past_the_hourly_limit_is_refused_but_a_retry_still_answers(self):
        first = self.record("k-0")
        for n in range(1, ratelimits.EXCHANGES_PER_HOUR):
            self.record(f"k-{n}")
        with self.assertRaises(RateLimited):
            self.record("one-too-many")
        # A retry of one already recorded moves nothing and sends nothing: it answers.
        self.assertEqual(self.record("k-0").pk, first.pk)
        self.assertEqual(Exchange.objects.count(), ratelimits.EXCHANGES_PER_HOUR)

    def test_the_api_answers_429_past_the_limit(self):
        for n in range(ratelimits.EXCHANGES_PER_HOUR):
            self.record(f"k-{n}")
        response = api_for(self.alice).post(
            "/api/exchanges/",
            {
                "time_bank": "riverside",
                "role": "gave",
                "other_account": self.bob_account.pk,
                "hours": "0.25",
                "description": "Tea",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 429, response.content)

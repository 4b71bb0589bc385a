import re

from django.conf import settings
from django.core import mail
from django.urls import reverse

from listings import services as listings
from listings.models import Contact, ContactKind, Listing
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

from .support import make_listing

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class ReplyingToAListing(CastTestCase):
    offer: Listing
    olive_request: Listing
    gp_request: Listing

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.offer = make_listing(
            cls.riverside, cls.bob, "Computer help", category_slug="computers-and-phones"
        )
        cls.olive_request = make_listing(
            cls.riverside,
            cls.olive,
            "Weekly shopping",
            kind="request",
            category_slug="shopping-and-errands",
            author=cls.brenda,
        )
        cls.gp_request = make_listing(
            cls.riverside, cls.alice, "Volunteer drivers", kind="request", for_organisation=cls.gp
        )

    def reply(self, person, listing, message="I could help on Saturday morning."):
        self.client.force_login(person.user)
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(
                reverse("listing-detail", args=[listing.pk]), {"message": message}
            )

    def test_the_owner_is_emailed_the_message_and_the_repliers_name_but_no_address(self):
        response = self.reply(self.alice, self.offer)
        self.assertRedirects(response, reverse("listing-detail", args=[self.offer.pk]))
        self.assertEqual(len(mail.outbox), 1)
        email = mail.outbox[0]
        self.assertEqual(email.to, [user_of(self.bob).email])
        self.assertIn("Alice Archer", email.subject)
        self.assertIn("Riverside Time Bank", email.subject)
        self.assertIn("I could help on Saturday morning.", email.body)
        self.assertIn(f"{settings.SITE_URL}/listings/{self.offer.pk}/", email.body)
        # No address of the replier anywhere: not in the body, the headers or Reply-To.
        self.assertNotIn(user_of(self.alice).email, f"{email.body}{email.subject}")
        self.assertEqual(EMAIL_ADDRESS.findall(str(email.body)), [])
        self.assertEqual(email.from_email, settings.DEFAULT_FROM_EMAIL)
        self.assertEqual(email.reply_to, [])
        self.assertNotIn(user_of(self.alice).email, str(email.message()))

    def test_each_reply_is_recorded_as_a_contact(self):
        self.reply(self.alice, self.offer)
        contact = Contact.objects.get()
        self.assertEqual(contact.kind, ContactKind.REPLY)
        self.assertEqual(
            (contact.listing, contact.from_person, contact.to_person, contact.made_by),
            (self.offer, self.alice, self.bob, self.alice),
        )
        self.assertEqual(contact.time_bank, self.riverside)

    def test_an_offline_owner_gets_no_email_and_their_broker_sees_the_reply_on_the_page(self):
        response = self.reply(self.alice, self.olive_request, "I can shop on Tuesdays.")
        self.assertEqual(mail.outbox, [])
        self.assertEqual(Contact.objects.get().to_person, self.olive)
        followed = self.client.get(response["Location"])
        self.assertContains(followed, "their broker will pass your message on")
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("listing-detail", args=[self.olive_request.pk]))
        self.assertContains(page, "I can shop on Tuesdays.")
        self.assertContains(page, "From Alice Archer")

    def test_other_members_do_not_see_someone_elses_reply(self):
        self.reply(self.alice, self.offer, "A private note for Bob.")
        self.client.force_login(user_of(self.brenda))
        self.assertContains(
            self.client.get(reverse("listing-detail", args=[self.offer.pk])),
            "A private note for Bob.",
        )
        carol = make_member(self.riverside, "Carol Member")
        self.client.force_login(user_of(carol))
        self.assertNotContains(
            self.client.get(reverse("listing-detail", args=[self.offer.pk])),
            "A private note for Bob.",
        )

    def test_a_reply_to_an_organisation_reaches_its_representatives(self):
        self.reply(self.bob, self.gp_request)
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.alice).email]])
        self.assertNotIn(user_of(self.bob).email, mail.outbox[0].body)
        contact = Contact.objects.get()
        self.assertEqual((contact.to_person, contact.to_organisation), (None, self.gp))

    def test_the_owner_answers_a_replier_through_the_site(self):
        self.reply(self.alice, self.offer)
        mail.outbox.clear()
        self.client.force_login(user_of(self.bob))
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                reverse("listing-detail", args=[self.offer.pk]),
                {"message": "Saturday suits me.", "to_person": self.alice.pk},
            )
        self.assertEqual(mail.outbox[0].to, [user_of(self.alice).email])
        self.assertIn("Saturday suits me.", mail.outbox[0].body)
        self.assertNotIn(user_of(self.bob).email, mail.outbox[0].body)
        self.assertEqual(
            Contact.objects.filter(from_person=self.bob, to_person=self.alice).count(), 1
        )

    def test_the_owner_cannot_write_to_someone_who_never_wrote_to_them(self):
        self.client.force_login(user_of(self.bob))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("listing-detail", args=[self.offer.pk]),
                {"message": "Hello", "to_person": self.olive.pk},
                follow=True,
            )
        self.assertContains(response, "You can answer only people who wrote to you.")
        self.assertEqual(mail.outbox, [])

    def test_nobody_replies_to_their_own_listing_or_a_closed_one(self):
        self.reply(self.bob, self.offer)
        self.reply(self.alice, self.gp_request)  # alice represents the GP surgery
        listings.close_listing(listing=self.offer, editor=self.bob)
        self.reply(self.alice, self.offer)
        self.assertFalse(Contact.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_an_empty_message_is_refused_with_a_form_error(self):
        response = self.reply(self.alice, self.offer, "")
        self.assertEqual(response.status_code, 200)
        self.assertIn("message", response.context["reply_form"].errors)
        self.assertFalse(Contact.objects.exists())

    def test_outsiders_applicants_and_commissioners_cannot_reply_and_anonymous_must_sign_in(self):
        for person in (self.hugo, self.dora, self.cora):
            self.assertEqual(self.reply(person, self.offer).status_code, 404, person)
        self.client.logout()
        response = self.client.post(
            reverse("listing-detail", args=[self.offer.pk]), {"message": "hi"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Contact.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_the_email_is_sent_only_after_the_transaction_commits(self):
        self.client.force_login(user_of(self.alice))
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.client.post(reverse("listing-detail", args=[self.offer.pk]), {"message": "Hi"})
        self.assertEqual(mail.outbox, [])
        self.assertEqual(len(callbacks), 1)

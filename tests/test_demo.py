"""The demo (`make run` loads it) lets every journey in the README succeed (issue 22, problem
2: Bob stood past his limit, so "Alice records gardening for Bob" was refused)."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from members.models import Membership, Person, Status
from tests.factories import enrol_in_mfa


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@demo.timebank.localhost"


class TheDemosJourneys(TestCase):
    people: dict[str, Person]

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("load_demo", stdout=io.StringIO())
        cls.people = {p.display_name: p for p in Person.objects.select_related("user")}
        for name in ("Brenda Broker", "Cora Council"):
            enrol_in_mfa(cls.people[name].user)

    def sign_in(self, name: str) -> None:
        self.client.force_login(self.people[name].user)

    def account(self, name: str) -> Account:
        return Account.objects.get(person=self.people[name])

    def test_the_ledger_is_sound_and_everyone_is_4_hours_or_more_from_their_limit(self):
        self.assertEqual(ledger.verify_ledger(), [])
        for account in Account.objects.filter(person__isnull=False):
            room = account.available_minutes - (account.credit_limit_minutes or 0)
            self.assertGreaterEqual(room, 240, account.holder_name)

    def test_alice_records_gardening_for_bob_and_bob_confirms(self):
        self.sign_in("Alice Archer")
        url = reverse("record-exchange", args=["riverside"])
        form = self.client.get(url).context["form"]
        response = self.client.post(
            url,
            {
                "direction": "gave",
                "other": self.account("Bob Baker").pk,
                "effective_date": timezone.localdate().isoformat(),
                "minutes": "1.5",
                "description": "Weeded the front garden",
                "idempotency_key": form.initial["idempotency_key"],
            },
        )
        exchange = Exchange.objects.get(description="Weeded the front garden")
        self.assertRedirects(response, reverse("exchange", args=[exchange.pk]))
        self.sign_in("Bob Baker")
        home = self.client.get(reverse("home"))
        self.assertContains(home, "Weeded the front garden")
        self.assertContains(home, "Pruned the apple tree")
        for description in ("Weeded the front garden", "Pruned the apple tree"):
            waiting = Exchange.objects.get(description=description)
            self.client.post(reverse("confirm-exchange", args=[waiting.pk]))
            waiting.refresh_from_db()
            self.assertEqual(waiting.state, State.COMPLETED)

    def test_chidi_has_help_to_confirm(self):
        self.sign_in("Chidi Okafor")
        self.assertContains(
            self.client.get(reverse("home")), "Yes, Sam Turner helped me for 1.5 hours"
        )

    def test_brenda_decides_the_applicants_adds_a_member_and_approves_on_the_desk(self):
        self.sign_in("Brenda Broker")
        applications = Membership.objects.filter(status=Status.APPLIED)
        self.assertEqual(applications.count(), 3)
        for application in applications:
            self.client.post(reverse("approve-application", args=[application.pk]))
        self.assertFalse(Membership.objects.filter(status=Status.APPLIED).exists())
        response = self.client.post(
            reverse("add-offline-member", args=["riverside"]),
            {"display_name": "Margaret Dawson", "area": "GL54", "contact_preference": "broker"},
        )
        self.assertEqual(response.status_code, 302)
        tablet = Exchange.objects.get(description="Set up Edna's tablet")
        self.assertContains(self.client.get(reverse("desk", args=["riverside"])), "Edna")
        self.client.post(reverse("approve-exchange", args=[tablet.pk]))
        tablet.refresh_from_db()
        self.assertEqual(tablet.state, State.COMPLETED)

    def test_cora_reads_last_quarters_report_and_felix_is_being_checked(self):
        self.sign_in("Cora Council")
        home = self.client.get(reverse("home"))
        report = reverse("commissioner-report", args=["riverside"]) + "?preset=quarter"
        self.assertContains(home, report)
        self.assertEqual(self.client.get(report).status_code, 200)
        self.sign_in("Felix Grant")
        self.assertContains(self.client.get(reverse("home")), "We are checking your application.")

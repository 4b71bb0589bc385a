"""The audit trail page: brokers and admins of the bank list, filter and download it."""

import csv
import io
from datetime import datetime, timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from audit.views import CSV_HEADERS
from members.models import Person, Role
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of


class AuditPage(CastTestCase):
    ada: Person
    url: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        zone = timezone.get_current_timezone()
        with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=zone), tick=False):
            audit.record(
                action=Action.MEMBERSHIP_APPROVED,
                actor=cls.brenda,
                time_bank=cls.riverside,
                details={"old": True},
            )
        with time_machine.travel(datetime(2026, 3, 9, 10, 0, tzinfo=zone), tick=False):
            audit.record(
                action=Action.EXCHANGE_RECORDED,
                actor=cls.alice,
                time_bank=cls.riverside,
                on_behalf_of=cls.olive,
                details={"minutes": 60},
            )
            audit.record(action=Action.EXCHANGE_CONFIRMED, actor=None, time_bank=cls.riverside)
            audit.record(action=Action.EXCHANGE_RECORDED, actor=cls.hugo, time_bank=cls.hillside)
        cls.url = reverse("audit-log", args=["riverside"])

    def get(self, person, query=None):  # noqa: ANN001
        self.client.force_login(person.user)
        return self.client.get(self.url, query or {})

    def actions(self, response) -> list[str]:  # noqa: ANN001
        return [e.action for e in response.context["page"]]

    def test_brokers_and_admins_see_their_banks_events_newest_first(self):
        for person in (self.brenda, self.ada):
            response = self.get(person)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(
                self.actions(response),
                [Action.EXCHANGE_CONFIRMED, Action.EXCHANGE_RECORDED, Action.MEMBERSHIP_APPROVED],
            )
        self.assertContains(response, "The system")
        self.assertContains(response, "Alice Archer for Olive Offline")
        self.assertNotContains(response, "Hugo Hillside")

    def test_members_commissioners_applicants_and_other_banks_are_refused(self):
        for person in (self.alice, self.bob, self.cora, self.dora, self.hugo):
            with self.subTest(person=person.display_name):
                self.assertEqual(self.get(person).status_code, 403)
        self.client.logout()
        self.assertEqual(self.client.get(self.url).status_code, 302)

    def test_it_filters_by_action_actor_and_dates(self):
        by_action = self.get(self.brenda, {"action": Action.EXCHANGE_RECORDED})
        self.assertEqual(self.actions(by_action), [Action.EXCHANGE_RECORDED])
        by_actor = self.get(self.brenda, {"actor": "brenda"})
        self.assertEqual(self.actions(by_actor), [Action.MEMBERSHIP_APPROVED])
        first_week = self.get(self.brenda, {"since": "2026-03-01", "until": "2026-03-02"})
        self.assertEqual(self.actions(first_week), [Action.MEMBERSHIP_APPROVED])
        later = self.get(self.brenda, {"since": "2026-03-03"})
        self.assertEqual(len(self.actions(later)), 2)

    def test_malformed_filters_are_ignored(self):
        response = self.get(self.brenda, {"action": "nope", "since": "soon", "page": "x"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.actions(response)), 3)

    def test_the_csv_parses_with_stable_headers_and_iso_datetimes(self):
        response = self.get(self.brenda, {"format": "csv", "action": Action.EXCHANGE_RECORDED})
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        self.assertEqual(list(rows[0].keys()), CSV_HEADERS)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(datetime.fromisoformat(row["created_at"]).date().isoformat(), "2026-03-09")
        self.assertEqual(
            (row["action"], row["actor_name"], row["on_behalf_of_name"], row["details"]),
            ("exchange.recorded", "Alice Archer", "Olive Offline", '{"minutes": 60}'),
        )

    def test_the_desk_links_to_it(self):
        response = self.get(self.brenda)
        desk = self.client.get(reverse("desk", args=["riverside"]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(desk, self.url)

    def test_the_page_makes_the_same_queries_however_many_events(self):
        self.client.force_login(user_of(self.brenda))
        self.client.get(self.url)  # warm the session and caches
        with self.assertNumQueries(6):
            self.client.get(self.url)
        start = timezone.now() - timedelta(days=1)
        for n in range(30):
            audit.record(
                action=Action.EXCHANGE_RECORDED,
                actor=self.bob if n % 2 else self.alice,
                on_behalf_of=self.olive,
                time_bank=self.riverside,
                details={"n": n, "since": start.isoformat()},
            )
        with self.assertNumQueries(6):
            self.client.get(self.url)
        # The CSV also writes its own audit.downloaded event: one INSERT.
        with self.assertNumQueries(5):
            self.client.get(self.url, {"format": "csv"})

"""The statement shows a page of lines at a time (keyset on the account's entries), with
links to the earlier and later lines that work without JavaScript; every page's running
balance is right, each page costs the same queries, and the CSV still has the whole period."""

import csv
import html
import io
import re
from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exchanges import services
from ledger import services as ledger
from ledger.models import Account
from members.models import ApprovalRule
from tests.base import CastTestCase
from tests.support import user_of

PAGE = 5
LINES = 12


class StatementPaging(CastTestCase):
    alice_account: Account
    bob_account: Account

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.riverside.approval_rule = ApprovalRule.NONE
        cls.riverside.save()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        # Recorded in a muddled order (paper slips arrive late): "Help n" happened n days
        # after the first, but they are recorded odd ones first, then the even ones.
        for n in [*range(1, LINES, 2), *range(0, LINES, 2)]:
            # Alice gives more than she receives, so the balance moves both ways.
            giver, receiver = (
                (cls.bob_account, cls.alice_account)
                if n % 3 == 2
                else (cls.alice_account, cls.bob_account)
            )
            services.record_exchange(
                recorded_by=cls.brenda,
                giver=giver,
                receiver=receiver,
                minutes=15 * (n + 1),
                details=services.Details(
                    effective_date=timezone.localdate() - timedelta(days=LINES - n),
                    description=f"Help {n:02d}",
                ),
            )

    def setUp(self) -> None:
        # The queries of each page asked for, in order.
        self.query_counts: list[int] = []
        self.client.force_login(user_of(self.alice))
        patcher = mock.patch("exchanges.views.STATEMENT_PAGE", PAGE)
        patcher.start()
        self.addCleanup(patcher.stop)

    def get(self, query: str = ""):
        url = reverse("statement", args=["riverside"]) + query
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.query_counts.append(len(queries))
        return response

    def link(self, response, rel: str) -> str | None:
        found = re.search(rf'href="(\?[^"]*)" rel="{rel}"', response.content.decode())
        return html.unescape(found.group(1)) if found else None

    def descriptions(self, response) -> list[str]:
        return [line.journal.description for line in response.context["page"]]

    def newest_first(self, first: int, last: int) -> list[str]:
        return [f"Help {n:02d}" for n in range(LINES - 1 - first, LINES - 1 - last, -1)]

    def test_lines_are_by_date_of_help_newest_first_whatever_order_they_were_recorded(self):
        first = self.get()
        self.assertEqual(self.descriptions(first), self.newest_first(0, PAGE))
        dates = [line.journal.effective_date for line in first.context["page"]]
        self.assertEqual(dates, sorted(dates, reverse=True))

    def test_each_lines_balance_follows_the_order_shown(self):
        response = self.get("?start=2000-01-01")
        pages = [response]
        while self.link(pages[-1], "next"):
            pages.append(self.get(self.link(pages[-1], "next")))
        lines = [line for page in pages for line in page.context["page"]]
        self.assertEqual(len(lines), LINES)
        # Reading down: each balance is the one below it plus that line's hours.
        balance = response.context["closing"]
        for line in lines:
            self.assertEqual(line.running_balance, balance)
            balance -= line.amount_minutes
        self.assertEqual(balance, response.context["opening"])
        self.assertEqual(response.context["closing"], self.alice_account_balance())

    def test_newer_and_older_links_walk_every_line_once_with_the_right_balances(self):
        first = self.get()
        self.assertContains(first, "Balance at the end")
        self.assertNotContains(first, "Balance at the start")
        self.assertIsNone(self.link(first, "prev"))

        second = self.get(self.link(first, "next"))
        self.assertEqual(self.descriptions(second), self.newest_first(PAGE, 2 * PAGE))
        self.assertNotContains(second, "Balance at the end")
        self.assertEqual(
            second.context["page"][0].running_balance,
            first.context["page"][-1].running_balance - first.context["page"][-1].amount_minutes,
        )

        third = self.get(self.link(second, "next"))
        self.assertEqual(self.descriptions(third), self.newest_first(2 * PAGE, LINES))
        self.assertIsNone(self.link(third, "next"))
        self.assertContains(third, "Balance at the start")

        # Back from the last page gives the middle page again; and so on to the first.
        back = self.get(self.link(third, "prev"))
        self.assertEqual(self.descriptions(back), self.descriptions(second))
        self.assertEqual(
            [line.running_balance for line in back.context["page"]],
            [line.running_balance for line in second.context["page"]],
        )
        first_again = self.get(self.link(back, "prev"))
        self.assertEqual(self.descriptions(first_again), self.descriptions(first))
        self.assertIsNone(self.link(first_again, "prev"))

        # Every page costs the same queries, however far into the history.
        self.assertEqual(len(self.query_counts), 5)
        self.assertEqual(set(self.query_counts), {self.query_counts[0]})

    def test_each_line_says_with_whom(self):
        first = self.get()
        self.assertContains(first, "With whom")
        self.assertEqual({line.with_whom for line in first.context["page"]}, {"Bob Baker"})

    def alice_account_balance(self) -> int:
        return ledger.balance(account=self.alice_account).posted

    def test_the_balance_on_a_later_page_matches_the_whole_period_csv(self):
        second = self.get(self.link(self.get(), "next"))
        rows = list(csv.DictReader(io.StringIO(self.get("?format=csv").content.decode("utf-8"))))
        lines = rows[1:-1]  # between the closing and opening balance rows
        self.assertEqual(len(lines), LINES)
        self.assertEqual([row["description"] for row in lines], self.newest_first(0, LINES))
        self.assertEqual({row["with_whom"] for row in lines}, {"Bob Baker"})
        by_description = {row["description"]: int(row["balance_minutes"]) for row in lines}
        for line in second.context["page"]:
            self.assertEqual(by_description[line.journal.description], line.running_balance)

    def test_the_links_keep_the_period_and_account(self):
        first = self.get("?start=2000-01-01")
        self.assertIn("start=2000-01-01", self.link(first, "next"))
        self.assertIn(f"account={self.alice_account.pk}", self.link(first, "next"))

    def test_a_broken_page_link_is_a_clear_400(self):
        # "²" and "٣" are digits to str.isdigit() but not to int() or the database.
        for query in (
            "?older=abc",
            "?newer=2026-01-01.-1",
            "?older=2026-13-01.3",
            "?older=2026-01-01." + "9" * 30,
            "?newer=2026-01-01.²",
            "?older=1e9",
        ):
            with self.subTest(query=query):
                response = self.client.get(reverse("statement", args=["riverside"]) + query)
                self.assertEqual(response.status_code, 400)
                self.assertIn(b"statement page link is not valid", response.content)

    def test_an_account_that_is_no_number_names_nothing(self):
        for value in ("abc", "²", "٣"):
            with self.subTest(value=value):
                response = self.client.get(
                    reverse("statement", args=["riverside"]), {"account": value}
                )
                self.assertEqual(response.status_code, 404)

    def test_a_period_with_no_lines_has_no_paging(self):
        response = self.get("?start=2000-01-01&end=2000-12-31")
        self.assertEqual(list(response.context["page"]), [])
        self.assertIsNone(self.link(response, "next"))
        self.assertIsNone(self.link(response, "prev"))
        self.assertContains(response, "Balance at the start")
        self.assertContains(response, "Balance at the end")

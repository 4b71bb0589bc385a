"""Members and brokers record, confirm and approve exchanges through the web pages."""

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from exchanges import services as exchange_services
from exchanges.models import Exchange, State
from ledger import services as ledger
from members.models import ApprovalRule
from tests.base import CastTestCase
from tests.support import user_of


class RecordConfirmApprove(CastTestCase):
    def test_a_member_records_the_other_confirms_a_broker_approves_and_the_hours_move(self):
        self.riverside.approval_rule = ApprovalRule.ALL
        self.riverside.save()
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)

        # 1. Alice records that she gave Bob an hour and a half of gardening.
        self.client.force_login(user_of(self.alice))
        form = self.client.get(reverse("record-exchange", args=["riverside"]))
        key = form.context["form"].initial["idempotency_key"]
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": bob.pk,
                    "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                    "minutes": "1.5",
                    "description": "Weeded the front garden",
                    "coproduction": "co-delivery",
                    "idempotency_key": key,
                },
            )
        exchange = Exchange.objects.get()
        self.assertRedirects(response, reverse("exchange", args=[exchange.pk]))
        self.assertEqual((exchange.state, exchange.minutes), (State.UNCONFIRMED, 90))
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.bob).email]])
        self.assertIn("Please confirm", mail.outbox[0].subject)
        # Bob's hours are held, not yet moved.
        self.assertEqual(ledger.balance(account=bob).pending_out, 90)
        self.assertEqual(ledger.balance(account=alice).posted, 0)

        # 2. Bob confirms from his dashboard.
        self.client.force_login(user_of(self.bob))
        self.assertContains(
            self.client.get(reverse("dashboard", args=["riverside"])), "Weeded the front garden"
        )
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("confirm-exchange", args=[exchange.pk]))
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, State.AWAITING_APPROVAL)
        self.assertEqual(exchange.confirmed_by, self.bob)

        # 3. Brenda approves from her desk; both are told and the balances move.
        self.client.force_login(user_of(self.brenda))
        self.assertContains(
            self.client.get(reverse("desk", args=["riverside"])), "Weeded the front garden"
        )
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("approve-exchange", args=[exchange.pk]),
                {"next": reverse("desk", args=["riverside"])},
            )
        self.assertRedirects(response, reverse("desk", args=["riverside"]))
        exchange.refresh_from_db()
        self.assertEqual((exchange.state, exchange.approved_by), (State.COMPLETED, self.brenda))
        self.assertEqual(ledger.balance(account=alice).posted, 90)
        self.assertEqual(ledger.balance(account=bob).posted, -90)
        self.assertEqual(ledger.balance(account=bob).pending_out, 0)
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            sorted([user_of(self.alice).email, user_of(self.bob).email]),
        )
        self.assertTrue(all("Exchange recorded" in m.subject for m in mail.outbox))
        self.assertEqual(ledger.verify_ledger(), [])

    def test_a_double_submitted_form_records_the_exchange_once(self):
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.client.force_login(user_of(self.alice))
        data = {
            "direction": "gave",
            "other": bob.pk,
            "effective_date": timezone.localdate().isoformat(),
            "minutes": "1",
            "description": "Shopping",
            "coproduction": "co-delivery",
            "idempotency_key": "k-1",
        }
        first = self.client.post(reverse("record-exchange", args=["riverside"]), data)
        second = self.client.post(reverse("record-exchange", args=["riverside"]), data)
        self.assertEqual(first["Location"], second["Location"])
        self.assertEqual(Exchange.objects.count(), 1)

    def test_bad_hours_are_form_errors_and_nothing_is_recorded(self):
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.client.force_login(user_of(self.alice))
        base = {
            "direction": "gave",
            "other": bob.pk,
            "effective_date": timezone.localdate().isoformat(),
            "description": "Shopping",
            "coproduction": "co-delivery",
            "idempotency_key": "k-2",
        }
        for hours, message in [
            ("0", "greater than or equal to 0.25"),
            ("1.1", "quarter hours"),
            ("30", "at most 24 hours"),
            ("lots", "Enter a number"),
        ]:
            with self.subTest(hours=hours):
                response = self.client.post(
                    reverse("record-exchange", args=["riverside"]), {**base, "minutes": hours}
                )
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, message)
        future = {
            **base,
            "minutes": "1",
            "effective_date": (timezone.localdate() + timedelta(days=2)).isoformat(),
        }
        self.assertContains(
            self.client.post(reverse("record-exchange", args=["riverside"]), future),
            "cannot be in the future",
        )
        self.assertFalse(Exchange.objects.exists())

    def test_a_refusal_by_the_ledger_is_a_form_error(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.client.force_login(user_of(self.brenda))
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        data = {
            "giver": alice.pk,
            "receiver": bob.pk,
            "effective_date": timezone.localdate().isoformat(),
            "description": "Decorating",
            "coproduction": "co-delivery",
        }
        # Bob reaches his limit of -10 hours exactly; one more hour is refused.
        for n, hours in enumerate(["6", "4"]):
            self.client.post(
                reverse("record-exchange", args=["riverside"]),
                {**data, "minutes": hours, "idempotency_key": f"d{n}"},
            )
        response = self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {**data, "minutes": "1", "idempotency_key": "d3"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Bob Baker")
        self.assertEqual(ledger.balance(account=bob).posted, -600)


class DecidingInPlaceOnTheDesk(CastTestCase):
    """The desk's script (desk/static/timebank/desk.js) posts the same forms with
    ``X-Requested-With: in-place`` and swaps the card for the answer; anything but 200 makes it
    post the form the plain way."""

    IN_PLACE = {"X-Requested-With": "in-place"}

    def setUp(self) -> None:
        self.riverside.approval_rule = ApprovalRule.ALL
        self.riverside.confirmation_required = False
        self.riverside.save()
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.exchange = exchange_services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=bob,
            minutes=60,
            details=exchange_services.Details(
                effective_date=timezone.localdate(), description="Gardening"
            ),
        )
        self.client.force_login(user_of(self.brenda))
        self.desk = reverse("desk", args=["riverside"])

    def test_the_desk_loads_the_script_and_marks_its_forms(self):
        page = self.client.get(self.desk)
        self.assertContains(page, "timebank/desk.js")
        self.assertContains(page, "data-in-place", count=2)

    def test_an_approval_answers_with_the_card_and_no_message_for_later(self):
        url = reverse("approve-exchange", args=[self.exchange.pk])
        answer = self.client.post(url, {"next": self.desk}, headers=self.IN_PLACE)
        self.assertEqual(answer.status_code, 200)
        self.assertContains(answer, 'role="status"')
        self.assertContains(answer, "Done: the exchange is now completed.")
        self.assertContains(answer, reverse("exchange", args=[self.exchange.pk]))
        # Then the desk's heading, with what is left to approve.
        self.assertContains(answer, '<h2 id="approve">0 exchanges to approve</h2>', html=True)
        self.assertNotContains(answer, "<html")
        self.exchange.refresh_from_db()
        self.assertEqual(self.exchange.state, State.COMPLETED)
        # The message is in the card: the desk's next load does not repeat it.
        self.assertNotContains(self.client.get(self.desk), "Done: the exchange is now")

    def test_a_decline_without_a_reason_or_twice_is_a_400_and_changes_nothing(self):
        decline = reverse("decline-exchange", args=[self.exchange.pk])
        self.assertEqual(
            self.client.post(decline, {"reason": ""}, headers=self.IN_PLACE).status_code, 400
        )
        self.exchange.refresh_from_db()
        self.assertEqual(self.exchange.state, State.AWAITING_APPROVAL)
        done = self.client.post(decline, {"reason": "Not help"}, headers=self.IN_PLACE)
        self.assertContains(done, "Done: the exchange is now declined.")
        again = self.client.post(decline, {"reason": "Not help"}, headers=self.IN_PLACE)
        self.assertEqual(again.status_code, 400)

    def test_the_plain_post_still_goes_back_to_the_desk_with_the_message(self):
        url = reverse("approve-exchange", args=[self.exchange.pk])
        response = self.client.post(url, {"next": self.desk}, follow=True)
        self.assertRedirects(response, self.desk)
        self.assertContains(response, "Done: the exchange is now completed.")


class BrokerRecordsForAnOfflineMember(CastTestCase):
    def test_a_broker_records_for_olive_and_it_completes_without_confirmation_or_email_to_her(self):
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.client.force_login(user_of(self.brenda))
        url = reverse("record-exchange", args=["riverside"]) + f"?for={olive.pk}"
        page = self.client.get(url)
        self.assertContains(page, "Record an exchange for Olive Offline")
        self.assertContains(page, "Did Olive Offline give or receive help?")
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                url,
                {
                    "direction": "gave",
                    "other": alice.pk,
                    "effective_date": timezone.localdate().isoformat(),
                    "minutes": "2",
                    "description": "Knitted a blanket",
                    "coproduction": "co-delivery",
                    "idempotency_key": "olive-1",
                },
            )
        exchange = Exchange.objects.get()
        self.assertEqual((exchange.state, exchange.recorded_by), (State.COMPLETED, self.brenda))
        self.assertEqual(ledger.balance(account=olive).posted, 120)
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.alice).email]])


class Statement(CastTestCase):
    def test_the_statement_shows_opening_and_closing_balances_and_downloads_as_csv(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        for n, minutes in enumerate([60, 45]):
            ledger.transfer(
                from_account=bob,
                to_account=alice,
                minutes=minutes,
                idempotency_key=f"s{n}",
                effective_date=timezone.localdate(),
                recorded_by=self.brenda,
                description=f"Help {n}",
            )
        self.client.force_login(user_of(self.alice))
        page = self.client.get(reverse("statement", args=["riverside"]))
        self.assertEqual((page.context["opening"], page.context["closing"]), (0, 105))
        self.assertContains(page, "1.75 hours")
        csv = self.client.get(reverse("statement", args=["riverside"]), {"format": "csv"})
        rows = csv.content.decode().strip().splitlines()
        self.assertEqual(
            rows[0],
            "date_of_help,recorded_on,description,with_whom,minutes,hours,balance_minutes",
        )
        self.assertEqual(len(rows), 5)
        # Newest first: the closing balance, then each line, then the opening balance.
        self.assertTrue(rows[1].endswith(",105"))
        self.assertTrue(rows[-1].endswith(",0"))

    def test_a_member_cannot_open_someone_elses_statement(self):
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.client.force_login(user_of(self.alice))
        self.assertEqual(
            self.client.get(
                reverse("statement", args=["riverside"]), {"account": bob.pk}
            ).status_code,
            404,
        )
        self.client.force_login(user_of(self.brenda))
        self.assertEqual(
            self.client.get(
                reverse("statement", args=["riverside"]), {"account": bob.pk}
            ).status_code,
            200,
        )

    def test_an_end_before_the_start_is_a_form_error(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.get(
            reverse("statement", args=["riverside"]), {"start": "2026-05-01", "end": "2026-04-01"}
        )
        self.assertContains(response, "on or after the start date")


class MalformedQueryStrings(CastTestCase):
    def test_a_malformed_id_in_the_address_is_a_404_not_an_error(self):
        self.client.force_login(user_of(self.brenda))
        for url in (
            reverse("record-exchange", args=["riverside"]) + "?for=abc",
            reverse("record-exchange", args=["riverside"]) + "?listing=1e9",
            reverse("statement", args=["riverside"]) + "?account=-1",
            reverse("statement", args=["riverside"]) + "?account=99999999999999999999999",
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)


class DashboardRecentExchanges(CastTestCase):
    def test_the_latest_recorded_are_listed_newest_date_first(self):
        # Alice records three hours for Bob out of order, the last one back-dated a month;
        # Bob's dashboard lists all three by the day the help happened, newest first.
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        today = timezone.localdate()
        for days, what in [(3, "Gardening"), (1, "Shopping"), (30, "Ironing")]:
            exchange_services.record_exchange(
                recorded_by=self.alice,
                giver=alice,
                receiver=bob,
                minutes=60,
                details=exchange_services.Details(
                    effective_date=today - timedelta(days=days), description=what
                ),
            )
        self.client.force_login(user_of(self.bob))
        page = self.client.get(reverse("dashboard", args=["riverside"]))
        shown = [e.description for e in page.context["recent"]]
        self.assertEqual(shown, ["Shopping", "Gardening", "Ironing"])
        html = page.content.decode()
        self.assertLess(html.index("Shopping"), html.index("Gardening"))
        self.assertLess(html.index("Gardening"), html.index("Ironing"))

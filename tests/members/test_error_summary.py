"""Problem 9 of issue 22: a form's errors are summarised at its top (the GOV.UK pattern), the
summary takes the focus when the page loads, and each error links to its field.

On a phone the application form is long: an unticked code-of-conduct box used to reload the
page at its top with the only message 3,100 px further down.
"""

from __future__ import annotations

import re

from django.core.cache import cache
from django.urls import reverse

from ledger import services as ledger
from tests.base import CastTestCase
from tests.factories import PASSWORD, make_user
from tests.support import user_of

SUMMARY = re.compile(r'<div class="error-summary"([^>]*)>(.*?)</div>', re.S)


class ErrorSummary(CastTestCase):
    def setUp(self) -> None:
        cache.clear()

    def summary(self, response) -> tuple[str, list[tuple[str, str]]]:
        html = response.content.decode()
        found = SUMMARY.search(html)
        self.assertIsNotNone(found, "no error summary on the page")
        attributes, inner = found.groups()
        links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', inner)
        for target, _message in links:
            self.assertRegex(html, rf'id="{re.escape(target)}"', f"no field with id {target}")
        return attributes, links

    def assert_first_in_the_form(self, response) -> None:
        html = response.content.decode()
        form = html.index('<form method="post"', html.index("<main"))
        first_field = re.compile(r'<(input(?! type="hidden")|select|textarea)').search(html, form)
        self.assertLess(html.index('class="error-summary"'), first_field.start())
        self.assertIn("<title>Error:", html)

    def test_an_unticked_code_of_conduct_box_is_summarised_at_the_top_and_linked(self):
        self.client.force_login(make_user("newcomer@example.org"))
        response = self.client.post(
            reverse("apply", args=["riverside"]),
            {
                "display_name": "Nia Newcomer",
                "area": "GL52",
                "contact_preference": "email",
                "referee_1_name": "Pat Jones",
                "referee_1_contact": "01632 960123",
                "referee_2_name": "Sam Lee",
                "referee_2_contact": "sam@example.org",
            },
        )
        self.assertEqual(response.status_code, 200)
        attributes, links = self.summary(response)
        self.assertIn("autofocus", attributes)
        self.assertIn('role="alert"', attributes)
        self.assertIn(("id_agrees_to_code", "Please agree to the code of conduct to apply."), links)
        self.assert_first_in_the_form(response)

    def test_a_group_of_choices_links_to_its_first_choice(self):
        self.client.force_login(user_of(self.alice))
        form = self.client.get(reverse("record-exchange", args=["riverside"])).context["form"]
        response = self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {"idempotency_key": form.initial["idempotency_key"], "minutes": "0.3"},
        )
        _attributes, links = self.summary(response)
        targets = [target for target, _ in links]
        self.assertEqual(
            targets[:5],
            ["id_direction_0", "id_other", "id_effective_date", "id_minutes", "id_description"],
        )
        self.assert_first_in_the_form(response)

    def test_a_refusal_by_the_rules_is_in_the_summary_too(self):
        self.riverside.max_exchange_minutes = 60
        self.riverside.save(update_fields=["max_exchange_minutes"])
        self.client.force_login(user_of(self.alice))
        form = self.client.get(reverse("record-exchange", args=["riverside"])).context["form"]
        response = self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {
                "direction": "gave",
                "other": ledger.open_account(time_bank=self.riverside, person=self.bob).pk,
                "effective_date": "2020-01-01",
                "minutes": "2",
                "description": "Gardening",
                "idempotency_key": form.initial["idempotency_key"],
            },
        )
        html = SUMMARY.search(response.content.decode()).group(2)
        self.assertIn("There is a problem", html)

    def test_allauths_sign_in_form_has_the_summary(self):
        response = self.client.post(
            reverse("account_login"), {"login": "alice.archer@example.org", "password": "wrong"}
        )
        self.summary(response)
        self.assertContains(response, "There is a problem")
        self.assertEqual(
            self.client.post(
                reverse("account_login"),
                {"login": "alice.archer@example.org", "password": PASSWORD},
            ).status_code,
            302,
        )

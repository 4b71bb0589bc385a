"""Help in the same place on every page (WCAG 2.2 SC 3.2.6): "Contact your broker" in the footer."""

from __future__ import annotations

from django.test import Client, override_settings
from django.urls import reverse

from tests.base import CastTestCase
from tests.support import user_of


def help_paragraph(html: str) -> str:
    start = html.index('<p class="help" id="help">')
    return html[start : html.index("</p>", start)]


@override_settings(HELP_CONTACT_EMAIL="help@scheme.example", HELP_CONTACT_PHONE="0300 123 4567")
class HelpContactTests(CastTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.riverside.contact_email = "brokers@riverside.example"
        cls.riverside.contact_phone = "01632 960 123"
        cls.riverside.save(update_fields=["contact_email", "contact_phone"])

    def test_a_member_is_pointed_to_their_own_banks_broker_on_every_page(self) -> None:
        self.client.force_login(user_of(self.alice))
        for url in [
            reverse("home"),
            reverse("dashboard", args=["riverside"]),
            reverse("listings", args=["riverside"]),
            reverse("profile"),
            "/accounts/email/",
            "/no-such-page/",
        ]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertIn(response.status_code, {200, 404})
                help_text = help_paragraph(response.content.decode())
                self.assertIn(
                    '<a class="help-link" href="mailto:brokers@riverside.example">'
                    "Contact your broker</a>",
                    help_text,
                )
                self.assertIn("Riverside Time Bank", help_text)
                self.assertIn("01632 960 123", help_text)

    def test_an_applicant_is_pointed_to_the_bank_they_applied_to(self) -> None:
        self.client.force_login(user_of(self.dora))
        help_text = help_paragraph(self.client.get(reverse("home")).content.decode())
        self.assertIn("mailto:brokers@riverside.example", help_text)

    def test_anyone_else_gets_the_schemes_general_contact(self) -> None:
        for client, url in [
            (Client(), reverse("account_login")),
            (Client(), reverse("account_signup")),
            (Client(), "/no-such-page/"),
        ]:
            with self.subTest(url=url):
                help_text = help_paragraph(client.get(url).content.decode())
                self.assertIn(
                    '<a class="help-link" href="mailto:help@scheme.example">Contact your broker</a>',
                    help_text,
                )
                self.assertIn("0300 123 4567", help_text)
        # Hugo's bank gave no contact: he gets the scheme's.
        self.client.force_login(user_of(self.hugo))
        help_text = help_paragraph(self.client.get(reverse("home")).content.decode())
        self.assertIn("mailto:help@scheme.example", help_text)

    def test_a_refusal_is_a_plain_page_in_the_site_layout_with_the_help_link(self) -> None:
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("desk", args=["riverside"]))
        self.assertEqual(response.status_code, 403)
        html = response.content.decode()
        self.assertIn("You cannot see this page", html)
        self.assertIn("mailto:brokers@riverside.example", help_paragraph(html))

    def test_a_server_error_is_a_plain_page_with_the_schemes_contact_and_no_trace(self) -> None:
        from timebank.urls import server_error

        response = server_error(self.client.request().wsgi_request)
        html = response.content.decode()
        self.assertEqual(response.status_code, 500)
        self.assertIn("Sorry, there is a problem with the service", html)
        self.assertIn("mailto:help@scheme.example", help_paragraph(html))
        self.assertNotIn("Traceback", html)

"""Staff must set up two-factor authentication before they reach any member data or report.

bella is a broker of Riverside who has not set up an authenticator app yet (``mfa=False``);
the cast's own staff (brenda, cora, hugo) have one, made by ``tests.factories.make_member``.
"""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from members.models import CommissionerGrant, Person, Role, User
from tests.base import CastTestCase
from tests.factories import PASSWORD, enrol_in_mfa, make_member, make_person, make_user, totp_code
from tests.support import user_of

ACTIVATE = reverse("mfa_activate_totp")
AUTHENTICATE = reverse("mfa_authenticate")


def month() -> str:
    return (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


class StaffWithoutTwoFactor(CastTestCase):
    bella: Person
    staff_pages: list[str]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # bella: a broker of Riverside with no authenticator app yet.
        cls.bella = make_member(cls.riverside, "Bella Broker", role=Role.BROKER, mfa=False)
        cls.staff_pages = [
            reverse("home"),
            reverse("desk", args=["riverside"]),
            reverse("application-queue", args=["riverside"]),
            reverse("member-search", args=["riverside"]),
            reverse("member-page", args=["riverside", cls.alice.pk]),
            reverse("report-list", args=["riverside"]),
            reverse("commissioner-report", args=["riverside"]),
            reverse("audit-log", args=["riverside"]),
        ]

    def setUp(self) -> None:
        cache.clear()

    def assert_sent_to_set_up(self, user: User, url: str) -> None:
        self.client.force_login(user)
        response = self.client.get(url)
        self.assertRedirects(response, ACTIVATE, fetch_redirect_response=False, msg_prefix=url)

    def test_an_unenrolled_broker_is_sent_to_set_up_an_authenticator_from_every_staff_page(self):
        for url in self.staff_pages:
            with self.subTest(url=url):
                self.assert_sent_to_set_up(user_of(self.bella), url)

    def test_the_set_up_page_says_why_in_plain_english(self):
        self.client.force_login(user_of(self.bella))
        response = self.client.get(reverse("desk", args=["riverside"]), follow=True)
        # allauth asks for the password again before adding an authenticator; the
        # explanation is shown on whichever page comes first.
        self.assertContains(response, "please set up an authenticator app on your phone")

    def test_an_unenrolled_broker_gets_403_with_a_clear_message_from_the_api(self):
        token = Token.objects.create(user=user_of(self.bella))
        for url in (reverse("api-me"), reverse("exchange-list"), reverse("application-list")):
            with self.subTest(url=url, by="token"):
                response = self.client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
                self.assertEqual(response.status_code, 403)
                self.assertIn("authenticator app", response.json()["detail"])
            with self.subTest(url=url, by="session"):
                self.client.force_login(user_of(self.bella))
                response = self.client.get(url)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response.json()["code"], "mfa_required")

    def test_account_pages_sign_out_static_and_health_stay_open(self):
        self.client.force_login(user_of(self.bella))
        self.assertEqual(self.client.get(reverse("health")).status_code, 200)
        # allauth's set-up page (or its password check first) is not redirected to itself.
        self.assertNotEqual(self.client.get(ACTIVATE).get("Location"), ACTIVATE)
        self.assertEqual(self.client.get(reverse("account_email")).status_code, 200)
        self.client.post(reverse("account_logout"))
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_after_enrolling_the_pages_open(self):
        enrol_in_mfa(user_of(self.bella))
        self.client.force_login(user_of(self.bella))
        for url in self.staff_pages:
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 200)
        token = Token.objects.create(user=user_of(self.bella))
        response = self.client.get(reverse("api-me"), HTTP_AUTHORIZATION=f"Token {token.key}")
        self.assertEqual(response.status_code, 200)

    def test_recovery_codes_alone_are_not_a_second_factor(self):
        RecoveryCodes.activate(self.bella.user)
        self.assert_sent_to_set_up(user_of(self.bella), reverse("desk", args=["riverside"]))

    def test_admins_commissioners_grant_holders_and_site_staff_must_enrol_too(self):
        ada = make_member(self.riverside, "Ada Admin", role=Role.ADMIN, mfa=False)
        carl = make_member(self.riverside, "Carl Council", role=Role.COMMISSIONER, mfa=False)
        fiona = make_person("Fiona Funder")
        CommissionerGrant.objects.create(
            person=fiona, time_bank=self.riverside, starts_on=timezone.localdate()
        )
        superuser = make_user("root@example.org")
        User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
        for who, url in (
            (ada.user, reverse("desk", args=["riverside"])),
            (carl.user, reverse("commissioner-report", args=["riverside"])),
            (fiona.user, reverse("commissioner-report", args=["riverside"])),
            (superuser, "/admin/"),
        ):
            with self.subTest(who=str(who)):
                self.assert_sent_to_set_up(who, url)

    def test_an_ended_grant_makes_no_one_staff(self):
        gus = make_person("Gus Gone")
        CommissionerGrant.objects.create(
            person=gus,
            time_bank=self.riverside,
            starts_on=timezone.localdate() - timedelta(days=400),
            ends_on=timezone.localdate() - timedelta(days=35),
        )
        self.client.force_login(user_of(gus))
        self.assertEqual(self.client.get(reverse("home")).status_code, 200)

    def test_members_and_applicants_are_not_forced(self):
        for person, url in (
            (self.alice, reverse("dashboard", args=["riverside"])),
            (self.dora, reverse("home")),
        ):
            with self.subTest(person=person.display_name):
                self.client.force_login(user_of(person))
                self.assertEqual(self.client.get(url).status_code, 200)


class SigningInAsksForTheCode(CastTestCase):
    secret: str
    email: str
    desk: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.secret = enrol_in_mfa(
            make_member(cls.riverside, "Bella Broker", role=Role.BROKER, mfa=False).user
        )
        cls.email = "bella.broker@example.org"
        cls.desk = reverse("desk", args=["riverside"])

    def setUp(self) -> None:
        cache.clear()  # rate limits and codes already used

    def sign_in_with_password(self) -> None:
        response = self.client.post(
            reverse("account_login"), {"login": self.email, "password": PASSWORD}
        )
        self.assertRedirects(response, AUTHENTICATE, fetch_redirect_response=False)
        self.assertNotIn("_auth_user_id", self.client.session)
        # Still not signed in: the desk sends them to sign in.
        self.assertEqual(self.client.get(self.desk).status_code, 302)
        self.assertNotEqual(self.client.get(self.desk)["Location"], ACTIVATE)

    def test_a_wrong_code_is_refused(self):
        self.sign_in_with_password()
        right = totp_code(self.secret)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        response = self.client.post(AUTHENTICATE, {"code": wrong})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Incorrect code")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_right_code_lets_them_in(self):
        self.sign_in_with_password()
        response = self.client.post(AUTHENTICATE, {"code": totp_code(self.secret)})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.client.get(self.desk).status_code, 200)

    def test_a_code_is_refused_the_second_time(self):
        code = totp_code(self.secret)
        self.sign_in_with_password()
        self.client.post(AUTHENTICATE, {"code": code})
        self.client.logout()
        self.sign_in_with_password()
        self.assertContains(self.client.post(AUTHENTICATE, {"code": code}), "Incorrect code")

    def test_a_recovery_code_lets_them_in_once(self):
        authenticator = Authenticator.objects.get(
            user__email=self.email, type=Authenticator.Type.RECOVERY_CODES
        )
        code = authenticator.wrap().get_unused_codes()[0]
        self.sign_in_with_password()
        self.assertEqual(self.client.post(AUTHENTICATE, {"code": code}).status_code, 302)
        self.assertEqual(self.client.get(self.desk).status_code, 200)
        self.client.logout()
        self.sign_in_with_password()
        self.assertContains(self.client.post(AUTHENTICATE, {"code": code}), "Incorrect code")

    def test_a_member_who_opts_in_is_asked_for_the_code_too(self):
        secret = enrol_in_mfa(user_of(self.alice))
        response = self.client.post(
            reverse("account_login"), {"login": "alice.archer@example.org", "password": PASSWORD}
        )
        self.assertRedirects(response, AUTHENTICATE, fetch_redirect_response=False)
        self.client.post(AUTHENTICATE, {"code": totp_code(secret)})
        self.assertEqual(self.client.get(reverse("dashboard", args=["riverside"])).status_code, 200)


class AdminSignInGoesThroughAllauth(CastTestCase):
    root: User
    secret: str

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.root = make_user("root@example.org")
        User.objects.filter(pk=cls.root.pk).update(is_staff=True, is_superuser=True)
        cls.secret = enrol_in_mfa(cls.root)

    def setUp(self) -> None:
        cache.clear()

    def test_admins_login_page_redirects_to_allauths_keeping_where_to_go(self):
        response = self.client.get("/admin/login/", {"next": "/admin/members/user/"})
        self.assertRedirects(
            response,
            reverse("account_login") + "?next=%2Fadmin%2Fmembers%2Fuser%2F",
            fetch_redirect_response=False,
        )
        # Django admin's own redirect for anonymous visitors ends there too.
        self.assertRedirects(
            self.client.get("/admin/", follow=True),
            reverse("account_login") + "?next=%2Fadmin%2F",
        )

    def test_admins_own_form_cannot_sign_in_with_a_password_alone(self):
        self.client.post(
            "/admin/login/?next=/admin/",
            {"username": "root@example.org", "password": PASSWORD, "next": "/admin/"},
        )
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertEqual(self.client.get("/admin/").status_code, 302)

    def test_an_admin_signs_in_with_the_code_and_reaches_the_admin(self):
        login = reverse("account_login") + "?next=/admin/"
        response = self.client.post(login, {"login": "root@example.org", "password": PASSWORD})
        self.assertRedirects(response, AUTHENTICATE, fetch_redirect_response=False)
        response = self.client.post(AUTHENTICATE, {"code": totp_code(self.secret)})
        self.assertRedirects(response, "/admin/", fetch_redirect_response=False)
        self.assertEqual(self.client.get("/admin/").status_code, 200)

    def test_a_signed_in_member_who_is_not_staff_is_refused_not_looped(self):
        self.client.force_login(user_of(self.alice))
        self.assertEqual(self.client.get("/admin/login/?next=/admin/").status_code, 403)

    def test_an_outside_next_address_is_ignored(self):
        response = self.client.get("/admin/login/", {"next": "https://evil.example/"})
        self.assertEqual(response["Location"], reverse("account_login") + "?next=%2Fadmin%2F")


class SettingUpTwoFactorAsABrowserDoes(CastTestCase):
    """Problem 1 of issue 22: a broker sets up her authenticator app in a real browser, which
    asks for /favicon.ico by itself and may load the set-up page more than once."""

    bella: Person

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # bella: a broker of Riverside with no authenticator app yet.
        cls.bella = make_member(cls.riverside, "Bella Broker", role=Role.BROKER, mfa=False)

    def setUp(self) -> None:
        cache.clear()

    def sign_in(self):
        return self.client.post(
            reverse("account_login"),
            {"login": "bella.broker@example.org", "password": PASSWORD},
            follow=True,
        )

    def secret_on(self, response) -> str:
        found = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', response.text)
        if found is None:
            found = re.search(r'value="([A-Z2-7]+)"[^>]*id="authenticator_secret"', response.text)
        self.assertIsNotNone(found, "no secret on the set-up page")
        return found.group(1)

    def test_a_broker_who_has_just_signed_in_is_not_asked_for_her_password_again(self):
        response = self.sign_in()
        self.assertEqual(response.redirect_chain[-1][0], ACTIVATE)
        self.assertContains(response, 'id="authenticator_secret"')

    def test_after_a_while_the_password_is_asked_again_before_the_set_up(self):
        self.sign_in()
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            response = self.client.get(ACTIVATE)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("account_reauthenticate"), response["Location"])

    def test_the_favicon_and_a_reload_between_scanning_and_typing_keep_the_secret(self):
        scanned = self.secret_on(self.sign_in())
        favicon = self.client.get("/favicon.ico")
        self.assertEqual(favicon.status_code, 200)
        self.assertIn("icon", favicon["Content-Type"])
        self.assertEqual(self.secret_on(self.client.get(ACTIVATE)), scanned)
        response = self.client.post(ACTIVATE, {"code": totp_code(scanned)})
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertTrue(
            Authenticator.objects.filter(
                user=self.bella.user, type=Authenticator.Type.TOTP
            ).exists()
        )
        self.assertEqual(self.client.get(reverse("desk", args=["riverside"])).status_code, 200)

    def test_a_second_set_up_after_signing_out_gets_a_new_secret(self):
        first = self.secret_on(self.sign_in())
        self.client.post(reverse("account_logout"))
        self.assertNotEqual(self.secret_on(self.sign_in()), first)

    def test_the_favicon_is_an_icon_for_everyone_and_never_a_redirect(self):
        self.assertEqual(self.client.get("/favicon.ico").status_code, 200)
        for person in (self.alice, self.bella):
            with self.subTest(person=person.display_name):
                self.client.force_login(user_of(person))
                response = self.client.get("/favicon.ico")
                self.assertEqual(response.status_code, 200)
                self.assertIn("icon", response["Content-Type"])
        self.client.force_login(user_of(self.alice))
        self.assertContains(self.client.get(reverse("home")), 'rel="icon"')

    def test_what_unenrolled_staff_may_load_is_decided_by_the_page_not_its_address(self):
        self.client.force_login(user_of(self.bella))
        # allauth's pages, wherever they are: open.
        for name in ("account_email", "account_change_password", "mfa_index"):
            with self.subTest(page=name):
                self.assertNotEqual(
                    self.client.get(reverse(name)).get("Location", ""), ACTIVATE, name
                )
        # A page of ours is closed, and so is anything that merely starts like an open one.
        for path in (reverse("desk", args=["riverside"]), "/admin/", "/healthz"):
            with self.subTest(path=path):
                response = self.client.get(path)
                if response.status_code != 404:
                    self.assertRedirects(response, ACTIVATE, fetch_redirect_response=False)

    def test_what_the_browser_fetches_by_itself_is_refused_not_sent_to_the_set_up(self):
        self.client.force_login(user_of(self.bella))
        response = self.client.get(
            reverse("desk", args=["riverside"]), headers={"Sec-Fetch-Dest": "image"}
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn("authenticator app", response.content.decode())

"""allauth's sign-in rate limits count by the client's real address behind the proxy.

With TRUSTED_PROXY_COUNT=1 (one proxy in front, as in docker-compose.yml) the client is the
last X-Forwarded-For entry, the one the proxy appended; whatever a client writes in the header
itself comes before it and is ignored.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from tests.base import CastTestCase
from tests.factories import PASSWORD
from tests.support import PageResponse

TOO_MANY = "Too many failed login attempts"
# allauth's per-address limit on failed sign-ins, from settings ("10/m/ip,5/5m/key").
PER_ADDRESS = int(settings.ACCOUNT_RATE_LIMITS["login_failed"].split("/")[0])


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
class FailedSignInsBehindAProxy(CastTestCase):
    def setUp(self) -> None:
        cache.clear()

    def sign_in(self, email: str, password: str, forwarded_for: str) -> PageResponse:
        self.client.logout()
        return self.client.post(
            reverse("account_login"),
            {"login": email, "password": password},
            HTTP_X_FORWARDED_FOR=forwarded_for,
            REMOTE_ADDR="10.0.0.2",  # the proxy itself: the same for every client
        )

    def fail_from(self, address: str, *, spoof: bool = False) -> None:
        """PER_ADDRESS wrong passwords, each for a different email (so only the address adds up)."""
        for n in range(PER_ADDRESS):
            header = f"192.0.2.{n}, {address}" if spoof else address
            response = self.sign_in(f"nobody{n}@example.org", "wrong-password", header)
            self.assertEqual(response.status_code, 200)
            self.assertNotContains(response, TOO_MANY)

    def test_failures_from_one_address_block_it_and_not_another(self):
        self.fail_from("203.0.113.7")
        refused = self.sign_in("bob.baker@example.org", PASSWORD, "203.0.113.7")
        self.assertContains(refused, TOO_MANY)
        self.assertNotIn("_auth_user_id", self.client.session)
        other = self.sign_in("bob.baker@example.org", PASSWORD, "198.51.100.20")
        self.assertEqual(other.status_code, 302)
        self.assertIn("_auth_user_id", self.client.session)

    def test_an_entry_the_client_adds_to_the_header_does_not_evade_the_limit(self):
        self.fail_from("203.0.113.7", spoof=True)
        refused = self.sign_in("bob.baker@example.org", PASSWORD, "192.0.2.99, 203.0.113.7")
        self.assertContains(refused, TOO_MANY)

    @override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=0)
    def test_without_a_trusted_proxy_the_header_is_ignored(self):
        # Every client seems to come from the proxy's address: the header cannot split them.
        self.fail_from("203.0.113.7")
        refused = self.sign_in("bob.baker@example.org", PASSWORD, "198.51.100.20")
        self.assertContains(refused, TOO_MANY)

    @override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=2)
    def test_a_header_shorter_than_the_proxy_count_is_counted_by_the_connection(self):
        # One entry where two proxies were expected: the request skipped a proxy (or the count
        # is set too high). allauth alone fails the page with a 500; here it is counted by the
        # connection's address, so writing a new entry each time evades nothing.
        self.fail_from("203.0.113.7")
        refused = self.sign_in("bob.baker@example.org", PASSWORD, "198.51.100.20")
        self.assertContains(refused, TOO_MANY)
        self.assertNotIn("_auth_user_id", self.client.session)

"""The permission matrix: every URL pattern of the site and the API, for every role.

The rows are checked against the URL configuration: a new URL pattern without a row here fails
the suite, and so does a row for a pattern that no longer exists. Each cell is one request as
that person, in a savepoint rolled back afterwards, so cells never affect each other.

Roles (columns, in this order):
  anon    nobody signed in
  dora    applied to Riverside, not yet approved
  bob     a member of Riverside
  alice   a member of Riverside who represents its GP surgery (an organisation)
  brenda  the broker of Riverside
  ada     an administrator of Riverside, and its safeguarding lead
  cora    a commissioner with Riverside in her remit (aggregates only)
  hugo    the broker of another time bank (Hillside)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from exchanges import services as exchanges
from exchanges.models import Exchange
from imports.models import ImportRun
from interbank import services as interbank
from interbank.models import CrossBankExchange, Link
from ledger import services as ledger
from ledger.models import Account
from listings import services as listings_services
from listings.models import Capability, CapabilityLevel, Category, Listing, ListingKind
from members.models import Membership, Person, Role
from reminders.services import preference_for
from reports.models import ReportExport
from safeguarding import services as safeguarding
from safeguarding.models import CheckOutcome, CheckType, SafeguardingRecord
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

ROLES = ["anon", "dora", "bob", "alice", "brenda", "ada", "cora", "hugo"]

# name: (arguments, statuses for GET, statuses for POST), statuses by role in the order of ROLES.
# Arguments name objects made in setUpTestData: slug, exchange, listing, request, capability,
# application, person (bob), offline (olive), check (a safeguarding check on bob), token (bob's
# unsubscribe token), kind, month, followup (a list name), export (a worker-built commissioner
# report cora asked for, still queued), import (an import into Riverside, done).
# POSTs send a reason (web) or the body in API_BODIES, so the check reaches past validation.
# fmt: off
MATRIX: dict[str, tuple[tuple[str, ...], str, str]] = {
    # name                   arguments            GET: anon dora bob alice brenda ada cora hugo   POST: same order
    "health": ((), "200 200 200 200 200 200 200 200", "200 200 200 200 200 200 200 200"),
    "home": ((), "200 200 200 200 200 200 200 200", "200 200 200 200 200 200 200 200"),
    "profile": ((), "302 200 200 200 200 200 200 200", "302 200 200 200 200 200 200 200"),
    "profile-export": ((), "302 200 200 200 200 200 200 200", "302 405 405 405 405 405 405 405"),
    "apply": (("slug",), "302 302 302 302 302 302 302 200", "302 302 302 302 302 302 302 200"),
    "application-queue": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "add-offline-member": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "approve-application": (("application",), "302 405 405 405 405 405 405 405", "302 404 404 404 302 302 404 404"),
    "decline-application": (("application",), "302 404 404 404 200 200 404 404", "302 404 404 404 302 302 404 404"),
    "listings": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "listing-new": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "listing-detail": (("listing",), "302 404 200 200 200 200 404 404", "302 404 200 200 200 200 404 404"),
    "listing-edit": (("listing",), "302 404 200 403 200 200 404 404", "302 404 200 403 200 200 404 404"),
    "listing-renew": (("listing",), "302 405 405 405 405 405 405 405", "302 404 302 403 302 302 404 404"),
    "listing-close": (("listing",), "302 405 405 405 405 405 405 405", "302 404 302 403 302 302 404 404"),
    "listing-matches": (("request",), "302 404 403 403 200 200 404 404", "302 404 403 403 200 200 404 404"),
    "listing-introduce": (("request", "person"), "302 405 405 405 405 405 405 405", "302 404 403 403 302 302 404 404"),
    "capabilities": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "member-capabilities": (("slug", "person"), "302 403 200 403 200 200 403 403", "302 403 200 403 200 200 403 403"),
    "capability-delete": (("capability",), "302 405 405 405 405 405 405 405", "302 404 302 404 302 302 404 404"),
    "member-search": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "member-page": (("slug", "person"), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "member-leave": (("slug", "person"), "302 403 403 403 200 200 403 403", "302 403 403 403 302 302 403 403"),
    "member-joined": (("slug", "person"), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "member-erase": (("slug", "person"), "302 403 403 403 403 200 403 403", "302 403 403 403 403 302 403 403"),
    "acting-start": (("slug", "offline"), "302 405 405 405 405 405 405 405", "302 403 403 403 302 302 403 403"),
    "acting-stop": ((), "302 405 405 405 405 405 405 405", "302 302 302 302 302 302 302 302"),
    "member-role": (("slug", "person"), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "safeguarding": (("slug", "person"), "302 403 403 403 403 200 403 403", "302 403 403 403 403 200 403 403"),
    "safeguarding-edit": (("check",), "302 404 404 404 404 200 404 404", "302 404 404 404 404 200 404 404"),
    "safeguarding-delete": (("check",), "302 405 405 405 405 405 405 405", "302 404 404 404 404 302 404 404"),
    "dashboard": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "record-exchange": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "record-group": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "donate": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "grant": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "statement": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "desk": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "follow-up-list": (("slug", "followup"), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "exchange": (("exchange",), "302 404 200 200 200 200 404 404", "302 404 200 200 200 200 404 404"),
    "confirm-exchange": (("exchange",), "302 404 200 200 200 200 404 404", "302 404 302 403 403 403 404 404"),
    "approve-exchange": (("exchange",), "302 404 200 200 200 200 404 404", "302 404 403 403 302 302 404 404"),
    "decline-exchange": (("exchange",), "302 404 200 200 200 200 404 404", "302 404 302 403 302 302 404 404"),
    "reverse-exchange": (("exchange",), "302 404 200 200 200 200 404 404", "302 404 403 403 200 200 404 404"),
    "email-preferences": ((), "302 200 200 200 200 200 200 200", "302 302 302 302 302 302 302 302"),
    "unsubscribe": (("token", "kind"), "200 200 200 200 200 200 200 200", "200 200 200 200 200 200 200 200"),
    "report-list": (("slug",), "302 403 403 403 200 200 403 403", "302 403 403 403 200 200 403 403"),
    "report-detail": (("slug", "month"), "302 403 403 403 404 404 403 403", "302 403 403 403 404 404 403 403"),
    "report-csv": (("slug", "month"), "302 403 403 403 404 404 403 403", "302 403 403 403 404 404 403 403"),
    "commissioner-report": (("slug",), "302 403 403 403 200 200 200 403", "302 405 405 405 405 405 405 405"),
    "commissioner-report-csv": (("slug",), "302 403 403 403 200 200 200 403", "302 405 405 405 405 405 405 405"),
    "commissioner-report-xlsx": (("slug",), "302 403 403 403 200 200 200 403", "302 405 405 405 405 405 405 405"),
    "commissioner-report-pdf": (("slug",), "302 403 403 403 200 200 200 403", "302 405 405 405 405 405 405 405"),
    "commissioner-export": (("export",), "302 404 404 404 404 404 200 404", "302 405 405 405 405 405 405 405"),
    "audit-log": (("slug",), "302 403 403 403 200 200 403 403", "302 405 405 405 405 405 405 405"),
    "member-statements": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "member-statement": (("slug", "month"), "302 403 404 404 404 404 403 403", "302 403 404 404 404 404 403 403"),
    "api-me": ((), "403 200 200 200 200 200 200 200", "403 405 405 405 405 405 405 405"),
    "application-list": ((), "403 200 200 200 200 200 200 200", "403 405 405 405 405 405 405 405"),
    "application-detail": (("application",), "403 404 404 404 200 200 404 404", "403 405 405 405 405 405 405 405"),
    "application-approve": (("application",), "403 405 405 405 405 405 405 405", "403 404 404 404 200 200 404 404"),
    "application-decline": (("application",), "403 405 405 405 405 405 405 405", "403 404 404 404 200 200 404 404"),
    "api-listing-list": ((), "403 200 200 200 200 200 200 200", "403 400 400 400 400 400 400 400"),
    "api-listing-detail": (("listing",), "403 404 200 200 200 200 404 404", "403 405 405 405 405 405 405 405"),
    "api-listing-close": (("listing",), "403 405 405 405 405 405 405 405", "403 404 200 403 200 200 404 404"),
    "api-listing-renew": (("listing",), "403 405 405 405 405 405 405 405", "403 404 200 403 200 200 404 404"),
    "api-listing-reply": (("listing",), "403 405 405 405 405 405 405 405", "403 404 400 201 201 201 404 404"),
    "api-category-list": ((), "403 200 200 200 200 200 200 200", "403 405 405 405 405 405 405 405"),
    "api-donations": ((), "403 405 405 405 405 405 405 405", "403 400 400 400 400 400 400 400"),
    "api-grants": ((), "403 405 405 405 405 405 405 405", "403 400 400 400 400 400 400 400"),
    "api-balances": ((), "403 200 200 200 200 200 200 200", "403 405 405 405 405 405 405 405"),
    "api-statement": ((), "403 400 400 400 400 400 400 400", "403 405 405 405 405 405 405 405"),
    "exchange-list": ((), "403 200 200 200 200 200 200 200", "403 400 400 400 400 400 400 400"),
    "exchange-group": ((), "403 405 405 405 405 405 405 405", "403 400 400 400 400 400 400 400"),
    "exchange-detail": (("exchange",), "403 404 200 200 200 200 404 404", "403 405 405 405 405 405 405 405"),
    "exchange-approve": (("exchange",), "403 405 405 405 405 405 405 405", "403 404 403 403 200 200 404 404"),
    "exchange-confirm": (("exchange",), "403 405 405 405 405 405 405 405", "403 404 200 403 403 403 404 404"),
    "exchange-decline": (("exchange",), "403 405 405 405 405 405 405 405", "403 404 200 403 200 200 404 404"),
    "exchange-reverse": (("exchange",), "403 405 405 405 405 405 405 405", "403 404 403 403 400 400 404 404"),
    "api-report": ((), "403 400 400 400 400 400 400 400", "403 405 405 405 405 405 405 405"),
    "api-schema": ((), "200 200 200 200 200 200 200 200", "405 405 405 405 405 405 405 405"),
    "api-docs": ((), "200 200 200 200 200 200 200 200", "405 405 405 405 405 405 405 405"),
    # Moving a bank in and out (imports/): its admin only.
    "import-start": (("slug",), "302 403 403 403 403 200 403 403", "302 403 403 403 403 200 403 403"),
    "import-template": (("slug",), "302 403 403 403 403 200 403 403", "302 405 405 405 405 405 405 405"),
    "bank-export": (("slug",), "302 403 403 403 403 200 403 403", "302 405 405 405 405 405 405 405"),
    "import-run": (("import",), "302 404 404 404 404 200 404 404", "302 404 404 404 404 302 404 404"),
    "import-reconciliation": (("import",), "302 404 404 404 404 200 404 404", "302 405 405 405 405 405 405 405"),
    # Links between time banks (interbank/): admins manage their bank's; members of a linked
    # bank see and record; an exchange across is seen by its members and its bank's brokers.
    "interbank-links": (("slug",), "302 403 403 403 403 200 403 403", "302 403 403 403 403 200 403 403"),
    "interbank-link-change": (("link",), "302 405 405 405 405 405 405 405", "302 404 404 404 404 302 404 404"),
    "interbank-neighbours": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "interbank-record": (("slug",), "302 403 200 200 200 200 403 403", "302 403 200 200 200 200 403 403"),
    "interbank-exchange": (("cross",), "302 404 200 404 200 200 404 404", "302 404 200 404 200 200 404 404"),
}
# fmt: on
# Web POSTs send a reason; erasure's is a code.
WEB_BODIES = {
    "member-erase": {"reason": "person_asked"},
    "interbank-link-change": {"change": "terms", "trust_limit": "10", "shares": "members"},
}
API_BODIES = {
    "application-decline": {"reason": "Checked"},
    "exchange-decline": {"reason": "Checked"},
    "exchange-reverse": {"reason": "Checked"},
    "api-listing-reply": {"message": "Hello"},
}

# Whole URL trees that belong to other packages: Django's admin and django-allauth's account
# pages. Staff-only admin is covered by Django; allauth's pages are public by design.
OUTSIDE = ("admin/", "accounts/")


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def url_patterns() -> dict[str, str]:
    """Every named URL pattern of the project, outside the packages listed in OUTSIDE."""

    def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str | None]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.name

    found = {}
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(OUTSIDE) or name is None:
            continue
        found[name] = route
    return found


class PermissionMatrix(CastTestCase):
    ada: Person
    link: Link
    cross: CrossBankExchange
    token: str
    tokens: dict[str, str]
    check: SafeguardingRecord
    exchange: Exchange
    listing: Listing
    request_listing: Listing
    capability: Capability
    export: ReportExport
    import_run: ImportRun

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.ada = make_member(cls.riverside, "Ada Admin", role=Role.ADMIN)
        Membership.objects.filter(person=cls.ada).update(safeguarding_lead=True)
        cls.check = safeguarding.record_safeguarding_check(
            membership=cls.bob.memberships.get(),
            by=cls.ada,
            check=safeguarding.SafeguardingCheck(
                check_type=CheckType.REFERENCE,
                checked_on=timezone.localdate(),
                outcome=CheckOutcome.CLEAR,
            ),
        )
        alice = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        bob = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.exchange = exchanges.record_exchange(
            recorded_by=cls.alice,
            giver=alice,
            receiver=bob,
            minutes=60,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=1), description="Lift"
            ),
        )
        category = Category.objects.get(slug="gardening")
        cls.listing = listings_services.publish_listing(
            author=cls.bob,
            time_bank=cls.riverside,
            details=listings_services.ListingDetails(
                kind=ListingKind.OFFER, category=category, title="Gardening"
            ),
        )
        cls.request_listing = listings_services.publish_listing(
            author=cls.bob,
            time_bank=cls.riverside,
            details=listings_services.ListingDetails(
                kind=ListingKind.REQUEST, category=category, title="Hedge cutting"
            ),
        )
        cls.capability = listings_services.add_capability(
            editor=cls.bob,
            membership=cls.bob.memberships.get(),
            category=category,
            description="Pruning",
            level=CapabilityLevel.DOES,
        )
        cls.token = preference_for(cls.bob).token
        cls.tokens = {
            role: Token.objects.create(user=getattr(cls, role).user).key for role in ROLES[1:]
        }
        cls.export = ReportExport.objects.create(
            user=cls.cora.user,
            bank_slugs="riverside",
            start=date(2026, 1, 1),
            end=date(2026, 3, 31),
            format="pdf",
        )
        cls.import_run = ImportRun.objects.create(
            time_bank=cls.riverside,
            created_by=cls.ada,
            source="canonical",
            file_name="bank.zip",
            state="done",
            finished_at=timezone.now(),
        )
        # A link between Riverside and Hillside (hilda administers Hillside), and bob's help
        # to hal of Hillside waiting for hal: the Riverside half is the one probed.
        hilda = make_member(cls.hillside, "Hilda Admin", role=Role.ADMIN)
        hal = make_member(cls.hillside, "Hal Hillside")
        cls.link = interbank.accept_link(
            link=interbank.propose_link(
                by=cls.ada,
                time_bank=cls.riverside,
                partner=cls.hillside,
                trust_limit_minutes=600,
                shares="members",
            ),
            by=hilda,
            trust_limit_minutes=600,
            shares="members",
        )
        cls.cross = interbank.record_between_banks(
            recorded_by=cls.bob,
            own=bob,
            other=ledger.open_account(time_bank=cls.hillside, person=hal),
            gave=True,
            minutes=60,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=1), description="Bike"
            ),
        )

    def arguments(self, names: tuple[str, ...]) -> list[object]:
        values = {
            "slug": "riverside",
            "link": self.link.pk,
            "cross": self.cross.giving_id,
            "exchange": self.exchange.pk,
            "listing": self.listing.pk,
            "request": self.request_listing.pk,
            "capability": self.capability.pk,
            "application": self.dora.memberships.get().pk,
            "person": self.bob.pk,
            "offline": self.olive.pk,
            "check": self.check.pk,
            "token": self.token,
            "kind": "log_hours",
            "followup": "inactive",
            "month": (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
            "export": self.export.token,
            "import": self.import_run.token,
        }
        return [values[name] for name in names]

    def test_every_url_pattern_has_a_row(self):
        patterns = url_patterns()
        missing = sorted(set(patterns) - set(MATRIX))
        stale = sorted(set(MATRIX) - set(patterns))
        self.assertEqual(missing, [], "URL patterns without a row in the permission matrix")
        self.assertEqual(stale, [], "rows for URL patterns that no longer exist")
        self.assertGreaterEqual(len(patterns), 60)

    def test_each_role_gets_the_expected_status_on_each_url(self):
        for name, (names, on_get, on_post) in MATRIX.items():
            url = reverse(name, args=self.arguments(names))
            for method, expected in (("get", on_get), ("post", on_post)):
                for role, status in zip(ROLES, expected.split(), strict=True):
                    with self.subTest(url=name, method=method, role=role), rolled_back():
                        self.assertEqual(self.request(method, name, url, role), int(status))

    def request(self, method: str, name: str, url: str, role: str) -> int:
        self.client.logout()
        if url.startswith("/api/"):
            headers = {"HTTP_AUTHORIZATION": f"Token {self.tokens[role]}"} if role != "anon" else {}
            body = API_BODIES.get(name, {}) if method == "post" else {}
            send = getattr(self.client, method)
            if method == "post":
                return send(url, body, content_type="application/json", **headers).status_code
            return send(url, **headers).status_code
        if role != "anon":
            self.client.force_login(getattr(self, role).user)
        if method == "post":
            return self.client.post(url, WEB_BODIES.get(name, {"reason": "Checked"})).status_code
        return self.client.get(url).status_code

    def test_odd_query_strings_never_cause_a_server_error(self):
        junk = {
            "page": "abc",
            "category": "x",
            "kind": "zz",
            "state": "?",
            "start": "not-a-date",
            "end": "2026-99-99",
            "q": "\x00",
            "area": "<script>",
            "account": "1e9",
            "for": "-1",
            "listing": "",
            "format": "csv",
            "month": "13-2026",
            "banks": ",,",
            "time_bank": "%",
        }
        for name, (names, _on_get, _on_post) in MATRIX.items():
            url = reverse(name, args=self.arguments(names))
            for role in ("bob", "brenda", "cora"):
                with self.subTest(url=name, role=role), rolled_back():
                    if url.startswith("/api/"):
                        status = self.client.get(
                            url, junk, HTTP_AUTHORIZATION=f"Token {self.tokens[role]}"
                        ).status_code
                    else:
                        self.client.force_login(getattr(self, role).user)
                        status = self.client.get(url, junk).status_code
                    self.assertLess(status, 500)


# --- Acting for a member, across banks ---------------------------------------------------------

# brenda, Riverside's broker, acts for hetty, a member of Riverside and Hillside, in Riverside.
# Every URL pattern again, its arguments naming Hillside's objects (the bank, hetty's own
# exchange, listing, capability and safeguarding check there, an application, a member): while
# acting, nothing of Hillside is reachable, by slug (403, saying so), by id (404) or through
# the API (404 by id, 403 for a write naming the bank). The rows are checked against the URL
# configuration like MATRIX's, so a new view must say what acting across banks gets there.
# name: (arguments, GET, POST)
# fmt: off
ACTING_MATRIX: dict[str, tuple[tuple[str, ...], int, int]] = {
    "health": ((), 200, 200),
    "home": ((), 200, 200),
    "profile": ((), 200, 200),
    "profile-export": ((), 403, 405),  # only the member exports their data
    "apply": (("slug",), 403, 403),
    "application-queue": (("slug",), 403, 403),
    "add-offline-member": (("slug",), 403, 403),
    "approve-application": (("application",), 405, 404),
    "decline-application": (("application",), 404, 404),
    "listings": (("slug",), 403, 403),
    "listing-new": (("slug",), 403, 403),
    "listing-detail": (("listing",), 404, 404),
    "listing-edit": (("listing",), 404, 404),
    "listing-renew": (("listing",), 405, 404),
    "listing-close": (("listing",), 405, 404),
    "listing-matches": (("request",), 404, 404),
    "listing-introduce": (("request", "person"), 405, 404),
    "capabilities": (("slug",), 403, 403),
    "member-capabilities": (("slug", "person"), 403, 403),
    "capability-delete": (("capability",), 405, 404),
    "member-search": (("slug",), 403, 403),
    "member-page": (("slug", "person"), 403, 403),
    "member-leave": (("slug", "person"), 403, 403),
    "member-joined": (("slug", "person"), 403, 403),
    "member-erase": (("slug", "person"), 403, 403),
    "acting-start": (("slug", "offline"), 403, 403),
    "acting-stop": ((), 405, 302),
    "member-role": (("slug", "person"), 403, 403),
    "safeguarding": (("slug", "person"), 403, 403),
    "safeguarding-edit": (("check",), 404, 404),
    "safeguarding-delete": (("check",), 405, 404),
    "dashboard": (("slug",), 403, 403),
    "record-exchange": (("slug",), 403, 403),
    "record-group": (("slug",), 403, 403),
    "donate": (("slug",), 403, 403),
    "grant": (("slug",), 403, 403),
    "statement": (("slug",), 403, 403),
    "desk": (("slug",), 403, 403),
    "follow-up-list": (("slug", "followup"), 403, 403),
    "exchange": (("exchange",), 404, 404),
    "confirm-exchange": (("exchange",), 404, 404),
    "approve-exchange": (("exchange",), 404, 404),
    "decline-exchange": (("exchange",), 404, 404),
    "reverse-exchange": (("exchange",), 404, 404),
    "email-preferences": ((), 200, 302),
    "unsubscribe": (("token", "kind"), 200, 200),
    "report-list": (("slug",), 403, 403),
    "report-detail": (("slug", "month"), 403, 403),
    "report-csv": (("slug", "month"), 403, 403),
    "commissioner-report": (("slug",), 403, 403),
    "commissioner-report-csv": (("slug",), 403, 403),
    "commissioner-report-xlsx": (("slug",), 403, 403),
    "commissioner-report-pdf": (("slug",), 403, 403),
    "commissioner-export": (("export",), 404, 405),
    "audit-log": (("slug",), 403, 403),
    "member-statements": (("slug",), 403, 403),
    "member-statement": (("slug", "month"), 403, 403),
    "api-me": ((), 200, 405),
    "application-list": ((), 200, 405),
    "application-detail": (("application",), 404, 405),
    "application-approve": (("application",), 405, 404),
    "application-decline": (("application",), 405, 404),
    "api-listing-list": ((), 200, 403),  # publishing in Hillside
    "api-listing-detail": (("listing",), 404, 405),
    "api-listing-close": (("listing",), 405, 404),
    "api-listing-renew": (("listing",), 405, 404),
    "api-listing-reply": (("listing",), 405, 404),
    "api-category-list": ((), 200, 405),
    "api-donations": ((), 405, 403),  # from hetty's Hillside hours
    "api-grants": ((), 405, 403),
    "api-balances": ((), 200, 405),  # Riverside's only: see ActingAcrossBanks below
    "api-statement": ((), 404, 405),  # of hetty's Hillside account
    "exchange-list": ((), 200, 403),  # Riverside's only; recording in Hillside
    "exchange-group": ((), 405, 403),
    "exchange-detail": (("exchange",), 404, 405),
    "exchange-approve": (("exchange",), 405, 404),
    "exchange-confirm": (("exchange",), 405, 404),
    "exchange-decline": (("exchange",), 405, 404),
    "exchange-reverse": (("exchange",), 405, 404),
    "api-report": ((), 403, 405),  # Hillside's commissioner report
    "api-schema": ((), 200, 405),
    "api-docs": ((), 200, 405),
    "import-start": (("slug",), 403, 403),
    "import-template": (("slug",), 403, 403),
    "bank-export": (("slug",), 403, 403),
    "import-run": (("import",), 404, 404),
    "import-reconciliation": (("import",), 404, 405),
    "interbank-links": (("slug",), 403, 403),
    "interbank-link-change": (("link",), 405, 404),
    "interbank-neighbours": (("slug",), 403, 403),
    "interbank-record": (("slug",), 403, 403),
    "interbank-exchange": (("exchange",), 404, 404),
}
# fmt: on


class ActingAcrossBanks(CastTestCase):
    hetty: Person
    link: Link
    bodies: dict[str, dict[str, Any]]
    queries: dict[str, dict[str, Any]]
    hal: Person
    owen: Person
    hetty_hillside: Account
    hal_account: Account
    exchange: Exchange
    listing: Listing
    request_listing: Listing
    capability: Capability
    check: SafeguardingRecord
    import_run: ImportRun
    export: ReportExport

    @classmethod
    def setUpTestData(cls) -> None:
        from members.models import ContactPreference, Status
        from safeguarding.models import SafeguardingRecord

        super().setUpTestData()
        # hetty: in both banks, with a login, helped through her broker; brenda acts for her.
        cls.hetty = make_member(
            cls.riverside, "Hetty Both", contact_preference=ContactPreference.BROKER
        )
        Membership.objects.create(
            person=cls.hetty,
            time_bank=cls.hillside,
            status=Status.APPROVED,
            decided_at=timezone.now() - timedelta(days=365),
        )
        cls.hal = make_member(cls.hillside, "Hal Hillside")
        ledger.open_account(time_bank=cls.riverside, person=cls.hetty)
        cls.owen = make_member(cls.hillside, "Owen Offline", offline=True)
        cls.hetty_hillside = ledger.open_account(time_bank=cls.hillside, person=cls.hetty)
        cls.hal_account = ledger.open_account(time_bank=cls.hillside, person=cls.hal)
        cls.exchange = exchanges.record_exchange(
            recorded_by=cls.hal,
            giver=cls.hal_account,
            receiver=cls.hetty_hillside,
            minutes=60,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=1), description="Lift"
            ),
        )
        category = Category.objects.get(slug="gardening")
        cls.listing = listings_services.publish_listing(
            author=cls.hetty,
            time_bank=cls.hillside,
            details=listings_services.ListingDetails(
                kind=ListingKind.OFFER, category=category, title="Roses"
            ),
        )
        cls.request_listing = listings_services.publish_listing(
            author=cls.hal,
            time_bank=cls.hillside,
            details=listings_services.ListingDetails(
                kind=ListingKind.REQUEST, category=category, title="Hedge"
            ),
        )
        cls.capability = listings_services.add_capability(
            editor=cls.hetty,
            membership=cls.hetty.memberships.get(time_bank=cls.hillside),
            category=category,
            description="Roses",
            level=CapabilityLevel.DOES,
        )
        cls.check = SafeguardingRecord.objects.create(
            time_bank=cls.hillside,
            person=cls.hetty,
            check_type=CheckType.REFERENCE,
            checked_on=timezone.localdate(),
            outcome=CheckOutcome.CLEAR,
            recorded_by=cls.hugo,
        )
        cls.import_run = ImportRun.objects.create(
            time_bank=cls.hillside,
            created_by=cls.hugo,
            source="canonical",
            file_name="bank.zip",
            state="done",
            finished_at=timezone.now(),
        )
        # A link Hillside proposed to Riverside: nothing an acting broker may change.
        cls.link = Link.objects.create(
            proposer=cls.hillside, partner=cls.riverside, status="proposed", proposed_by=cls.hugo
        )
        cls.export = ReportExport.objects.create(
            user=cls.cora.user,
            bank_slugs="hillside",
            start=date(2026, 1, 1),
            end=date(2026, 3, 31),
            format="pdf",
        )
        cls.bodies = {
            "api-listing-list": {
                "time_bank": "hillside",
                "kind": "offer",
                "category": "gardening",
                "title": "Roses",
            },
            "api-donations": {"time_bank": "hillside", "hours": "1"},
            "api-grants": {
                "time_bank": "hillside",
                "to_account": cls.hetty_hillside.pk,
                "hours": "1",
                "reason": "Thanks",
            },
            "exchange-list": {
                "time_bank": "hillside",
                "role": "received",
                "other_account": cls.hal_account.pk,
                "hours": "1",
                "description": "Lift",
            },
            "exchange-group": {
                "time_bank": "hillside",
                "providers": [{"account": cls.hal_account.pk, "hours": "1"}],
                "receivers": [{"account": cls.hetty_hillside.pk, "hours": "1"}],
                "description": "Class",
            },
            "exchange-decline": {"reason": "Checked"},
            "exchange-reverse": {"reason": "Checked"},
            "api-listing-reply": {"message": "Hello"},
        }
        cls.queries = {
            "api-statement": {"account": cls.hetty_hillside.pk},
            "api-report": {"banks": "hillside", "start": "2026-01-01", "end": "2026-01-31"},
            "exchange-list": {"time_bank": "hillside"},
        }

    def arguments(self, names: tuple[str, ...]) -> list[object]:
        values = {
            "slug": "hillside",
            "link": self.link.pk,
            "exchange": self.exchange.pk,
            "listing": self.listing.pk,
            "request": self.request_listing.pk,
            "capability": self.capability.pk,
            "application": self.harry.memberships.get().pk,
            "person": self.hal.pk,
            "offline": self.owen.pk,
            "check": self.check.pk,
            "token": preference_for(self.hetty).token,
            "kind": "log_hours",
            "followup": "inactive",
            "month": (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
            "export": self.export.token,
            "import": self.import_run.token,
        }
        return [values[name] for name in names]

    def act_for_hetty(self) -> None:
        self.client.force_login(user_of(self.brenda))
        started = self.client.post(reverse("acting-start", args=["riverside", self.hetty.pk]))
        self.assertEqual(started.status_code, 302)

    def test_every_url_pattern_has_an_acting_row(self):
        patterns = url_patterns()
        self.assertEqual(sorted(set(patterns) - set(ACTING_MATRIX)), [])
        self.assertEqual(sorted(set(ACTING_MATRIX) - set(patterns)), [])

    def test_acting_for_a_member_reaches_nothing_of_their_other_bank(self):
        self.act_for_hetty()
        for name, (names, on_get, on_post) in ACTING_MATRIX.items():
            url = reverse(name, args=self.arguments(names))
            for method, expected in (("get", on_get), ("post", on_post)):
                with self.subTest(url=name, method=method), rolled_back():
                    if method == "get":
                        status = self.client.get(url, self.queries.get(name, {})).status_code
                    elif url.startswith("/api/"):
                        status = self.client.post(
                            url, self.bodies.get(name, {}), content_type="application/json"
                        ).status_code
                    else:
                        status = self.client.post(url, {"reason": "Checked"}).status_code
                    self.assertEqual(status, expected)
                    # Still acting (a POST to acting-stop ends it: start again).
                    if name == "acting-stop" and method == "post":
                        self.act_for_hetty()
        # Nothing of Hillside's changed.
        self.assertEqual(Exchange.objects.get(pk=self.exchange.pk).state, "unconfirmed")
        self.assertEqual(
            sorted(Listing.objects.filter(time_bank=self.hillside).values_list("title", flat=True)),
            ["Hedge", "Roses"],
        )

    def test_the_api_lists_hold_only_the_acting_banks_rows(self):
        self.act_for_hetty()
        exchanges_seen = self.client.get("/api/exchanges/").json()["results"]
        self.assertEqual([row["time_bank"] for row in exchanges_seen], [])
        self.assertEqual(
            [row["time_bank"] for row in self.client.get("/api/balances/").json()], ["riverside"]
        )
        listings = self.client.get("/api/listings/").json()["results"]
        self.assertNotIn("hillside", {row["time_bank"] for row in listings})

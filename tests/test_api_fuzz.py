"""schemathesis fuzzes every operation of the served OpenAPI schema, as each role.

For every operation in ``/api/schema/`` and every caller (anonymous, an applicant, a member,
an organisation's representative, a broker, a commissioner, and the broker of another time
bank) Hypothesis generates a bounded number of requests from the schema, derandomized so a CI
run is repeatable. Each response must not be a server error, must carry a status code the
schema declares for that operation, and must match the schema declared for that status.

The database is real and the same on every example: the cast, their accounts, listings and
exchanges in all states are built once for the module inside a transaction, each example runs
inside a savepoint that is rolled back, and the module's transaction is rolled back at the
end. Nothing is ever committed, so this runs on SQLite as on PostgreSQL (a flush between tests
would need DELETE on the append-only ledger tables, which their triggers refuse). On
PostgreSQL each example also checks the deferred ledger constraints (journals sum to zero)
before rolling back, since a commit would.

Ids in paths, and accounts, time banks, categories and listings named in bodies, are
replaced by ones that exist (three times in four), so that requests get past "not found" to the services.

Run it alone: ``pytest tests/test_api_fuzz.py`` (``-m fuzz`` selects it in a larger run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from exchanges import services as exchange_services
from ledger import services as ledger
from members import services as member_services
from members.models import Category, Listing, Person
from tests.base import Cast
from tests.factories import make_member
from timebank.wsgi import application

# django_db: pytest-django sets up the test database only for tests that ask for it (each
# test's own transaction then nests inside the module's, below).
pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

# Per operation and role. 25 examples x 26 operations x 7 callers (4,030 requests) stays within
# two minutes on two cores; raise it locally to search harder (FUZZ_EXAMPLES=200).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ["anonymous", "applicant", "member", "representative", "broker", "commissioner", "outsider"]

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@dataclass
class World:
    """What exists for the fuzzer to find: one caller per role, and ids of real rows."""

    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)


def _build_world() -> World:
    cast = type("FuzzCast", (Cast,), {})
    cast.build_cast()
    riverside, hillside = cast.riverside, cast.hillside
    carl = make_member(riverside, "Carl Carter")
    people = {
        "applicant": cast.dora,
        "member": cast.bob,
        "representative": cast.alice,
        "broker": cast.brenda,
        "commissioner": cast.cora,
        "outsider": cast.hugo,
    }
    world = World()
    world.tokens = {role: Token.objects.create(user=p.user).key for role, p in people.items()}

    accounts = {
        name: ledger.open_account(time_bank=riverside, person=person)
        for name, person in [
            ("alice", cast.alice),
            ("bob", cast.bob),
            ("brenda", cast.brenda),
            ("olive", cast.olive),
            ("carl", carl),
        ]
    }
    accounts["gp"] = ledger.open_account(time_bank=riverside, organisation=cast.gp)
    accounts["pot"] = ledger.community_pot(time_bank=riverside)
    accounts["hugo"] = ledger.open_account(time_bank=hillside, person=cast.hugo)

    def listing(owner: Person, bank, kind: str, slug: str, **owner_kwargs) -> Listing:
        return member_services.publish_listing(
            author=owner,
            time_bank=bank,
            details=member_services.ListingDetails(
                kind=kind, category=Category.objects.get(slug=slug), title=f"A {kind} of {slug}"
            ),
            **owner_kwargs,
        )

    listings = [
        listing(cast.alice, riverside, "offer", "gardening"),
        listing(cast.bob, riverside, "request", "gardening"),
        listing(cast.alice, riverside, "offer", "computers-and-phones", for_organisation=cast.gp),
        listing(cast.hugo, hillside, "offer", "gardening"),
    ]
    closed = listing(cast.bob, riverside, "offer", "computers-and-phones")
    member_services.close_listing(listing=closed, editor=cast.bob)
    listings.append(closed)
    member_services.reply_to_listing(
        listing=listings[0], sender=cast.bob, message="I could help on Saturday."
    )

    today = timezone.localdate()

    def record(by: Person, giver: str, receiver: str, minutes: int = 60, days_ago: int = 1):
        return exchange_services.record_exchange(
            recorded_by=by,
            giver=accounts[giver],
            receiver=accounts[receiver],
            minutes=minutes,
            details=exchange_services.Details(
                effective_date=today - timedelta(days=days_ago), description="Weeded the garden"
            ),
        )

    exchanges = [
        record(cast.alice, "alice", "bob"),
        record(cast.bob, "bob", "alice", 30),
        record(cast.brenda, "carl", "olive", 90),
        record(cast.alice, "gp", "bob", 45, days_ago=3),
    ]
    confirmed = record(cast.alice, "alice", "carl", 120, days_ago=5)
    exchange_services.confirm_exchange(exchange=confirmed, person=carl)
    exchanges.append(confirmed)
    declined = record(cast.bob, "bob", "carl", 15, days_ago=2)
    exchange_services.decline_exchange(exchange=declined, person=carl, reason="Not me")
    exchanges.append(declined)
    exchanges.append(
        exchange_services.donate_hours(
            recorded_by=cast.brenda,
            donor=accounts["carl"],
            to_account=accounts["pot"],
            minutes=15,
            note="For the winter appeal",
        )
    )

    world.ids = {
        "exchange": [e.pk for e in exchanges],
        "listing": [item.pk for item in listings],
        "application": [m.pk for m in cast.dora.memberships.all()]
        + [m.pk for m in cast.harry.memberships.all()],
        "account": [a.pk for a in accounts.values()],
        "person": [p.pk for p in [*people.values(), carl, cast.olive]],
        "organisation": [cast.gp.pk],
    }
    return world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:  # noqa: ANN001
    # The WSGI handler closes "old" connections at each request's start and end, which would
    # end the transaction that holds the world; Django's test client disconnects it likewise.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with (
            django_db_blocker.unblock(),
            # The cast's passwords are hashed fast: only tokens are used here.
            override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
            transaction.atomic(),
        ):
            yield _build_world()
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Names in bodies and query strings that take a slug, and slugs that exist.
SLUGS = {
    "time_bank": ["riverside", "hillside"],
    "category": ["gardening", "computers-and-phones"],
}
# Names in bodies and query strings that refer to rows, and the kind of row each one names.
REFERENCES = {
    "account": "account",
    "other_account": "account",
    "giver_account": "account",
    "receiver_account": "account",
    "from_account": "account",
    "to_account": "account",
    "listing": "listing",
    "person": "person",
    "to_person": "person",
    "organisation": "organisation",
}


def _aim(case: schemathesis.Case, world: World, data: st.DataObject) -> None:
    """Mostly (three times in four), point ids and names at rows that exist."""

    def aim() -> bool:
        return data.draw(st.integers(0, 3), label="aim") > 0

    def real(kind: str, value: object) -> object:
        if not world.ids.get(kind) or not aim():
            return value
        return data.draw(st.sampled_from(world.ids[kind]), label=kind)

    if case.path_parameters and "id" in case.path_parameters:
        kind = case.operation.path.split("/")[2].rstrip("s")
        case.path_parameters["id"] = real(kind, case.path_parameters["id"])
    for mapping in (case.body, case.query):
        if not isinstance(mapping, dict):
            continue
        for name, value in list(mapping.items()):
            if name in SLUGS and isinstance(value, str):
                if aim():
                    mapping[name] = data.draw(st.sampled_from(SLUGS[name]), label=name)
            elif name in REFERENCES and isinstance(value, int) and not isinstance(value, bool):
                mapping[name] = real(REFERENCES[name], value)
    if isinstance(case.body, dict):
        for side in ("providers", "receivers"):
            legs = case.body.get(side)
            # Generated bodies may put anything under these names (even where they are unknown).
            if not isinstance(legs, list):
                continue
            for leg in legs:
                if isinstance(leg, dict) and isinstance(leg.get("account"), int):
                    leg["account"] = real("account", leg["account"])


def _check_deferred_constraints() -> None:
    """A commit would check PostgreSQL's deferred constraint triggers; so do we."""
    if connection.vendor == "postgresql":
        # Every deferrable constraint here is INITIALLY DEFERRED, so DEFERRED restores them.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_api_operation_holds_its_schema(operation, role: str, world: World) -> None:  # noqa: ANN001
    headers = {} if role == "anonymous" else {"Authorization": f"Token {world.tokens[role]}"}
    # Anonymous callers are refused before any input is read: a few examples show it.
    examples = 5 if role == "anonymous" else MAX_EXAMPLES

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(), data=st.data())
    def run(case: schemathesis.Case, data: st.DataObject) -> None:
        _aim(case, world, data)
        with transaction.atomic():
            try:
                response = case.call(headers=headers)
                _check_deferred_constraints()
            finally:
                transaction.set_rollback(True)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()

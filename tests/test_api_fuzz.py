"""schemathesis fuzzes every operation of the served OpenAPI schema, as each role, with every
check it has.

For every operation in ``/api/schema/`` and every caller (anonymous, an applicant, a member,
an organisation's representative, a broker, a commissioner, and the broker of another time
bank), schemathesis runs its phases: the schema's own examples, its coverage cases (boundary
values, missing and wrong-typed fields, methods the operation does not have), and generated
requests, valid and invalid alike. Then its stateful phase follows the schema's links (record
an exchange, then confirm, approve, decline or reverse it; publish an offer, then change,
close, renew or answer it; ...) as each caller. Every response runs every check schemathesis
has (``CHECKS``): no server error; only statuses, content types, headers and bodies the
schema declares; invalid data refused and valid data accepted; authentication enforced;
methods the schema does not list answered 405 with ``Allow``; what a link points at found.

Two kinds of request go to every operation besides: an id that is not a number, wherever a
path names one (the URL matches nothing: a JSON 404, as the schema says), and a NUL byte in
every string the operation reads (a field message, never a 500: PostgreSQL cannot store one).

The database is real and the same on every example: the cast, their accounts, listings and
exchanges in all states are built once for the module inside a transaction, each example (and
each stateful scenario) runs inside a savepoint that is rolled back, and the module's
transaction is rolled back at the end. Nothing is ever committed, so this runs on SQLite as on
PostgreSQL (a flush between tests would need DELETE on the append-only ledger tables, which
their triggers refuse). On PostgreSQL each request also checks the deferred ledger constraints
(journals sum to zero) before rolling back, since a commit would.

Ids in paths, and accounts, time banks, categories and listings named in bodies, are
replaced by ones that exist (three times in four), so that requests get past "not found" to the services.

Run it alone: ``pytest tests/test_api_fuzz.py`` (``-m fuzz`` selects it in a larger run).
"""

from __future__ import annotations

import copy
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _
from hypothesis import HealthCheck
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.authtoken.models import Token
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok

from exchanges import services as exchange_services
from exchanges.api import HoursField
from ledger import services as ledger
from listings import services as listings_services
from listings.models import Category, Listing
from members.models import Person
from tests.base import Cast
from tests.factories import make_member
from timebank.wsgi import application

# django_db: pytest-django sets up the test database only for tests that ask for it (each
# test's own transaction then nests inside the module's, below).
pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

# Generated requests per operation and role, each mode (valid, invalid); the coverage cases
# come on top. Raise it locally to search harder (FUZZ_EXAMPLES=200).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# Stateful scenarios per role, each up to STEPS requests along the schema's links.
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "20"))
STEPS = 6
ROLES = ["anonymous", "applicant", "member", "representative", "broker", "commissioner", "outsider"]

load_all_checks()


def _shape_messages() -> re.Pattern[str]:
    """Every message DRF's fields (and ours) give for input of the wrong shape: a missing or
    unknown field, a wrong type, a length, a range, a choice, a format. Not "does not exist":
    whether a named row exists is the data's business, not the schema's."""
    templates = {
        _("This field is not recognised."),
        _("This is not the type of value it takes."),
        *(str(message) for message in HoursField.default_error_messages.values()),
    }
    classes = [serializers.Serializer, serializers.ListSerializer]
    for module in (drf_fields, relations):
        classes += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, drf_fields.Field)
        ]
    for cls in classes:
        for klass in cls.__mro__:
            for code, message in vars(klass).get("default_error_messages", {}).items():
                if code != "does_not_exist":
                    templates.add(str(message))
    parts = [re.sub(r"\\\{\w+\\\}", ".*", re.escape(template)) for template in sorted(templates)]
    return re.compile("|".join(parts))


SHAPE_MESSAGES = _shape_messages()


@schemathesis.check
def schema_valid_input_is_read_as_valid(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A 400 to a request the schema calls valid must be a rule of the bank refusing it (a
    date more than a year ago, an account of another bank, a closed offer), never the API
    reading the input differently from its schema (a type, a length, a field it refuses):
    that would be the schema lying. (positive_data_acceptance, below, accepts a 400 because
    the schema says a rule may refuse valid input; this check keeps it honest.)"""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 400 or not _valid_by_its_schema(case):
        return None
    shape = [text for text in _messages(response.json()) if SHAPE_MESSAGES.search(text)]
    if shape:
        raise AssertionError(f"Schema-valid input refused as malformed: {shape}")
    return None


def _valid_by_its_schema(case: schemathesis.Case) -> bool:
    """Whether the body and the text query parameters really are what the schema allows
    (schemathesis calls some cases valid that it made from constants it found, then mangled)."""
    operation = case.operation
    if isinstance(case.body, dict | list):
        for body in operation.body:
            if body.media_type == case.media_type and not body.is_valid(case.body):
                return False
    for parameter in operation.query:
        value = (case.query or {}).get(parameter.name)
        schema = parameter.definition.get("schema", {})
        if isinstance(value, str) and schema.get("type") == "string":
            if not parameter.is_valid(value):
                return False
    return True


def _messages(body: Any) -> Iterator[str]:
    if isinstance(body, str):
        yield body
    elif isinstance(body, list):
        for item in body:
            yield from _messages(item)
    elif isinstance(body, dict):
        for item in body.values():
            yield from _messages(item)


# Every check schemathesis has, and the one above.
# Check functions (the registry's type also names the classes some checks are made with).
ALL_CHECKS: list[Any] = list(CHECKS.get_all())

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
schema.config.generation.update(
    modes=list(schemathesis.GenerationMode),
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    # A NUL byte is sent to every string of every operation below, on purpose; generated
    # data leaves it out, since the schema cannot say that text never holds one.
    allow_x00=False,
    database="none",
    # Each role's credentials are sent by the test; generated ones would only muddle them.
    with_security_parameters=False,
)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
# The schema says a rule of the bank may refuse well-formed input with a 400 (a date more than
# a year ago, an account of another bank): valid data may get one, as long as it is a rule's
# refusal (schema_valid_input_is_read_as_valid).
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses,
    "400",
]
schema.config.phases.stateful.max_steps = STEPS
OPERATIONS = []
for result in schema.get_all_operations():
    assert isinstance(result, Ok), result  # a schema error stops the fuzz here
    OPERATIONS.append(result.ok())


@dataclass
class World:
    """What exists for the fuzzer to find: one caller per role, and ids of real rows."""

    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)


def _build_world() -> World:
    class FuzzCast(Cast):
        """The cast, built once for the whole fuzz (outside any test case)."""

    cast = FuzzCast
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
        return listings_services.publish_listing(
            author=owner,
            time_bank=bank,
            details=listings_services.ListingDetails(
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
    listings_services.close_listing(listing=closed, editor=cast.bob)
    listings.append(closed)
    listings_services.reply_to_listing(
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


def _aim(case: schemathesis.Case, world: World, rng: random.Random, *, path: bool = True) -> None:
    """Mostly (three times in four), point ids and names at rows that exist. ``path``: the
    path's id too (not when a link gave it)."""

    def aim() -> bool:
        return rng.random() < 0.75

    def real(kind: str, value: int) -> int:
        if not world.ids.get(kind) or not aim():
            return value
        return rng.choice(world.ids[kind])

    def negated(location: ParameterLocation) -> bool:
        return case.meta is not None and case.meta.is_negative_at(location)

    ids = case.path_parameters
    # An id the generator meant as invalid stays invalid: it is what that case tests.
    if path and ids and "id" in ids and not negated(ParameterLocation.PATH):
        kind = case.operation.path.split("/")[2].rstrip("s")
        # Text, as the schema types a path id (an int would read as a wrong type).
        ids["id"] = str(real(kind, ids["id"]))
    for location, mapping in (
        (ParameterLocation.BODY, case.body),
        (ParameterLocation.QUERY, case.query),
    ):
        if not isinstance(mapping, dict) or negated(location):
            continue
        for name, value in list(mapping.items()):
            if name in SLUGS and isinstance(value, str):
                if aim():
                    mapping[name] = rng.choice(SLUGS[name])
            elif name in REFERENCES and isinstance(value, int) and not isinstance(value, bool):
                mapping[name] = real(REFERENCES[name], value)
    if isinstance(case.body, dict) and not negated(ParameterLocation.BODY):
        for side in ("providers", "receivers"):
            legs = case.body.get(side)
            # Generated bodies may put anything under these names (even where they are unknown).
            if not isinstance(legs, list):
                continue
            for leg in legs:
                if isinstance(leg, dict) and isinstance(account := leg.get("account"), int):
                    leg["account"] = real("account", account)


def _check_deferred_constraints() -> None:
    """A commit would check PostgreSQL's deferred constraint triggers; so do we."""
    if connection.vendor == "postgresql":
        # Every deferrable constraint here is INITIALLY DEFERRED, so DEFERRED restores them.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _headers(role: str, world: World) -> dict[str, str]:
    return {} if role == "anonymous" else {"Authorization": f"Token {world.tokens[role]}"}


def _call_and_check(case: schemathesis.Case, headers: dict[str, str]) -> None:
    """Send ``case`` and run every check on the answer, inside a savepoint rolled back after
    (the checks' own probes, such as the request again without credentials, included)."""
    with transaction.atomic():
        try:
            response = case.call(headers=headers)
            _check_deferred_constraints()
            case.validate_response(response, checks=ALL_CHECKS, headers=headers)
        finally:
            transaction.set_rollback(True)


def _seeded(case: schemathesis.Case) -> random.Random:
    """Randomness drawn from the case itself: a case is aimed at the same rows every time it
    is sent (Hypothesis replays examples; CI runs are repeatable)."""
    seed = repr((case.operation.label, case.path_parameters, case.query, case.body))
    return random.Random(seed)


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
    database=None,
    derandomize=True,
)
def test_api_operation_holds_its_schema(case: schemathesis.Case, role: str, world: World) -> None:
    _aim(case, world, _seeded(case))
    _call_and_check(case, _headers(role, world))


# --- The stateful phase: along the schema's links, as each role ----------------------------------

Workflow = schema.as_state_machine()


@pytest.mark.parametrize("role", ROLES)
def test_api_workflows_along_the_schemas_links_hold_it(role: str, world: World) -> None:
    """Scenarios of up to STEPS requests, each following a link from the last answer (record
    an exchange, then confirm it, then reverse it...), every answer checked by every check;
    each scenario in a savepoint rolled back at its end."""
    headers = _headers(role, world)

    class RoleWorkflow(Workflow):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            super().setup()
            self._scenario = transaction.atomic()
            self._scenario.__enter__()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self._scenario.__exit__(None, None, None)
            super().teardown()

        def before_call(self, case: schemathesis.Case) -> None:
            super().before_call(case)
            # A link gives the path's id; bodies still name real accounts and listings. The
            # same case is aimed the same way every time (Hypothesis replays scenarios).
            _aim(case, world, _seeded(case), path=case.path_parameters is None)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            response = super().call(case, **kwargs)
            _check_deferred_constraints()
            return response

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                checks=ALL_CHECKS,
                headers=headers,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    RoleWorkflow.run(
        settings=hypothesis.settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            database=None,
            derandomize=True,
        )
    )


# --- Ids that are not numbers, and NUL bytes, on every operation ---------------------------------

# Not numbers (or not a bigint): the URL matches no route, so each is a JSON 404.
NOT_IDS = ["abc", "1.5", "-1", "1e3", "0x1F", "\u0661\u0662", " 1", "1\x00", "9" * 19, "null"]


def _example_body(operation: Any) -> Any:
    """The request body the schema shows as its example (a valid one), or {}; None without a
    body."""
    body = operation.definition.raw.get("requestBody")
    if body is None:
        return None
    examples = body.get("content", {}).get("application/json", {}).get("examples", {})
    for example in examples.values():
        return copy.deepcopy(example["value"])
    return {}


def _example_query(operation: Any) -> dict[str, str]:
    """A valid query for the operations that need one."""
    if operation.path == "/api/reports/":
        return {"banks": "riverside", "start": "2026-01-01", "end": "2026-01-31"}
    if operation.path == "/api/statement/":
        return {"account": "1"}
    return {}


def _string_query_parameters(operation: Any) -> list[str]:
    return [
        parameter["name"]
        for parameter in operation.definition.raw.get("parameters", [])
        if parameter["in"] == "query" and parameter.get("schema", {}).get("type") == "string"
    ]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_operation_answers_a_non_numeric_id_or_a_nul_byte_as_its_schema_says(
    operation: Any, role: str, world: World
) -> None:
    headers = _headers(role, world)
    body = _example_body(operation)

    def case(
        *, path_id: str | None = None, nul: tuple[str, str] | None = None
    ) -> schemathesis.Case:
        """The schema's own example, aimed at rows that exist; then an id that is not one
        (``path_id``), or a NUL byte in one string (``nul``: where, and its name)."""
        kwargs: dict[str, Any] = {"query": _example_query(operation)}
        if body is not None:
            kwargs["body"] = copy.deepcopy(body)
            kwargs["media_type"] = "application/json"
        if "{id}" in operation.path:
            kwargs["path_parameters"] = {"id": "1"}
        made = operation.Case(**kwargs)
        _aim(made, world, _Always(), path=True)
        if path_id is not None:
            made.path_parameters["id"] = path_id
        if nul is not None:
            where, name = nul
            container = made.query if where == "query" else made.body
            container[name] = f"{container.get(name) or 'a'}\x00b"
        return made

    def send(made: schemathesis.Case) -> schemathesis.Response:
        with transaction.atomic():
            try:
                response = made.call(headers=headers)
                _check_deferred_constraints()
                made.validate_response(response, checks=ALL_CHECKS, headers=headers)
                return response
            finally:
                transaction.set_rollback(True)

    if "{id}" in operation.path:
        for bad in NOT_IDS:
            response = send(case(path_id=bad))
            assert response.status_code == 404, (bad, response.status_code)
            assert response.headers["content-type"][0].startswith("application/json"), bad
            assert "detail" in response.json(), bad

    strings = [("query", name) for name in _string_query_parameters(operation)]
    if isinstance(body, dict):
        strings += [("body", name) for name, value in body.items() if isinstance(value, str)]
        if not body:
            # A body of no fields: a field named with a NUL byte is still refused.
            strings.append(("body", "note\x00"))
    for where, name in strings:
        response = send(case(nul=(where, name)))
        # Refused, naming the field; or refused before the body is read (not signed in, not
        # theirs to see). Never taken, never a server error.
        assert response.status_code in {400, 401, 403, 404}, (name, response.status_code)
        if response.status_code == 400:
            assert name in response.json(), (name, response.json())


class _Always(random.Random):
    """Aims every time: the probes start from a request that would succeed."""

    def random(self) -> float:
        return 0.0

"""The named cast used across the suite.

One time bank ("Riverside") with its people, and an outsider from a second bank ("Hillside").
Shared rows are made once per test class in ``setUpTestData``.
"""

from __future__ import annotations

from django.test import TestCase

from members.models import Organisation, Person, Role, Status, TimeBank

from .factories import PASSWORD, make_bank, make_member, make_organisation


class Cast:
    """Mixin that builds the cast; use with TestCase or TransactionTestCase."""

    password = PASSWORD
    riverside: TimeBank
    hillside: TimeBank
    alice: Person
    bob: Person
    brenda: Person
    cora: Person
    dora: Person
    olive: Person
    gp: Organisation
    hugo: Person
    harry: Person

    @classmethod
    def build_cast(cls) -> None:
        cls.riverside = make_bank(name="Riverside Time Bank", slug="riverside")
        cls.hillside = make_bank(name="Hillside Time Bank", slug="hillside")
        # alice: an approved member of Riverside who gives and receives help.
        cls.alice = make_member(cls.riverside, "Alice Archer", area="GL50")
        # bob: another approved member of Riverside.
        cls.bob = make_member(cls.riverside, "Bob Baker", area="GL51")
        # brenda: the broker (coordinator) of Riverside.
        cls.brenda = make_member(cls.riverside, "Brenda Broker", role=Role.BROKER)
        # cora: a commissioner (the council) with read access to Riverside's aggregates.
        cls.cora = make_member(cls.riverside, "Cora Council", role=Role.COMMISSIONER)
        # dora: has applied to Riverside and is waiting for a decision.
        cls.dora = make_member(cls.riverside, "Dora Applicant", status=Status.APPLIED)
        # olive: an offline member of Riverside, with no login; brenda acts for her.
        cls.olive = make_member(cls.riverside, "Olive Offline", offline=True)
        # gp: an organisation in Riverside; alice represents it.
        cls.gp = make_organisation(cls.riverside, "Riverside GP Surgery", representative=cls.alice)
        # hugo: the broker of Hillside, another time bank: an outsider to Riverside.
        cls.hugo = make_member(cls.hillside, "Hugo Hillside", role=Role.BROKER)
        # harry: an applicant to Hillside, whom only hugo may decide.
        cls.harry = make_member(cls.hillside, "Harry Hopeful", status=Status.APPLIED)


class CastTestCase(Cast, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_cast()

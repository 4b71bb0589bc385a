"""Who could help with a request: a ranked list for the broker, in a fixed number of queries.

Ranking, most important first:
1. the same category, in a capability or an open offer;
2. the number of words shared between the request and the member's capabilities and offers;
3. the same area as the request.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from members.models import TRADING_ROLES, Membership, Person, Status

from .models import Capability, Listing

# Words too common to say anything about a match.
STOPWORDS = frozenset(
    """
    a about after all also an and any are as at be but by can could do for from get have help
    her him his i if in into is it its just like me my need needs of off on or our out please
    so some someone than that the their them then there they this to up us use very want was
    we week weekly were what when who will with would you your
    """.split()
)


def words(*texts: str) -> set[str]:
    """Lower-case words of three letters or more, without the commonest ones."""
    found: set[str] = set()
    for text in texts:
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if len(word) >= 3 and word not in STOPWORDS:
                # A crude stem, so "gardens" meets "garden" and "lifts" meets "lift".
                found.add(word[:-1] if word.endswith("s") and len(word) > 3 else word)
    return found


@dataclass
class Match:
    person: Person
    same_category: bool = False
    shared_words: set[str] = field(default_factory=set)
    same_area: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def rank(self) -> tuple[int, int, int]:
        return (int(self.same_category), len(self.shared_words), int(self.same_area))


def matches_for(request: Listing, *, limit: int = 30) -> list[Match]:
    """Approved members of the request's bank who could help, best first (three queries).

    The requester is left out. Members with nothing in common with the request (no category,
    word or area) are not listed.
    """
    bank = request.time_bank_id
    wanted = words(request.title, request.description)
    area = (request.area or (request.person.area if request.person else "")).strip().lower()
    members = {
        m.person_id: Match(person=m.person)
        for m in Membership.objects.filter(
            time_bank=bank, status=Status.APPROVED, role__in=TRADING_ROLES
        )
        .exclude(person_id=request.person_id or 0)
        .select_related("person")
    }
    # Whole-bank reads, filtered to the candidates below: no per-member query, no long IN list.
    capabilities = Capability.objects.filter(time_bank=bank)
    offers = Listing.objects.open_offers().filter(time_bank=bank, person__isnull=False)
    said: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for capability in capabilities:
        said[capability.person_id].append(
            (
                capability.category_id,
                capability.description,
                _("%(level)s: %(description)s")
                % {"level": capability.get_level_display(), "description": capability.description},
            )
        )
    for offer in offers:
        assert offer.person_id is not None
        said[offer.person_id].append(
            (
                offer.category_id,
                f"{offer.title} {offer.description}",
                _("Offers: %(title)s") % {"title": offer.title},
            )
        )
    ranked = []
    for person_id, match in members.items():
        for category_id, text, reason in said[person_id]:
            shared = wanted & words(text)
            if category_id == request.category_id or shared:
                match.reasons.append(reason)
            match.same_category |= category_id == request.category_id
            match.shared_words |= shared
        match.same_area = bool(area) and match.person.area.strip().lower() == area
        if match.same_area:
            match.reasons.append(_("Lives in %(area)s") % {"area": match.person.area})
        if match.rank != (0, 0, 0):
            ranked.append(match)
    ranked.sort(key=lambda m: (tuple(-r for r in m.rank), m.person.display_name))
    return ranked[:limit]

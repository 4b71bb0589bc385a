"""The dry run: every row parsed and checked against the time bank before anything is written.

``check(bundle, time_bank=..., actor=...)`` returns a ``Plan``: the problems (each with file,
line, column and a plain message; while any remains nothing is written), warnings, rows left
out and why, counts per file, what the import will create, and the typed records the import
writes. Reads only, and in a fixed number of queries per few thousand rows (ids are looked
up in chunks, never one query per row).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exchanges.models import CoProduction
from ledger.models import Account, Journal, format_hours
from ledger.services import HistoricalJournal, history_fingerprint
from listings.models import Category
from members.models import (
    AgeBand,
    GroupRemainderRule,
    Membership,
    Organisation,
    Person,
    Representative,
    Role,
    Status,
    TimeBank,
    User,
)
from reports.models import MonthlyReport, ReportState

from .formats import (
    FILES,
    POT,
    BadValue,
    Bundle,
    Problem,
    Row,
    minutes_in,
    parse_date,
    parse_moment,
)
from .models import ExternalFile, ExternalRecord

# The problems and warnings a report lists; the rest are counted.
MAX_LISTED = 500
CHUNK = 2000
# Journal keys of imported exchanges and opening balances (the ledger's replay rule).
EXCHANGE_KEY = "import:"
OPENING_KEY = "import-opening:"
MAX_EXTERNAL_ID = 90

STATUSES = {
    "active": Status.APPROVED,
    "approved": Status.APPROVED,
    "applicant": Status.APPLIED,
    "applied": Status.APPLIED,
    "paused": Status.SUSPENDED,
    "suspended": Status.SUSPENDED,
    "left": Status.LEFT,
}
ROLES = {role.value: role.value for role in Role}
ACCOUNT_TYPES = {
    "person": "person",
    "family": "person",
    "organisation": "organisation",
    "organization": "organisation",
    "system": "system",
}
GENDERS = {
    "woman": "woman",
    "female": "woman",
    "f": "woman",
    "man": "man",
    "male": "man",
    "m": "man",
    "non_binary": "non_binary",
    "non-binary": "non_binary",
    "another_way": "another_way",
    "other": "another_way",
    "others": "another_way",
    "prefer_not_to_say": "prefer_not_to_say",
    "prefer_not_to_answer": "prefer_not_to_say",
}
YES_NO = {"yes": "yes", "y": "yes", "no": "no", "n": "no", "prefer_not_to_say": "prefer_not_to_say"}
KINDS = ("service", "group", "donation", "grant")
EXCHANGE_STATES = {
    "completed": "completed",
    "": "completed",
    "pending": "pending",
    "unconfirmed": "pending",
    "awaiting_approval": "pending",
}
# States in which an exchange moved no hours (or moved them back): left out, with the reason.
LEFT_OUT_STATES = {
    "declined": _("declined in the old system: no hours moved"),
    "reversed": _("reversed in the old system: no hours moved overall"),
}
COPRODUCTION = frozenset(CoProduction.values)
OFFER_KINDS = {"offer": "offer", "request": "request", "inquiry": "request"}


@dataclass
class Member:
    row: Row
    external_id: str
    organisation: bool
    display_name: str
    email: str = ""
    phone: str = ""
    area: str = ""
    bio: str = ""
    status: str = Status.APPROVED
    role: str = Role.MEMBER
    joined_on: date | None = None
    left_on: date | None = None
    age_band: str = ""
    gender: str = ""
    disability: str = ""
    carer: str = ""
    organisation_kind: str = ""
    representatives: list[str] = field(default_factory=list)
    declared: int | None = None
    notes: str = ""
    # Found in the database: imported before (``new`` False), or a login with this email.
    new: bool = True
    person_id: int | None = None
    organisation_id: int | None = None
    user_id: int | None = None
    member_here: bool = False

    @property
    def person_pk(self) -> int:
        """The person's id, once the import has found or made them."""
        assert self.person_id is not None, self.external_id
        return self.person_id

    @property
    def organisation_pk(self) -> int:
        """The organisation's id, once the import has found or made it."""
        assert self.organisation_id is not None, self.external_id
        return self.organisation_id

    @property
    def has_account(self) -> bool:
        """Whether the member trades here (and so has an hours account)."""
        return self.organisation or (
            self.status != Status.APPLIED and self.role != Role.COMMISSIONER
        )


@dataclass(slots=True)
class Exchange:
    external_id: str
    rows: list[Row]
    kind: str
    state: str
    service_date: date
    recorded_at: datetime
    description: str
    category: Category | None
    coproduction: str
    offer: str
    recorded_by: str
    legs: list[tuple[str, int]]
    # Whether the file named who recorded it (else it is the importer, or the first person
    # taking part): a second import by someone else is still the same exchange.
    recorder_given: bool = True

    @property
    def minutes(self) -> int:
        """The hours of help: what the providers earned (the pot's share of a group left
        out); for a donation or grant, the hours given."""
        if self.kind != "group":
            return max(m for _who, m in self.legs)
        return sum(m for who, m in self.legs if m > 0 and who != POT)

    @property
    def giver(self) -> str | None:
        """Whose account ``Exchange.giver`` names: the helper of a one-to-one exchange, the
        donor of a donation, the pot of a grant."""
        if self.kind == "group":
            return None
        earner = next(who for who, m in self.legs if m > 0)
        payer = next(who for who, m in self.legs if m < 0)
        return earner if self.kind == "service" else payer

    @property
    def receiver(self) -> str | None:
        if self.kind == "group":
            return None
        earner = next(who for who, m in self.legs if m > 0)
        payer = next(who for who, m in self.legs if m < 0)
        return payer if self.kind == "service" else earner

    @property
    def journal_category(self) -> str:
        if self.kind in ("donation", "grant"):
            return self.kind
        return self.category.slug if self.category else ""


@dataclass(slots=True)
class Opening:
    row: Row
    member: str
    minutes: int
    as_of: date


@dataclass
class Offer:
    row: Row
    external_id: str
    owner: str
    kind: str
    title: str
    description: str
    category: Category
    created_at: datetime
    expires_on: date | None
    state: str
    area: str
    availability: str


@dataclass
class Plan:
    time_bank: TimeBank
    source: str
    members: list[Member] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per member external id: declared, opening, history (new exchanges), before (the
    # balance already in this bank) and computed, in minutes.
    balances: dict[str, dict[str, int | None]] = field(default_factory=dict)
    closed_months: list[str] = field(default_factory=list)
    # Who typed each exchange or offer, when the row does not say (the importing admin).
    actor: Person | None = None
    # Existing accounts in this bank of members found in the database, by external id.
    accounts: dict[str, int] = field(default_factory=dict)
    # Members referred to by other files but not in members.csv (imported before).
    known: dict[str, Member] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def nothing_new(self) -> bool:
        """Every row was imported before (or left out): importing again changes nothing."""
        return not (
            any(m.new for m in self.members) or self.exchanges or self.openings or self.offers
        )

    def member(self, external_id: str) -> Member | None:
        return self.by_id.get(external_id) or self.known.get(external_id)

    def must(self, external_id: str) -> Member:
        """The member ``external_id`` names, who the check found."""
        member = self.member(external_id)
        assert member is not None, external_id
        return member

    @property
    def by_id(self) -> dict[str, Member]:
        if not hasattr(self, "_by_id"):
            self._by_id = {m.external_id: m for m in self.members}
        return self._by_id

    def report(self) -> dict[str, Any]:
        """The dry run as JSON for ``ImportRun.report``: the first ``MAX_LISTED`` problems
        and warnings, with their totals."""
        return {
            "source": self.source,
            "counts": self.count_rows(),
            "problem_count": len(self.problems),
            "problems": [p.as_dict() for p in self.problems[:MAX_LISTED]],
            "warning_count": len(self.warnings),
            "warnings": [p.as_dict() for p in self.warnings[:MAX_LISTED]],
            "skipped_count": len(self.skipped),
            "skipped": [p.as_dict() for p in self.skipped[:MAX_LISTED]],
            "creates": self.creates(),
            "closed_months": self.closed_months,
        }

    def count_rows(self) -> list[dict[str, Any]]:
        """The counts per file, in the files' order (a JSON list keeps it; an object would
        not, in PostgreSQL)."""
        return [{"file": name, **self.counts[name]} for name in FILES if name in self.counts]

    def creates(self) -> list[str]:
        """What the import will create, in words."""
        new = [m for m in self.members if m.new]
        people = [m for m in new if not m.organisation]
        invited = [m for m in people if m.email and not m.user_id and not m.person_id]
        linked = [m for m in people if m.user_id or m.person_id]
        lines = [
            ngettext("%(n)s member", "%(n)s members", len(people) - len(linked))
            % {"n": len(people) - len(linked)}
            + " "
            + _("(%(online)s invited to set a password, %(offline)s offline)")
            % {"online": len(invited), "offline": len(people) - len(linked) - len(invited)},
        ]
        if linked:
            lines.append(
                ngettext(
                    "%(n)s person who already has an account on this site joins with it",
                    "%(n)s people who already have an account on this site join with it",
                    len(linked),
                )
                % {"n": len(linked)}
            )
        organisations = sum(1 for m in new if m.organisation)
        if organisations:
            lines.append(
                ngettext("%(n)s organisation", "%(n)s organisations", organisations)
                % {"n": organisations}
            )
        staff = [m for m in new if m.role in (Role.BROKER, Role.ADMIN, Role.COMMISSIONER)]
        if staff:
            lines.append(
                _("roles: %(roles)s")
                % {
                    "roles": ", ".join(
                        f"{m.display_name} ({Role(m.role).label.lower()})" for m in staff[:10]
                    )
                    + (" …" if len(staff) > 10 else "")
                }
            )
        done = [e for e in self.exchanges if e.state == "completed"]
        lines.append(
            ngettext(
                "%(n)s exchange with its original date (%(hours)s)",
                "%(n)s exchanges with their original dates (%(hours)s)",
                len(done),
            )
            % {"n": len(done), "hours": format_hours(sum(e.minutes for e in done))}
        )
        pending = len(self.exchanges) - len(done)
        if pending:
            lines.append(
                ngettext(
                    "%(n)s exchange waiting for a broker's approval",
                    "%(n)s exchanges waiting for a broker's approval",
                    pending,
                )
                % {"n": pending}
            )
        if self.openings:
            total = sum(o.minutes for o in self.openings)
            lines.append(
                ngettext(
                    "%(n)s opening balance, booked against the migration account (%(hours)s)",
                    "%(n)s opening balances, booked against the migration account (%(hours)s)",
                    len(self.openings),
                )
                % {"n": len(self.openings), "hours": format_hours(total)}
            )
        if self.offers:
            lines.append(
                ngettext("%(n)s offer or request", "%(n)s offers and requests", len(self.offers))
                % {"n": len(self.offers)}
            )
        return lines


def _cell(
    row: Row, name: str, problems: list[Problem], parse: Any, *args: Any, **kwargs: Any
) -> Any:
    """``parse(row.get(name))``, or None with the problem at that row and column."""
    value = row.get(name)
    if not value:
        return None
    try:
        return parse(value, *args, **kwargs)
    except BadValue as error:
        problems.append(row.problem(name, str(error)))
        return None


def _length(row: Row, name: str, value: str, limit: int, problems: list[Problem]) -> str:
    if len(value) > limit:
        problems.append(
            row.problem(
                name,
                _("Too long: at most %(limit)s characters here (this has %(n)s).")
                % {"limit": limit, "n": len(value)},
            )
        )
    return value[:limit]


def _chunks(items: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


_POSTCODE = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})")


def _area(postcode: str) -> str:
    """The outward code of a full UK postcode (``GL50 1AA`` -> ``GL50``): a member's area is
    a district, never their address. Anything else (``GL50``, ``Old Town``) as given."""
    text = " ".join(postcode.split())
    match = _POSTCODE.fullmatch(text.upper())
    return match.group(1) if match else text


def _age_band(born: date, today: date) -> str:
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    for band, low, high in (
        (AgeBand.UNDER_18, 0, 17),
        (AgeBand.AGE_18_24, 18, 24),
        (AgeBand.AGE_25_34, 25, 34),
        (AgeBand.AGE_35_44, 35, 44),
        (AgeBand.AGE_45_54, 45, 54),
        (AgeBand.AGE_55_64, 55, 64),
        (AgeBand.AGE_65_74, 65, 74),
        (AgeBand.AGE_75_84, 75, 84),
    ):
        if low <= age <= high:
            return band.value
    return AgeBand.AGE_85_PLUS.value


class Checker:
    """One dry run. ``check()`` is the whole of it; each step adds to ``self.plan``."""

    def __init__(self, bundle: Bundle, *, time_bank: TimeBank, actor: Person | None) -> None:
        self.bundle = bundle
        self.bank = time_bank
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.plan = Plan(time_bank=time_bank, source=bundle.source, actor=actor)
        self.plan.problems.extend(bundle.problems)
        self.plan.warnings.extend(bundle.warnings)
        self.plan.skipped.extend(bundle.skipped)
        self.categories: dict[str, Category] = {}
        for category in Category.objects.all():
            self.categories[category.slug.lower()] = category
            self.categories[category.name.lower()] = category
        self.other_category = self.categories.get("other")
        self.uncategorised: dict[str, int] = defaultdict(int)
        # Members named by an exchange row with a problem: their declared balance is not
        # compared (the difference would only repeat that problem).
        self.unsure: set[str] = set()
        # The first representative of each organisation imported before (publishes its offers).
        self.representative_ids: dict[int, int] = {}

    @property
    def problems(self) -> list[Problem]:
        return self.plan.problems

    def check(self) -> Plan:
        rows = self.bundle.rows
        self.members(rows["members.csv"])
        self.find_referenced(rows)
        self.exchanges(rows["exchanges.csv"])
        self.openings(rows["opening_balances.csv"])
        self.offers(rows["offers.csv"])
        self.representatives()
        self.balances()
        self.closed_months()
        for name, count in sorted(self.uncategorised.items()):
            self.plan.warnings.append(
                Problem(
                    "upload",
                    None,
                    "category",
                    ngettext(
                        "%(n)s row in category “%(name)s”, which this site does not have: "
                        "under Other.",
                        "%(n)s rows in category “%(name)s”, which this site does not have: "
                        "under Other.",
                        count,
                    )
                    % {"n": count, "name": name},
                )
            )
        order = {name: i for i, name in enumerate(FILES)}
        self.plan.problems.sort(key=lambda p: (order.get(p.file, len(order)), p.file, p.line or 0))
        return self.plan

    # --- members.csv -----------------------------------------------------------------------

    def members(self, rows: list[Row]) -> None:
        problems = self.problems
        first_line: dict[str, int] = {}
        emails: dict[str, int] = {}
        names: dict[str, int] = {}
        hours = "members.csv" in self.bundle.in_hours
        skipped = 0
        for row in rows:
            external_id = self.external_id(row, "external_id")
            if external_id is None:
                continue
            if external_id in first_line:
                problems.append(
                    row.problem(
                        "external_id",
                        _("The external id %(id)s is used twice (first on line %(line)s).")
                        % {"id": external_id, "line": first_line[external_id]},
                    )
                )
                continue
            first_line[external_id] = row.line
            account_type = ACCOUNT_TYPES.get(row.get("account_type").lower() or "person")
            if account_type is None:
                problems.append(
                    row.problem(
                        "account_type",
                        _(
                            "“%(value)s” is not an account type: person, family, organisation or system."
                        )
                        % {"value": row.get("account_type")},
                    )
                )
                continue
            if account_type == "system":
                self.plan.skipped.append(
                    row.problem(
                        "account_type",
                        _(
                            "A system account: the community pot and the migration account are the bank's own."
                        ),
                    )
                )
                skipped += 1
                continue
            name = row.get("display_name") or " ".join(
                p for p in (row.get("given_name"), row.get("family_name")) if p
            )
            if not name:
                problems.append(row.problem("display_name", _("Every member needs a name.")))
                continue
            member = Member(
                row=row,
                external_id=external_id,
                organisation=account_type == "organisation",
                display_name=_length(
                    row,
                    "display_name",
                    name,
                    120 if account_type == "organisation" else 80,
                    problems,
                ),
            )
            email = row.get("email").lower()
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    problems.append(
                        row.problem(
                            "email",
                            _("“%(value)s” is not an email address.") % {"value": row.get("email")},
                        )
                    )
                else:
                    if member.organisation:
                        self.plan.warnings.append(
                            row.problem("email", _("Organisations have no login: email left out."))
                        )
                    elif email in emails:
                        problems.append(
                            row.problem(
                                "email",
                                _(
                                    "%(email)s is already the email of line %(line)s: each login has its own."
                                )
                                % {"email": email, "line": emails[email]},
                            )
                        )
                    else:
                        emails[email] = row.line
                        member.email = _length(row, "email", email, 254, problems)
            if member.organisation:
                key = name.lower()
                if key in names:
                    problems.append(
                        row.problem(
                            "display_name",
                            _("Another organisation has this name (line %(line)s).")
                            % {"line": names[key]},
                        )
                    )
                names[key] = row.line
            member.phone = _length(row, "phone", row.get("phone"), 30, problems)
            member.area = _length(row, "postcode", _area(row.get("postcode")), 40, problems)
            limit = 2000 if member.organisation else 1000
            member.bio = _length(row, "bio", row.get("bio"), limit, problems)
            member.organisation_kind = _length(
                row, "organisation_kind", row.get("organisation_kind"), 60, problems
            )
            status = row.get("status").lower() or "active"
            if status not in STATUSES:
                problems.append(
                    row.problem(
                        "status",
                        _("“%(value)s” is not a status: active, applicant, paused or left.")
                        % {"value": row.get("status")},
                    )
                )
            member.status = STATUSES.get(status, Status.APPROVED)
            role = row.get("role").lower() or "member"
            if role not in ROLES:
                problems.append(
                    row.problem(
                        "role",
                        _("“%(value)s” is not a role: member, broker, admin or commissioner.")
                        % {"value": row.get("role")},
                    )
                )
            member.role = ROLES.get(role, Role.MEMBER)
            member.joined_on = _cell(row, "joined_on", problems, parse_date)
            member.left_on = _cell(row, "left_on", problems, parse_date)
            for name_, value in (("joined_on", member.joined_on), ("left_on", member.left_on)):
                if value and value > self.today:
                    problems.append(row.problem(name_, _("This date is in the future.")))
            if member.status == Status.LEFT and member.left_on is None and not row.get("left_on"):
                problems.append(row.problem("left_on", _("Say when they left (left_on).")))
            if member.status != Status.LEFT and member.left_on is not None:
                problems.append(
                    row.problem("left_on", _("A left_on date, but their status is not “left”."))
                )
            if member.left_on and member.joined_on and member.left_on < member.joined_on:
                problems.append(row.problem("left_on", _("They left before they joined.")))
            gender = row.get("gender").lower()
            if gender:
                if gender not in GENDERS:
                    problems.append(
                        row.problem(
                            "gender",
                            _(
                                "“%(value)s” is not one of: woman, man, non_binary, another_way, prefer_not_to_say."
                            )
                            % {"value": row.get("gender")},
                        )
                    )
                member.gender = GENDERS.get(gender, "")
            band = row.get("age_band").lower()
            if band:
                if band not in AgeBand.values:
                    problems.append(
                        row.problem(
                            "age_band",
                            _("“%(value)s” is not an age band.") % {"value": row.get("age_band")},
                        )
                    )
                else:
                    member.age_band = band
            elif born := _cell(row, "date_of_birth", problems, parse_date):
                # The age band only: a date of birth is more than a time bank needs to keep.
                member.age_band = _age_band(born, self.today)
            for column in ("disability", "carer"):
                value = row.get(column).lower()
                if value:
                    if value not in YES_NO:
                        problems.append(
                            row.problem(
                                column,
                                _("“%(value)s” is not yes, no or prefer_not_to_say.")
                                % {"value": row.get(column)},
                            )
                        )
                    setattr(member, column, YES_NO.get(value, ""))
            member.representatives = row.get("representatives").replace(";", " ").split()
            if member.representatives and not member.organisation:
                problems.append(
                    row.problem("representatives", _("Only an organisation has representatives."))
                )
            member.declared = _cell(
                row, "declared_balance_minutes", problems, minutes_in, hours=hours, signed=True
            )
            notes = [row.get("notes_for_broker")]
            if row.get("alt_phone"):
                notes.append(_("Other phone: %(phone)s") % {"phone": row.get("alt_phone")})
            if row.get("sub_area"):
                notes.append(_("Sub-area: %(area)s") % {"area": row.get("sub_area")})
            member.notes = _length(
                row, "notes_for_broker", "\n".join(n for n in notes if n), 4000, problems
            )
            self.plan.members.append(member)
        self.find_members()
        self.plan.counts["members.csv"] = {
            "rows": len(rows),
            "new": sum(1 for m in self.plan.members if m.new),
            "existing": sum(1 for m in self.plan.members if not m.new),
            "skipped": skipped,
        }

    def external_id(self, row: Row, column: str) -> str | None:
        value = row.get(column)
        if not value:
            self.problems.append(row.problem(column, _("Every row needs an external id.")))
            return None
        if len(value) > MAX_EXTERNAL_ID:
            self.problems.append(
                row.problem(
                    column,
                    _("An external id has at most %(n)s characters.") % {"n": MAX_EXTERNAL_ID},
                )
            )
            return None
        if "@" in value and value != POT:
            self.problems.append(
                row.problem(
                    column,
                    _(
                        "Use the old system's member numbers or codes as external ids, not email addresses."
                    ),
                )
            )
            return None
        return value

    def find_members(self) -> None:
        """Members imported before (by external id) and logins that already have their email."""
        members = self.plan.members
        records = self._records([m.external_id for m in members])
        for member in members:
            record = records.get(member.external_id)
            if record is not None:
                member.new = False
                member.person_id, member.organisation_id = record
        emails = [m.email for m in members if m.new and m.email]
        users: dict[str, tuple[int, int | None]] = {}
        for chunk in _chunks(emails):
            for user_id, email, person_id in User.objects.filter(email__in=chunk).values_list(
                "pk", "email", "person__pk"
            ):
                users[email] = (user_id, person_id)
            # An address someone added to their login as a second one is theirs too.
            for user_id, email, person_id in EmailAddress.objects.filter(
                email__in=chunk
            ).values_list("user_id", "email", "user__person__pk"):
                users.setdefault(email.lower(), (user_id, person_id))
        person_ids = [pid for _, pid in users.values() if pid]
        here: set[int] = set()
        for chunk in _chunks(person_ids):
            here.update(
                Membership.objects.filter(time_bank=self.bank, person_id__in=chunk).values_list(
                    "person_id", flat=True
                )
            )
        linked = 0
        for member in members:
            if member.new and member.email in users:
                member.user_id, member.person_id = users[member.email]
                member.member_here = member.person_id in here
                linked += 1
        if linked:
            self.plan.warnings.append(
                Problem(
                    "members.csv",
                    None,
                    "email",
                    ngettext(
                        "%(n)s member already has a login on this site with the same email: "
                        "they join with it (and their own password); their details here are "
                        "not changed.",
                        "%(n)s members already have a login on this site with the same email: "
                        "they join with it (and their own password); their details here are "
                        "not changed.",
                        linked,
                    )
                    % {"n": linked},
                )
            )
        new_orgs = [m.display_name for m in members if m.new and m.organisation]
        taken: set[str] = set()
        for chunk in _chunks(new_orgs):
            taken.update(
                n.lower()
                for n in Organisation.objects.filter(
                    time_bank=self.bank, name__in=chunk
                ).values_list("name", flat=True)
            )
        for member in members:
            if member.new and member.organisation and member.display_name.lower() in taken:
                self.problems.append(
                    member.row.problem(
                        "display_name",
                        _("An organisation of this bank already has this name."),
                    )
                )

    def _records(self, external_ids: list[str]) -> dict[str, tuple[int | None, int | None]]:
        found: dict[str, tuple[int | None, int | None]] = {}
        for chunk in _chunks(sorted(set(external_ids))):
            for ext, person, organisation in ExternalRecord.objects.filter(
                time_bank=self.bank, file=ExternalFile.MEMBERS, external_id__in=chunk
            ).values_list("external_id", "person_id", "organisation_id"):
                found[ext] = (person, organisation)
        return found

    def find_referenced(self, rows: dict[str, list[Row]]) -> None:
        """Members the other files name but members.csv does not: imported before."""
        named: set[str | None] = set()
        for row in rows["exchanges.csv"]:
            named.update(
                (
                    row.get("provider_external_id"),
                    row.get("recipient_external_id"),
                    row.get("recorded_by_external_id"),
                )
            )
        named.update(row.get("member_external_id") for row in rows["opening_balances.csv"])
        named.update(row.get("member_external_id") for row in rows["offers.csv"])
        for row in rows["members.csv"]:
            named.update(row.get("representatives").replace(";", " ").split())
        wanted = sorted(n for n in named if n and n != POT and n not in self.plan.by_id)
        for ext, (person, organisation) in self._records(wanted).items():
            self.plan.known[ext] = Member(
                row=Row("members.csv", "members.csv", 0, {}),
                external_id=ext,
                organisation=organisation is not None,
                display_name=ext,
                new=False,
                person_id=person,
                organisation_id=organisation,
            )
        # Their accounts, and those of members found by email, as they stand.
        people = {
            m.person_id: m for m in [*self.plan.members, *self.plan.known.values()] if m.person_id
        }
        orgs = {
            m.organisation_id: m
            for m in [*self.plan.members, *self.plan.known.values()]
            if m.organisation_id
        }
        for ids, field_ in ((list(people), "person_id"), (list(orgs), "organisation_id")):
            for chunk in _chunks(ids):
                for account_id, holder, posted in Account.objects.filter(
                    time_bank=self.bank, **{f"{field_}__in": chunk}
                ).values_list("pk", field_, "posted_minutes"):
                    member = people[holder] if field_ == "person_id" else orgs[holder]
                    self.plan.accounts[member.external_id] = account_id
                    self.plan.balances[member.external_id] = {"before": posted}
        # Their names, for messages; an organisation's first representative publishes its offers.
        names: dict[int, str] = {}
        for chunk in _chunks([m.person_id for m in self.plan.known.values() if m.person_id]):
            names.update(Person.objects.filter(pk__in=chunk).values_list("pk", "display_name"))
        organisations = [m.organisation_id for m in self.plan.known.values() if m.organisation_id]
        org_names: dict[int, str] = {}
        for chunk in _chunks(organisations):
            org_names.update(Organisation.objects.filter(pk__in=chunk).values_list("pk", "name"))
            for org_id, rep in (
                Representative.objects.filter(organisation_id__in=chunk)
                .order_by("since", "pk")
                .values_list("organisation_id", "person_id")
            ):
                self.representative_ids.setdefault(org_id, rep)
        for member in self.plan.known.values():
            key, by_pk = (
                (member.organisation_id, org_names)
                if member.organisation
                else (member.person_id, names)
            )
            member.display_name = (
                member.external_id if key is None else by_pk.get(key, member.external_id)
            )

    def party(
        self, row: Row, column: str, *, pot_ok: bool, person_only: bool = False
    ) -> str | None:
        """The member (or ``#pot``) a cell names, or None with a problem."""
        value = row.get(column)
        if not value:
            self.problems.append(row.problem(column, _("Say who: this cell is empty.")))
            return None
        if value == POT:
            if not pot_ok:
                self.problems.append(
                    row.problem(
                        column,
                        _(
                            "The community pot takes part only in donations, grants and group exchanges."
                        ),
                    )
                )
                return None
            return value
        member = self.plan.member(value)
        if member is None:
            self.problems.append(
                row.problem(
                    column,
                    _("No member with external id %(id)s in members.csv or imported before.")
                    % {"id": value},
                )
            )
            return None
        if person_only and member.organisation:
            self.problems.append(
                row.problem(column, _("%(id)s is an organisation, not a person.") % {"id": value})
            )
            return None
        return value

    def name(self, external_id: str) -> str:
        if external_id == POT:
            return _("the community pot")
        member = self.plan.member(external_id)
        return f"‘{member.display_name}’" if member else external_id

    # --- exchanges.csv ---------------------------------------------------------------------

    def exchanges(self, rows: list[Row]) -> None:
        problems = self.problems
        hours = "exchanges.csv" in self.bundle.in_hours
        by_id: dict[str, list[Row]] = {}
        order: list[str] = []
        skipped = 0
        for row in rows:
            external_id = self.external_id(row, "external_id")
            if external_id is None:
                continue
            if external_id not in by_id:
                by_id[external_id] = []
                order.append(external_id)
            by_id[external_id].append(row)
        parsed: list[Exchange] = []
        for external_id in order:
            group = by_id[external_id]
            first = group[0]
            kind = first.get("kind").lower() or "service"
            if kind not in KINDS:
                problems.append(
                    first.problem(
                        "kind",
                        _(
                            "“%(value)s” is not a kind of exchange: service, group, donation or grant."
                        )
                        % {"value": first.get("kind")},
                    )
                )
                continue
            if len(group) > 1 and kind != "group":
                for row in group[1:]:
                    problems.append(
                        row.problem(
                            "external_id",
                            _(
                                "The external id %(id)s is used twice (first on line %(line)s); only a group exchange has several rows."
                            )
                            % {"id": external_id, "line": first.line},
                        )
                    )
                continue
            state = first.get("state").lower()
            if state in LEFT_OUT_STATES:
                self.plan.skipped.append(first.problem("state", str(LEFT_OUT_STATES[state])))
                skipped += 1
                continue
            if state not in EXCHANGE_STATES:
                problems.append(
                    first.problem(
                        "state",
                        _("“%(value)s” is not a state: completed, pending, declined or reversed.")
                        % {"value": first.get("state")},
                    )
                )
                continue
            exchange = self.exchange(external_id, group, kind, EXCHANGE_STATES[state], hours)
            if exchange is not None:
                parsed.append(exchange)
        new = self.not_yet_imported(parsed)
        self.plan.exchanges = new
        self.plan.counts["exchanges.csv"] = {
            "rows": len(rows),
            "new": len(new),
            "existing": len(parsed) - len(new),
            "skipped": skipped,
        }

    def exchange(
        self, external_id: str, rows: list[Row], kind: str, state: str, hours: bool
    ) -> Exchange | None:
        problems = self.problems
        before = len(problems)
        first = rows[0]
        # What every row of a group must agree on.
        for row in rows[1:]:
            for column in (
                "service_date",
                "description",
                "category",
                "state",
                "coproduction",
                "recorded_by_external_id",
                "kind",
            ):
                if row.get(column) != first.get(column):
                    problems.append(
                        row.problem(
                            column,
                            _("The rows of group exchange %(id)s differ here (see line %(line)s).")
                            % {"id": external_id, "line": first.line},
                        )
                    )
        service_date = _cell(first, "service_date", problems, parse_date)
        if first.get("service_date") == "":
            problems.append(first.problem("service_date", _("Say when the help happened.")))
        if service_date and service_date > self.today:
            problems.append(first.problem("service_date", _("This date is in the future.")))
        recorded_at = _cell(first, "recorded_at", problems, parse_moment)
        if recorded_at and recorded_at > self.now:
            problems.append(first.problem("recorded_at", _("This moment is in the future.")))
        description = first.get("description")
        if not description:
            problems.append(
                first.problem("description", _("Say in a few words what the help was."))
            )
        description = _length(first, "description", description, 200, problems)
        category = self.category(first)
        coproduction = first.get("coproduction").lower() or CoProduction.DELIVERY
        if coproduction not in COPRODUCTION:
            problems.append(
                first.problem(
                    "coproduction",
                    _("“%(value)s” is not a kind of co-production.")
                    % {"value": first.get("coproduction")},
                )
            )
        recorded_by = first.get("recorded_by_external_id")
        if recorded_by:
            recorded_by = (
                self.party(first, "recorded_by_external_id", pot_ok=False, person_only=True) or ""
            )
        offer = first.get("offer_external_id")
        legs: list[tuple[str, int]] = []
        for row in rows:
            minutes = _cell(row, "minutes", problems, minutes_in, hours=hours)
            if row.get("minutes") == "":
                problems.append(row.problem("minutes", _("Say how long the help was.")))
            if minutes == 0:
                problems.append(row.problem("minutes", _("An exchange of no time: zero hours.")))
                minutes = None
            if kind == "group":
                sides = [c for c in ("provider_external_id", "recipient_external_id") if row.get(c)]
                if len(sides) != 1:
                    problems.append(
                        row.problem(
                            None,
                            _(
                                "Each row of a group exchange names one person: a provider (who earns) or a recipient (who gives)."
                            ),
                        )
                    )
                    continue
                who = self.party(row, sides[0], pot_ok=True)
                if who is not None and minutes:
                    gave = sides[0] == "provider_external_id"
                    legs.append((who, minutes if gave else -minutes))
                    if who != POT:
                        self.largest(row, who, minutes, gave=gave)
                continue
            pot_ok = kind in ("donation", "grant")
            provider = self.party(row, "provider_external_id", pot_ok=kind == "donation")
            recipient = self.party(row, "recipient_external_id", pot_ok=pot_ok)
            if kind == "grant" and recipient not in (None, POT):
                problems.append(
                    row.problem(
                        "recipient_external_id", _("A grant comes from the community pot: #pot.")
                    )
                )
            if provider is None or recipient is None or not minutes:
                continue
            if provider == recipient:
                problems.append(
                    row.problem(
                        "recipient_external_id",
                        _("%(name)s cannot exchange with themselves.")
                        % {"name": self.name(provider)},
                    )
                )
                continue
            if kind == "service":
                self.largest(row, provider, minutes, gave=True)
            elif kind == "donation":
                self.largest(row, recipient, minutes, gave=True)
            else:
                self.largest(row, provider, minutes, gave=False)
            legs = [(provider, minutes), (recipient, -minutes)]
        if kind == "group" and len(problems) == before:
            earned = [who for who, m in legs if m > 0]
            if not earned or len(earned) == len(legs):
                problems.append(
                    first.problem(
                        None, _("A group exchange needs at least one provider and one recipient.")
                    )
                )
            whos = [who for who, _m in legs]
            for who in {w for w in whos if whos.count(w) > 1}:
                problems.append(
                    first.problem(
                        None,
                        _("%(name)s appears twice in group exchange %(id)s.")
                        % {"name": self.name(who), "id": external_id},
                    )
                )
            total = sum(m for _w, m in legs)
            if total and len(problems) == before:
                if POT in whos or self.bank.group_remainder_rule != GroupRemainderRule.POT:
                    problems.append(
                        first.problem(
                            None,
                            _(
                                "The hours of group exchange %(id)s do not add up: providers earn %(diff)s more than recipients give."
                            )
                            % {"id": external_id, "diff": format_hours(total)},
                        )
                    )
                else:
                    # As the bank's rule says: the community pot makes up or keeps the difference.
                    legs.append((POT, -total))
        if len(problems) != before or service_date is None:
            # Their balances cannot be checked against a history with a hole in it.
            for row in rows:
                self.unsure.update(
                    row.get(c) for c in ("provider_external_id", "recipient_external_id")
                )
            return None
        if recorded_at is None:
            recorded_at = timezone.make_aware(datetime.combine(service_date, time(12, 0)))
            if recorded_at > self.now:
                recorded_at = self.now
        recorder_given = bool(recorded_by)
        if not recorded_by:
            recorded_by = self.recorder(first, legs) or ""
            if not recorded_by and self.plan.actor is None:
                problems.append(
                    first.problem(
                        "recorded_by_external_id", _("Say who recorded it: no person takes part.")
                    )
                )
                return None
        return Exchange(
            external_id=external_id,
            rows=rows,
            kind=kind,
            state=state,
            service_date=service_date,
            recorded_at=recorded_at,
            description=description,
            category=category,
            coproduction=coproduction,
            offer=offer,
            recorded_by=recorded_by,
            legs=legs,
            recorder_given=recorder_given,
        )

    def recorder(self, row: Row, legs: list[tuple[str, int]]) -> str | None:
        """Who recorded an exchange whose row does not say: the importing admin (None here),
        else the first person taking part."""
        if self.plan.actor is not None:
            return None
        for who, _m in legs:
            member = self.plan.member(who)
            if member is not None and not member.organisation:
                return who
        return None

    def largest(self, row: Row, who: str, minutes: int, *, gave: bool) -> None:
        limit = self.bank.max_exchange_minutes
        if minutes > limit:
            message = (
                _(
                    "%(name)s gave %(hours)s in one exchange, more than this bank's largest "
                    "exchange of %(largest)s (split it, or raise the bank's largest exchange)."
                )
                if gave
                else _(
                    "%(name)s received %(hours)s in one exchange, more than this bank's largest "
                    "exchange of %(largest)s (split it, or raise the bank's largest exchange)."
                )
            )
            self.problems.append(
                row.problem(
                    "minutes",
                    message
                    % {
                        "name": self.name(who),
                        "hours": format_hours(minutes),
                        "largest": format_hours(limit),
                    },
                )
            )

    def category(self, row: Row) -> Category | None:
        value = row.get("category")
        if not value:
            return None
        found = self.categories.get(value.lower()) or self.categories.get(
            value.lower().replace(" ", "-")
        )
        if found is None:
            self.uncategorised[value] += 1
            return self.other_category
        return found

    def not_yet_imported(self, parsed: list[Exchange]) -> list[Exchange]:
        """The exchanges not already in this bank: by their journal's key (``import:<id>``, or
        the id itself for an exchange recorded here and exported). One imported before with
        other details is a problem: an import adds, it never changes history."""
        keys = {}
        for exchange in parsed:
            keys[EXCHANGE_KEY + exchange.external_id] = exchange
            keys[exchange.external_id] = exchange
        existing: dict[str, str] = {}
        recorders: dict[str, int | None] = {}
        for chunk in _chunks(sorted(keys)):
            for key, fingerprint, recorder in Journal.objects.filter(
                time_bank=self.bank, idempotency_key__in=chunk
            ).values_list("idempotency_key", "fingerprint", "recorded_by_id"):
                existing[key] = fingerprint
                recorders[key] = recorder
        new = []
        for exchange in parsed:
            key = EXCHANGE_KEY + exchange.external_id
            if exchange.external_id in existing:
                continue  # recorded in this bank and exported: already here
            if key not in existing:
                new.append(exchange)
                continue
            if self.bundle.derived_ids:
                continue  # the id is the row's content: the same row again
            legs = [(self.plan.accounts.get(who), m) for who, m in exchange.legs if who != POT]
            known = tuple((a, m) for a, m in legs if a is not None)
            if len(known) < len(legs) or any(who == POT for who, _m in exchange.legs):
                # Its accounts are not all known: compare what can be compared, the key.
                continue
            journal = HistoricalJournal(
                idempotency_key=key,
                legs=known,
                effective_date=exchange.service_date,
                recorded_at=exchange.recorded_at,
                description=exchange.description,
                category=exchange.journal_category,
                recorded_by_id=self.recorder_id(exchange)
                if exchange.recorder_given
                else recorders[key],
                pending=exchange.state == "pending",
            )
            if history_fingerprint(self.bank.pk, journal) != existing[key]:
                self.problems.append(
                    exchange.rows[0].problem(
                        "external_id",
                        _(
                            "Exchange %(id)s was imported before with other details. An import "
                            "only adds: correct it in the bank (reverse it and record it again)."
                        )
                        % {"id": exchange.external_id},
                    )
                )
        return new

    def recorder_id(self, exchange: Exchange) -> int | None:
        if exchange.recorded_by:
            member = self.plan.member(exchange.recorded_by)
            return member.person_id if member else None
        return self.plan.actor.pk if self.plan.actor else None

    # --- opening_balances.csv --------------------------------------------------------------

    def openings(self, rows: list[Row]) -> None:
        problems = self.problems
        hours = "opening_balances.csv" in self.bundle.in_hours
        first_line: dict[str, int] = {}
        parsed = []
        zero = 0
        for row in rows:
            member = self.party(row, "member_external_id", pot_ok=False)
            minutes = _cell(row, "balance_minutes", problems, minutes_in, hours=hours, signed=True)
            if row.get("balance_minutes") == "":
                problems.append(
                    row.problem("balance_minutes", _("Give the balance brought forward."))
                )
            as_of = _cell(row, "as_of_date", problems, parse_date)
            if as_of and as_of > self.today:
                problems.append(row.problem("as_of_date", _("This date is in the future.")))
            if member is None or minutes is None or as_of is None:
                continue
            if member in first_line:
                problems.append(
                    row.problem(
                        "member_external_id",
                        _("A second opening balance for %(name)s (first on line %(line)s).")
                        % {"name": self.name(member), "line": first_line[member]},
                    )
                )
                continue
            first_line[member] = row.line
            if minutes == 0:
                self.plan.skipped.append(
                    row.problem(
                        "balance_minutes", _("A balance of zero: nothing to bring forward.")
                    )
                )
                zero += 1
                continue
            parsed.append(Opening(row, member, minutes, as_of))
        existing: set[str] = set()
        keys = [OPENING_KEY + o.member for o in parsed]
        for chunk in _chunks(keys):
            existing.update(
                Journal.objects.filter(time_bank=self.bank, idempotency_key__in=chunk).values_list(
                    "idempotency_key", flat=True
                )
            )
        new = [o for o in parsed if OPENING_KEY + o.member not in existing]
        # History before an opening balance is already in it: counted twice otherwise.
        as_of = {o.member: o for o in new}
        for exchange in self.plan.exchanges:
            if exchange.state != "completed":
                continue
            for who, _m in exchange.legs:
                opening = as_of.get(who)
                if opening is not None and exchange.service_date <= opening.as_of:
                    problems.append(
                        exchange.rows[0].problem(
                            "service_date",
                            _(
                                "The opening balance of %(name)s is as of %(date)s and already "
                                "includes this exchange: leave it out, or date the balance earlier."
                            )
                            % {"name": self.name(who), "date": opening.as_of.isoformat()},
                        )
                    )
        self.plan.openings = new
        self.plan.counts["opening_balances.csv"] = {
            "rows": len(rows),
            "new": len(new),
            "existing": len(parsed) - len(new),
            "skipped": zero,
        }

    # --- offers.csv ------------------------------------------------------------------------

    def offers(self, rows: list[Row]) -> None:
        problems = self.problems
        first_line: dict[str, int] = {}
        parsed = []
        for row in rows:
            external_id = self.external_id(row, "external_id")
            if external_id is None:
                continue
            if external_id in first_line:
                problems.append(
                    row.problem(
                        "external_id",
                        _("The external id %(id)s is used twice (first on line %(line)s).")
                        % {"id": external_id, "line": first_line[external_id]},
                    )
                )
                continue
            first_line[external_id] = row.line
            before = len(problems)
            owner = self.party(row, "member_external_id", pot_ok=False)
            kind = OFFER_KINDS.get(row.get("kind").lower())
            if kind is None:
                problems.append(
                    row.problem(
                        "kind",
                        _("“%(value)s” is neither an offer nor a request.")
                        % {"value": row.get("kind")},
                    )
                )
            title = row.get("title")
            if not title:
                problems.append(row.problem("title", _("Every offer or request needs a title.")))
            title = _length(row, "title", title, 100, problems)
            description = _length(row, "description", row.get("description"), 2000, problems)
            created_at = _cell(row, "created_at", problems, parse_moment) or self.now
            if created_at > self.now:
                problems.append(row.problem("created_at", _("This moment is in the future.")))
            expires_on = _cell(row, "expires_on", problems, parse_date)
            if expires_on and expires_on < timezone.localtime(created_at).date():
                problems.append(row.problem("expires_on", _("It ends before it was published.")))
            state = row.get("state").lower() or "open"
            if state not in ("open", "closed"):
                problems.append(
                    row.problem(
                        "state",
                        _("“%(value)s” is neither open nor closed.") % {"value": row.get("state")},
                    )
                )
            category = self.category(row) or self.other_category
            if len(problems) != before or owner is None or kind is None or category is None:
                continue
            parsed.append(
                Offer(
                    row=row,
                    external_id=external_id,
                    owner=owner,
                    kind=kind,
                    title=title,
                    description=description,
                    category=category,
                    created_at=created_at,
                    expires_on=expires_on,
                    state=state,
                    area=_length(row, "area", row.get("area"), 40, problems),
                    availability=_length(
                        row, "availability", row.get("availability"), 120, problems
                    ),
                )
            )
        existing: set[str] = set()
        for chunk in _chunks([o.external_id for o in parsed]):
            existing.update(
                ExternalRecord.objects.filter(
                    time_bank=self.bank, file=ExternalFile.OFFERS, external_id__in=chunk
                ).values_list("external_id", flat=True)
            )
        new = [o for o in parsed if o.external_id not in existing]
        for offer in new:
            if self.author(offer) is None and self.plan.actor is None:
                problems.append(
                    offer.row.problem(
                        "member_external_id",
                        _(
                            "An organisation's offer needs a representative to publish it: name one in members.csv."
                        ),
                    )
                )
        self.plan.offers = new
        self.plan.counts["offers.csv"] = {
            "rows": len(rows),
            "new": len(new),
            "existing": len(parsed) - len(new),
            "skipped": 0,
        }
        known_offers = set(first_line)
        wanted = sorted({e.offer for e in self.plan.exchanges if e.offer} - known_offers)
        for chunk in _chunks(wanted):
            known_offers.update(
                ExternalRecord.objects.filter(
                    time_bank=self.bank, file=ExternalFile.OFFERS, external_id__in=chunk
                ).values_list("external_id", flat=True)
            )
        for exchange in self.plan.exchanges:
            if exchange.offer and exchange.offer not in known_offers:
                problems.append(
                    exchange.rows[0].problem(
                        "offer_external_id",
                        _("No offer %(id)s in offers.csv or imported before.")
                        % {"id": exchange.offer},
                    )
                )

    def author(self, offer: Offer) -> str | None:
        """Who publishes an imported offer: its owner, or an organisation's first representative."""
        member = self.plan.member(offer.owner)
        if member is None:
            return None
        if not member.organisation:
            return offer.owner
        if member.representatives:
            return member.representatives[0]
        if member.organisation_id in self.representative_ids:
            return offer.owner
        return None

    def representatives(self) -> None:
        for member in self.plan.members:
            for who in member.representatives:
                other = self.plan.member(who)
                if other is None:
                    self.problems.append(
                        member.row.problem(
                            "representatives", _("No member with external id %(id)s.") % {"id": who}
                        )
                    )
                elif other.organisation:
                    self.problems.append(
                        member.row.problem(
                            "representatives",
                            _("%(id)s is an organisation: representatives are people.")
                            % {"id": who},
                        )
                    )

    # --- Across files ----------------------------------------------------------------------

    def balances(self) -> None:
        """Each member's balance after the import (what was here, opening balance, new
        history) against the balance the file declares."""
        balances = self.plan.balances
        for opening in self.plan.openings:
            balances.setdefault(opening.member, {})["opening"] = opening.minutes
        for exchange in self.plan.exchanges:
            if exchange.state != "completed":
                continue
            for who, minutes in exchange.legs:
                if who != POT:
                    entry = balances.setdefault(who, {})
                    entry["history"] = (entry.get("history") or 0) + minutes
        for member in self.plan.members:
            entry = balances.setdefault(member.external_id, {})
            entry["declared"] = member.declared
        for external_id, entry in balances.items():
            computed = sum(entry.get(k) or 0 for k in ("before", "opening", "history"))
            entry["computed"] = computed
            declared = entry.get("declared")
            if declared is None or declared == computed or external_id in self.unsure:
                continue
            member = self.plan.must(external_id)
            self.problems.append(
                member.row.problem(
                    "declared_balance_minutes",
                    _(
                        "%(name)s's declared balance of %(declared)s does not match their "
                        "history: %(computed)s (%(parts)s), %(diff)s apart. Fix the exchanges "
                        "or the opening balance, or leave the declared balance empty."
                    )
                    % {
                        "name": member.display_name,
                        "declared": format_hours(declared),
                        "computed": format_hours(computed),
                        "parts": ", ".join(
                            f"{label} {format_hours(entry.get(k) or 0)}"
                            for k, label in (
                                ("before", _("already here")),
                                ("opening", _("opening balance")),
                                ("history", _("exchanges")),
                            )
                            if entry.get(k)
                        )
                        or _("no exchanges"),
                        "diff": format_hours(abs(declared - computed)),
                    },
                )
            )

    def closed_months(self) -> None:
        """Months already reported keep their figures: new history in them shows as revisions
        in the next report, and the reconciliation says so."""
        closed = set(
            MonthlyReport.objects.filter(time_bank=self.bank, state=ReportState.DONE).values_list(
                "month", flat=True
            )
        )
        if not closed:
            return
        touched: dict[date, int] = defaultdict(int)
        for exchange in self.plan.exchanges:
            month = exchange.service_date.replace(day=1)
            if month in closed:
                touched[month] += 1
        self.plan.closed_months = [f"{m:%Y-%m}" for m in sorted(touched)]
        for month, count in sorted(touched.items()):
            self.plan.warnings.append(
                Problem(
                    "exchanges.csv",
                    None,
                    "service_date",
                    ngettext(
                        "%(n)s exchange falls in %(month)s, a month already reported: its report "
                        "is not rewritten, and the change shows as a revision in the next one.",
                        "%(n)s exchanges fall in %(month)s, a month already reported: its report "
                        "is not rewritten, and the changes show as revisions in the next one.",
                        count,
                    )
                    % {"n": count, "month": f"{month:%B %Y}"},
                )
            )


def check(bundle: Bundle, *, time_bank: TimeBank, actor: Person | None) -> Plan:
    """The dry run of ``bundle`` into ``time_bank`` (see the module docstring)."""
    return Checker(bundle, time_bank=time_bank, actor=actor).check()

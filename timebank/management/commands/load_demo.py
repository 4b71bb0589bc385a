"""Build a fictional time bank so the site is alive on first run. Safe to run twice."""

from __future__ import annotations

import functools
import random
from datetime import timedelta
from typing import TypedDict

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from ledger import services as ledger
from listings import services as listings
from members import services
from members.models import Organisation, Person, Representative, Role, Status, TimeBank, User

DEMO_PASSWORD = "riverside-demo-2026"

# (display name, area, what they can do): a community-minded mix, as in West Edinburgh's list.
MEMBERS = [
    ("Alice Archer", "GL50", "Gardening and help with allotments; company for a cuppa."),
    ("Bob Baker", "GL51", "Bakes for events; lifts to the GP or hospital (has a car)."),
    ("Chidi Okafor", "GL52", "Computer and phone help, setting up video calls with family."),
    ("Dot Evans", "GL50", "Knitting and sewing repairs; teaches beginners."),
    ("Ewan McLeod", "GL53", "Small repairs, flat-pack furniture, changing light bulbs."),
    ("Fatima Begum", "GL51", "Cooking, shopping trips, translation (Bengali, Urdu)."),
    ("George Pike", "GL54", "Dog walking, collecting prescriptions."),
    ("Hannah Lloyd", "GL50", "Reading to people with poor sight; letter writing."),
    ("Ibrahim Haddad", "GL52", "Guitar lessons, music for community lunches."),
    ("Jean Marsh", "GL53", "Ironing, befriending, phone chats."),
    ("Kofi Mensah", "GL51", "Heavy lifting, help with moving, gardening clearances."),
    ("Linda Shaw", "GL50", "Form filling and benefits paperwork; a retired clerk."),
    ("Malik Hussain", "GL52", "Bike repairs; teaches cycling confidence."),
    ("Nora Quinn", "GL54", "Hairdressing at home for people who cannot get out."),
    ("Owen Price", "GL53", "Painting and decorating, small jobs."),
    ("Priya Patel", "GL51", "Yoga for beginners, chair-based exercise."),
    ("Rosa Martinez", "GL50", "Spanish conversation, childminding for short errands."),
    ("Sam Turner", "GL52", "Errands in town, carrying shopping, accompanying to appointments."),
    ("Tess Howard", "GL53", "Baking, recipe swaps, help at the community lunch."),
    ("Uma Singh", "GL54", "Maths homework help, tutoring."),
    ("Victor Nowak", "GL51", "Plumbing advice, fixing dripping taps."),
    ("Wendy Clarke", "GL50", "Visiting and company; accompanies walks."),
    ("Yusuf Ali", "GL52", "Phone and tablet set-up, online shopping help."),
    ("Zara Ahmed", "GL53", "Sewing, hemming, costume making for the school play."),
    ("Arthur Bell", "GL54", "Woodwork, making raised beds, sharpening tools."),
    ("Beatrice Cole", "GL51", "Gardening, seed swaps, pruning roses."),
    ("Callum Reid", "GL50", "Lifts to the shops on Saturdays."),
    ("Daisy Ford", "GL52", "Pet sitting, feeding cats while you are away."),
]
# Monitoring answers for the demo members, in turn (every fifth member answers nothing), so
# the commissioner report's demographic tables have figures above the suppression threshold.
AGE_BANDS = ["65_74", "35_44", "75_84", "25_34", "55_64", "45_54", "65_74", "prefer_not_to_say"]
GENDERS = ["woman", "man", "woman", "woman", "man", "non_binary", "woman", "prefer_not_to_say"]
DISABILITY = ["no", "yes", "no", "no", "yes", "prefer_not_to_say", "no"]
CARER = ["no", "no", "yes", "no", "yes", "no", "prefer_not_to_say"]


class MonitoringAnswers(TypedDict, total=False):
    age_band: str
    gender: str
    disability: str
    carer: str


def demo_answers(i: int) -> MonitoringAnswers:
    """Member ``i``'s monitoring answers: none for every fifth member, as in real life."""
    if i % 5 == 4:
        return {}
    return {
        "age_band": AGE_BANDS[i % len(AGE_BANDS)],
        "gender": GENDERS[i % len(GENDERS)],
        "disability": DISABILITY[i % len(DISABILITY)],
        "carer": CARER[i % len(CARER)],
    }


OFFLINE = [("Edna Green", "GL54", "Loves company; knits blankets for the hospice.")]
APPLICANTS = [
    ("Felix Grant", "GL50", "Just retired; happy to do odd jobs and drive."),
    ("Grace Kim", "GL51", "Student nurse; could help with shopping and chats."),
    ("Harold Webb", "GL53", "Former teacher; reading and homework help."),
]
LISTINGS = [
    ("offer", "gardening", "Help with your garden"),
    ("offer", "lifts-and-transport", "Lifts to the GP or hospital"),
    ("offer", "computers-and-phones", "Help with phones, tablets and video calls"),
    ("offer", "sewing-and-knitting", "Sewing repairs and knitting lessons"),
    ("offer", "diy-and-repairs", "Small repairs and flat-pack furniture"),
    ("request", "shopping-and-errands", "Someone to come shopping with me"),
    ("offer", "lifts-and-transport", "Collecting prescriptions"),
    ("request", "forms-and-paperwork", "Help reading my post"),
    ("offer", "music-and-arts", "Guitar lessons for beginners"),
    ("request", "company-and-befriending", "A weekly chat over a cup of tea"),
    ("offer", "diy-and-repairs", "Heavy lifting and moving help"),
    ("offer", "forms-and-paperwork", "Help with forms and benefits paperwork"),
    ("request", "diy-and-repairs", "Fix my bicycle brakes"),
    ("offer", "health-and-wellbeing", "Haircuts at home"),
    ("request", "diy-and-repairs", "Paint the back bedroom"),
    ("offer", "health-and-wellbeing", "Chair-based exercise"),
]
SKILLS = [
    ("gardening", "Vegetable growing and pruning"),
    ("lifts-and-transport", "Has a car; happy to drive"),
    ("computers-and-phones", "Video calls, online shopping, email"),
    ("sewing-and-knitting", "Mending, hemming, knitting"),
    ("diy-and-repairs", "Shelves, flat-pack, light bulbs"),
    ("cooking-and-baking", "Home cooking for one or two"),
    ("pets", "Dog walking"),
    ("forms-and-paperwork", "Reading and writing letters"),
    ("music-and-arts", "Guitar and singing"),
    ("company-and-befriending", "Phone chats and visits"),
]
EXCHANGES = [
    "Two hours in the garden",
    "A lift to the GP",
    "Set up a video call",
    "Hemmed some trousers",
    "Put up shelves",
    "Shopping trip",
    "Walked the dog",
    "Read the post together",
    "Guitar lesson",
    "Ironing",
    "Helped with a form",
    "Fixed a puncture",
]


@functools.cache
def _password_hash() -> str:
    # Hashing is deliberately slow; every demo account shares one password, so hash it once.
    return make_password(DEMO_PASSWORD)


def _user(email: str) -> User:
    user, _ = User.objects.get_or_create(email=email, defaults={"password": _password_hash()})
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@demo.timebank.localhost"


class Command(BaseCommand):
    help = "Load a fictional time bank (Riverside) with members, a broker, a commissioner and exchanges."

    # The demo's welcome emails would flood the console on first run; keep them in memory.
    @override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    def handle(self, *args: object, **options: object) -> None:
        if TimeBank.objects.filter(slug="riverside").exists():
            self.stdout.write("The demo time bank is already loaded.")
            return
        with transaction.atomic():
            self._load()
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the Riverside demo time bank. Sign in with any demo email and password {DEMO_PASSWORD!r}:\n"
                f"  broker:       {_email('Brenda Broker')}\n"
                f"  member:       {_email('Alice Archer')}\n"
                f"  commissioner: {_email('Cora Council')}\n"
                f"  linked bank:  Millbrook: {_email('Max Miller')} (member), "
                f"{_email('Mina Mills')} (admin), {_email('Colin County')} (commissioner)\n"
                f"  site admin:   admin@demo.timebank.localhost"
            )
        )

    def _load(self) -> None:
        rng = random.Random(2026)
        bank = TimeBank.objects.create(
            name="Riverside Time Bank",
            slug="riverside",
            area="Riverside and the Old Town",
            description="Neighbours, the GP surgery and the community centre helping each other, an hour for an hour.",
            contact_email="brenda@riverside-timebank.localhost",
            contact_phone="01632 960 123",
            code_of_conduct=(
                "Everyone's hour is worth the same.\n\n"
                "Be on time, or let the other person know.\n\n"
                "Respect people's homes, privacy and boundaries. Never take money.\n\n"
                "Tell your broker about anything that worries you."
            ),
        )
        admin = _user("admin@demo.timebank.localhost")
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])

        def person(name: str, area: str, bio: str, *, role: str, user: User | None) -> Person:
            p = Person.objects.create(user=user, display_name=name, area=area, bio=bio)
            now = timezone.now()
            p.memberships.create(
                time_bank=bank,
                role=role,
                status=Status.APPROVED,
                applied_at=now,
                decided_at=now,
                agreed_code_of_conduct_at=now,
            )
            return p

        brenda = person(
            "Brenda Broker",
            "GL50",
            "Coordinator of Riverside Time Bank.",
            role=Role.BROKER,
            user=_user(_email("Brenda Broker")),
        )
        ledger.open_account(time_bank=bank, person=brenda)
        person(
            "Cora Council",
            "",
            "Commissioning officer, Riverside Council (reads reports only).",
            role=Role.COMMISSIONER,
            user=_user(_email("Cora Council")),
        )

        # Members apply and the broker approves them, on the same path as the website.
        members = []
        for i, (name, area, bio) in enumerate(MEMBERS):
            user = _user(_email(name))
            membership = services.apply_to_bank(
                user=user,
                time_bank=bank,
                profile=services.Profile(display_name=name, area=area, bio=bio, **demo_answers(i)),
                referees=services.Referees(
                    "Pat Jones", "01632 960123", "Sam Lee", "sam.lee@example.org"
                ),
                agrees_to_code=True,
            )
            services.approve_membership(membership=membership, broker=brenda)
            members.append(membership.person)
        for name, area, bio in OFFLINE:
            membership = services.create_offline_member(
                time_bank=bank,
                broker=brenda,
                profile=services.Profile(
                    display_name=name, area=area, bio=bio, contact_preference="broker"
                ),
            )
            members.append(membership.person)
        for name, area, bio in APPLICANTS:
            services.apply_to_bank(
                user=_user(_email(name)),
                time_bank=bank,
                profile=services.Profile(display_name=name, area=area, bio=bio),
                referees=services.Referees(
                    "Jo Smith", "01632 960456", "Alex Brown", "alex@example.org"
                ),
                agrees_to_code=True,
            )

        gp = Organisation.objects.create(
            time_bank=bank,
            name="Riverside GP Surgery",
            kind="GP surgery",
            area="GL50",
            description="Refers patients who would benefit from company and practical help.",
        )
        centre = Organisation.objects.create(
            time_bank=bank,
            name="Old Town Community Centre",
            kind="Charity",
            area="GL51",
            description="Runs the Thursday community lunch and the repair café.",
        )
        Representative.objects.create(organisation=gp, person=members[11])
        Representative.objects.create(organisation=centre, person=members[18])
        for org in (gp, centre):
            ledger.open_account(time_bank=bank, organisation=org)
        ledger.community_pot(time_bank=bank)

        self._activity(rng, bank, brenda, members, gp, centre)
        self._neighbour(bank, members)

    def _activity(
        self,
        rng: random.Random,
        bank: TimeBank,
        brenda: Person,
        members: list[Person],
        gp: Organisation,
        centre: Organisation,
    ) -> None:
        """Offers, requests, skills and a few months of exchanges, each through its service."""
        from exchanges import services as exchanges
        from listings.models import CapabilityLevel, Category
        from members.models import Membership

        categories = {c.slug: c for c in Category.objects.all()}
        today = timezone.localdate()
        # Everyone joined a while ago, so the history below is possible.
        Membership.objects.filter(time_bank=bank).exclude(status=Status.APPLIED).update(
            decided_at=timezone.now() - timedelta(days=200)
        )
        for person, (kind, slug, title) in zip(members, LISTINGS, strict=False):
            listings.publish_listing(
                author=brenda if person.user_id is None else person,
                time_bank=bank,
                for_person=person,
                details=listings.ListingDetails(
                    kind=kind,
                    category=categories[slug],
                    title=title,
                    area=person.area,
                    availability=rng.choice(
                        ["Weekday mornings", "Evenings", "Weekends", "Most days"]
                    ),
                ),
            )
        listings.publish_listing(
            author=members[11],
            time_bank=bank,
            for_organisation=gp,
            details=listings.ListingDetails(
                kind="request",
                category=categories["company-and-befriending"],
                title="Befrienders for patients living alone",
                area="GL50",
            ),
        )
        for person, (slug, description) in zip(members, SKILLS, strict=False):
            membership = person.memberships.get(time_bank=bank)
            listings.add_capability(
                editor=brenda,
                membership=membership,
                category=categories[slug],
                description=description,
                level=rng.choice(list(CapabilityLevel.values)),
            )

        accounts = [ledger.open_account(time_bank=bank, person=p) for p in members]
        # A few months of everyday exchanges first, recorded by the broker (from paper slips
        # and phone calls), as they were over time. Nobody is taken past half the bank's
        # limit, so that every journey in the README (Alice records gardening for Bob, Bob
        # confirms) has room to succeed.
        floor = bank.default_credit_limit_minutes // 2
        for n in range(120):
            giver, receiver = rng.sample(accounts, 2)
            minutes = rng.choice([30, 60, 60, 90, 120, 180])
            if ledger.balance(account=receiver).available - minutes < floor:
                continue
            exchanges.record_exchange(
                recorded_by=brenda,
                giver=giver,
                receiver=receiver,
                minutes=minutes,
                details=exchanges.Details(
                    effective_date=today - timedelta(days=rng.randint(12, 150)),
                    description=rng.choice(EXCHANGES),
                    category=categories[rng.choice(list(categories))],
                ),
                idempotency_key=f"demo-{n}",
            )
        # Volunteers at the community lunch earn from the centre in one journal; a computer
        # class pays its teacher, the difference going to the community pot.
        exchanges.record_group_exchange(
            recorded_by=brenda,
            time_bank=bank,
            providers=[(accounts[i], 120) for i in (3, 9, 18)],
            receivers=[(ledger.open_account(time_bank=bank, organisation=centre), 360)],
            details=exchanges.Details(
                effective_date=today - timedelta(days=7), description="Thursday community lunch"
            ),
            idempotency_key="demo-lunch",
        )
        exchanges.record_group_exchange(
            recorded_by=brenda,
            time_bank=bank,
            providers=[(accounts[2], 120)],
            receivers=[(accounts[i], 60) for i in (5, 7, 21)],
            details=exchanges.Details(
                effective_date=today - timedelta(days=10),
                description="Phones and tablets class",
                category=categories["computers-and-phones"],
                coproduction="co-design",
            ),
            idempotency_key="demo-class",
        )
        exchanges.donate_hours(
            recorded_by=members[0],
            donor=accounts[0],
            to_account=ledger.community_pot(time_bank=bank),
            minutes=120,
            idempotency_key="demo-donation",
        )
        exchanges.grant_from_pot(
            broker=brenda,
            time_bank=bank,
            to_account=accounts[-1],
            minutes=60,
            reason="Welcome hour for Edna",
            idempotency_key="demo-grant",
        )
        # Some left for people to act on, recorded last as they would be: one waiting for Bob
        # to confirm (Alice helped him), one for Chidi (Sam helped him), one for the broker
        # (Chidi helped Edna, who has no login).
        exchanges.record_exchange(
            recorded_by=members[0],
            giver=accounts[0],
            receiver=accounts[1],
            minutes=90,
            details=exchanges.Details(
                effective_date=today - timedelta(days=2), description="Pruned the apple tree"
            ),
            idempotency_key="demo-unconfirmed",
        )
        exchanges.record_exchange(
            recorded_by=members[17],
            giver=accounts[17],
            receiver=accounts[2],
            minutes=90,
            details=exchanges.Details(
                effective_date=today - timedelta(days=3),
                description="Carried the shopping home",
                category=categories["shopping-and-errands"],
            ),
            idempotency_key="demo-unconfirmed-chidi",
        )
        exchanges.record_exchange(
            recorded_by=members[2],
            giver=accounts[2],
            receiver=accounts[-1],
            minutes=60,
            details=exchanges.Details(
                effective_date=today - timedelta(days=1), description="Set up Edna's tablet"
            ),
            idempotency_key="demo-for-approval",
        )

    def _neighbour(self, riverside: TimeBank, members: list[Person]) -> None:
        """Millbrook, a neighbouring time bank linked with Riverside (``interbank``): its
        administrator Mina proposed the link and Riverside's administrator Brenda accepted it,
        each with a trust limit of 20 hours, each sharing members' names (Millbrook its offers
        too); Colin reads Millbrook's commissioner reports. No exchanges across yet: a bank that
        traded with a linked bank cannot be exported and imported elsewhere whole (its
        partner stays behind), and the demo must round-trip (``tests/imports``)."""
        from interbank import services as interbank
        from listings.models import Category

        now = timezone.now()
        millbrook = TimeBank.objects.create(
            name="Millbrook Time Bank",
            slug="millbrook",
            area="Millbrook village",
            description="The village next to Riverside, an hour for an hour.",
            contact_email="mina@millbrook-timebank.localhost",
        )

        def joined(person: Person, bank: TimeBank, role: str) -> None:
            person.memberships.create(
                time_bank=bank,
                role=role,
                status=Status.APPROVED,
                applied_at=now - timedelta(days=200),
                decided_at=now - timedelta(days=200),
                agreed_code_of_conduct_at=now - timedelta(days=200),
            )

        def person(name: str, area: str, bio: str, role: str, bank: TimeBank) -> Person:
            p = Person.objects.create(
                user=_user(_email(name)), display_name=name, area=area, bio=bio
            )
            joined(p, bank, role)
            return p

        # Brenda also administers Riverside (still its one broker): she accepted the link.
        brenda = Person.objects.get(display_name="Brenda Broker")
        brenda.memberships.filter(time_bank=riverside).update(role=Role.ADMIN)
        mina = person("Mina Mills", "GL54", "Coordinator of Millbrook.", Role.ADMIN, millbrook)
        neighbours = [
            person("Max Miller", "GL54", "Fences, gates and sheds.", Role.MEMBER, millbrook),
            person("Nora North", "GL54", "Knitting and company.", Role.MEMBER, millbrook),
            person("Omar Osei", "GL54", "Lifts to the hospital.", Role.MEMBER, millbrook),
        ]
        person(
            "Colin County", "", "Commissioning officer for Millbrook.", Role.COMMISSIONER, millbrook
        )
        listings.publish_listing(
            author=neighbours[0],
            time_bank=millbrook,
            details=listings.ListingDetails(
                kind="offer",
                category=Category.objects.get(slug="diy-and-repairs"),
                title="Mending fences and gates",
                area="GL54",
            ),
        )
        link = interbank.propose_link(
            by=mina,
            time_bank=millbrook,
            partner=riverside,
            trust_limit_minutes=20 * 60,
            shares="offers",
        )
        interbank.accept_link(link=link, by=brenda, trust_limit_minutes=20 * 60, shares="members")

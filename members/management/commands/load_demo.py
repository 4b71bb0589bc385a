"""Build a fictional time bank so the site is alive on first run. Safe to run twice."""

from __future__ import annotations

import functools
import random
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from ledger import services as ledger
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
OFFLINE = [("Edna Green", "GL54", "Loves company; knits blankets for the hospice.")]
APPLICANTS = [
    ("Felix Grant", "GL50", "Just retired; happy to do odd jobs and drive."),
    ("Grace Kim", "GL51", "Student nurse; could help with shopping and chats."),
    ("Harold Webb", "GL53", "Former teacher; reading and homework help."),
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
        for name, area, bio in MEMBERS:
            user = _user(_email(name))
            membership = services.apply_to_bank(
                user=user,
                time_bank=bank,
                profile=services.Profile(display_name=name, area=area, bio=bio),
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
        pot = ledger.community_pot(time_bank=bank)

        # A few months of exchanges, each one through the ledger's service function.
        accounts = [ledger.open_account(time_bank=bank, person=p) for p in members]
        today = timezone.localdate()
        for n in range(120):
            giver, receiver = rng.sample(accounts, 2)
            minutes = rng.choice([30, 60, 60, 90, 120, 180])
            if ledger.balance(account=receiver).available - minutes < receiver.credit_limit_minutes:
                continue
            ledger.transfer(
                from_account=receiver,
                to_account=giver,
                minutes=minutes,
                idempotency_key=f"demo-{n}",
                effective_date=today - timedelta(days=rng.randint(1, 150)),
                recorded_by=brenda,
                description=rng.choice(EXCHANGES),
            )
        # The community centre thanks lunch volunteers from its account; the pot seeds a newcomer.
        ledger.transfer(
            from_account=ledger.open_account(time_bank=bank, organisation=centre),
            to_account=accounts[18],
            minutes=120,
            idempotency_key="demo-lunch",
            effective_date=today - timedelta(days=7),
            recorded_by=brenda,
            description="Community lunch volunteering",
        )
        ledger.transfer(
            from_account=pot,
            to_account=accounts[-1],
            minutes=60,
            idempotency_key="demo-pot",
            effective_date=today - timedelta(days=3),
            recorded_by=brenda,
            description="Welcome hour from the community pot",
        )

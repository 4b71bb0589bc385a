"""Every string a person reads goes through Django's translation machinery.

Two checks that fail when someone adds an untranslated string:

1. The pages, under a pseudo-locale. A test-only language, "en-xa", translates every message
   to itself inside ⟪ ⟫ marks (this, unlike a compiled catalogue, also marks Django's and
   allauth's own strings, so nothing needs extracting first). The main pages, form errors and
   flash messages are rendered in it; once the marked text, the database's own text (names,
   titles, descriptions) and numbers are taken out, no English word may be left.
2. The source, statically: a literal (or f-string) handed straight to ``messages.*``,
   ``ValidationError``, ``PermissionDenied`` or ``Http404`` is a message nobody can translate;
   and every ``gettext``/``_`` call takes a literal, so ``makemessages`` can extract it.

Not covered here: the commissioner report pages (their table headings are the stable
snake_case keys of the CSV and XLSX, on purpose).
"""

from __future__ import annotations

import ast
import gettext as gettext_module
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import models
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import trans_real

from exchanges import services as exchange_services
from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from listings import services as listings
from listings.models import Category, Listing, ListingKind
from members.models import ApprovalRule, LimitRule, Person
from reports.models import Nudge, Statement
from tests.base import CastTestCase
from tests.factories import make_user
from tests.support import PageResponse, user_of

OPEN, CLOSE = "⟪", "⟫"
PSEUDO = "en-xa"
ROOT = Path(settings.BASE_DIR)


class PseudoTranslation(gettext_module.NullTranslations):
    """Every message comes back as itself, marked: ⟪Record an exchange⟫."""

    def gettext(self, message: str) -> str:
        # pgettext sends "context\x04message".
        message = message.split(trans_real.CONTEXT_SEPARATOR, 1)[-1]
        return f"{OPEN}{message}{CLOSE}" if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)

    def language(self) -> str:
        return PSEUDO

    def to_language(self) -> str:
        return PSEUDO


class VisibleText(HTMLParser):
    """The text a person sees or hears in a page's body: text nodes and accessible names."""

    SKIP = {"script", "style", "template", "head", "title"}
    SPOKEN = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        found = dict(attrs)
        self.parts += [found[name] or "" for name in self.SPOKEN if name in found]
        if tag == "input" and found.get("type") in {"submit", "button"}:
            self.parts.append(found.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _database_text() -> list[str]:
    """Every text value in the database: what people typed is not ours to translate."""
    values: set[str] = set()
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not f.choices
        ]
        if fields:
            for row in model._default_manager.values_list(*fields):
                values.update(v for v in row if isinstance(v, str) and v.strip())
    # Longest first, so "Riverside Time Bank" goes before "Riverside".
    return sorted(values, key=len, reverse=True)


def untranslated_words(html: str) -> list[str]:
    """English words in the page's body that came from neither a translation nor the data."""
    body = html[html.find("<body") :]
    parser = VisibleText()
    parser.feed(body)
    text = "\n".join(parser.parts)
    # Innermost marks first: "⟪Recorded: ⟪1.5 hours⟫. The hours have moved.⟫".
    marked = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
    while True:
        text, found = marked.subn(" ", text)
        if not found:
            break
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)  # email and web addresses
    for value in _database_text():
        text = text.replace(value, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


def write_empty_catalogue(locale_dir: Path) -> None:
    """An empty .mo for en_XA, so Django counts the pseudo-locale as a language it has."""
    folder = locale_dir / "en_XA" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    # GNU .mo header: magic, revision, no messages, table offsets, no hash table.
    (folder / "django.mo").write_bytes(struct.pack("<7I", 0x950412DE, 0, 0, 28, 28, 0, 28))


class PagesUnderAPseudoLocale(CastTestCase):
    alice_account: Account
    bob_account: Account
    listing: Listing

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        locale_dir = tempfile.TemporaryDirectory()
        write_empty_catalogue(Path(locale_dir.name))
        pseudo = override_settings(
            LANGUAGES=[*settings.LANGUAGES, (PSEUDO, "Pseudo")],
            LOCALE_PATHS=[locale_dir.name, *settings.LOCALE_PATHS],
        )
        pseudo.enable()
        cls.addClassCleanup(locale_dir.cleanup)
        cls.addClassCleanup(pseudo.disable)

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.riverside.contact_email = "brokers@riverside.example"
        cls.riverside.save(update_fields=["contact_email"])
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.listing = listings.publish_listing(
            author=cls.bob,
            time_bank=cls.riverside,
            details=listings.ListingDetails(
                kind=ListingKind.REQUEST,
                category=Category.objects.order_by("pk").first(),
                title="Lift to the surgery",
                description="Tuesday morning",
            ),
        )
        # One exchange waiting for a broker, so the desk shows a card and the statement a row;
        # recorded past Bob's limit under the "flag" rule, so it is marked where it is listed.
        fields = [
            "confirmation_required",
            "approval_rule",
            "limit_rule",
            "default_credit_limit_minutes",
        ]
        policy = [getattr(cls.riverside, name) for name in fields]
        cls.riverside.confirmation_required = False
        cls.riverside.approval_rule = ApprovalRule.ALL
        cls.riverside.limit_rule = LimitRule.FLAG
        cls.riverside.default_credit_limit_minutes = 0
        cls.riverside.save(update_fields=fields)
        exchange_services.record_exchange(
            recorded_by=cls.alice,
            giver=cls.alice_account,
            receiver=cls.bob_account,
            minutes=90,
            details=exchange_services.Details(
                effective_date=timezone.localdate(), description="Lift to the surgery"
            ),
        )
        for name, value in zip(fields, policy, strict=True):
            setattr(cls.riverside, name, value)
        cls.riverside.save(update_fields=fields)

    def setUp(self) -> None:
        # After override_settings reset the caches: every message in "en-xa" comes back marked.
        # Django's cache of catalogues: private, so its stubs leave it out.
        trans_real._translations[PSEUDO] = PseudoTranslation()  # type: ignore[attr-defined]
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = PSEUDO

    def client_for(self, person: Person | None) -> Client:
        client = Client()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = PSEUDO
        if person is not None:
            client.force_login(user_of(person))
        return client

    def assert_all_translated(self, response: PageResponse, label: str) -> None:
        html = response.content.decode()
        self.assertIn(OPEN, html, f"{label}: not rendered in the pseudo-locale")
        words = untranslated_words(html)
        self.assertEqual(words, [], f"{label}: untranslated text in the page")

    def test_the_pseudo_locale_catches_an_untranslated_word(self) -> None:
        self.assertEqual(
            untranslated_words(f"<body><p>{OPEN}Home{CLOSE}</p><p>Record hours</p></body>"),
            ["Record", "hours"],
        )
        self.assertEqual(untranslated_words(f'<body><p title="{OPEN}x{CLOSE}">7</p></body>'), [])

    def test_the_main_pages_have_no_untranslated_text(self) -> None:
        bank = ["riverside"]
        alice = [
            reverse("home"),
            reverse("dashboard", args=bank),
            reverse("listings", args=bank),
            reverse("listing-new", args=bank),
            reverse("listing-detail", args=[self.listing.pk]),
            reverse("record-exchange", args=bank),
            reverse("donate", args=bank),
            reverse("statement", args=bank),
            reverse("profile"),
            reverse("capabilities", args=bank),
            reverse("email-preferences"),
        ]
        brenda = [
            reverse("desk", args=bank),
            reverse("application-queue", args=bank),
            reverse("add-offline-member", args=bank),
            reverse("member-search", args=bank),
            reverse("member-page", args=[*bank, self.alice.pk]),
            reverse("listing-matches", args=[self.listing.pk]),
            reverse("record-group", args=bank),
            reverse("grant", args=bank),
            reverse("audit-log", args=bank),
        ]
        anyone = [
            reverse("account_login"),
            reverse("account_signup"),
            reverse("account_reset_password"),
            "/no-such-page/",
        ]
        for person, urls in [(self.alice, alice), (self.brenda, brenda), (None, anyone)]:
            client = self.client_for(person)
            for url in urls:
                with self.subTest(url=url):
                    response = client.get(url)
                    self.assertIn(response.status_code, {200, 404}, url)
                    self.assert_all_translated(response, url)

    def test_form_errors_and_refusals_are_translated(self) -> None:
        client = self.client_for(self.alice)
        yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
        cases = {
            "record, empty": (reverse("record-exchange", args=["riverside"]), {}),
            "record, bad hours and a future date": (
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": self.bob_account.pk,
                    "effective_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
                    "minutes": "0.1",
                    "description": "",
                },
            ),
            "record, with yourself": (
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": self.alice_account.pk,
                    "effective_date": yesterday,
                    "minutes": "1",
                    "description": "Gardening",
                    "coproduction": "co-delivery",
                },
            ),
            "new listing, empty": (reverse("listing-new", args=["riverside"]), {}),
            "reply, empty": (reverse("listing-detail", args=[self.listing.pk]), {"message": ""}),
            "profile, empty": (reverse("profile"), {}),
        }
        for label, (url, data) in cases.items():
            with self.subTest(label):
                response = client.post(url, data, follow=True)
                self.assertLess(response.status_code, 500)
                self.assert_all_translated(response, label)
        with self.subTest("apply, empty"):
            newcomer = self.client_for(None)
            newcomer.force_login(make_user("newcomer@example.org"))
            response = newcomer.post(reverse("apply", args=["hillside"]), {})
            self.assert_all_translated(response, "apply, empty")
        with self.subTest("sign up, bad"):
            response = self.client_for(None).post(
                reverse("account_signup"), {"email": "not an email", "password1": "x"}
            )
            self.assert_all_translated(response, "sign up, bad")
        with self.subTest("a refusal"):
            response = client.get(reverse("desk", args=["riverside"]))
            self.assertEqual(response.status_code, 403)
            self.assert_all_translated(response, "a refusal")

    def test_flash_messages_are_translated(self) -> None:
        client = self.client_for(self.alice)
        form = client.get(reverse("record-exchange", args=["riverside"]))
        with self.captureOnCommitCallbacks(execute=True):
            response = client.post(
                reverse("record-exchange", args=["riverside"]),
                {
                    "direction": "gave",
                    "other": self.bob_account.pk,
                    "effective_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
                    "minutes": "1.5",
                    "description": "Weeded the garden",
                    "coproduction": "co-delivery",
                    "idempotency_key": form.context["form"].initial["idempotency_key"],
                },
                follow=True,
            )
        self.assertContains(response, f"{OPEN}Recorded: {OPEN}You helped")
        self.assertContains(response, f"{OPEN}We have asked")
        self.assert_all_translated(response, "after recording")
        # The email to Bob went out in the same language: its subject and body are translated.
        [email] = mail.outbox
        self.assertIn(OPEN, email.subject)
        self.assertEqual(untranslated_words(f"<body>{email.subject}</body>"), [])
        self.assertEqual(untranslated_words(f"<body>{escape(email.body)}</body>"), [])

    def test_the_desk_answer_in_place_is_translated(self) -> None:
        # What the desk's script swaps in for the card (desk/static/timebank/desk.js).
        waiting = Exchange.objects.get(description="Lift to the surgery")
        answer = self.client_for(self.brenda).post(
            reverse("approve-exchange", args=[waiting.pk]), HTTP_X_REQUESTED_WITH="in-place"
        )
        self.assertEqual(answer.status_code, 200)
        html = answer.content.decode()
        self.assertIn(OPEN, html)
        self.assertEqual(untranslated_words(f"<body>{html}</body>"), [])

    def test_the_monthly_statement_email_is_translated(self) -> None:
        statement = Statement(
            month=date(2026, 3, 1),
            given_minutes=90,
            received_minutes=60,
            given_year_minutes=600,
            received_year_minutes=60,
            balance_minutes=540,
            exchanged_with=["Bob Baker"],
            nudge=Nudge.SPEND,
        )
        context = {
            "person": self.alice,
            "bank": self.riverside,
            "statement": statement,
            "page_url": "https://timebank.example/banks/riverside/statements/2026-03/",
            "unsubscribe_url": "https://timebank.example/email/unsubscribe/x/",
            "suggestions": [
                {
                    "title": "Lift to the surgery",
                    "owner": "Bob Baker",
                    "area": "GL51",
                    "url": f"https://timebank.example/listings/{self.listing.pk}/",
                }
            ],
        }
        with translation.override(PSEUDO):
            for name in ("subject.txt", "body.txt", "body.html"):
                with self.subTest(name):
                    text = render_to_string(f"emails/statement-{name}", context)
                    html = text if name.endswith(".html") else f"<body>{escape(text)}</body>"
                    self.assertIn(OPEN, html)
                    self.assertEqual(untranslated_words(html), [])


# --- The source --------------------------------------------------------------------------------

# Operator-facing (shell output, admin email): English on purpose.
OPERATORS = ("/management/commands/", "ledger/tasks.py", "ledger/verification.py")
TRANSLATORS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext"}
TRANSLATORS |= {"pgettext_lazy", "npgettext", "gettext_noop", "_lazy"}
# Calls whose message a person reads.
SHOWN = {"success", "error", "info", "warning", "debug"}  # messages.*
RAISED = {"ValidationError", "PermissionDenied", "Http404"}


def _python_sources() -> list[Path]:
    apps_dirs = ["audit", "exchanges", "ledger", "members", "reminders", "reports", "timebank"]
    return [
        path
        for folder in apps_dirs
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
        and not any(part in path.relative_to(ROOT).as_posix() for part in OPERATORS)
    ]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_words(node: ast.expr) -> bool:
    """A literal or f-string with at least one English word in it."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2,}", node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_is_words(v) for v in node.values if isinstance(v, ast.Constant))
    return False


def untranslated_messages(source: str) -> list[tuple[int, str]]:
    """(line, text) of every message literal shown to a person without gettext."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        candidates: list[ast.expr] = []
        is_messages = (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "messages"
        )
        if name in SHOWN and is_messages and len(node.args) >= 2:
            candidates.append(node.args[1])
        if name in RAISED and node.args:
            first = node.args[0]
            candidates.append(first)
            if isinstance(first, ast.Dict):
                candidates += [v for v in first.values if v is not None]
            for value in candidates[:]:
                if isinstance(value, ast.List):
                    candidates += value.elts
        for candidate in candidates:
            if _is_words(candidate):
                found.append((candidate.lineno, ast.unparse(candidate)[:80]))
    return found


def unextractable_calls(source: str) -> list[tuple[int, str]]:
    """gettext calls makemessages cannot read: the message is built (an f-string, a
    concatenation, a .format()) rather than written out. A variable is allowed: that is the
    deferred pattern, ``gettext(title)`` of a constant marked with ``gettext_noop``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node.func) in TRANSLATORS and node.args:
            messages = node.args[: 2 if _name(node.func).startswith(("n", "p")) else 1]
            if any(isinstance(a, ast.JoinedStr | ast.BinOp | ast.Call) for a in messages):
                found.append((node.lineno, ast.unparse(node)[:80]))
    return found


class TheSourceMarksEveryMessage(CastTestCase):
    def test_the_check_finds_an_untranslated_message(self) -> None:
        source = (
            "messages.success(request, f'Saved {x}.')\n"
            "raise ValidationError({'hours': ['Too many hours.']})\n"
            "messages.success(request, _('Saved.'))\n"
            "raise PermissionDenied(gettext('No.'))\n"
            "_(f'Hello {name}')\n"
            "gettext(title)\n"
            "_('Hello ' + name)\n"
        )
        self.assertEqual([line for line, _ in untranslated_messages(source)], [1, 2])
        self.assertEqual([line for line, _ in unextractable_calls(source)], [5, 7])

    def test_no_message_a_person_reads_is_left_untranslated(self) -> None:
        problems = [
            f"{path.relative_to(ROOT)}:{line}: {text}"
            for path in _python_sources()
            for line, text in untranslated_messages(path.read_text())
        ]
        self.assertEqual(problems, [])

    def test_every_translated_message_can_be_extracted(self) -> None:
        problems = [
            f"{path.relative_to(ROOT)}:{line}: {text}"
            for path in _python_sources()
            for line, text in unextractable_calls(path.read_text())
        ]
        self.assertEqual(problems, [])


@unittest.skipUnless(
    shutil.which("xgettext") and shutil.which("msgfmt"),
    "needs GNU gettext (Debian's gettext package) for makemessages",
)
class MakeMessagesExtractsTheCatalogue(CastTestCase):
    def test_makemessages_en_gb_extracts_python_and_template_messages_that_compile(self) -> None:
        with (
            tempfile.TemporaryDirectory() as locale_dir,
            override_settings(LOCALE_PATHS=[locale_dir]),
        ):
            here = os.getcwd()
            os.chdir(ROOT)
            try:
                call_command(
                    "makemessages",
                    locale=["en_GB"],
                    ignore_patterns=["e2e", "var", "bench", "tests", "node_modules"],
                    verbosity=0,
                )
            finally:
                os.chdir(here)
            po = Path(locale_dir) / "en_GB" / "LC_MESSAGES" / "django.po"
            catalogue = po.read_text()
            for msgid in [
                "Contact your broker",  # a template
                "Recorded: %(said)s %(then)s",  # a view's message
                "Please keep it to %(limit)s characters.",  # a service's refusal
                "%(n)s hour",  # format_hours
                "Give hours or minutes, not both.",  # an API validation error
            ]:
                self.assertIn(f'"{msgid}"', catalogue)
            # msgfmt --check-format: every translation could keep the placeholders.
            subprocess.run(
                ["msgfmt", "--check", "-o", os.devnull, str(po)], check=True, capture_output=True
            )

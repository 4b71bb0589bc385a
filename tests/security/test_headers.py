"""Security headers on every response: the content security policy, Permissions-Policy and
Referrer-Policy; and no template relies on inline script or style, which the policy blocks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase
from django.urls import reverse

from tests.base import CastTestCase
from tests.support import PageResponse, user_of

ROOT = Path(__file__).resolve().parent.parent.parent


def directives(header: str) -> dict[str, list[str]]:
    found = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


class EveryResponseCarriesTheHeaders(CastTestCase):
    def assert_strict_policy(self, response: PageResponse) -> None:
        policy = directives(response["Content-Security-Policy"])
        self.assertEqual(policy["default-src"], ["'self'"])
        self.assertEqual(policy["script-src"], ["'self'"])
        self.assertEqual(policy["style-src"], ["'self'"])
        self.assertEqual(policy["object-src"], ["'none'"])
        self.assertEqual(policy["frame-ancestors"], ["'none'"])
        for values in policy.values():
            self.assertNotIn("'unsafe-inline'", values)
            self.assertNotIn("'unsafe-eval'", values)
        self.assertIn("camera=()", response["Permissions-Policy"])
        self.assertIn("geolocation=()", response["Permissions-Policy"])
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")

    def test_pages_the_api_and_redirects_carry_a_strict_policy(self):
        self.client.force_login(user_of(self.brenda))
        for url in (
            reverse("home"),
            reverse("desk", args=["riverside"]),
            reverse("commissioner-report", args=["riverside"]),
            reverse("api-me"),
            reverse("api-docs"),
            "/no-such-page/",
        ):
            with self.subTest(url=url):
                self.assert_strict_policy(self.client.get(url))
        self.client.logout()
        for url in (reverse("account_login"), reverse("desk", args=["riverside"])):
            with self.subTest(url=url, signed_in=False):
                self.assert_strict_policy(self.client.get(url))

    def test_the_api_docs_load_their_start_up_script_from_a_file(self):
        page = self.client.get(reverse("api-docs")).content.decode()
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", page)
        self.assertEqual(inline, [])
        self.assertIn("?script", page)


class ProductionSendsThePolicy(SimpleTestCase):
    def test_the_policy_is_sent_with_production_settings(self):
        # Not PYTEST_VERSION either: the settings read it as a developer's machine.
        clean = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "PYTEST_VERSION"}
        }
        # As deployed: static files collected (the 404 page links the stylesheet by its
        # hashed name), into a throwaway VAR_DIR.
        var_dir = self.enterContext(tempfile.TemporaryDirectory())
        script = (
            "import django; django.setup()\n"
            "from django.core.management import call_command\n"
            "call_command('collectstatic', interactive=False, verbosity=0)\n"
            "from django.test import Client\n"
            "r = Client().get('/no-such-page/', secure=True)\n"
            "print(r.status_code); print(r['Content-Security-Policy']);"
            " print(r['Permissions-Policy']); print(r['Strict-Transport-Security'])\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={
                **clean,
                "DJANGO_SETTINGS_MODULE": "timebank.settings",
                "DEBUG": "false",
                "SECRET_KEY": "x" * 50,
                "ALLOWED_HOSTS": "testserver",
                "VAR_DIR": var_dir,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        status, policy, permissions, hsts = result.stdout.strip().splitlines()[-4:]
        self.assertEqual(status, "404")
        self.assertEqual(directives(policy)["script-src"], ["'self'"])
        self.assertIn("microphone=()", permissions)
        self.assertIn("max-age=31536000", hsts)


class TemplatesNeedNoInlineScriptOrStyle(SimpleTestCase):
    """The policy blocks inline <script>, <style>, style="" and on*="" handlers: none is used."""

    # A <script> with no src that holds code (JSON data blocks are not run, so not blocked).
    INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(src|type=\"application/json\")\b)[^>]*>")
    PATTERNS = {
        "inline script": INLINE_SCRIPT,
        "style element": re.compile(r"<style\b"),
        "style attribute": re.compile(r"\sstyle\s*="),
        "event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']"),
        "javascript: URL": re.compile(r"javascript:"),
    }

    def test_no_template_uses_inline_script_or_style(self):
        found = []
        for path in sorted((ROOT / "templates").rglob("*.html")):
            if "emails" in path.parts:
                continue  # email bodies are not web pages; mail clients need inline style
            text = path.read_text()
            for what, pattern in self.PATTERNS.items():
                if pattern.search(text):
                    found.append(f"{path.relative_to(ROOT)}: {what}")
        self.assertEqual(found, [])
        self.assertGreater(len(list((ROOT / "templates").rglob("*.html"))), 30)

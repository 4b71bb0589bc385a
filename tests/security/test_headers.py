"""Security headers on every response: the content security policy, Permissions-Policy and
Referrer-Policy; and no template relies on inline script or style, which the policy blocks."""

from __future__ import annotations

import os
import re
import runpy
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from django.core.management import call_command
from django.test import Client, SimpleTestCase
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


def production_settings(var_dir: str) -> dict[str, Any]:
    """The settings as a deployed server reads them (timebank/settings.py run again with
    DEBUG off, a real key and not under pytest): every upper-case name."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "PYTEST_VERSION", "DEBUG"}
    }
    env |= {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "testserver"}
    with mock.patch.dict(os.environ, {**env, "VAR_DIR": var_dir}, clear=True):
        found = runpy.run_path(str(ROOT / "timebank" / "settings.py"))
    return {name: value for name, value in found.items() if name.isupper()}


class ProductionSendsThePolicy(SimpleTestCase):
    def test_the_policy_is_sent_with_production_settings(self):
        var_dir = self.enterContext(tempfile.TemporaryDirectory())
        production = production_settings(var_dir)
        # In this process, every production setting but the test database and Celery's
        # folders. The static files are collected as deployed (the 404 page links the
        # stylesheet by its hashed name), hashed by Django's storage, which whitenoise's
        # extends: its compression takes minutes and sends no header.
        self.assertEqual(
            production["STORAGES"]["staticfiles"]["BACKEND"],
            "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
        changed = {
            name: value
            for name, value in production.items()
            if name != "DATABASES" and not name.startswith("CELERY_")
        }
        changed["STORAGES"] = {
            **production["STORAGES"],
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            },
        }
        with self.settings(**changed):
            call_command("collectstatic", interactive=False, verbosity=0)
            response = Client().get("/no-such-page/", secure=True)
        self.assertEqual(response.status_code, 404)
        self.assertEqual(directives(response["Content-Security-Policy"])["script-src"], ["'self'"])
        self.assertIn("microphone=()", response["Permissions-Policy"])
        self.assertIn("max-age=31536000", response["Strict-Transport-Security"])


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

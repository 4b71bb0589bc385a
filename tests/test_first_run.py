"""Problem 10 of issue 22, the first run: `make run` on another port, its log and its emails.

- Links in emails are built from the address `make run` serves (it said port 8000 whatever
  the port), and allauth's emails no longer say "Hello from 127.0.0.1:8101!".
- The run log has no models.W040 on the embedded SQLite (favicon 404s: see
  tests/security/test_mfa.py; a clean stop: the Makefile's SERVE, tried by hand in a terminal).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import unittest
from pathlib import Path

from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import TestCase, override_settings
from django.urls import reverse

ROOT = Path(settings.BASE_DIR)


class MakeRun(unittest.TestCase):
    @unittest.skipIf(shutil.which("make") is None, "make is not installed")
    def test_serve_gives_the_web_server_and_the_worker_the_address_it_serves_as_site_url(self):
        dry_run = subprocess.run(
            ["make", "-n", "--no-print-directory", "serve", "ADDRESS=127.0.0.1:8122"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # Run the recipe's first line (the export) as the shell would, without SITE_URL set;
        # never anything else of it (that would start the servers).
        export = dry_run.split(";")[0].strip()
        self.assertRegex(export, r'^export SITE_URL="\$\{SITE_URL:-[^"]*\}"$')
        shown = subprocess.run(
            ["sh", "-c", f'{export}; echo "$SITE_URL"'],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.assertEqual(shown, "http://127.0.0.1:8122")
        # Set by hand, it wins.
        shown = subprocess.run(
            ["sh", "-c", f'{export}; echo "$SITE_URL"'],
            env={"PATH": "/usr/bin:/bin", "SITE_URL": "https://timebank.example.org"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.assertEqual(shown, "https://timebank.example.org")
        # The worker is started after the export, so it reads the same address.
        self.assertLess(dry_run.index("SITE_URL"), dry_run.index("celery"))

    def test_run_serves_without_a_sub_make_that_would_report_ctrl_c_as_an_error(self):
        # Read, not dry-run: `make -n` still runs a $(MAKE) line, which would start servers.
        makefile = (ROOT / "Makefile").read_text()
        recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
        self.assertNotIn("$(MAKE)", recipe)
        self.assertIn("$(SERVE)", recipe)
        self.assertIn("trap 'wait $$worker; trap - EXIT; exit 0' INT", makefile)


class RunLog(TestCase):
    databases = {"default"}

    def test_the_system_check_of_migrate_and_runserver_shows_no_w040(self):
        out = io.StringIO()
        call_command("check", "--database", "default", stdout=out, stderr=out)
        self.assertNotIn("W040", out.getvalue())
        if connection.vendor == "sqlite":
            self.assertIn("models.W040", settings.SILENCED_SYSTEM_CHECKS)


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
class AllauthEmails(TestCase):
    def test_the_sign_up_email_does_not_greet_from_the_sites_address(self):
        with self.captureOnCommitCallbacks(execute=True):  # the worker sends it after commit
            self.client.post(
                reverse("account_signup"),
                {
                    "email": "nia@example.org",
                    "password1": "a-long-new-password-2026",
                    "password2": "a-long-new-password-2026",
                },
                HTTP_HOST="127.0.0.1:8101",
            )
        [email] = mail.outbox
        self.assertNotIn("Hello from", email.body)
        self.assertTrue(email.body.startswith("Hello,"), email.body[:80])
        # Its link is the address the person signed up at.
        self.assertIn("http://127.0.0.1:8101/accounts/confirm-email/", email.body)

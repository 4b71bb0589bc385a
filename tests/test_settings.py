import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent


# What the suite's own environment adds: the settings read PYTEST_VERSION as "a developer's
# machine", which a server started by hand is not.
NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "PYTEST_VERSION"}


def manage(*arguments: str, **env: str | None) -> subprocess.CompletedProcess:
    """manage.py as a developer starts it (DEBUG=true) unless ``env`` says otherwise; a
    variable given as None is left unset."""
    clean = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    given = {"DEBUG": "true", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**clean, **{k: v for k, v in given.items() if v is not None}},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage_check(*options: str, **env: str | None) -> subprocess.CompletedProcess:
    return manage("check", *options, **env)


class MalformedSettingsStopStartUp(SimpleTestCase):
    def assert_one_clear_line(self, result: subprocess.CompletedProcess, variable: str) -> None:
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(f"setting {variable} is malformed", lines[0])

    def test_a_malformed_boolean_names_its_variable(self):
        self.assert_one_clear_line(manage_check(DEBUG="maybe"), "DEBUG")

    def test_a_malformed_database_url_names_its_variable(self):
        self.assert_one_clear_line(manage_check(DATABASE_URL="nonsense://x"), "DATABASE_URL")

    def test_a_redis_url_of_the_wrong_kind_names_its_variable(self):
        self.assert_one_clear_line(manage_check(REDIS_URL="http://127.0.0.1:6379"), "REDIS_URL")

    def test_a_malformed_email_url_names_its_variable(self):
        self.assert_one_clear_line(manage_check(EMAIL_URL="smtp://host:notaport"), "EMAIL_URL")

    def test_a_malformed_trusted_proxy_count_names_its_variable(self):
        for value in ("one", "-1"):
            with self.subTest(value=value):
                result = manage_check(TRUSTED_PROXY_COUNT=value)
                self.assert_one_clear_line(result, "TRUSTED_PROXY_COUNT")

    def test_production_refuses_to_start_without_a_secret_key(self):
        result = manage_check(DEBUG="false", SECRET_KEY="")
        self.assert_one_clear_line(result, "SECRET_KEY")

    def test_a_server_started_without_debug_set_is_production_and_needs_its_own_key(self):
        self.assert_one_clear_line(manage_check(DEBUG=None), "SECRET_KEY")

    def test_debug_is_off_unless_set(self):
        show = (
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        )
        unset = manage(*show, DEBUG=None, SECRET_KEY="x" * 50)
        self.assertEqual(unset.stdout.strip(), "False", unset.stderr)
        self.assertEqual(manage(*show).stdout.strip(), "True")

    def test_the_local_defaults_start_cleanly(self):
        # DEBUG=true: as `make run` (and the Makefile's other local targets) start it.
        result = manage_check()
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_production_settings_pass_the_deployment_checklist(self):
        result = manage_check(
            "--deploy",
            "--fail-level",
            "WARNING",
            DEBUG="false",
            SECRET_KEY="x" * 40 + "production-like-secret-key-for-the-check",
            ALLOWED_HOSTS="timebank.example.org",
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

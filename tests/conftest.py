"""Suite-wide test settings."""

import os


def pytest_configure(config: object) -> None:
    from django.conf import settings

    # The cast signs up dozens of users per test class; a slow, safe hash costs minutes here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A run's cache keys (rate limits) are its own: each run's database starts its ids at 1.
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"

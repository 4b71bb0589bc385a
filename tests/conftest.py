"""Suite-wide test settings."""

import os


def pytest_configure(config: object) -> None:
    from django.conf import settings

    # The cast signs up dozens of users per test class; a slow, safe hash costs minutes here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests change rows behind the services' backs (factories, bulk updates), which would
    # leave the desk's cached follow-up lists stale; tests/reminders/test_desk_cache.py turns
    # the cache on. A run's keys are its own: each run's database starts its ids again at 1.
    settings.BANK_CACHE_SECONDS = 0
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"

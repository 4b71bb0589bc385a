"""Suite-wide test settings."""


def pytest_configure(config: object) -> None:
    from django.conf import settings

    # The cast signs up dozens of users per test class; a slow, safe hash costs minutes here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

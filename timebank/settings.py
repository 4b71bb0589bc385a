"""Settings for the time bank platform, read from environment variables.

Every value has a default that is safe for local use on one machine (SQLite, console email,
background jobs without a server), except DEBUG, which is off unless set: a server started
without it is hardened for production and needs its own SECRET_KEY (`make run` sets
DEBUG=true). A malformed value stops start-up with one line naming the variable (see
``SettingError``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


class SettingError(SystemExit):
    """A malformed environment variable: exits with one line, from any entry point."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"timebank: setting {name} is malformed: {problem}")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingError(name, f"expected true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(name, f"expected a whole number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_database(name: str, default: str) -> dj_database_url.DBConfig:
    raw = env_str(name) or default
    try:
        # A kept connection is checked before each request reuses it: after the database
        # restarts, the first request gets a fresh connection instead of an error.
        config = dj_database_url.parse(
            raw, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    except Exception as exc:  # dj-database-url raises several kinds for bad URLs
        raise SettingError(name, f"{exc} (expected e.g. postgres://user@host:5432/name)") from None
    if not config.get("ENGINE") or not config.get("NAME"):
        raise SettingError(name, f"no database engine or name in {raw!r}")
    return config


def env_url(name: str, schemes: set[str]) -> str:
    raw = env_str(name)
    if raw and urlparse(raw).scheme not in schemes:
        expected = " or ".join(sorted(schemes))
        raise SettingError(name, f"expected a {expected} URL, got {raw!r}")
    return raw


def env_email(name: str) -> dict:
    """EMAIL_URL: unset means print mail to the console; smtp://user:pass@host:587?tls=true."""
    raw = env_str(name)
    if not raw or raw == "console://":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    url = urlparse(raw)
    if url.scheme not in {"smtp", "smtps"} or not url.hostname:
        raise SettingError(
            name, f"expected console:// or smtp://user:password@host:port, got {raw!r}"
        )
    query = {key: values[-1].lower() for key, values in parse_qs(url.query).items()}
    try:
        port = url.port or (465 if url.scheme == "smtps" else 587)
    except ValueError:
        raise SettingError(name, f"the port in {raw!r} is not a number") from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": url.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(url.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(url.password or ""),
        "EMAIL_USE_SSL": url.scheme == "smtps",
        "EMAIL_USE_TLS": url.scheme == "smtp" and query.get("tls", "true") in {"1", "true", "yes"},
        "EMAIL_TIMEOUT": 20,
    }


# --- Core -------------------------------------------------------------------------------

# Off unless set: a server started without it shows no tracebacks and refuses to run without
# its own SECRET_KEY. `make run` (and the Makefile's other local targets) set DEBUG=true.
DEBUG = env_bool("DEBUG", False)
# A developer's machine: DEBUG, or the test suite (pytest sets PYTEST_VERSION; pytest-django
# then runs every test with DEBUG off). It gets a local-only key, plain static files and no
# HTTPS redirect; anything else is production, hardened below.
LOCAL = DEBUG or "PYTEST_VERSION" in os.environ
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not LOCAL:
        raise SettingError("SECRET_KEY", "it must be set unless DEBUG is true")
    # Local development only: production refuses to start without its own key (above).
    SECRET_KEY = "local-development-only-not-a-secret"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    # The project's apps, lowest layer first (CONTRIBUTING.md).
    "audit",
    "members",
    "ledger",
    "listings",
    "safeguarding",
    "exchanges",
    "desk",
    "interbank",
    "reminders",
    "reports",
    "privacy",
    "imports",
    # The wiring, last: only for its management command (load_demo, which reaches every app).
    "timebank",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "timebank.middleware.PermissionsPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication and messages: staff without two-factor set it up first.
    "members.mfa.RequireStaffMFAMiddleware",
    # Last, so checks above it (staff MFA) see the signed-in broker, not the member they act for.
    "members.middleware.ActingForMiddleware",
]

ROOT_URLCONF = "timebank.urls"
WSGI_APPLICATION = "timebank.wsgi.application"
AUTH_USER_MODEL = "members.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "members.context_processors.memberships",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------

VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")
# The embedded defaults keep their files here: SQLite, the file broker, beat's schedule.
for _folder in ("celery/queue", "celery/processed", "celery/control", "celery/results", "static"):
    (VAR_DIR / _folder).mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'timebank.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameters, and each query prepared once per connection from its second
    # run: the pages' joins of five tables or more cost PostgreSQL more to plan than to run.
    # (Behind PgBouncer in transaction pooling, that needs its max_prepared_statements, 1.21+.)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=2
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The follow-up lists' covering index (members.Membership, approved_member_dates) carries
    # extra columns on PostgreSQL only; SQLite builds the same index without them, which is
    # what its warning W040 says on every start. Expected on the embedded default: not shown.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # WAL lets the web server and the worker read while the other writes; the busy timeout
    # makes a writer wait for the lock instead of failing at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

REDIS_URL = env_url("REDIS_URL", {"redis", "rediss"})
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# --- Background jobs (Celery; the schedule lives in timebank/celery.py) ----------------------

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # The embedded default: a broker in plain files, so a worker and beat run with no server.
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery' / 'results'}"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Europe/London"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Accounts (django-allauth: email only, verified, rate limited) ----------------------------

# Django's and allauth's backends, each loading the signed-in user with its two-factor flags
# in the same query (members/mfa.py).
AUTHENTICATION_BACKENDS = [
    "members.mfa.ModelBackend",
    "members.mfa.AllauthBackend",
]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
if ACCOUNT_EMAIL_VERIFICATION not in {"mandatory", "optional", "none"}:
    raise SettingError("ACCOUNT_EMAIL_VERIFICATION", "expected mandatory, optional or none")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
# allauth's own limits (in the cache: Redis in production, so shared by every web worker).
# Those left out keep allauth's defaults (e.g. confirm_email, change_password, reauthenticate).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "signup": "20/m/ip",
}
# How many proxies in front of the web server append to X-Forwarded-For: the client's
# address, for the rate limits above, is the entry that many places from the right, so an
# entry a client puts in the header itself is ignored. 0 (no proxy) uses the socket's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if ALLAUTH_TRUSTED_PROXY_COUNT < 0:
    raise SettingError("TRUSTED_PROXY_COUNT", "expected 0 or more proxies")
# A request with fewer X-Forwarded-For entries than that is counted, not a 500.
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"

# Two-factor authentication (allauth.mfa): an authenticator app, with recovery codes to
# fall back on; required of staff (members/mfa.py), open to every member.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# The set-up keeps one secret per set-up: a stray load of the page never replaces it.
MFA_FORMS = {"activate_totp": "members.mfa.ActivateTOTPForm"}
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Time bank")
# One 30-second step either side, for phones whose clocks drift a little.
MFA_TOTP_TOLERANCE = 1
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Time bank] "
LOGIN_REDIRECT_URL = "home"
LOGIN_URL = "account_login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email ------------------------------------------------------------------------------------

globals().update(env_email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Time bank <hello@timebank.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API ----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # DRF's token authentication, refusing staff tokens until two-factor is set up.
        "members.mfa.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "timebank.api.AutoSchema",
    # JSON in and out, as the schema says: the site's own pages are Django views, and the
    # API's documentation is /api/docs/.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "timebank.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "timebank.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Time bank API",
    "DESCRIPTION": "Members, memberships and hours. Every list is limited to your own time banks.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # OpenAPI links from what a response names to what can be done with it next.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "timebank.api.add_links",
    ],
}

# Commissioner reports show any count under this as suppressed (reports/commissioning.py).
REPORT_SUPPRESSION_THRESHOLD = env_int("REPORT_SUPPRESSION_THRESHOLD", 5)
# A commissioner report download covering more than this many bank-months (banks combined x
# months in the period, a part month counting whole) is built by a worker and emailed as a link
# (reports/exports.py): a year of one bank, or a quarter of four, is built in the request.
REPORT_ASYNC_BANK_MONTHS = env_int("REPORT_ASYNC_BANK_MONTHS", 12)
# Files of those worker-built reports are deleted this many days after they were built.
REPORT_EXPORT_DAYS = env_int("REPORT_EXPORT_DAYS", 7)
# An import upload larger than this many bytes is checked and imported by a worker (progress on
# its page, an email when done); a smaller one in the request (imports/services.py).
IMPORT_ASYNC_BYTES = env_int("IMPORT_ASYNC_BYTES", 1024 * 1024)
# Uploaded and generated files (the default storage): only served through views that check access.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")

# --- Language, time, static files ---------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
# One language for now; every string is marked for translation so adding one is a catalogue away.
LANGUAGES = [("en-gb", "English")]
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates as GOV.UK writes them ("3 March 2026"), 24-hour times (timebank/formats/en_GB/formats.py).
FORMAT_MODULE_PATH = ["timebank.formats"]
# Every page's "Contact your broker" help names the member's own time bank's contact; anyone
# else (signed out, or an applicant's bank gave none) gets the scheme's general contact.
HELP_CONTACT_EMAIL = env_str("HELP_CONTACT_EMAIL", "help@timebank.localhost")
HELP_CONTACT_PHONE = env_str("HELP_CONTACT_PHONE", "")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Files served at the site's root by WhiteNoise, before any middleware: /favicon.ico, which
# every browser asks for by itself on any page (JSON, the admin, a page without our layout).
WHITENOISE_ROOT = BASE_DIR / "timebank" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not LOCAL
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Production hardening (active unless LOCAL) ---------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not LOCAL
CSRF_COOKIE_SECURE = not LOCAL
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not LOCAL)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if LOCAL else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not LOCAL
SECURE_HSTS_PRELOAD = not LOCAL
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# The content security policy (django-csp), in development too, so a page that would break
# in production breaks here first: only this site's own scripts, styles and fonts; no inline
# script or style (templates keep both in static files). Images may be data: URIs (the QR
# code of the two-factor set-up). Nothing may frame the site.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features the site never uses (timebank/middleware.py sends the header).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

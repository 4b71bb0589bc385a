"""Django settings for the django-hordak comparison: the project's settings plus hordak.

Benchmark only. hordak is never installed in the project's own settings, so the project's
``makemigrations --check`` never sees it. hordak 2.0.0 needs ``django-mptt<0.19`` (later mptt
versions silently drop changes to ``Account.code``); both come from the ``bench`` extra.
"""

import os

# The bench database unless the harness says otherwise; must be set before the import below.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/timebank_bench")

import moneyed  # noqa: E402

from timebank.settings import *  # noqa: E402,F403
from timebank.settings import INSTALLED_APPS  # noqa: E402

# hordak stores Money; the benchmark moves whole minutes, like our ledger, in a currency of
# its own (py-moneyed only knows ISO currencies until told otherwise).
moneyed.add_currency(code="MIN", numeric="000", name="Time-bank minute")

INSTALLED_APPS = [*INSTALLED_APPS, "mptt", "djmoney", "hordak"]
CURRENCIES = ["MIN"]
DEFAULT_CURRENCY = "MIN"
HORDAK_CURRENCIES = ["MIN"]
HORDAK_DECIMAL_PLACES = 2
# 2.0.0's own migrations use 20 digits; its default (13) disagrees with them.
HORDAK_MAX_DIGITS = 20

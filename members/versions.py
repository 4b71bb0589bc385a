"""A version number per time bank, in the shared cache, for pages cached from its members and
its ledger (the broker's desk: ``reminders.followups.follow_up_summaries`` and
``desk_queues``).

Every write service that can change who is on a follow-up list or what a row shows calls
``bank_changed``: deciding or ending a membership, a role, a name, any posting or decision in
the ledger, a limit, a date of help. It bumps the number at once, so the writer's own next
read (in its transaction) misses, and again after commit, so a page that another worker built
from the data before the commit, and cached under the number it read then, is never read
again. What is cached under a version therefore never outlives the data it was built from,
whichever worker reads it. After the commit it also asks the Celery worker to build the desk
for the new number (``reminders.tasks.warm_desk``), so the desk's next visit after someone
else's write finds it built instead of building it itself. The Django admin calls it too
(``members.admin.BankChangedAdmin``); ``settings.BANK_CACHE_SECONDS`` bounds changes made by
hand (a shell, SQL).

Off (``BANK_CACHE_SECONDS = 0``) without a shared cache: a per-process cache would be
bumped in one worker only. If the cache cannot be reached, writes go on (the database is the
record) and readers compute afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)
T = TypeVar("T")


def _key(time_bank_id: int) -> str:
    return f"bank-version:{time_bank_id}"


def _bump(time_bank_id: int) -> bool:
    """Whether the number moved (not if the cache is down)."""
    key = _key(time_bank_id)
    try:
        try:
            cache.incr(key)
        except ValueError:  # no number yet (or evicted): start one no earlier entry used
            if not cache.add(key, time.time_ns(), timeout=None):
                cache.incr(key)
    except Exception as error:  # the cache is down: the write must not fail for it
        log.warning("could not bump the version of time bank %s: %s", time_bank_id, error)
        return False
    return True


def bank_changed(time_bank_id: int) -> None:
    """Call inside the write's transaction: what is cached for the bank is stale from now."""
    if not settings.BANK_CACHE_SECONDS:
        return
    _bump(time_bank_id)
    transaction.on_commit(lambda: _committed(time_bank_id))


def _committed(time_bank_id: int) -> None:
    if not _bump(time_bank_id):
        return
    # Imported here: the tasks read the members' and the ledger's models, which use this.
    from reminders.tasks import warm_desk

    try:
        # Not retried: a warm-up that cannot be queued is only a slower next visit.
        warm_desk.apply_async((time_bank_id,), expires=60, retry=False)
    except Exception as error:  # the broker is down: the write has committed all the same
        log.warning("could not queue the desk's warm-up for time bank %s: %s", time_bank_id, error)


def bank_version(time_bank_id: int) -> int | None:
    """The bank's current number (``None`` if the cache cannot be reached: don't cache)."""
    key = _key(time_bank_id)
    try:
        version = cache.get(key)
        if version is None:
            cache.add(key, time.time_ns(), timeout=None)
            version = cache.get(key)
        return version
    except Exception as error:
        log.warning("could not read the version of time bank %s: %s", time_bank_id, error)
        return None


def claim(time_bank_id: int, name: str) -> bool:
    """Whether the caller is the first to claim ``name`` under the bank's current version (for
    work worth doing once a version). No if the cache is off or cannot be reached."""
    version = bank_version(time_bank_id) if settings.BANK_CACHE_SECONDS else None
    if version is None:
        return False
    try:
        return cache.add(f"claim:{name}:{time_bank_id}:{version}", 1, settings.BANK_CACHE_SECONDS)
    except Exception as error:
        log.warning("could not claim %s for time bank %s: %s", name, time_bank_id, error)
        return False


def cached(time_bank_id: int, name: str, build: Callable[[], T]) -> T:
    """``build()``, or what it gave when last called under the bank's current version (for
    ``BANK_CACHE_SECONDS`` at most). ``name`` must say everything else the result depends on
    (the day, the language)."""
    seconds = settings.BANK_CACHE_SECONDS
    version = bank_version(time_bank_id) if seconds else None
    if version is None:
        return build()
    key = f"{name}:{time_bank_id}:{version}"
    try:
        found = cache.get(key)
    except Exception as error:
        log.warning("could not read %s from the cache: %s", key, error)
        return build()
    if found is None:
        found = build()
        try:
            cache.set(key, found, seconds)
        except Exception as error:
            log.warning("could not cache %s: %s", key, error)
    return found

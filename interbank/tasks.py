"""Celery tasks of interbank: thin wrappers around one service."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="interbank.tasks.expire_pending")
def expire_pending() -> int:
    """Daily: release the holds of exchanges between banks nobody decided in time. Safe to
    run twice; ``manage.py expire_pending_between_banks`` does the same by hand."""
    released = services.expire_pending()
    logger.info("expire pending between banks: %d released", released)
    return released

"""Celery tasks of exchanges: thin wrappers that call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from exchanges import services

logger = logging.getLogger(__name__)


@shared_task(name="exchanges.tasks.expire_pending")
def expire_pending() -> int:
    """Daily: release the holds nobody decided within their bank's period. Safe to run twice;
    ``manage.py expire_pending`` does the same by hand. Returns how many it released."""
    released = services.expire_pending()
    logger.info("expire pending: %d hold(s) released", released)
    return released

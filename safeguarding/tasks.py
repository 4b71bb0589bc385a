"""Celery tasks of safeguarding: thin wrappers that call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="safeguarding.tasks.delete_expired_safeguarding_records")
def delete_expired_safeguarding_records() -> int:
    """Daily: delete safeguarding checks past their bank's retention period, each audited.
    Safe to run twice; ``manage.py delete_expired_safeguarding`` does the same by hand.
    Returns how many it deleted."""
    deleted = services.delete_expired_safeguarding_records()
    logger.info("safeguarding retention: %d check(s) deleted", deleted)
    return deleted

"""Celery tasks of the ledger: thin wrappers that call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.mail import mail_admins

from ledger import services

logger = logging.getLogger(__name__)


@shared_task(name="ledger.tasks.verify_ledger")
def verify_ledger() -> int:
    """Nightly: check the ledger's invariants, log and mail each violation to ADMINS.
    Read-only, so safe to run twice; ``manage.py ledger_verify`` does the same by hand.
    Returns the number of violations."""
    violations = services.verify_ledger()
    for line in violations:
        logger.error("ledger violation: %s", line)
    if violations:
        mail_admins(
            subject=f"Ledger check found {len(violations)} problem(s)",
            message="\n".join(violations),
        )
    else:
        logger.info("ledger ok")
    return len(violations)

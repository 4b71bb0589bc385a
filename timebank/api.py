"""One place where domain exceptions become HTTP responses for the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledger.exceptions import LedgerError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {
                field: [message for error in errors for message in error.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            data = {"detail": " ".join(exc.messages)}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, LedgerError):
        return Response(
            {"detail": str(exc), "code": type(exc).__name__},
            status=getattr(exc, "http_status", 409),
        )
    return drf_exception_handler(exc, context)

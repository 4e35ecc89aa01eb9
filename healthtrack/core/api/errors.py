"""One error shape for the whole API.

DRF's own shapes are kept (`{"detail": ...}` or `{field: [messages]}`); on top of that
django-ratelimit's refusal becomes 429 with Retry-After, and Django's validation errors
raised inside services become 400 with their field messages.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


class RateLimited(exceptions.Throttled):
    default_detail = "Too many requests. Try again later."


class AccountLocked(exceptions.Throttled):
    """429 for a locked account (accounts.lockout), with Retry-After set to the lock's end."""

    default_code = "account_locked"

    def __init__(self, lock):
        super().__init__(detail=lock.message)
        self.wait = lock.retry_after


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is larger than the configured limit."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # else Django's HTML 400 page, naming nothing
        exc = PayloadTooLarge()
    elif isinstance(exc, Ratelimited):
        exc = RateLimited(wait=60)
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.headers.setdefault("Retry-After", "60")
    return response

"""Logging filters of the project (LOGGING in fac/settings.py)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class ForbiddenWithoutTraceback(logging.Filter):
    """Django logs each PermissionDenied as "Forbidden (Permission denied): /path" with
    the exception's traceback (django.core.handlers.exception.response_for_exception):
    a read-only administrator's refused click is no error. Keep the warning line,
    drop the traceback; other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if (
            getattr(record, "status_code", None) == 403
            and isinstance(exc_info, tuple)
            and isinstance(exc_info[1], PermissionDenied)
        ):
            record.exc_info = None
            record.exc_text = None
        return True

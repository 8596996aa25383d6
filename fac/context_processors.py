"""Template context for every GUI page that is not a certauth matter.

``debug_mode``: whether CMP/SCEP debug mode is on (one switch, CMP > General
or Debug > Others > SCEP/CMP), for the banner in base.html. A callable, so the
one query runs only when a page shows the banner, and only for a logged-in
administrator.
"""

from __future__ import annotations

from django.http import HttpRequest

from cmp.models import CMPConfig


def debug_mode(request: HttpRequest) -> dict:
    def _on() -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return False
        return bool(CMPConfig.objects.filter(pk=1).values_list("debug", flat=True).first())

    return {"debug_mode": _on}

"""One-time form tokens and one-time downloads.

A form that creates something (a certificate with a server-generated key, a CA
key export) carries a token issued when its page was shown. The POST that takes
the token does the work; a second POST of the same page (a double click without
JavaScript, Back and submit again) finds it gone and does nothing again. A POST
without a token (a script, a test client) is served as before.

A file made on the server that holds a private key (a PKCS#12) is not sent in
the answer to the POST: it is sealed by the keystore and kept for this login
session only, for a few minutes, then the browser is redirected to a result
page (POST-redirect-GET) whose link downloads it once and deletes it.

Both live in rows of the session table (django.contrib.sessions' database
backend, whatever SESSION_ENGINE says), each under its own random key: every
worker and host sees them, and taking one is a single DELETE whose row count
says which request won. A row is bound to the login session that made it by a
keyed digest of that session's key. Nothing here is logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.generic import FormView

from certauth import keystore

#: The hidden field of a one-time form.
FORM_TOKEN_FIELD = "form_token"  # noqa: S105 (a field name)
#: How long a stored download waits for its click.
DOWNLOAD_SECONDS = 600
# Where each token's result is remembered in the user's own session (a few).
_SUBMITTED = "fac_submitted_forms"
_REMEMBERED = 20


def _owner(request: HttpRequest) -> str:
    session = request.session
    if session.session_key is None:
        session.save()
    return salted_hmac("certauth.gui.once", str(session.session_key)).hexdigest()


def _put(kind: str, request: HttpRequest, data: dict[str, Any], seconds: int) -> str:
    store = SessionStore()
    store.update({"kind": kind, "owner": _owner(request), **data})
    store.set_expiry(seconds)
    store.create()
    return str(store.session_key)


def _get(kind: str, request: HttpRequest, key: str) -> dict[str, Any] | None:
    if not key or len(key) > 40 or not key.isalnum():
        return None
    data = SessionStore(session_key=key).load()
    if data.get("kind") != kind or not hmac.compare_digest(
        str(data.get("owner", "")), _owner(request)
    ):
        return None
    return data


def _take(kind: str, request: HttpRequest, key: str) -> dict[str, Any] | None:
    data = _get(kind, request, key)
    if data is None:
        return None
    deleted, _ = Session.objects.filter(session_key=key).delete()
    return data if deleted else None


# --- Forms -------------------------------------------------------------------------------


def issue_form_token(request: HttpRequest, form: str) -> str:
    return _put(f"form:{form}", request, {}, settings.SESSION_COOKIE_AGE)


def form_token_valid(request: HttpRequest, form: str, token: str) -> bool:
    return _get(f"form:{form}", request, token) is not None


def use_form_token(request: HttpRequest, form: str, token: str) -> bool:
    """Take *token*: True for the one request that gets it."""
    return _take(f"form:{form}", request, token) is not None


def remember_result(request: HttpRequest, token: str, url: str) -> None:
    """Where the submission of *token* led, for a second submission to be sent there."""
    done = dict(request.session.get(_SUBMITTED, {}))
    done[token] = url
    request.session[_SUBMITTED] = dict(list(done.items())[-_REMEMBERED:])


def result_of(request: HttpRequest, token: str) -> str | None:
    return request.session.get(_SUBMITTED, {}).get(token)


# --- Downloads -----------------------------------------------------------------------------


def stash_download(request: HttpRequest, data: bytes, filename: str, content_type: str) -> str:
    """Keep *data* sealed for this session for DOWNLOAD_SECONDS; the key to fetch it once."""
    # Expired rows (stale downloads among them) go now rather than at the next clearsessions.
    Session.objects.filter(expire_date__lte=timezone.now()).delete()
    sealed = base64.b64encode(keystore.seal_download(data)).decode()
    return _put(
        "download",
        request,
        {"data": sealed, "filename": filename, "content_type": content_type},
        DOWNLOAD_SECONDS,
    )


def download_expiry(request: HttpRequest, key: str) -> dt.datetime | None:
    """When the stored download *key* expires, or None when it is gone (or not this session's)."""
    if _get("download", request, key) is None:
        return None
    row = Session.objects.filter(session_key=key).values_list("expire_date", flat=True).first()
    return row


def take_download(request: HttpRequest, key: str) -> tuple[bytes, str, str] | None:
    """(data, filename, content type) once; None when already taken, expired or another's."""
    data = _take("download", request, key)
    if data is None:
        return None
    try:
        content = keystore.open_download(base64.b64decode(data["data"]))
    except (keystore.KeystoreError, KeyError, ValueError):
        return None
    return content, str(data["filename"]), str(data["content_type"])


# --- Views ---------------------------------------------------------------------------------


class OneTimeFormView(FormView):
    """A FormView whose valid submission does its work once per page shown.

    The page's context carries ``form_token`` (templates put it in a hidden
    field). ``form_valid`` calls :meth:`take_form_token` before the work and
    :meth:`form_done` after it (or :meth:`form_failed` when the work is refused).
    """

    once_form = ""
    once_repeat_message = "This form was already submitted: nothing was done again."
    _form_token: str | None = None

    def once_fallback_url(self) -> str:
        """Where a repeated submission goes when the first one's result is not known."""
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.POST.get(FORM_TOKEN_FIELD, "")
        if token:
            if not form_token_valid(request, self.once_form, token):
                return self.already_submitted(token)
            self._form_token = token
        return super().post(request, *args, **kwargs)

    def take_form_token(self) -> HttpResponse | None:
        """None when this request may do the work, else the answer to a repeated submission."""
        token = self._form_token
        if token and not use_form_token(self.request, self.once_form, token):
            return self.already_submitted(token)
        return None

    def form_failed(self) -> None:
        """The work was refused: the form shown again gets a fresh token."""
        self._form_token = None

    def form_done(self, url: str) -> HttpResponse:
        if self._form_token:
            remember_result(self.request, self._form_token, url)
        return redirect(url)

    def already_submitted(self, token: str) -> HttpResponse:
        done = result_of(self.request, token)
        if done:
            messages.warning(self.request, self.once_repeat_message)
            return redirect(done)
        # Taken by a request still at work, or too old: the list shows what exists.
        messages.warning(
            self.request,
            "This form was submitted already, or was opened too long ago: nothing was done. "
            "Check here before filling it in again.",
        )
        return redirect(self.once_fallback_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if not self._form_token:
            self._form_token = issue_form_token(self.request, self.once_form)
        kwargs[FORM_TOKEN_FIELD] = self._form_token
        return super().get_context_data(**kwargs)

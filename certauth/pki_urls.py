from django.urls import path, re_path

from certauth import pki_views

urlpatterns = [
    path("app/cert/crl/<str:name>.crl", pki_views.crl, name="crl"),
    path("app/cert/ocsp", pki_views.ocsp_responder, name="ocsp"),
    re_path(
        r"^app/cert/ocsp/(?P<encoded>[A-Za-z0-9+/=%]+)$", pki_views.ocsp_responder, name="ocsp-get"
    ),
]

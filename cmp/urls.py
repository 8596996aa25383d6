from django.urls import path

from cmp import views

urlpatterns = [
    # FortiAuthenticator's path, which FortiGates are configured with.
    path("app/cert/cmp2", views.cmp_endpoint, name="cmp"),
    # RFC 9811, 3.3: the well-known URI, optionally with a profile label
    # (here the enrollment ID).
    path(".well-known/cmp", views.cmp_endpoint, name="cmp-well-known"),
    path(".well-known/cmp/p/<str:profile>", views.cmp_endpoint, name="cmp-well-known-profile"),
]

from django.urls import path

from scep import views

urlpatterns = [
    # FortiAuthenticator's path, which FortiGates are configured with (both spellings).
    path("app/cert/scep", views.scep_endpoint, name="scep"),
    path("app/cert/scep/", views.scep_endpoint, name="scep-slash"),
    # Older FortiAuthenticator releases.
    path("cert/scep", views.scep_endpoint, name="scep-legacy"),
    path("cert/scep/", views.scep_endpoint, name="scep-legacy-slash"),
    # RFC 8894, 4.1: the path clients use unless told otherwise.
    path("cgi-bin/pkiclient.exe", views.scep_endpoint, name="scep-pkiclient"),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The CMP and SCEP endpoints (cmp.urls, scep.urls) and the administrator's GUI.
    path("", include("cmp.urls")),
    path("", include("scep.urls")),
    path("", include("certauth.pki_urls")),
    path("", include("certauth.gui.urls")),
    path("", include("certauth.gui.urls_system")),
    path("", include("cmp.gui.urls")),
    path("", include("scep.gui.urls")),
]

from django.urls import path

from cmp import views

urlpatterns = [
    path("app/cert/cmp2", views.cmp_endpoint, name="cmp"),
]

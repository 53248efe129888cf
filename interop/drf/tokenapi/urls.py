from django.urls import include, path

urlpatterns = [
    path("integration/v1/", include("tokens.urls")),
]

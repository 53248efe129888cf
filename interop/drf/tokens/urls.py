from django.urls import path

from . import views

# api-behaviour.md, "Endpoints": all under /integration/v1/ with a trailing slash.
urlpatterns = [
    path("createRefreshToken/", views.CreateRefreshToken.as_view()),
    path("validateRefreshToken/", views.ValidateRefreshToken.as_view()),
    path("regenRefreshToken/", views.RegenRefreshToken.as_view()),
    path("createAPIAccessToken/", views.CreateAPIAccessToken.as_view()),
    path("validateAPIAccessToken/", views.ValidateAPIAccessToken.as_view()),
    path("revokeAPIAccessTokens/", views.RevokeAPIAccessTokens.as_view()),
]

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from .models import ACTIVE, AccessToken, RefreshToken, digest
from .serializers import (
    AccessTokenRequest,
    AccessTokenSerializer,
    CreateRefreshTokenRequest,
    RefreshTokenRequest,
    RefreshTokenSerializer,
)

# Messages quoted by api-behaviour.md (observed, fixture, or its decision).
INVALID_REFRESH = "Refresh token provided is invalid."
DEAD_REFRESH = "Refresh token provided is expired or revoked."
INVALID_ACCESS = "API Access Token provided is invalid."
DEAD_ACCESS = "API Access Token provided is expired or revoked."
BAD_CREDENTIALS = "Unable to log in with provided credentials."
SSO_USER = "Users who sign in through SSO create refresh tokens in the web UI (/account/auth)."


class Unauthorized(exceptions.APIException):
    # Vendor page: "401 Unauthorized bad/missing token"; api-behaviour.md: "401 for a bad or
    # dead token or wrong credentials ... MUST". DRF's AuthenticationFailed would turn into a
    # 403 here, as these views have no authentication class to name a WWW-Authenticate scheme.
    status_code = status.HTTP_401_UNAUTHORIZED

    def __init__(self, message):
        # api-behaviour.md, "Objects": Error is {"detail": "<message>", "code": "<string>"},
        # e.g. {"detail":"Refresh token provided is expired or revoked.","code":"401000"}.
        super().__init__({"detail": message, "code": "401000"})


class TokenView(GenericAPIView):
    """A POST whose body is validated by `serializer_class`."""

    def validated(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class CreateRefreshToken(TokenView):
    serializer_class = CreateRefreshTokenRequest

    def post(self, request):
        data = self.validated(request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            self.refuse(data["username"])
        token = RefreshToken.issue(settings.REFRESH_TOKEN_LIFESPAN, user=user, name=data["name"])
        return Response(RefreshTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def refuse(self, username):
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if user is not None and not user.has_usable_password():
            # Vendor page: SSO users "need to use the UI to create a RefreshToken";
            # api-behaviour.md: "decision 403 for them".
            raise exceptions.PermissionDenied(SSO_USER)
        if settings.INTEROP_SLIP == "user-enumeration" and user is None:
            # SLIP user-enumeration: an unknown user is told apart from a wrong password.
            raise exceptions.NotFound("User not found.")
        if settings.INTEROP_SLIP == "wrong-password-403":
            # SLIP wrong-password-403: DRF's AuthenticationFailed, which DRF answers with 403
            # on a view without an authentication class.
            raise exceptions.AuthenticationFailed(BAD_CREDENTIALS)
        raise Unauthorized(BAD_CREDENTIALS)


class ValidateRefreshToken(TokenView):
    serializer_class = RefreshTokenRequest

    def post(self, request):
        data = self.validated(request)
        if settings.INTEROP_SLIP == "validate-ignores-user":
            # SLIP validate-ignores-user: the token is looked up by its value alone.
            token = RefreshToken.objects.filter(digest=digest(data["refresh_token"])).first()
        else:
            token = RefreshToken.objects.find(data["refresh_token"], data["user_id"])
        if token is None:
            raise Unauthorized(INVALID_REFRESH)
        if token.status != ACTIVE:
            raise Unauthorized(DEAD_REFRESH)
        token.value = data["refresh_token"]
        return Response(RefreshTokenSerializer(token).data)


class RegenRefreshToken(TokenView):
    serializer_class = RefreshTokenRequest

    def post(self, request):
        data = self.validated(request)
        with transaction.atomic():
            old = RefreshToken.objects.find(data["refresh_token"], data["user_id"])
            if old is None:
                raise Unauthorized(INVALID_REFRESH)
            # api-behaviour.md: regeneration "works on active and expired tokens, 401 on revoked".
            if old.revoked_at is not None:
                raise Unauthorized(DEAD_REFRESH)
            if settings.INTEROP_SLIP != "regen-keeps-old":
                # SLIP regen-keeps-old: the old token is never revoked.
                old.revoke()
            new = RefreshToken.issue(settings.REFRESH_TOKEN_LIFESPAN, user_id=old.user_id, name=old.name)
        return Response(RefreshTokenSerializer(new).data)


class CreateAPIAccessToken(TokenView):
    serializer_class = RefreshTokenRequest

    def post(self, request):
        data = self.validated(request)
        with transaction.atomic():
            refresh = RefreshToken.objects.find(data["refresh_token"], data["user_id"])
            if refresh is None:
                raise Unauthorized(INVALID_REFRESH)
            if settings.INTEROP_SLIP == "mint-from-revoked":
                # SLIP mint-from-revoked: only the expiry is looked at, not the revocation.
                dead = refresh.is_expired
            else:
                dead = refresh.status != ACTIVE
            if dead:
                raise Unauthorized(DEAD_REFRESH)
            refresh.last_used_at = timezone.now()
            refresh.save(update_fields=["last_used_at"])
            token = AccessToken.issue(
                settings.ACCESS_TOKEN_LIFESPAN, user_id=refresh.user_id, refresh_token=refresh
            )
        return Response(AccessTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class ValidateAPIAccessToken(TokenView):
    serializer_class = AccessTokenRequest

    def post(self, request):
        data = self.validated(request)
        if settings.INTEROP_SLIP == "validate-ignores-user":
            # SLIP validate-ignores-user: the token is looked up by its value alone.
            token = AccessToken.objects.filter(digest=digest(data["api_access_token"])).first()
        else:
            token = AccessToken.objects.find(data["api_access_token"], data["user_id"])
        if token is None:
            raise Unauthorized(INVALID_ACCESS)
        if settings.INTEROP_SLIP == "dead-access-active":
            # SLIP dead-access-active: the row is found and taken as live; its state never looked at.
            token.status = ACTIVE
        if token.status != ACTIVE:
            raise Unauthorized(DEAD_ACCESS)
        token.value = data["api_access_token"]
        return Response(AccessTokenSerializer(token).data)


class RevokeAPIAccessTokens(TokenView):
    serializer_class = RefreshTokenRequest

    def post(self, request):
        data = self.validated(request)
        with transaction.atomic():
            refresh = RefreshToken.objects.find(data["refresh_token"], data["user_id"])
            if refresh is None:
                raise Unauthorized(INVALID_REFRESH)
            if refresh.status != ACTIVE:
                raise Unauthorized(DEAD_REFRESH)
            if settings.INTEROP_SLIP == "revoke-all-user-tokens":
                # SLIP revoke-all-user-tokens: every access token of the user, from any refresh token.
                tokens = AccessToken.objects.filter(user_id=refresh.user_id)
            else:
                tokens = refresh.access_tokens.all()
            count = tokens.active().update(revoked_at=timezone.now())
        # api-behaviour.md: "200 with a JSON object {"detail": "..."}".
        return Response({"detail": f"Revoked {count} API access token(s)."})

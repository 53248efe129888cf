import unicodedata
import urllib.parse

from django.conf import settings
from rest_framework import serializers

from .models import AccessToken, RefreshToken

# The store's integer range (SQLite INTEGER: 64 bits). The ORM's foreign-key lookup does not
# guard it, so a larger user_id would escape as an OverflowError; api-behaviour.md: mistyped
# input is refused with "a 4xx, never a 2xx, never a 5xx".
USER_ID_RANGE = {"min_value": -(2**63), "max_value": 2**63 - 1}
if settings.INTEROP_SLIP == "bigint-500":
    # SLIP bigint-500: no range, so a 30-digit user_id reaches the database.
    USER_ID_RANGE = {}


# --- request bodies ---------------------------------------------------------------------------

class CreateRefreshTokenRequest(serializers.Serializer):
    username = serializers.CharField()
    # Vendor page: "Password associated with the user"; a password is compared as sent
    # (api-behaviour.md allows trimming only "around a token value or a name").
    # SLIP trims-password: CharField's default trim_whitespace=True left in place.
    password = serializers.CharField(trim_whitespace=settings.INTEROP_SLIP == "trims-password")
    # api-behaviour.md: names "up to 255 characters" (the model column's length).
    name = serializers.CharField(max_length=RefreshToken._meta.get_field("name").max_length)

    def validate_name(self, value):
        if settings.INTEROP_SLIP == "names-nfc":
            # SLIP names-nfc: names normalised "so that equal-looking names compare equal".
            return unicodedata.normalize("NFC", value)
        if settings.INTEROP_SLIP == "names-unquoted":
            # SLIP names-unquoted: decoded once more, "in case a client URL-encoded it".
            return urllib.parse.unquote(value)
        return value


class RefreshTokenRequest(serializers.Serializer):
    refresh_token = serializers.CharField()
    user_id = serializers.IntegerField(**USER_ID_RANGE)


class AccessTokenRequest(serializers.Serializer):
    api_access_token = serializers.CharField()
    user_id = serializers.IntegerField(**USER_ID_RANGE)


# --- response bodies (api-behaviour.md, "Objects": field names and order as observed) ----------

class RefreshTokenSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    token_expires_at = serializers.DateTimeField(source="expires_at")
    token_status = serializers.CharField(source="status")
    refresh_token = serializers.CharField(source="value")

    class Meta:
        model = RefreshToken
        fields = ["user_id", "created_at", "token_expires_at", "token_status", "last_used_at",
                  "name", "refresh_token"]
        read_only_fields = fields


class AccessTokenSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    token_expires_at = serializers.DateTimeField(source="expires_at")
    token_status = serializers.CharField(source="status")
    api_access_token = serializers.CharField(source="value")

    class Meta:
        model = AccessToken
        fields = ["user_id", "created_at", "token_expires_at", "token_status", "api_access_token"]
        read_only_fields = fields

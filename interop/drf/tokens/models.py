import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

ACTIVE, EXPIRED, REVOKED = "ACTIVE", "EXPIRED", "REVOKED"


def digest(value):
    """Only a SHA-256 digest of a token value is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


class TokenQuerySet(models.QuerySet):
    def find(self, value, user_id):
        """The caller's token with this value, or None."""
        return self.filter(digest=digest(value), user_id=user_id).first()

    def active(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class Token(models.Model):
    # api-behaviour.md, "Token values": "at least 32 random bytes each, URL-safe base64 without padding".
    random_bytes = 32

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        abstract = True

    # Only known right after issue, or when the caller sends it.
    value = None

    @classmethod
    def issue(cls, lifespan, **fields):
        value = secrets.token_urlsafe(cls.random_bytes)
        now = timezone.now()
        token = cls.objects.create(
            digest=digest(value), created_at=now, expires_at=now + lifespan, **fields
        )
        token.value = value
        return token

    @cached_property
    def status(self):
        if self.revoked_at is not None:
            return REVOKED
        if self.is_expired:
            return EXPIRED
        return ACTIVE

    @property
    def is_expired(self):
        return self.expires_at <= timezone.now()


class RefreshToken(Token):
    # The vendor's sample value is 86 characters: 64 bytes.
    random_bytes = 64

    name = models.CharField(max_length=255)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def revoke(self):
        """Revoke this token and the access tokens minted from it."""
        now = timezone.now()
        self.revoked_at = now
        self.save(update_fields=["revoked_at"])
        self.access_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)


class AccessToken(Token):
    refresh_token = models.ForeignKey(
        RefreshToken, on_delete=models.CASCADE, related_name="access_tokens"
    )

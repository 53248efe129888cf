from django.apps import AppConfig
from django.conf import settings
from django.core import checks

SLIPS = {
    "wrong-password-403",
    "validate-ignores-user",
    "revoke-all-user-tokens",
    "regen-keeps-old",
    "mint-from-revoked",
    "access-lifespan-days",
    "bigint-500",
    "user-enumeration",
    "dead-access-active",
    "trims-password",
    "names-nfc",
    "names-unquoted",
}


def check_slip(app_configs, **kwargs):
    """Refuse to start (manage.py runs the checks) with an unknown INTEROP_SLIP."""
    if settings.INTEROP_SLIP and settings.INTEROP_SLIP not in SLIPS:
        return [
            checks.Error(
                f"Unknown INTEROP_SLIP {settings.INTEROP_SLIP!r}.",
                hint="One of: " + ", ".join(sorted(SLIPS)) + "; or unset.",
                id="tokens.E001",
            )
        ]
    return []


class TokensConfig(AppConfig):
    name = "tokens"

    def ready(self):
        checks.register(check_slip)

"""Settings for the Token Authentication API (a plain production deployment).

Everything is Django's / DRF's default unless a comment says which line of the
vendor page or of api-behaviour.md asks otherwise.
"""
import os
from datetime import timedelta
from pathlib import Path

from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

# Nothing signed outlives the process (no sessions, no cookies), so a key per start is enough.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or get_random_secret_key()
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# A test deployment may lower the password hasher's cost (INTEROP_FAST_HASHING=1, which the
# zoo's test run sets), as Django's documentation advises for tests: PBKDF2's million rounds
# would make the conformance runs slow, and nothing the API answers depends on the hasher.
if os.environ.get("INTEROP_FAST_HASHING"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

ROOT_URLCONF = "tokenapi.urls"
WSGI_APPLICATION = "tokenapi.wsgi.application"

# Used by DRF's browsable API renderer (one of its default renderers).
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

# A fresh SQLite file per start; ../start makes the directory and runs the migrations.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TOKENAPI_DB", BASE_DIR / "db.sqlite3"),
        "OPTIONS": {
            # api-behaviour.md, "State under concurrency": operations "behave as if done one
            # at a time". BEGIN IMMEDIATE takes SQLite's write lock when an atomic() block
            # opens, so read-check-write blocks run one after another instead of failing
            # with "database is locked" when a reader upgrades to a writer.
            "transaction_mode": "IMMEDIATE",
            # Wait for that lock rather than give up after sqlite3's default 5 s under load.
            "timeout": 30,
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

REST_FRAMEWORK = {
    # These endpoints carry their credentials in the body (username/password, refresh
    # token + user_id); api-behaviour.md: "The TOKEN header never authenticates these
    # calls". So no session or basic authentication runs ahead of the views.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
}

# Vendor page: "The default expiration times for RefreshToken and APIAccessToken are
# 60 days and 24 hours respectively. They can be configured ... by the Server Admins".
REFRESH_TOKEN_LIFESPAN = timedelta(days=int(os.environ.get("REFRESH_TOKEN_LIFESPAN_DAYS", "60")))
ACCESS_TOKEN_LIFESPAN_HOURS = int(os.environ.get("ACCESS_TOKEN_LIFESPAN_HOURS", "24"))
ACCESS_TOKEN_LIFESPAN = timedelta(hours=ACCESS_TOKEN_LIFESPAN_HOURS)

# Deliberate bugs for the interoperability zoo (see README.md); empty: none.
INTEROP_SLIP = os.environ.get("INTEROP_SLIP", "")
if INTEROP_SLIP == "access-lifespan-days":
    # SLIP access-lifespan-days: the hours setting read as days.
    ACCESS_TOKEN_LIFESPAN = timedelta(days=ACCESS_TOKEN_LIFESPAN_HOURS)

# Production logging to stderr (Django's default sends errors nowhere when DEBUG is off).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

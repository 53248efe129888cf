"""WSGI config for tokenapi, served by gunicorn (see ../start)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokenapi.settings")

application = get_wsgi_application()

"""Minimal Django settings for reading a celeriac catalog in tests.

The database comes from CELERIAC_DJANGO_DATABASE_URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
or sqlite:///ABSOLUTE/PATH.
"""

import os
from urllib.parse import unquote, urlsplit


def database_from_url(url):
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)}
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")


DATABASES = {"default": database_from_url(os.environ["CELERIAC_DJANGO_DATABASE_URL"])}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "backups",
]
SECRET_KEY = "celeriac-test-only-not-a-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

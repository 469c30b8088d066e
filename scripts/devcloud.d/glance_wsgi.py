"""The gunicorn entry point of devcloud's Glance (runs in the OpenStack venv).

glance.wsgi.api:application itself, with SQLite transactions serialised (see sqlite_immediate).
"""

import sqlite_immediate  # noqa: F401
from glance.wsgi.api import application

__all__ = ["application"]

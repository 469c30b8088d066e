"""The gunicorn entry point of devcloud's Keystone (runs in the OpenStack venv).

keystone.server.configure() calls oslo.config's CONF() without arguments, so it parses
sys.argv. Under gunicorn that holds gunicorn's own options, and the worker dies with
"unrecognized arguments" in a crash loop. Glance passes [] itself and needs no such shim.
SQLite transactions are serialised as in Glance (see sqlite_immediate).
"""

import sys

sys.argv = sys.argv[:1]

import sqlite_immediate  # noqa: E402, F401
from keystone.wsgi.api import application  # noqa: E402

__all__ = ["application"]

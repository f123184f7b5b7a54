"""The web console and HTTP API (``creditdesk serve``).

FastAPI routes parse, call one domain function and format; the work is in the domain
packages (``ledger``, ``risk``, ``collections``, ``compliance``, ``customers``).
:func:`create_app` builds the app for one store URL (DuckDB or PostgreSQL).
"""

from creditdesk.web.app import create_app
from creditdesk.web.context import Context, WebConfig

__all__ = ["Context", "WebConfig", "create_app"]

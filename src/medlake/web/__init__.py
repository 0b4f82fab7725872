"""The web application: FastAPI pages (Jinja2, zh/en) and the REST API under /api/v1.

Public API for other features: ``create_app``, ``require`` (declare a route's permissions),
``Principal`` (the caller), ``project_access`` (project-scoped checks), ``get_db`` (a store
session per request) and ``features.FEATURE_ROUTERS`` (plug in a router).
"""

from medlake.web.deps import get_db, project_access, require
from medlake.web.services.accounts import Principal

__all__ = ["Principal", "create_app", "get_db", "project_access", "require"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # imported lazily: the app module pulls in every route
        from medlake.web.app import create_app

        return create_app
    raise AttributeError(name)

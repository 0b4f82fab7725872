"""Where feature packages plug their pages and API into the web app.

Add one line per feature router (``"module.path:attribute"``, an ``APIRouter``); ``create_app``
imports each one and includes it. Every route in it must declare its permissions with
``medlake.web.require(...)`` (new permissions go in ``web/roles.json``); a route that declares
none is refused with 403. Example for the export feature::

    # src/medlake/export/web.py
    from typing import Annotated
    from fastapi import APIRouter
    from medlake.web import Principal, require

    router = APIRouter()

    @router.post("/api/v1/exports")
    def request_export(principal: Annotated[Principal, require("export")]) -> dict[str, str]: ...

and here: ``"medlake.export.web:router",``. Templates can extend ``base.html`` by adding a
``jinja2.ChoiceLoader`` entry through ``FEATURE_TEMPLATE_DIRS`` (package-relative paths).
"""

from __future__ import annotations

# keep sorted by feature
FEATURE_ROUTERS: list[str] = [
    "medlake.cohort.web:router",
    "medlake.export.web:router",
    "medlake.models.web:router",
    "medlake.nlp.web:router",
]

# extra template folders ("package:folder"), searched after the web package's own templates
FEATURE_TEMPLATE_DIRS: list[str] = [
    "medlake.cohort:templates",
    "medlake.export:templates",
    "medlake.models:templates",
    "medlake.nlp:templates",
]

# navigation entries (path, i18n message key, permission) shown to users holding the permission
FEATURE_NAV: list[tuple[str, str, str]] = [
    ("/cohorts", "nav.cohorts", "cohort.query"),
    ("/datasets", "nav.datasets", "export"),
    ("/exports", "nav.exports", "authenticated"),
    ("/models", "nav.models", "models.view"),
]

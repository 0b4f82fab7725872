"""The FastAPI application: ``create_app(settings)`` wires store, lake reader, routes and errors.

Start-up applies the store migrations. Routers are the web's own (``routes/``) plus every entry
of ``features.FEATURE_ROUTERS``; after inclusion each route's declared permissions are recorded
and the app-wide ``enforce_declared`` dependency refuses any route without a declaration.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

from medlake.errors import ConfigError, MedlakeError
from medlake.settings import Settings
from medlake.store.engine import session_factory
from medlake.store.migrate import upgrade
from medlake.web.deps import PERMISSIONS_ATTR, declared_permissions, enforce_declared
from medlake.web.features import FEATURE_ROUTERS
from medlake.web.i18n import LANG_COOKIE, pick_language
from medlake.web.routes import admin, api, auth, pages, static
from medlake.web.services import dashboard, patients
from medlake.web.storage.lake_reader import LakeReader
from medlake.web.templating import render

STATIC_DIR = Path(__file__).with_name("static")
CORE_ROUTERS = (auth.router, pages.router, admin.router, api.router, static.router)


def load_router(spec: str) -> APIRouter:
    module_name, _, attr = spec.partition(":")
    router = getattr(importlib.import_module(module_name), attr or "router", None)
    if not isinstance(router, APIRouter):
        raise ConfigError(f"feature router {spec!r} is not a fastapi.APIRouter")
    return router


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute reachable from ``routes``, through included routers and mounts."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x keeps included routers as-is
        children = getattr(inner, "routes", None) if inner is not None else getattr(route, "routes", None)
        if children:
            yield from api_routes(children)


def record_permissions(app: FastAPI) -> list[str]:
    """Store each route's declared permissions on it; returns the paths that declare none."""
    undeclared = []
    for route in api_routes(app.routes):
        perms = declared_permissions(route)
        setattr(route, PERMISSIONS_ATTR, perms)
        if not perms:
            undeclared.append(route.path)
    return undeclared


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/static/"))


async def _medlake_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MedlakeError)
    if _wants_html(request):
        if exc.http_status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return render(request, "error.html", {"error": exc}, status_code=exc.http_status)
    body = {"error": exc.code, "message": exc.message, "hint": exc.hint}
    return JSONResponse(body, status_code=exc.http_status)


def create_app(
    settings: Settings, *, extra_routers: list[APIRouter] | None = None, migrate: bool = True
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # background warm-up: the first visitors do not wait for the aggregates or the timeline indexes
        threading.Thread(target=dashboard.dashboard, args=(app.state.reader,), daemon=True).start()
        patients.warm_indexes(app.state.reader)
        yield

    if migrate:
        upgrade(settings)
    app = FastAPI(
        title="medlake",
        version="0.1.0",
        description="Research data center for hospitals: dashboards, patient 360, audit, projects.",
        dependencies=[Depends(enforce_declared)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = session_factory(settings)
    app.state.reader = LakeReader(settings.data_dir, threads=2)

    @app.middleware("http")
    async def language(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.lang = pick_language(request, settings.language)
        response = await call_next(request)
        asked = request.query_params.get("lang")
        if asked is not None and asked == request.state.lang:
            response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", httponly=True)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.add_exception_handler(MedlakeError, _medlake_error)
    for router in CORE_ROUTERS:
        app.include_router(router)
    for spec in FEATURE_ROUTERS:
        app.include_router(load_router(spec))
    for router in extra_routers or []:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    record_permissions(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` with several worker processes (settings from MEDLAKE_*)."""
    return create_app(Settings())

"""Authorisation, default-deny: every route declares ``require(permission, ...)`` or is refused.

``require`` returns a FastAPI dependency that resolves the session cookie to a ``Principal``,
checks the role's permissions (``roles.json``), checks the CSRF token on writes (form field
``csrf_token`` or header ``X-CSRF-Token``) and audits every refusal. ``create_app`` records each
route's declared permissions; a global dependency refuses any route that declared none, so a
forgotten declaration fails closed (403) instead of open. Feature routers use it like this::

    from medlake.web import require, Principal
    router = APIRouter()

    @router.post("/api/v1/exports")
    def request_export(principal: Principal = require("export")) -> dict: ...
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from medlake import audit
from medlake.errors import AuthenticationFailed, PermissionDenied
from medlake.settings import Settings
from medlake.store.models import Project
from medlake.web.permissions import PUBLIC, check_known, has_permission
from medlake.web.services.accounts import Principal, get_project, is_member, resolve_session

SESSION_COOKIE = "medlake_session"
# path parameters bounded to what the databases store (an out-of-range id is a 422, not a crash)
ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PersonId = Annotated[int, Path(ge=0, le=2**63 - 1)]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PERMISSIONS_ATTR = "medlake_permissions"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def sessions_of(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def get_db(request: Request) -> Iterator[Session]:
    """A store session for the request, committed when the route returns.

    Routes declare it ``Depends(get_db, scope="function")`` so that the commit happens before the
    response is sent: a client's next request (e.g. right after a login redirect) sees the change.
    """
    session = sessions_of(request)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def refuse(
    session: Session, request: Request, actor: str, reason: str, details: dict[str, Any]
) -> PermissionDenied:
    """Audit a refusal (committed at once) and return the 403 error to raise."""
    audit.append(
        session,
        actor,
        "access.denied",
        f"{request.method} {request.url.path}"[:255],
        {"reason": reason, **details},
    )
    session.commit()
    return PermissionDenied(f"access denied: {reason}")


def _authorise(request: Request, permissions: frozenset[str], csrf_sent: str | None) -> Principal | None:
    with sessions_of(request)() as session:
        principal = resolve_session(session, request.cookies.get(SESSION_COOKIE))
        request.state.principal = principal  # the error page shows who was refused
        if PUBLIC in permissions:
            return principal
        if principal is None:
            raise AuthenticationFailed("login required")
        missing = sorted(p for p in permissions if not has_permission(principal.role, p))
        if missing:
            raise refuse(session, request, principal.username, "permission", {"missing": missing})
        if request.method in UNSAFE_METHODS and not hmac.compare_digest(
            (csrf_sent or "").encode(), principal.csrf_token.encode()
        ):
            raise refuse(session, request, principal.username, "csrf", {})
        return principal


def require(*permissions: str) -> Any:
    """Declare the permissions a route needs (all of them); use ``require("public")`` for open routes."""
    if not permissions:
        raise ValueError("require() needs at least one permission")
    for p in permissions:
        check_known(p)
    perms = frozenset(permissions)

    async def _dependency(request: Request) -> Principal | None:
        csrf = request.headers.get("x-csrf-token")
        content_type = request.headers.get("content-type", "")
        if csrf is None and request.method in UNSAFE_METHODS and "form" in content_type:
            form = await request.form()
            value = form.get("csrf_token")
            csrf = value if isinstance(value, str) else None
        principal = await run_in_threadpool(_authorise, request, perms, csrf)
        request.state.principal = principal
        return principal

    setattr(_dependency, PERMISSIONS_ATTR, perms)
    return Depends(_dependency)


def declared_permissions(route: APIRoute) -> frozenset[str] | None:
    """The union of permissions a route declares through ``require`` anywhere in its dependencies."""
    found: frozenset[str] | None = None
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        perms = getattr(dep.call, PERMISSIONS_ATTR, None)
        if perms is not None:
            found = (found or frozenset()) | perms
        stack.extend(dep.dependencies)
    return found


def _enforce_declared(request: Request) -> None:
    route = request.scope.get("route")
    if getattr(route, PERMISSIONS_ATTR, None):
        return
    with sessions_of(request)() as session:
        principal = resolve_session(session, request.cookies.get(SESSION_COOKIE))
        request.state.principal = principal
        actor = principal.username if principal else "anonymous"
        raise refuse(session, request, actor, "route declares no permission", {})


enforce_declared: Callable[[Request], None] = _enforce_declared


def project_access(session: Session, request: Request, principal: Principal, project_id: int) -> Project:
    """The project if the principal may see it (member, or ``projects.view_all``); else audited 403."""
    project = get_project(session, project_id)
    if has_permission(principal.role, "projects.view_all") or is_member(
        session, project_id, principal.user_id
    ):
        return project
    raise refuse(session, request, principal.username, "not a project member", {"project": project_id})

"""Admin pages: the audit log with filters and chain verification, accounts, research projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlake import audit
from medlake.store.models import User
from medlake.web.deps import ProjectId, get_db, project_access, require, settings_of
from medlake.web.permissions import has_permission, roles
from medlake.web.services import accounts, audit_log
from medlake.web.services.accounts import Principal
from medlake.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: Annotated[Principal, require("audit.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    obj: Annotated[str, Query(max_length=255)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
    until: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    verify: bool = False,
) -> HTMLResponse:
    f = audit_log.AuditFilter(actor, action, obj, since, until)
    total, rows = audit_log.query(db, f, offset=(page - 1) * audit_log.PAGE_SIZE)
    check = audit.verify_session(db, str(settings_of(request).data_dir.resolve())) if verify else None
    ctx = {
        "filter": f,
        "total": total,
        "rows": rows,
        "page": page,
        "page_size": audit_log.PAGE_SIZE,
        "check": check,
    }
    return render(request, "audit.html", ctx)


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    _: Annotated[Principal, require("users.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    error: str = "",
) -> HTMLResponse:
    users = list(db.execute(select(User).order_by(User.username)).scalars())
    return render(request, "users.html", {"users": users, "roles": roles(), "error": error})


@router.post("/users")
def create_user(
    principal: Annotated[Principal, require("users.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=32)],
    password: Annotated[str, Form(max_length=256)],
    display_name: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    accounts.create_user(db, username, role, password, display_name=display_name)
    audit.append(db, principal.username, "user.create", f"user:{username}", {"role": role})
    return RedirectResponse("/users", status_code=303)


@router.get("/projects", response_class=HTMLResponse)
def projects_page(
    request: Request,
    principal: Annotated[Principal, require("projects.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    see_all = has_permission(principal.role, "projects.view_all")
    projects = accounts.projects_of(db, None if see_all else principal.user_id)
    return render(request, "projects.html", {"projects": projects})


@router.post("/projects")
def create_project(
    principal: Annotated[Principal, require("projects.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    code: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=255)],
    description: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    project = accounts.create_project(db, code, title, description=description, created_by=principal.username)
    audit.append(db, principal.username, "project.create", f"project:{project.id}", {"code": code})
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(
    request: Request,
    project_id: ProjectId,
    principal: Annotated[Principal, require("projects.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    project = project_access(db, request, principal, project_id)
    audit.append(db, principal.username, "project.view", f"project:{project_id}", {})
    members = [(m.user.username, m.user.role, m.project_role) for m in project.members]
    users = list(db.execute(select(User.username).order_by(User.username)).scalars())
    return render(request, "project.html", {"project": project, "members": members, "users": users})


@router.post("/projects/{project_id}/members")
def add_member(
    request: Request,
    project_id: ProjectId,
    principal: Annotated[Principal, require("projects.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    username: Annotated[str, Form(max_length=64)],
    project_role: Annotated[str, Form(max_length=16)] = "member",
) -> RedirectResponse:
    project = project_access(db, request, principal, project_id)
    accounts.add_member(db, project, username, project_role=project_role)
    audit.append(db, principal.username, "project.member_add", f"project:{project_id}", {"user": username})
    return RedirectResponse(f"/projects/{project_id}", status_code=303)

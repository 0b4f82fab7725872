"""REST API under /api/v1 (OpenAPI at /openapi.json, docs at /docs).

Authentication is the session cookie (``POST /api/v1/session`` logs in and returns the CSRF
token); every write needs that token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medlake import audit
from medlake.errors import AuthenticationFailed
from medlake.web.deps import SESSION_COOKIE, PersonId, ProjectId, get_db, project_access, require, settings_of
from medlake.web.permissions import has_permission, role_table
from medlake.web.routes.auth import set_session_cookie
from medlake.web.routes.pages import reader_of
from medlake.web.services import accounts, audit_log, dashboard, patients, sources
from medlake.web.services.accounts import Principal

router = APIRouter(prefix="/api/v1", tags=["api"])


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SessionOut(BaseModel):
    username: str
    role: str
    csrf_token: str


class Me(BaseModel):
    username: str
    role: str
    permissions: list[str]


class PatientHit(BaseModel):
    person_id: int
    name: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    source_ids: str | None = None


class TimelineEvent(BaseModel):
    ts: datetime | None
    kind: str
    code: str | None
    label: str | None
    value: float | None
    unit: str | None
    flag: str | None
    src_system: str | None


class Timeline(BaseModel):
    person: dict[str, Any]
    identities: list[dict[str, Any]]
    events: list[TimelineEvent]


class AuditPage(BaseModel):
    total: int
    entries: list[dict[str, Any]]


class ProjectIn(BaseModel):
    code: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=4000)


class ProjectOut(BaseModel):
    id: int
    code: str
    title: str
    description: str
    members: list[str] = []


class MemberIn(BaseModel):
    username: str = Field(max_length=64)
    project_role: str = Field(default="member", pattern="^(owner|member)$")


@router.get("/health")
def health(request: Request, _: Annotated[Principal | None, require("public")]) -> dict[str, str]:
    """Liveness, and whether the person-sorted timeline indexes are built for the current lake."""
    ready = patients.warm_indexes(reader_of(request))
    return {"status": "ok", "timeline_index": "ready" if ready else "building"}


@router.post("/session", response_model=SessionOut, responses={401: {"description": "wrong credentials"}})
def login(
    request: Request,
    body: Credentials,
    _: Annotated[Principal | None, require("public")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> Response:
    try:
        user = accounts.authenticate(db, body.username, body.password)
    except AuthenticationFailed:
        db.commit()
        raise
    token, principal = accounts.open_session(db, user)
    db.commit()  # before the answer goes out: the client's next request must find the session
    response = JSONResponse(
        SessionOut(username=user.username, role=user.role, csrf_token=principal.csrf_token).model_dump()
    )
    set_session_cookie(request, response, token)
    return response


@router.delete("/session", status_code=204)
def logout(
    request: Request,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> Response:
    accounts.close_session(db, request.cookies.get(SESSION_COOKIE))
    audit.append(db, principal.username, "logout", f"user:{principal.username}", {})
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
def me(principal: Annotated[Principal, require("authenticated")]) -> Me:
    perms = sorted(p for p in role_table().permissions if has_permission(principal.role, p))
    return Me(username=principal.username, role=principal.role, permissions=perms)


@router.get("/dashboard")
def dashboard_data(request: Request, _: Annotated[Principal, require("dashboard.view")]) -> dict[str, Any]:
    return dashboard.dashboard(reader_of(request))


@router.get("/patients", response_model=list[PatientHit])
def search_patients(
    request: Request,
    principal: Annotated[Principal, require("patient.search")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    q: Annotated[str, Query(min_length=1, max_length=100)],
) -> list[dict[str, Any]]:
    hits = patients.search(reader_of(request), q)
    audit.append(db, principal.username, "patient.search", "patients", {"q": q, "hits": len(hits)})
    return hits


@router.get("/patients/{person_id}/timeline", response_model=Timeline)
def patient_timeline(
    request: Request,
    person_id: PersonId,
    principal: Annotated[Principal, require("patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> dict[str, Any]:
    data = patients.timeline(reader_of(request), person_id)
    audit.append(
        db, principal.username, "patient.view", f"person:{person_id}", {"events": len(data["events"])}
    )
    return data


@router.get("/audit", response_model=AuditPage)
def audit_entries(
    _: Annotated[Principal, require("audit.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    obj: Annotated[str, Query(max_length=255)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    total, rows = audit_log.query(db, audit_log.AuditFilter(actor, action, obj), limit=limit, offset=offset)
    return AuditPage(total=total, entries=rows)


@router.get("/audit/verify")
def audit_verify(
    request: Request,
    _: Annotated[Principal, require("audit.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> dict[str, object]:
    return audit.verify_session(db, str(settings_of(request).data_dir.resolve())).as_dict()


@router.get("/sources/runs")
def source_runs(request: Request, _: Annotated[Principal, require("sources.view")]) -> list[dict[str, Any]]:
    return sources.runs(settings_of(request).data_dir)


def _project_out(project: Any) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        code=project.code,
        title=project.title,
        description=project.description,
        members=sorted(m.user.username for m in project.members),
    )


@router.get("/projects", response_model=list[ProjectOut])
def list_projects(
    principal: Annotated[Principal, require("projects.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> list[ProjectOut]:
    see_all = has_permission(principal.role, "projects.view_all")
    return [_project_out(p) for p in accounts.projects_of(db, None if see_all else principal.user_id)]


@router.post("/projects", response_model=ProjectOut, status_code=201)
def create_project(
    body: ProjectIn,
    principal: Annotated[Principal, require("projects.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> ProjectOut:
    project = accounts.create_project(
        db, body.code, body.title, description=body.description, created_by=principal.username
    )
    audit.append(db, principal.username, "project.create", f"project:{project.id}", {"code": body.code})
    return _project_out(project)


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(
    request: Request,
    project_id: ProjectId,
    principal: Annotated[Principal, require("projects.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> ProjectOut:
    project = project_access(db, request, principal, project_id)
    audit.append(db, principal.username, "project.view", f"project:{project_id}", {})
    return _project_out(project)


@router.post("/projects/{project_id}/members", response_model=ProjectOut)
def add_member(
    request: Request,
    project_id: ProjectId,
    body: MemberIn,
    principal: Annotated[Principal, require("projects.manage")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> ProjectOut:
    project = project_access(db, request, principal, project_id)
    accounts.add_member(db, project, body.username, project_role=body.project_role)
    audit.append(
        db, principal.username, "project.member_add", f"project:{project_id}", {"user": body.username}
    )
    db.refresh(project)
    return _project_out(project)

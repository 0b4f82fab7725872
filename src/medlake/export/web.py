"""Web pages of the export feature: dataset builder, my requests, the steward's queue with a preview
of exactly what leaves, approve / reject, build and download. Plugged in through
``medlake.web.features.FEATURE_ROUTERS`` (``"medlake.export.web:router"``); every route declares
its permissions with ``medlake.web.require`` and the workflow enforces the rest (stewards other
than the requester decide, only the requester downloads).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from medlake import audit
from medlake.errors import MedlakeError
from medlake.export.builder import column_plan
from medlake.export.catalog import DatasetCatalog, parse_spec
from medlake.export.columns import spec_columns
from medlake.export.pipeline import preview_release
from medlake.export.workflow import CURRENT_DUA, ExportWorkflow, dua_text, has_permission, summary
from medlake.web import Principal, get_db, require
from medlake.web.deps import settings_of
from medlake.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["exports"])

PREVIEW_ROWS = 20
RequestId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def _workflow(request: Request, db: Session) -> ExportWorkflow:
    return ExportWorkflow(db, settings_of(request))


def _preview(request: Request, spec_json: str, fields: list[str]) -> dict[str, Any]:
    """The first rows of every table exactly as the package would hold them, and the plan."""
    return preview_release(
        parse_spec(spec_json), settings_of(request).data_dir, fields=fields, rows=PREVIEW_ROWS, threads=2
    )


# -- datasets ---------------------------------------------------------------------------------------
@pages.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, _: Annotated[Principal, require("export")]) -> HTMLResponse:
    saved = DatasetCatalog(settings_of(request).data_dir).list()
    return render(request, "export_datasets.html", {"datasets": saved, "dua": CURRENT_DUA, "error": ""})


@pages.post("/datasets", response_class=HTMLResponse, response_model=None)
def dataset_create(
    request: Request,
    principal: Annotated[Principal, require("export")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    spec_json: Annotated[str, Form(max_length=200_000)],
) -> HTMLResponse | RedirectResponse:
    settings = settings_of(request)
    try:
        spec = parse_spec(spec_json)
        wf = _workflow(request, db)
        if principal.role != "admin" and not wf.is_member(spec.project, principal.username):
            raise wf.refuse(None, principal.username, "dataset", f"not a member of project {spec.project!r}")
        column_plan(spec, spec_columns(spec))  # refuse a spec with a column without an action now
        DatasetCatalog(settings.data_dir).save(spec)
    except MedlakeError as exc:
        saved = DatasetCatalog(settings.data_dir).list()
        return render(
            request,
            "export_datasets.html",
            {"datasets": saved, "dua": CURRENT_DUA, "error": exc.message},
            exc.http_status,
        )
    return RedirectResponse("/datasets", status_code=303)


@pages.post("/datasets/{project}/{name}/request", response_model=None)
def dataset_request(
    request: Request,
    project: str,
    name: str,
    principal: Annotated[Principal, require("export")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    purpose: Annotated[str, Form(max_length=2000)],
    fields: Annotated[str, Form(max_length=5000)] = "",
    accept_dua: Annotated[str, Form()] = "",
    formats: Annotated[str, Form(max_length=64)] = "parquet,csv",
) -> RedirectResponse:
    saved = DatasetCatalog(settings_of(request).data_dir).load(project, name)
    req = _workflow(request, db).request(
        principal.username,
        saved,
        purpose=purpose,
        fields=[f.strip() for f in fields.split(",") if f.strip()],
        dua_version=CURRENT_DUA,
        accept_dua=accept_dua == "yes",
        formats=[f.strip() for f in formats.split(",") if f.strip()],
    )
    return RedirectResponse(f"/exports/{req.id}", status_code=303)


# -- requests ---------------------------------------------------------------------------------------
@pages.get("/exports", response_class=HTMLResponse)
def exports_page(
    request: Request,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    wf = _workflow(request, db)
    rows = [summary(r) for r in wf.visible_to(principal.username)]
    steward = has_permission(principal.role, "export.approve")
    return render(request, "export_list.html", {"requests": rows, "steward": steward})


@pages.get("/exports/{request_id}", response_class=HTMLResponse)
def export_page(
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    wf = _workflow(request, db)
    req = wf.get(request_id)
    steward = has_permission(principal.role, "export.approve")
    if principal.username != req.requester and not steward:
        raise wf.refuse(req, principal.username, "view", "only the requester or a steward sees a request")
    preview = None
    if req.state in ("submitted", "approved"):
        preview = _preview(request, req.spec_json, json.loads(req.fields_json))
        audit.append(
            db, principal.username, "export.preview", f"export_request:{req.id}", {"rows": PREVIEW_ROWS}
        )
    ctx = {
        "req": summary(req),
        "events": [
            {"at": e.at, "actor": e.actor, "from": e.from_state, "to": e.to_state, "comment": e.comment}
            for e in req.events
        ],
        "preview": preview,
        "steward": steward,
        "is_requester": principal.username == req.requester,
        "dua": dua_text(req.dua_version),
    }
    return render(request, "export_detail.html", ctx)


@pages.post("/exports/{request_id}/approve", response_model=None)
def export_approve(
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, require("export.approve")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    _workflow(request, db).approve(request_id, principal.username, comment)
    return RedirectResponse(f"/exports/{request_id}", status_code=303)


@pages.post("/exports/{request_id}/reject", response_model=None)
def export_reject(
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, require("export.approve")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    _workflow(request, db).reject(request_id, principal.username, comment)
    return RedirectResponse(f"/exports/{request_id}", status_code=303)


@pages.post("/exports/{request_id}/build", response_model=None)
def export_build(
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> RedirectResponse:
    _workflow(request, db).build(request_id, principal.username)
    return RedirectResponse(f"/exports/{request_id}", status_code=303)


@pages.get("/exports/{request_id}/download", response_model=None)
def export_download(
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> FileResponse:
    tmp = Path(tempfile.mkdtemp(prefix="medlake-download-"))
    target = _workflow(request, db).download(request_id, principal.username, tmp)
    db.commit()
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(target, filename=target.name, media_type="application/zip", background=cleanup)


# -- JSON API ---------------------------------------------------------------------------------------
@api.get("/exports")
def api_exports(
    request: Request,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> list[dict[str, Any]]:
    return [summary(r) for r in _workflow(request, db).visible_to(principal.username)]


router = APIRouter()  # what medlake.web.features.FEATURE_ROUTERS names: the pages and the JSON API
router.include_router(pages)
router.include_router(api)

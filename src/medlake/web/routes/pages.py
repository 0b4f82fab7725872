"""Server-rendered pages: dashboard, data sources, patient search and the patient 360 timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from medlake import audit
from medlake.errors import NotFound
from medlake.web.deps import PersonId, get_db, require, settings_of
from medlake.web.i18n import translator
from medlake.web.services import charts, dashboard, patients, sources
from medlake.web.services.accounts import Principal
from medlake.web.storage.lake_reader import LakeReader
from medlake.web.templating import render

router = APIRouter(include_in_schema=False)


def reader_of(request: Request) -> LakeReader:
    reader: LakeReader = request.app.state.reader
    return reader


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, _: Annotated[Principal, require("dashboard.view")]) -> HTMLResponse:
    data = dashboard.dashboard(reader_of(request))
    t = translator(request.state.lang)
    figures = {
        "diagnoses": charts.bar(
            t("dash.top_diagnoses"),
            [f"{d['code']} {d['name']}".strip() for d in data["diagnoses"]],
            [d["n"] for d in data["diagnoses"]],
            horizontal=True,
        ),
        "departments": charts.bar(
            t("dash.departments"),
            [d["name"] for d in data["departments"]],
            [d["n"] for d in data["departments"]],
        ),
        "pyramid": charts.pyramid(t("dash.pyramid"), data["pyramid"], t),
        "monthly": charts.monthly(t("dash.monthly"), data["monthly"], t),
    }
    return render(request, "dashboard.html", {"data": data, "figures": figures})


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request,
    principal: Annotated[Principal, require("sources.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    reader = reader_of(request)
    # quarantined records are raw source lines (patient-level data): the view is audited
    audit.append(db, principal.username, "sources.view", "quarantine", {})
    db.commit()
    ctx = {
        "runs": sources.runs(settings_of(request).data_dir),
        "raw_files": sources.raw_files(reader),
        "reasons": sources.quarantine_reasons(reader),
        "quarantine": sources.quarantine_rows(reader),
        "mpi_review": sources.mpi_review(reader),
    }
    return render(request, "sources.html", ctx)


@router.get("/sources/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, _: Annotated[Principal, require("sources.view")]) -> HTMLResponse:
    report = sources.run_report(settings_of(request).data_dir, run_id)
    if report is None:
        raise NotFound(f"no run report {run_id!r}")
    return render(request, "run.html", {"run_id": run_id, "report": report})


@router.get("/patients", response_class=HTMLResponse)
def patient_search_page(
    request: Request,
    principal: Annotated[Principal, require("patient.search")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    results = patients.search(reader_of(request), q) if q.strip() else []
    if q.strip():
        audit.append(db, principal.username, "patient.search", "patients", {"q": q, "hits": len(results)})
        db.commit()
    return render(request, "patients.html", {"q": q, "results": results})


@router.get("/patients/{person_id}", response_class=HTMLResponse)
def patient_page(
    request: Request,
    person_id: PersonId,
    principal: Annotated[Principal, require("patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    data = patients.timeline(reader_of(request), person_id)
    audit.append(
        db, principal.username, "patient.view", f"person:{person_id}", {"events": len(data["events"])}
    )
    db.commit()
    figures = {code: charts.lab_trend(code, pts) for code, pts in data["labs"].items()}
    return render(request, "patient.html", {"data": data, "figures": figures})

"""Cohort pages and API for the web app (plugged in through ``medlake.web.features``).

``/cohorts`` is the cohort builder (edit a definition as JSON, run it, see the funnel, the
characteristics and the members); the API runs definitions, lists cohorts, describes them and
pages through members and notes. Patient-level reads (members, note search) need
``patient.view`` besides ``cohort.query`` and are written to the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medlake import audit
from medlake.cdm.lake import Lake
from medlake.cohort.service import characteristics, list_cohorts, load_any, patient_list, run_cohort
from medlake.web.deps import get_db, require, settings_of
from medlake.web.services.accounts import Principal
from medlake.web.templating import render

router = APIRouter()
CohortId = Annotated[int, Path(ge=0, le=2**63 - 1, description="cohort_definition_id")]
EXAMPLE = FilePath(__file__).with_name("examples") / "triple_positive_breast_cancer.json"


class RunRequest(BaseModel):
    definition: dict[str, Any] = Field(description="a medlake cohort definition or an OHDSI Circe expression")
    name: str = Field(default="cohort", max_length=80, pattern=r"^[A-Za-z0-9_\-]+$")
    save: bool = True


def _lake(request: Request) -> Lake:
    return Lake(settings_of(request).data_dir)


@router.post("/api/v1/cohorts/run", tags=["cohorts"])
def run_definition(
    request: Request,
    body: RunRequest,
    principal: Annotated[Principal, require("cohort.query")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> dict[str, Any]:
    """Run a definition on the lake: persons, entries, attrition per inclusion rule, timing."""
    loaded = load_any(body.definition, name=body.name)
    result = run_cohort(_lake(request), loaded, save=body.save)
    audit.append(
        db,
        principal.username,
        "cohort.query",
        f"cohort:{loaded.cohort_definition_id}",
        {"persons": result.persons, "kind": loaded.kind},
    )
    db.commit()
    return {"name": loaded.name, "kind": loaded.kind, **result.summary()}


@router.get("/api/v1/cohorts", tags=["cohorts"])
def cohorts(request: Request, _: Annotated[Principal, require("cohort.query")]) -> list[dict[str, Any]]:
    return list_cohorts(_lake(request))


@router.get("/api/v1/cohorts/{cohort_id}/characteristics", tags=["cohorts"])
def cohort_characteristics(
    request: Request, cohort_id: CohortId, _: Annotated[Principal, require("cohort.query")]
) -> dict[str, Any]:
    """Age/sex, top diagnoses, labs and drugs of a cohort (cells under 5 persons hidden)."""
    return characteristics(_lake(request), cohort_id)


@router.get("/api/v1/cohorts/{cohort_id}/patients", tags=["cohorts"])
def cohort_patients(
    request: Request,
    cohort_id: CohortId,
    principal: Annotated[Principal, require("cohort.query", "patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    out = patient_list(_lake(request), cohort_id, limit=limit, offset=offset)
    audit.append(
        db, principal.username, "cohort.patients", f"cohort:{cohort_id}", {"rows": len(out["patients"])}
    )
    db.commit()
    return out


@router.get("/api/v1/search/notes", tags=["cohorts"])
def note_search(
    request: Request,
    principal: Annotated[Principal, require("patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Full-text note search (phrases, AND / OR / NOT) with highlighted snippets."""
    from medlake.search.searcher import search_notes

    result = search_notes(_lake(request), q, limit=limit, offset=offset)
    audit.append(db, principal.username, "search.notes", "notes", {"hits": len(result.hits)})
    db.commit()
    return result.as_dict()


@router.get("/cohorts", response_class=HTMLResponse, include_in_schema=False)
def builder_page(request: Request, _: Annotated[Principal, require("cohort.query")]) -> HTMLResponse:
    example = json.dumps(json.loads(EXAMPLE.read_text(encoding="utf-8")), ensure_ascii=False, indent=2)
    return render(request, "cohort_builder.html", {"example": example})

"""The note view of the web UI: a note with its entities and modifiers highlighted, and its facts.

``GET /notes/{note_id}`` renders the page, ``GET /api/v1/notes/{note_id}/annotations`` returns the
same data as JSON. A note is identified patient-level data: both need ``patient.view`` (as the
patient timeline) and each view is audited as ``patient.view`` of the note's person.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from medlake import audit
from medlake.nlp import note_view
from medlake.nlp.types import ENTITY_TYPES, LABEL_CODES
from medlake.web.deps import get_db, require
from medlake.web.i18n import translator
from medlake.web.services.accounts import Principal
from medlake.web.storage.lake_reader import LakeReader
from medlake.web.templating import render

router = APIRouter()

NoteId = Annotated[int, Path(ge=0, le=2**63 - 1)]
ASSERTION_CLASSES = ("negated", "possible", "historical", "family", "hypothetical")


def _view(request: Request, note_id: int, principal: Principal, db: Session) -> dict[str, Any]:
    """Load the note (404 if absent) and audit the view as a patient-level read."""
    reader: LakeReader = request.app.state.reader
    cur = reader.cursor()
    try:
        data = note_view.load(cur, note_id)
    finally:
        cur.close()
    note = data["note"]
    audit.append(
        db,
        principal.username,
        "patient.view",
        f"person:{note['person_id']}",
        {"note_id": note_id, "entities": len(data["entities"])},
    )
    db.commit()
    return data


@router.get("/notes/{note_id}", response_class=HTMLResponse, include_in_schema=False)
def note_page(
    request: Request,
    note_id: NoteId,
    principal: Annotated[Principal, require("patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> HTMLResponse:
    data = _view(request, note_id, principal, db)
    text = data["note"]["text"] or ""
    t = translator(request.state.lang)
    badges = {a: t(f"assertion.{a}") for a in note_view.BADGED}
    ctx = {
        "data": data,
        "html": note_view.highlight(text, note_view.marks(text, data["entities"], badges)),
        "legend": [(LABEL_CODES[t], t) for t in ENTITY_TYPES] + [(note_view.VALUE_CLASS, None)],
        "assertions": ASSERTION_CLASSES,
    }
    return render(request, "note_view.html", ctx)


@router.get("/api/v1/notes/{note_id}/annotations")
def note_annotations(
    request: Request,
    note_id: NoteId,
    principal: Annotated[Principal, require("patient.view")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> dict[str, Any]:
    """The note (metadata and text), its NLP entities in offset order and the facts derived from it."""
    return _view(request, note_id, principal, db)

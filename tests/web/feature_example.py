"""A feature router as other packages write them (used by test_features)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from medlake.web import Principal, require

router = APIRouter()


@router.get("/api/v1/example-feature")
def example(principal: Annotated[Principal, require("cohort.query")]) -> dict[str, str]:
    return {"user": principal.username}


not_a_router = {"x": 1}
